//! Tampering with the database is detected: a ciphertext moved to another row fails to open
//! with a clear error, and an edited, deleted, reordered or truncated audit trail is reported
//! with the first bad event, online and offline.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::path::Path;

use common::{Options, TestServer, cli};
use serde_json::Value;

fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("clawvault.sqlite")).unwrap()
}

/// Runs SQL statements against a stopped server's database.
fn tamper(data: &Path, statements: &[&str]) {
    let conn = db(data);
    for sql in statements {
        conn.execute_batch(sql).unwrap();
    }
}

fn event_id_at(data: &Path, seq: i64) -> String {
    let id: uuid::Uuid = db(data).query_row("SELECT id FROM audit_events WHERE seq = ?", [seq], |r| r.get(0)).unwrap();
    id.to_string()
}

fn populated() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    for i in 0..4 {
        s.put_secret(&t, "default", &format!("s{i}"), &format!("value-{i}"));
    }
    s.put_secret(&t, "default", "s0", "value-0b");
    s.stop();
    (dir, data)
}

fn offline_verify(data: &Path) -> (i32, String, String) {
    let out = cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()], &[], None);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn intact_chain_verifies_offline() {
    let (_dir, data) = populated();
    let (code, stdout, stderr) = offline_verify(&data);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Audit chain intact"), "{stdout}");
}

#[test]
fn moved_ciphertext_fails_to_open_with_a_clear_error() {
    let (_dir, data) = populated();
    // s1's ciphertext into s2's row; s0 version 1's ciphertext into its version 2 row.
    tamper(
        &data,
        &[
            "UPDATE secret_versions SET ciphertext = (SELECT v.ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.path = 's1') \
             WHERE secret_id = (SELECT id FROM secrets WHERE path = 's2')",
            "UPDATE secret_versions SET ciphertext = (SELECT v.ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.path = 's0' AND v.version = 1) \
             WHERE version = 2 AND secret_id = (SELECT id FROM secrets WHERE path = 's0')",
        ],
    );
    let s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    for path in ["s2", "s0"] {
        let r = s.get(&t, &format!("/v1/vaults/default/secrets/{path}")).send().unwrap();
        assert_eq!(r.status(), 500);
        let body: Value = r.json().unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("cannot be decrypted"), "{detail}");
        assert!(detail.contains("belongs to another vault, secret or version"), "{detail}");
        assert!(!detail.contains("value-"), "no plaintext in errors");
    }
    let ok: Value = s.get(&t, "/v1/vaults/default/secrets/s3").send().unwrap().json().unwrap();
    assert_eq!(ok["value"], "value-3", "untouched rows still open");
    let failed: Value = s.get(&t, "/v1/audit/events?action=secret.read&limit=10").send().unwrap().json().unwrap();
    assert!(
        failed["events"].as_array().unwrap().iter().any(|e| e["outcome"] == "failure" && e["details"]["status"] == 500)
    );
}

fn assert_broken(data: &Path, expected_id: &str, reason: &str) {
    let (code, _, stderr) = offline_verify(data);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(expected_id), "offline verify must name {expected_id}: {stderr}");
    assert!(stderr.contains(reason), "{stderr}");
    let s = TestServer::start_at(data, &Options::default());
    let t = s.admin_token();
    let v: Value = s.get(&t, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(v["chain_valid"], false, "{v}");
    assert_eq!(v["broken_at_event_id"].as_str(), Some(expected_id), "{v}");
}

#[test]
fn edited_event_is_named() {
    let (_dir, data) = populated();
    let id = event_id_at(&data, 5);
    tamper(&data, &["UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 5"]);
    assert_broken(&data, &id, "edited");
}

#[test]
fn deleted_event_is_named() {
    let (_dir, data) = populated();
    let next = event_id_at(&data, 6);
    tamper(&data, &["DELETE FROM audit_events WHERE seq = 5"]);
    assert_broken(&data, &next, "deleted, inserted or reordered");
}

#[test]
fn reordered_events_are_named() {
    let (_dir, data) = populated();
    let later = event_id_at(&data, 6);
    tamper(
        &data,
        &[
            "UPDATE audit_events SET seq = -1 WHERE seq = 5",
            "UPDATE audit_events SET seq = 5 WHERE seq = 6",
            "UPDATE audit_events SET seq = 6 WHERE seq = -1",
        ],
    );
    assert_broken(&data, &later, "deleted, inserted or reordered");
}

#[test]
fn truncated_chain_is_named() {
    let (_dir, data) = populated();
    let last: i64 = db(&data).query_row("SELECT MAX(seq) FROM audit_events", [], |r| r.get(0)).unwrap();
    let survivor = event_id_at(&data, last - 1);
    tamper(&data, &[&format!("DELETE FROM audit_events WHERE seq = {last}")]);
    let (code, _, stderr) = offline_verify(&data);
    assert_eq!(code, 1);
    assert!(stderr.contains(&survivor) && stderr.contains("removed"), "{stderr}");
}
