//! `clawvault run` against the real server, as an agent that may only `use` its secrets: the
//! command gets its environment and none of its output shows a value, raw or encoded, split
//! across writes or interleaved on both streams; nothing starts without every secret; exit
//! codes, signals and stdin pass through; `--watch` restarts once per real change and never
//! for another.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::io::Read as _;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use common::{TestServer, cli_command, key_env, run, wait_for};
use serde_json::json;

const TOKEN: &str = "cvcanary-discord-token-4f1e9a";
const DB: &str = "cvcanary-db-password-77b2c0";

struct World {
    s: TestServer,
    admin: String,
    agent_env: Vec<(String, String)>,
    _config: tempfile::TempDir,
}

/// A vault `prod` with two secrets, and an agent that may only `use` (and list) them.
fn world() -> World {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", TOKEN);
    s.put_secret(&admin, &v, "db/password", DB);
    s.put_secret(&admin, &v, "other/thing", "cvcanary-unrelated-1");
    let (agent_id, agent_key) = s.new_agent(&admin, json!({ "name": "bot" }));
    s.grant(&admin, &v, ("agent", &agent_id), "bots/**", &["use", "list"], json!({}));
    s.grant(&admin, &v, ("agent", &agent_id), "db/**", &["use"], json!({}));
    let config = tempfile::tempdir().unwrap();
    let agent_env = key_env(&s, config.path(), &agent_key);
    World { s, admin, agent_env, _config: config }
}

fn leaks(text: &str, value: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    [value, b64.trim_end_matches('='), &hex].iter().any(|form| text.contains(form))
}

#[test]
fn the_command_gets_its_secrets_and_its_output_never_shows_them() {
    let w = world();
    // Raw, base64, hex, percent-encoded; one value split across writes with a pause between,
    // and both streams interleaved.
    let script = r#"
        echo "raw: $DISCORD_TOKEN"
        printf '%s' "$DISCORD_TOKEN" | base64
        printf '%s' "$PGPASSWORD" | od -An -tx1 | tr -d ' \n'; echo
        echo "err: $PGPASSWORD" >&2
        printf '%s' "$DISCORD_TOKEN" | cut -c1-10 | tr -d '\n'; sleep 0.3; printf '%s\n' "$DISCORD_TOKEN" | cut -c11-
        printf 'url: %s\n' "$(printf '%s' "$DISCORD_TOKEN" | sed 's/-/%2D/g')"
        echo "len ${#DISCORD_TOKEN} ${#PGPASSWORD}"
    "#;
    let (code, out, err) = run(
        &w.agent_env,
        &[
            "run",
            "--env",
            "DISCORD_TOKEN=prod/bots/discord",
            "--env",
            "PGPASSWORD=prod/db/password",
            "--",
            "sh",
            "-c",
            script,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    for value in [TOKEN, DB] {
        assert!(!leaks(&out, value) && !leaks(&err, value), "leaked:\n{out}\n{err}");
    }
    assert!(out.contains("raw: [REDACTED:prod/bots/discord]"), "{out}");
    assert!(err.contains("err: [REDACTED:prod/db/password]"), "{err}");
    assert!(out.contains("url: [REDACTED:prod/bots/discord]"), "percent-encoded: {out}");
    assert!(out.contains(&format!("len {} {}", TOKEN.len(), DB.len())), "the command had the values: {out}");
    assert!(!out.contains("cvcanary-disc"), "the split value is masked as a whole: {out}");

    // The agent's own reading stays refused: it may use, not read.
    let (code, _, err) = run(&w.agent_env, &["secret", "get", "prod/bots/discord"], None);
    assert_eq!(code, 5, "{err}");

    // --no-mask lets the output through.
    let (code, out, _) =
        run(&w.agent_env, &["run", "--no-mask", "--env", "T=prod/bots/discord", "--", "sh", "-c", "echo $T"], None);
    assert_eq!((code, out.trim()), (0, TOKEN));
    // The agent's own key never reaches the command.
    let (_, out, _) = run(
        &w.agent_env,
        &["run", "--no-mask", "--env", "T=prod/bots/discord", "--", "sh", "-c", "echo key=${CLAWVAULT_API_KEY:-none}"],
        None,
    );
    assert_eq!(out.trim(), "key=none");
}

#[test]
fn nothing_starts_without_every_secret() {
    let w = world();
    let marker = tempfile::tempdir().unwrap();
    let started = marker.path().join("started");
    let script = format!("touch {}", started.display());
    for (reference, code, needle) in [
        ("prod/other/thing", 5, "prod/other/thing"),
        ("prod/bots/missing", 6, "prod/bots/missing"),
        ("nope", 9, "VAULT/PATH"),
    ] {
        let env_arg = format!("B={reference}");
        let (got, _, err) = run(
            &w.agent_env,
            &["run", "--env", "A=prod/bots/discord", "--env", &env_arg, "--", "sh", "-c", &script],
            None,
        );
        assert_eq!(got, code, "{reference}: {err}");
        assert!(err.contains(needle) && !err.contains(TOKEN), "{err}");
        assert!(!started.exists(), "the command was started with part of its environment");
    }
    let (code, _, err) = run(&w.agent_env, &["run", "--", "true"], None);
    assert!(code == 9 && err.contains("--env"), "{err}");
}

#[test]
fn exit_codes_signals_and_stdin_pass_through() {
    let w = world();
    fn with<'a>(tail: &[&'a str]) -> Vec<&'a str> {
        [&["run", "--env", "T=prod/bots/discord", "--"][..], tail].concat()
    }
    assert_eq!(run(&w.agent_env, &with(&["sh", "-c", "exit 7"]), None).0, 7);
    assert_eq!(run(&w.agent_env, &with(&["sh", "-c", "kill -TERM $$"]), None).0, 128 + 15);
    let (code, out, _) = run(&w.agent_env, &with(&["cat"]), Some(format!("hello {TOKEN}\n").as_bytes()));
    assert_eq!((code, out.as_str()), (0, "hello [REDACTED:prod/bots/discord]\n"), "stdin reaches the command");
    let (code, _, err) = run(&w.agent_env, &with(&["no-such-program-here"]), None);
    assert!(code == 6 && err.contains("no such command"), "{err}");

    // A TERM sent to clawvault reaches the command, whose own exit code comes back.
    let mut child = cli_command(
        &with(&["sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done"]),
        &w.agent_env,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 64];
    while !seen.contains("ready") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "the command did not start");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    out.read_to_string(&mut seen).unwrap();
    assert!(seen.contains("got-term"), "{seen}");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn a_project_file_names_the_variables() {
    let w = world();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("clawvault.toml"), "[env]\nDISCORD_TOKEN = \"prod/bots/discord\"\n").unwrap();
    let mut cmd = cli_command(&["run", "--", "sh", "-c", "echo ${#DISCORD_TOKEN}"], &w.agent_env);
    let out = cmd.current_dir(project.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), TOKEN.len().to_string());
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

