//! Secret values never leak: a planted canary is absent from the server's output at trace
//! level, from audit records, from error answers and from the database file (encrypted at
//! rest). Key files are private.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Options, TestServer, assert_problem};
use serde_json::{Value, json};

const CANARY: &str = "CANARY-7f3a9c51-never-log-me";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn canary_never_reaches_logs_audit_errors_or_disk() {
    let opts = Options { args: vec!["--log".into(), "trace".into()], env: vec![] };
    let mut s = TestServer::start_with(&opts);
    let t = s.admin_token();
    let v = s.vault(&t, "canary");
    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/provider/key"))
        .json(&json!({ "value": CANARY, "type": "api_key", "max_access_count": 5 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    s.put_secret(&t, &v, "provider/key", &format!("{CANARY}-v2"));
    let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/provider/key")).send().unwrap().json().unwrap();
    assert_eq!(got["value"].as_str().unwrap(), format!("{CANARY}-v2"), "the canary really went through the server");
    let got: Value =
        s.get(&t, &format!("/v1/vaults/{v}/secret-version/provider/key/1")).send().unwrap().json().unwrap();
    assert_eq!(got["value"], CANARY);
    for path in ["/v1/vaults/{v}/secrets", "/v1/vaults/{v}/secret-versions/provider/key"] {
        let text = s.get(&t, &path.replace("{v}", &v)).send().unwrap().text().unwrap();
        assert!(!text.contains(CANARY), "{path} revealed a value");
    }
    // Refused writes that carry the canary in odd places.
    for body in [
        json!({ "value": 1, "type": CANARY }),
        json!({ "value": "x", "max_access_count": CANARY }),
        json!({ "value": "x", "expires_at": CANARY }),
        json!({ "value": "x", "metadata": CANARY }),
        json!({ "value": CANARY, "type": "bogus" }),
    ] {
        let r = s.put(&t, &format!("/v1/vaults/{v}/secrets/provider/bad")).json(&body).send().unwrap();
        assert_eq!(r.status(), 400);
        assert!(!r.text().unwrap().contains(CANARY), "an error answer echoed the value: {body}");
    }
    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/provider/bad"))
        .body(format!("{{\"value\": \"{CANARY}\""))
        .send()
        .unwrap();
    assert!(!r.text().unwrap().contains(CANARY));
    assert_problem(
        s.http.post(s.url("/v1/auth/api-key-token")).json(&json!({ "api_key": CANARY })).send().unwrap(),
        401,
        "1ck_",
    );
    // A query string can carry a credential (an enrollment's poll token): never logged.
    let r = s.http.get(s.url(&format!("/v1/agents/enroll/00000000-0000-0000-0000-000000000001/status?poll={CANARY}")));
    assert!(r.send().unwrap().status().is_client_error());
    assert_eq!(s.post(&t, &format!("/v1/vaults/{v}/secret-rotate/provider/key")).send().unwrap().status(), 201);
    assert_eq!(s.delete(&t, &format!("/v1/vaults/{v}/secrets/provider/key")).send().unwrap().status(), 204);

    let audit = s.get(&t, "/v1/audit/events?limit=1000").send().unwrap().text().unwrap();
    assert!(audit.contains("secret.read"), "the reads were audited");
    assert!(!audit.contains(CANARY), "an audit record holds the value");

    assert_eq!(s.stop().code(), Some(0));
    let log = s.log();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the server really logged at trace level");
    assert!(!log.contains(CANARY), "the canary reached the server log");
    assert!(!s.stdout.join("\n").contains(CANARY));
    // Every file, the audit log's segments in their directory included.
    let mut dirs = vec![s.data_dir.clone()];
    let mut audit_on_disk = false;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            audit_on_disk |= contains(&bytes, "secret.read");
            assert!(!contains(&bytes, CANARY), "{} holds the plaintext", path.display());
            assert!(!contains(&bytes, "-never-log-me"));
        }
    }
    assert!(audit_on_disk || common::database_of(&s.data_dir).is_some(), "the audit trail was among the files read");
    // On PostgreSQL the data is not in the data directory: dump the database instead.
    if let Some(url) = common::database_of(&s.data_dir) {
        let dump = std::process::Command::new("pg_dump").arg(&url).output().unwrap();
        assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
        assert!(contains(&dump.stdout, "secret.read"), "the dump holds the audit events");
        assert!(!contains(&dump.stdout, CANARY), "the database holds the plaintext");
        assert!(!contains(&dump.stdout, "-never-log-me"));
    }
}

#[test]
fn data_directory_is_private() {
    let s = TestServer::start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.data_dir), 0o700);
    assert_eq!(mode(&s.data_dir.join("root.key")), 0o600);
    assert_eq!(mode(&s.data_dir.join("admin-key")), 0o600);
}

#[test]
fn a_readable_root_key_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    s.stop();
    std::fs::set_permissions(data.join("root.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = match TestServer::try_start_at(&data, &Options::default()) {
        Ok(_) => panic!("a world-readable root key must be refused"),
        Err(e) => e,
    };
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn a_wrong_root_key_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    s.stop();
    let other = tempfile::tempdir().unwrap();
    let mut o = TestServer::start_at(&other.path().join("data"), &Options::default());
    o.stop();
    std::fs::copy(other.path().join("data/root.key"), data.join("root.key")).unwrap();
    let err = match TestServer::try_start_at(&data, &Options::default()) {
        Ok(_) => panic!("a foreign root key must be refused"),
        Err(e) => e,
    };
    assert!(err.contains("is this the right root.key"), "{err}");
}
