//! `clawvault agent enroll`: the agent asks, a user checks the fingerprint and approves, and
//! the key lands in a new profile or a 0600 file without ever being printed; a denial, a
//! lapsed wait and a profile that already holds a login each end with their own error.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{TestServer, run};
use serde_json::Value;

fn config_env(cfg: &std::path::Path, s: &TestServer) -> Vec<(String, String)> {
    vec![("CLAWVAULT_CONFIG_DIR".into(), cfg.display().to_string()), ("CLAWVAULT_ADDR".into(), s.base.clone())]
}

/// One line the command printed: on stdout (`true`) or stderr.
type Line = (bool, String);

/// Starts `agent enroll` and reads its output (stdout, or stderr with `--json`) up to the
/// pairing id and fingerprint.
fn start_enroll(env: &[(String, String)], extra: &[&str]) -> (Child, mpsc::Receiver<Line>, String, String) {
    let mut args = vec!["agent", "enroll", "ci-runner", "--description", "builds things"];
    args.extend_from_slice(extra);
    let mut child = common::cli_command(&args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let forward = |stream: Box<dyn std::io::Read + Send>, is_stdout: bool, tx: mpsc::Sender<Line>| {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send((is_stdout, line));
            }
        })
    };
    forward(Box::new(child.stdout.take().unwrap()), true, tx.clone());
    forward(Box::new(child.stderr.take().unwrap()), false, tx);
    let (mut pairing, mut fingerprint) = (String::new(), String::new());
    while pairing.is_empty() || fingerprint.is_empty() {
        let (_, line) = rx.recv_timeout(Duration::from_secs(30)).expect("enroll printed its pairing id");
        if let Some(p) = line.strip_prefix("Pairing id:") {
            pairing = p.trim().to_owned();
        }
        if let Some(f) = line.strip_prefix("Fingerprint:") {
            fingerprint = f.trim().to_owned();
        }
    }
    (child, rx, pairing, fingerprint)
}

/// Waits for the command to end: its exit code, and the rest of its stdout and stderr.
fn finish(mut child: Child, rx: &mpsc::Receiver<Line>) -> (i32, String, String) {
    let status = child.wait().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Ok((is_stdout, line)) = rx.recv_timeout(Duration::from_secs(5)) {
        if is_stdout { out.push(line) } else { err.push(line) }
    }
    (status.code().unwrap_or(-1), out.join("\n"), err.join("\n"))
}

#[test]
fn an_agent_enrolls_a_user_approves_and_the_key_lands_in_a_new_profile() {
    let s = TestServer::start();
    let admin_cfg = tempfile::tempdir().unwrap();
    let admin = common::admin_env(&s, admin_cfg.path());
    let agent_cfg = tempfile::tempdir().unwrap();
    let agent = config_env(agent_cfg.path(), &s);

    let (child, rx, pairing, fingerprint) = start_enroll(&agent, &["--profile", "ci"]);
    let (code, out, err) = run(&admin, &["agent", "pending", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let pending: Value = serde_json::from_str(&out).unwrap();
    let request = pending.as_array().unwrap().iter().find(|e| e["pairing_id"] == pairing.as_str()).unwrap();
    assert_eq!(request["fingerprint"], fingerprint.as_str(), "the approver sees the agent's fingerprint");
    let (code, _, err) = run(&admin, &["agent", "approve", &pairing], None);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = finish(child, &rx);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("enrolled as agent:ci-runner") && out.contains("profile ci"), "{out}");
    assert!(!out.contains("ocv_") && !err.contains("ocv_"), "the key is never printed: {out}{err}");
    let file = agent_cfg.path().join("profiles.toml");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let only_config = vec![("CLAWVAULT_CONFIG_DIR".to_owned(), agent_cfg.path().display().to_string())];
    let (code, out, err) = run(&only_config, &["whoami", "--profile", "ci", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["principal"], "agent:ci-runner");

    // A key file that cannot be made is refused before anything is asked.
    let (code, _, err) = run(&agent, &["agent", "enroll", "lost", "--key-file", "/nonexistent/dir/agent.key"], None);
    assert_eq!(code, 9, "{err}");
    let (_, out, _) = run(&admin, &["agent", "pending", "--json"], None);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), Value::Array(vec![]), "no request was made");

    // A profile that holds a login is not overwritten.
    let (code, _, err) = run(&agent, &["agent", "enroll", "again", "--profile", "ci"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("already holds a login"), "{err}");
}

#[test]
fn a_denied_or_unanswered_enrollment_says_so_and_saves_nothing() {
    let s = TestServer::start();
    let admin_cfg = tempfile::tempdir().unwrap();
    let admin = common::admin_env(&s, admin_cfg.path());
    let agent_cfg = tempfile::tempdir().unwrap();
    let agent = config_env(agent_cfg.path(), &s);
    let key_file = agent_cfg.path().join("agent.key");
    let key_arg = key_file.display().to_string();

    let (child, rx, pairing, _) = start_enroll(&agent, &["--key-file", &key_arg]);
    assert_eq!(run(&admin, &["agent", "deny", &pairing], None).0, 0);
    let (code, out, err) = finish(child, &rx);
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(err.contains("denied"), "{err}");
    assert!(!key_file.exists());

    let (child, rx, _, _) = start_enroll(&agent, &["--key-file", &key_arg, "--wait", "1s"]);
    let (code, out, err) = finish(child, &rx);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("still pending"), "{err}");
    assert!(!key_file.exists());

    // Approved into a key file: mode 0600, and the key works.
    let (child, rx, pairing, _) = start_enroll(&agent, &["--key-file", &key_arg, "--json"]);
    assert_eq!(run(&admin, &["agent", "approve", &pairing], None).0, 0);
    let (code, out, err) = finish(child, &rx);
    assert_eq!(code, 0, "{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(done["principal"], "agent:ci-runner");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let mut with_key = agent.clone();
    with_key.push(("CLAWVAULT_API_KEY_FILE".into(), key_arg.clone()));
    let (code, out, err) = run(&with_key, &["whoami", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["principal"], "agent:ci-runner");
}