#[test]
fn watch_restarts_once_per_real_change_and_never_for_another() {
    let w = world();
    let v = "prod";
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let script = format!(
        "printf '%s\\n' \"$(printf '%s' \"$DISCORD_TOKEN\" | cksum)\" >> {}; trap 'exit 0' TERM; while :; do sleep 0.05; done",
        starts.display()
    );
    let mut child = cli_command(
        &["run", "--watch", "--grace", "2", "--env", "DISCORD_TOKEN=prod/bots/discord", "--", "sh", "-c", &script],
        &w.agent_env,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for("the first start", 10, || lines(&starts) == 1);

    // Another secret, and the same value written again: no restart.
    w.s.put_secret(&w.admin, v, "other/thing", "cvcanary-unrelated-2");
    w.s.put_secret(&w.admin, v, "bots/discord", TOKEN);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(lines(&starts), 1, "restarted for no change");

    // A rotation: one restart, with the new value.
    let r =
        w.s.post(&w.admin, "/v1/vaults/prod/secret-rotate/bots/discord")
            .json(&json!({"value": "cvcanary-rotated-token-2"}))
            .send()
            .unwrap();
    assert_eq!(r.status(), 201);
    // How fast is measured by bench/run-delivery, not asserted here.
    wait_for("the restart", 10, || lines(&starts) == 2);
    std::thread::sleep(Duration::from_millis(500));
    let seen = std::fs::read_to_string(&starts).unwrap();
    let hashes: Vec<&str> = seen.lines().collect();
    assert_eq!(hashes.len(), 2, "exactly one restart");
    assert_ne!(hashes[0], hashes[1], "the command got the new value");

    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the command's TERM trap exits 0");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!err.contains("cvcanary"), "{err}");
}

#[test]
fn an_agents_key_works_from_a_file_and_from_a_saved_login() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("agent.key");
    let key = &w.agent_env.iter().find(|(k, _)| k == "CLAWVAULT_API_KEY").unwrap().1;
    std::fs::write(&key_file, key).unwrap();
    let base = w.s.base.clone();
    let config = dir.path().join("config");
    let config_dir = config.to_str().unwrap();
    let plain = [("CLAWVAULT_ADDR", base.as_str()), ("CLAWVAULT_CONFIG_DIR", config_dir)];
    let script = ["run", "--env", "T=prod/bots/discord", "--", "sh", "-c", "echo ${#T}"];
    let from_file = [&script[..1], &["--api-key-file", key_file.to_str().unwrap()], &script[1..]].concat();
    let out = common::cli(&from_file, &plain, None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        TOKEN.len().to_string(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = common::cli(
        &["login", "--address", &base, "--from-file", key_file.to_str().unwrap()],
        &[("CLAWVAULT_CONFIG_DIR", config_dir)],
        None,
    );
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let out = common::cli(&script, &[("CLAWVAULT_CONFIG_DIR", config_dir)], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        TOKEN.len().to_string(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
