//! `clawvault inject` against the real server, as an agent that may only `use` its secrets:
//! references and fields rendered into a private file written atomically, other template
//! expressions kept, nothing printed; a file it did not write is not replaced without
//! `--force`; a bad reference, a missing field or a denied secret writes nothing.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{TestServer, key_env, run};
use serde_json::json;

const TOKEN: &str = "cvcanary-inject-token-9c1d";

struct World {
    _s: TestServer,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", TOKEN);
    let r = s
        .put(&admin, &format!("/v1/vaults/{v}/secrets/db"))
        .json(&json!({"value": "{\"user\":\"app\",\"password\":\"cvcanary-db-pw\"}", "type": "json"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .put(&admin, &format!("/v1/vaults/{v}/secrets/bot-env"))
        .json(&json!({"value": "LOG=debug\nAPI_KEY=cvcanary-bundle-key\n", "type": "env_bundle"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    s.put_secret(&admin, &v, "other/secret", "cvcanary-other");
    let (agent_id, key) = s.new_agent(&admin, json!({ "name": "renderer" }));
    for pattern in ["bots/**", "db", "bot-env"] {
        s.grant(&admin, &v, ("agent", &agent_id), pattern, &["use"], json!({}));
    }
    let dir = tempfile::tempdir().unwrap();
    let env = key_env(&s, dir.path(), &key);
    World { _s: s, env, dir }
}

#[test]
fn a_template_is_rendered_into_a_private_file_and_nothing_is_printed() {
    let w = world();
    let tpl = w.dir.path().join("config.tpl");
    let out = w.dir.path().join("config.env");
    std::fs::write(
        &tpl,
        "TOKEN={{ cv://prod/bots/discord }}\nDB_USER={{cv://prod/db#user}}\nDB_PASSWORD={{ cv://prod/db#password }}\nAPI_KEY={{ cv://prod/bot-env#API_KEY }}\nhelm={{ .Values.replicas }}\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        run(&w.env, &["inject", "-i", tpl.to_str().unwrap(), "-o", out.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("cvcanary"), "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "TOKEN={TOKEN}\nDB_USER=app\nDB_PASSWORD=cvcanary-db-pw\nAPI_KEY=cvcanary-bundle-key\nhelm={{{{ .Values.replicas }}}}\n"
        )
    );
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);

    // Its own file is replaced; a mode is kept as asked; no temporary file is left behind.
    let (code, _, stderr) =
        run(&w.env, &["inject", "-i", tpl.to_str().unwrap(), "-o", out.to_str().unwrap(), "--mode", "0440"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o440);
    let names: Vec<String> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".clawvault-")), "{names:?}");

    // From standard input; never to standard output.
    let piped = w.dir.path().join("piped");
    let (code, _, stderr) =
        run(&w.env, &["inject", "-i", "-", "-o", piped.to_str().unwrap()], Some(b"T={{ cv://prod/bots/discord }}"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&piped).unwrap(), format!("T={TOKEN}"));
    let (code, stdout, stderr) = run(&w.env, &["inject", "-i", tpl.to_str().unwrap(), "-o", "-"], None);
    assert!(code == 9 && stdout.is_empty() && stderr.contains("file"), "{stderr}");
}

#[test]
fn a_file_clawvault_did_not_write_is_kept_unless_forced() {
    let w = world();
    let tpl = w.dir.path().join("t");
    std::fs::write(&tpl, "{{ cv://prod/bots/discord }}").unwrap();
    let out = w.dir.path().join("precious");
    std::fs::write(&out, "hand-written\n").unwrap();
    let args = ["inject", "-i", tpl.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let (code, _, stderr) = run(&w.env, &args, None);
    assert!(code == 9 && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hand-written\n");
    let (code, _, stderr) = run(&w.env, &[&args[..], &["--force"]].concat(), None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(run(&w.env, &args, None).0, 0, "written by clawvault now");
    // Changed by hand since: kept again.
    std::fs::write(&out, "edited\n").unwrap();
    assert_eq!(run(&w.env, &args, None).0, 9);
}

#[test]
fn a_bad_reference_a_missing_field_or_a_denied_secret_writes_nothing() {
    let w = world();
    let out = w.dir.path().join("never");
    for (template, code, needle) in [
        ("a\n{{ cv://prod }}", 9, "line 2"),
        ("{{ cv://prod/db#nope }}", 9, "no field \"nope\""),
        ("{{ cv://prod/bots/discord#x }}", 9, "no field"),
        ("{{ cv://prod/bots/discord }} {{ cv://prod/other/secret }}", 5, "cv://prod/other/secret"),
        ("{{ cv://prod/bots/missing }}", 6, "cv://prod/bots/missing"),
    ] {
        let (got, stdout, stderr) =
            run(&w.env, &["inject", "-i", "-", "-o", out.to_str().unwrap()], Some(template.as_bytes()));
        assert_eq!(got, code, "{template}: {stderr}");
        assert!(stderr.contains(needle), "{template}: {stderr}");
        assert!(!format!("{stdout}{stderr}").contains("cvcanary"), "{stderr}");
        assert!(!out.exists(), "{template}: a file was written");
    }
}
