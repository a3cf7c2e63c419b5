//! Tampering with the data directory is detected: a ciphertext moved to another row fails to
//! open with a clear error; an edited, deleted, reordered or truncated audit log is reported
//! with the first bad event, online and offline, and a log that lost events its index holds,
//! or is damaged, is not appended to.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::path::Path;

use common::{Options, TestServer, audit_log, cli};
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

fn assert_broken_offline(data: &Path, expected_id: &str, reason: &str) {
    let (code, _, stderr) = offline_verify(data);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(expected_id), "offline verify must name {expected_id}: {stderr}");
    assert!(stderr.contains(reason), "{stderr}");
}

fn assert_broken(data: &Path, expected_id: &str, reason: &str) {
    assert_broken_offline(data, expected_id, reason);
    let s = TestServer::start_at(data, &Options::default());
    let t = s.admin_token();
    let v: Value = s.get(&t, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(v["chain_valid"], false, "{v}");
    assert_eq!(v["broken_at_event_id"].as_str(), Some(expected_id), "{v}");
}

/// A log that lost events its index holds: the server does not append after the gap.
fn assert_refused_as_cut(data: &Path) {
    let refused = TestServer::try_start_at(data, &Options::default()).err().expect("refused");
    assert!(refused.contains("the log was cut") && refused.contains("audit verify"), "{refused}");
}

#[test]
fn edited_event_is_named() {
    let (_dir, data) = populated();
    let id = audit_log::event_id(&data, 5);
    let mut records = audit_log::records(&data);
    records[4].event["actor_id"] = "someone-else".into();
    audit_log::rewrite(&data, &records);
    assert_broken(&data, &id, "edited");
}

/// Read back as "failure" whatever its text, a failure rewritten to any other word verified.
#[test]
fn an_outcome_rewritten_to_none_a_server_writes_is_named() {
    let (_dir, data) = populated();
    let mut s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/missing").send().unwrap().status(), 404);
    s.stop();
    let mut records = audit_log::records(&data);
    let failed = records.iter().position(|r| r.event["outcome"] == "failure").expect("a failure event");
    let id = records[failed].event["id"].as_str().unwrap().to_owned();
    records[failed].event["outcome"] = "fine".into();
    audit_log::rewrite(&data, &records);
    assert_broken(&data, &id, "edited");
}

#[test]
fn deleted_event_is_named() {
    let (_dir, data) = populated();
    let next = audit_log::event_id(&data, 6);
    let mut records = audit_log::records(&data);
    records.remove(4);
    audit_log::rewrite(&data, &records);
    assert_broken_offline(&data, &next, "deleted, inserted or reordered");
    assert_refused_as_cut(&data);
}

#[test]
fn reordered_events_are_named() {
    let (_dir, data) = populated();
    let later = audit_log::event_id(&data, 6);
    let mut records = audit_log::records(&data);
    records.swap(4, 5);
    audit_log::rewrite(&data, &records);
    assert_broken(&data, &later, "deleted, inserted or reordered");
}

#[test]
fn truncated_chain_is_named() {
    let (_dir, data) = populated();
    let mut records = audit_log::records(&data);
    records.pop();
    let survivor = records.last().unwrap().event["id"].as_str().unwrap().to_owned();
    audit_log::rewrite(&data, &records);
    let (code, _, stderr) = offline_verify(&data);
    assert_eq!(code, 1);
    assert!(stderr.contains(&survivor) && stderr.contains("removed"), "{stderr}");
    // The last write's events are also kept in the database until the log syncs past them
    // (see the next test): whoever cuts them must delete those too.
    tamper(&data, &["DELETE FROM audit_pending"]);
    assert_refused_as_cut(&data);
}

#[test]
fn the_events_of_committed_writes_cut_from_the_log_are_written_back() {
    let (_dir, data) = populated();
    let mut records = audit_log::records(&data);
    let cut = records.pop().unwrap();
    audit_log::rewrite(&data, &records);
    let s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    let v: Value = s.get(&t, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(v["chain_valid"], true, "{v}");
    let events: Value =
        s.get(&t, "/v1/audit/events?action=audit.log_recovered&limit=10").send().unwrap().json().unwrap();
    let details = &events["events"][0]["details"];
    assert_eq!((details["restored_from"].as_u64(), details["restored_to"].as_u64()), (Some(cut.seq), Some(cut.seq)));
    let back = audit_log::records(&data).into_iter().find(|r| r.seq == cut.seq).unwrap();
    assert_eq!(back.event, cut.event, "the same event, not a new one");
}

#[test]
fn a_damaged_record_is_named_and_nothing_is_appended_after_it() {
    let (_dir, data) = populated();
    audit_log::damage(&data, 3);
    let damaged = audit_log::segment_bytes(&data);
    let (code, _, stderr) = offline_verify(&data);
    assert_ne!(code, 0);
    assert!(stderr.contains("damaged at byte") && stderr.contains("restore"), "{stderr}");
    let refused = TestServer::try_start_at(&data, &Options::default()).err().expect("refused");
    assert!(refused.contains("damaged at byte"), "{refused}");
    assert!(audit_log::segment_bytes(&data) == damaged, "nothing cut or written over: the evidence stays");
}
