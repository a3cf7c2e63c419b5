//! The `clawvault` command for users and scripts: output, `--json`, exit codes and errors
//! that say what to do.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::process::Command;

use common::{BIN, TestServer, admin_env, run};
use serde_json::Value;

#[test]
fn secret_round_trip_with_tables_and_json() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());

    let (code, out, err) = run(&env, &["vault", "create", "bots", "--description", "discord bots"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Created vault bots ("), "{out}");

    let (code, out, err) = run(&env, &["secret", "put", "bots/discord/token"], Some(b"tok-123\n"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Stored bots/discord/token version 1.\n");
    let (code, out, _) = run(&env, &["secret", "get", "bots/discord/token"], None);
    assert_eq!(
        (code, out.as_str()),
        (0, "tok-123"),
        "the trailing newline from stdin is dropped; piped output is exact"
    );

    let file = cfg.path().join("cert.pem");
    std::fs::write(&file, "-----BEGIN CERT-----\nabc\n-----END CERT-----\n").unwrap();
    let (code, _, err) = run(
        &env,
        &["secret", "put", "bots/tls/cert", "--from-file", file.to_str().unwrap(), "--type", "certificate"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&env, &["secret", "get", "bots/tls/cert"], None);
    assert_eq!(out, "-----BEGIN CERT-----\nabc\n-----END CERT-----\n", "files are stored byte for byte");

    let (code, out, _) = run(&env, &["secret", "list", "bots"], None);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("PATH") && lines[0].contains("TYPE") && lines[0].contains("VERSION"), "{out}");
    assert!(lines[1].starts_with("discord/token") && lines[2].starts_with("tls/cert"), "{out}");
    assert!(!out.contains("tok-123"), "lists never show values");

    let (code, out, _) = run(&env, &["secret", "list", "bots", "--json"], None);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (_, out, _) = run(&env, &["secret", "get", "bots/discord/token", "--json"], None);
    let secret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((secret["value"].as_str(), secret["version"].as_i64()), (Some("tok-123"), Some(1)));

    let (code, out, _) =
        run(&env, &["secret", "rotate", "bots/discord/token", "--length", "20", "--charset", "alphanumeric"], None);
    assert_eq!(code, 0);
    assert!(out.contains("version 2"), "{out}");
    let (_, out, _) = run(&env, &["secret", "versions", "bots/discord/token"], None);
    assert!(out.lines().nth(1).unwrap().starts_with('2'), "newest first: {out}");
    let (_, out, _) = run(&env, &["secret", "get", "bots/discord/token", "--version", "1"], None);
    assert_eq!(out, "tok-123");

    let (code, _, _) = run(&env, &["secret", "delete", "bots/discord/token"], None);
    assert_eq!(code, 0);
    let (code, _, err) = run(&env, &["secret", "get", "bots/discord/token"], None);
    assert_eq!(code, 7, "gone: {err}");
    assert!(err.contains("restore"), "{err}");
    let (code, out, _) = run(&env, &["secret", "restore", "bots/discord/token"], None);
    assert_eq!(code, 0, "{out}");

    let (code, out, _) = run(&env, &["vault", "list"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME") && out.contains("bots") && out.contains("discord bots"), "{out}");
    let (code, _, err) = run(&env, &["vault", "delete", "bots"], None);
    assert_eq!(code, 9, "deleting without --yes and without a terminal is refused: {err}");
    assert!(err.contains("--yes"));
    let (code, _, _) = run(&env, &["vault", "delete", "bots", "--yes"], None);
    assert_eq!(code, 0);

    let (code, out, err) = run(&env, &["audit", "verify"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Audit chain intact"), "{out}");
    let (code, out, _) = run(&env, &["audit", "list", "--action", "secret.write", "--json"], None);
    assert_eq!(code, 0);
    let page: Value = serde_json::from_str(&out).unwrap();
    assert!(page["total"].as_u64().unwrap() >= 2);
}

#[test]
fn exit_codes_and_advice() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());

    let (code, _, err) = run(&env, &["secret", "get", "default/missing"], None);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("no secret at \"missing\""), "{err}");
    let (code, _, err) = run(&env, &["secret", "get", "nopath"], None);
    assert_eq!(code, 9);
    assert!(err.contains("VAULT/PATH"), "{err}");
    let (code, _, err) = run(&env, &["secret", "put", "default/a/../b"], Some(b"x"));
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("`.` and `..`"), "{err}");
    let (code, _, err) = run(&env, &["secret", "put", "default/empty"], Some(b""));
    assert_eq!(code, 9);
    assert!(err.contains("empty"), "{err}");
    let (code, _, err) = run(&env, &["secret", "put", "default/x", "--metadata", "[1]"], Some(b"v"));
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("JSON object"), "{err}");
    let (code, _, err) = run(&env, &["secret", "put", "nosuchvault/x"], Some(b"v"));
    assert_eq!(code, 6, "{err}");

    let mut unreachable = env.clone();
    unreachable[0].1 = "http://127.0.0.1:9".into();
    let (code, _, err) = run(&unreachable, &["vault", "list"], None);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("cannot talk to the server at http://127.0.0.1:9") && err.contains("clawvault server"),
        "{err}"
    );

    let bad_key = cfg.path().join("bad-key");
    std::fs::write(&bad_key, "1ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n").unwrap();
    let mut bad = env.clone();
    bad[1].1 = bad_key.display().to_string();
    let (code, _, err) = run(&bad, &["vault", "list"], None);
    assert_eq!(code, 4, "{err}");

    let (code, out, _) = run(&env, &["secret", "put", "--help"], None);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:") && out.contains("--from-file"), "{out}");
    let (code, out, _) = run(&env, &["--help"], None);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes:"), "{out}");
}

#[test]
fn server_config_problems_are_listed_together() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("d"))
        .args(["--listen", "nowhere", "--tls-cert", "/nonexistent/cert.pem", "--log-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 problem(s)"), "{err}");
    for needle in ["listen \"nowhere\"", "tls_key", "log_format"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(!dir.path().join("d").exists(), "nothing is created on a bad configuration");

    // docs/operations.md promises every problem of a file at once: four mistakes, four lines.
    let toml = dir.path().join("clawvault.toml");
    std::fs::write(
        &toml,
        "lisen = \"0.0.0.0:1\"\ntoken_ttl_seconds = \"soon\"\nlog_format = \"xml\"\ntls_cert = \"/nonexistent.pem\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("d"))
        .arg("--config")
        .arg(&toml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 problem(s)"), "{err}");
    for needle in
        ["(line 1): unknown key `lisen`", "(line 2): `token_ttl_seconds`", "(line 3): `log_format`", "tls_key"]
    {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::ca_and_leaf(dir.path(), "IP:127.0.0.1,DNS:localhost");
    let s = common::tls_server(&cert, &key);
    let cfg = tempfile::tempdir().unwrap();
    let mut env = admin_env(&s, cfg.path());
    let (code, _, err) = run(&env, &["vault", "list"], None);
    assert_eq!(code, 3, "an unknown CA is refused");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    env.push(("CLAWVAULT_CACERT".into(), ca));
    let (code, out, err) = run(&env, &["secret", "put", "default/tls-test"], Some(b"over-tls"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 1"));
    let (_, out, _) = run(&env, &["secret", "get", "default/tls-test"], None);
    assert_eq!(out, "over-tls");
}

#[test]
fn audit_list_is_newest_first_with_names_and_takes_an_actor_by_name_or_short_id() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());
    let admin = s.admin_token();
    let (agent_id, agent_key) = s.new_agent(&admin, serde_json::json!({"name": "auditbot"}));
    s.put_secret(&admin, "default", "audited/one", "v");
    s.grant(&admin, "default", ("agent", &agent_id), "audited/**", &["read"], serde_json::json!({}));
    let as_agent = common::key_env(&s, cfg.path(), &agent_key);
    assert_eq!(run(&as_agent, &["secret", "get", "default/audited/one"], None).0, 0);

    let (code, out, err) = run(&env, &["audit", "list", "--limit", "5"], None);
    assert_eq!(code, 0, "{err}");
    let seqs: Vec<i64> = out.lines().skip(1).map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {out}");
    assert!(out.contains("agent:auditbot") && out.contains("user:admin"), "principals by name: {out}");
    assert!(!out.contains(&agent_id), "no bare UUID of a known principal: {out}");

    for actor in ["auditbot", "agent:auditbot", &agent_id[..8], agent_id.as_str()] {
        let (code, out, err) = run(&env, &["audit", "list", "--actor", actor, "--json"], None);
        assert_eq!(code, 0, "{actor}: {err}");
        let page: Value = serde_json::from_str(&out).unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(!events.is_empty() && events.iter().all(|e| e["actor_id"] == agent_id.as_str()), "{actor}: {page}");
    }
    let (code, out, _) = run(&env, &["audit", "list", "--oldest-first", "--limit", "2", "--json"], None);
    assert_eq!(code, 0);
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["events"][0]["seq"], 1, "{page}");
    let (code, _, err) = run(&env, &["audit", "list", "--actor", "nobody-by-that-name"], None);
    assert_eq!(code, 6, "{err}");
    let (code, _, err) = run(&env, &["audit", "list", "--actor", "ab"], None);
    assert_eq!(code, 6, "two characters are no id prefix: {err}");
}

#[test]
fn values_by_field_in_formats_and_binary_files_byte_for_byte() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());
    let db = br#"{"user":"app","password":"p@ss w'rd","port":5432}"#;
    assert_eq!(run(&env, &["secret", "put", "default/db/main"], Some(db)).0, 0);
    let (code, out, err) = run(&env, &["secret", "get", "default/db/main", "--field", "password"], None);
    assert_eq!((code, out.as_str()), (0, "p@ss w'rd"), "{err}");
    let (_, out, _) = run(&env, &["secret", "get", "default/db/main", "--format", "env"], None);
    assert_eq!(out, "PASSWORD='p@ss w'\\''rd'\nPORT='5432'\nUSER='app'\n");
    // The env lines are what a shell reads back.
    let sourced = Command::new("sh").arg("-c").arg(format!("{out}printf %s \"$PASSWORD\"")).output().unwrap();
    assert_eq!(String::from_utf8(sourced.stdout).unwrap(), "p@ss w'rd");
    let (_, out, _) = run(&env, &["secret", "get", "default/db/main", "--format", "yaml"], None);
    assert_eq!(out, "password: \"p@ss w'rd\"\nport: 5432\nuser: \"app\"\n");
    let (_, out, _) = run(&env, &["secret", "get", "default/db/main", "--field", "user", "--json"], None);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), serde_json::json!({"user": "app"}));
    let (code, _, err) = run(&env, &["secret", "get", "default/db/main", "--field", "nope"], None);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("password, port, user") && !err.contains("p@ss"), "fields named, values never: {err}");
    let (code, out, _) = run(&env, &["secret", "list", "default", "--format", "yaml"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("- ") && out.contains("path: \"db/main\"") && !out.contains("p@ss"), "{out}");

    // Every byte value, as docs/cli.md promises for --from-file.
    let binary: Vec<u8> = (0..=255u8).chain([0, 0xff, b'\n']).collect();
    let file = cfg.path().join("blob.bin");
    std::fs::write(&file, &binary).unwrap();
    let (code, _, err) = run(&env, &["secret", "put", "default/blob", "--from-file", file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let out = common::cli(
        &["secret", "get", "default/blob"],
        &env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        None,
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, binary, "byte for byte");
    let (_, out, _) = run(&env, &["secret", "list", "default", "--json"], None);
    let list: Value = serde_json::from_str(&out).unwrap();
    let blob = list.as_array().unwrap().iter().find(|s| s["path"] == "blob").unwrap();
    assert_eq!(blob["type"], "file", "{blob}");
    let (code, _, err) = run(
        &env,
        &["secret", "put", "default/blob2", "--from-file", file.to_str().unwrap(), "--type", "password"],
        None,
    );
    assert_eq!(code, 9, "{err}");
}

#[test]
fn server_detach_returns_once_it_answers_and_says_why_when_it_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path().display().to_string();
    let env = [("HOME", home.as_str())];
    let out = common::cli(
        &["server", "--detach", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &env,
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("First admin API key") && text.contains("Running in the background (pid"), "{text}");
    let pid = text.split("(pid ").nth(1).and_then(|r| r.split(')').next()).unwrap().to_owned();
    let _stop = StopOnDrop(pid);
    let base = text.split("listening on ").nth(1).and_then(|r| r.lines().next()).unwrap().to_owned();
    // The first start says exactly how another account or machine logs in.
    let data_abs = std::path::absolute(&data).unwrap();
    let login = format!("clawvault login --address {base} --from-file {}", data_abs.join("admin-key").display());
    assert!(text.contains(&login), "{login:?} in {text}");
    // It answers at once: no waiting between the two commands.
    let key = std::fs::read_to_string(data.join("admin-key")).unwrap();
    let env =
        vec![("CLAWVAULT_ADDR".to_owned(), base.clone()), ("CLAWVAULT_API_KEY".to_owned(), key.trim().to_owned())];
    assert_eq!(run(&env, &["vault", "list"], None).0, 0);
    let log = std::fs::read_to_string(data.join("server.log")).unwrap();
    assert!(!log.contains(key.trim()), "the banner (with the key) never reaches the log");

    // A second one on the same address says why it did not start, from its log.
    let port = base.rsplit(':').next().unwrap();
    let other = dir.path().join("other");
    let out = common::cli(
        &["server", "--detach", "--data-dir", other.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")],
        &[("HOME", home.as_str())],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not start") && err.contains("in use"), "{err}");
}

/// Stops a background server when the test ends, however it ends.
struct StopOnDrop(String);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}
