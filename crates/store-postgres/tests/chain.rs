//! The audit chain built behind the inbox (what only PostgreSQL has): rows put into the inbox
//! by hand stand for a server that left events and stopped, and for an attacker with write
//! access to the database.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use clawvault_core::audit::{AuditEvent, ChainKey, ChainedEvent, Outcome, verify_all};
use clawvault_core::keyring::SubKey;
use clawvault_store::{AuditBatch, Store};
use clawvault_store_postgres::testing::TestDatabase;
use clawvault_store_postgres::{PgOptions, PgStore};
use time::OffsetDateTime;
use uuid::Uuid;

fn key() -> ChainKey {
    ChainKey::new(SubKey::from_bytes([9; 32]))
}

fn event(resource: &str) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        action: "secret.read".to_owned(),
        outcome: Outcome::Success,
        actor_type: "agent".to_owned(),
        actor_id: "a1".to_owned(),
        resource_type: "secret".to_owned(),
        resource_id: resource.to_owned(),
        vault_id: None,
        ip_address: None,
        details: "{}".to_owned(),
    }
}

/// An INSERT of `e` into the inbox with `mac`, as a statement of its own (`e` holds no quote).
fn inbox_row(e: &AuditEvent, mac: &[u8]) -> String {
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "INSERT INTO audit_inbox (id, created_at, action, outcome, actor_type, actor_id, resource_type, resource_id, \
         vault_id, ip_address, details, mac) VALUES ('{}', to_timestamp({}), '{}', '{}', '{}', '{}', '{}', '{}', \
         NULL, NULL, '{}', '\\x{hex}');",
        e.id,
        e.created_at.unix_timestamp(),
        e.action,
        e.outcome.as_str(),
        e.actor_type,
        e.actor_id,
        e.resource_type,
        e.resource_id,
        e.details,
    )
}

async fn connect(db: &TestDatabase) -> PgStore {
    let options = PgOptions { max_connections: 4, ..PgOptions::default() };
    PgStore::connect(&db.url, &options).await.map_err(|e| e.to_string()).expect("connect")
}

/// A server on `db` that knows the chain key, and the key.
async fn keyed(db: &TestDatabase) -> (PgStore, ChainKey) {
    let (s, k) = (connect(db).await, key());
    s.set_chain_key(&k);
    (s, k)
}

fn resources(events: &[ChainedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.resource_id.as_str()).collect()
}

/// A row written into the inbox without the chain key (made up, a server's row edited before
/// it was chained, or one that does not even decode) never enters the chain: an
/// `audit.event_refused` event naming it does, the chain goes on and still verifies; a row
/// sealed with the key is chained like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_events_sealed_with_the_chain_key_are_chained() {
    let db = TestDatabase::create().await;
    let (s, k) = keyed(&db).await;
    s.append_audit(AuditBatch::new(&k, &[event("before")])).await.unwrap();
    let sealed = event("sealed");
    let forged = event("forged");
    let mut edited = event("edited");
    let edited_mac = k.seal(&edited);
    edited.details = r#"{"version":"9"}"#.to_owned();
    // A time no server writes, which must not stop the chain (nor panic a decoder).
    let infinite = event("infinite");
    let poison = inbox_row(&infinite, &k.seal(&infinite)).replace("to_timestamp(1700000000)", "'infinity'");
    // A failure sealed, then rewritten to an outcome no server writes (read as "failure", it
    // opened the seal).
    let rewritten = AuditEvent { outcome: Outcome::Failure, ..event("rewritten") };
    let unknown = inbox_row(&rewritten, &k.seal(&rewritten)).replace("'failure'", "'fine'");
    db.run(
        &[
            inbox_row(&sealed, &k.seal(&sealed)),
            inbox_row(&forged, &[7; 32]),
            inbox_row(&edited, &edited_mac),
            poison,
            unknown,
        ]
        .concat(),
    )
    .await;
    s.append_audit(AuditBatch::new(&k, &[event("after")])).await.unwrap();
    // A refusal is left in the inbox by the round that refused, which may be a background
    // round that ends after a query began (queries wait only for what was left before them).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.number("SELECT COUNT(*) FROM audit_inbox").await > 0 {
        assert!(std::time::Instant::now() < deadline, "the inbox was never emptied");
        s.audit_head().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let events = s.audit_after(0, 100).await.unwrap();
    let names = resources(&events);
    for kept in ["before", "sealed", "after"] {
        assert!(names.contains(&kept), "{kept} in {names:?}");
    }
    for refused in ["forged", "edited", "infinite", "rewritten"] {
        assert!(!names.contains(&refused), "{refused} in {names:?}");
    }
    let refusals: Vec<&str> =
        events.iter().filter(|e| e.event.action == "audit.event_refused").map(|e| e.event.details.as_str()).collect();
    let counted: usize = refusals
        .iter()
        .map(|d| d.split(r#""refused":"#).nth(1).and_then(|r| r.split(',').next()).unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, 4, "{refusals:?}");
    for id in [forged.id, edited.id, infinite.id, rewritten.id] {
        assert!(refusals.iter().any(|d| d.contains(&id.to_string())), "{id} named in {refusals:?}");
    }
    assert!(verify_all(&k, &events, s.audit_head().await.unwrap().as_ref()).is_valid());
    s.close().await;
}

/// Events a server left in the inbox before it stopped are chained by another server, by its
/// background task without any query; a server that does not know the key yet reads the chain
/// as it stands rather than failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_stopped_server_left_are_chained_by_another() {
    let db = TestDatabase::create().await;
    let k = key();
    let left: Vec<AuditEvent> = (0..3).map(|i| event(&format!("left-{i}"))).collect();
    let rows: String = left.iter().map(|e| inbox_row(e, &k.seal(e))).collect();
    let s = connect(&db).await;
    db.run(&rows).await;
    assert!(s.audit_after(0, 10).await.unwrap().is_empty(), "without the key nothing is chained");

    s.set_chain_key(&k);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.number("SELECT COUNT(*) FROM audit_events").await < 3 {
        assert!(std::time::Instant::now() < deadline, "the events left were never chained");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let events = s.audit_after(0, 10).await.unwrap();
    assert_eq!(resources(&events), ["left-0", "left-1", "left-2"]);
    assert!(verify_all(&k, &events, s.audit_head().await.unwrap().as_ref()).is_valid());
    s.close().await;
}

/// With the chain head's row gone, queries of the chain say so (and what to do) instead of
/// serving a chain that silently stopped growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_head_row_is_reported_not_ignored() {
    let db = TestDatabase::create().await;
    let (s, k) = keyed(&db).await;
    s.append_audit(AuditBatch::new(&k, &[event("before")])).await.unwrap();
    db.run("DELETE FROM audit_head").await;
    s.append_audit(AuditBatch::new(&k, &[event("after")])).await.unwrap();
    let e = s.audit_after(0, 10).await.unwrap_err().to_string();
    assert!(e.contains("no chain head") && e.contains("restore the database"), "{e}");
    s.close().await;
}

/// An event of the chain edited to a value no server writes (an outcome none of the three, a
/// time no `OffsetDateTime` holds) is named by verification as edited, and reading it neither
/// fails nor panics. Read back as "failure", a failure rewritten to any other word verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_edited_to_a_value_no_server_writes_is_named() {
    let db = TestDatabase::create().await;
    let (s, k) = keyed(&db).await;
    let failed = AuditEvent { outcome: Outcome::Failure, ..event("failed") };
    s.append_audit(AuditBatch::new(&k, &[event("first"), failed, event("third")])).await.unwrap();
    let broken_at = async || {
        let events = s.audit_after(0, 10).await.unwrap();
        let (listed, _) =
            s.list_audit(&clawvault_store::AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(listed.len(), 3);
        verify_all(&k, &events, s.audit_head().await.unwrap().as_ref()).broken.map(|b| (b.seq, b.reason))
    };
    assert_eq!(broken_at().await, None);
    let altered = Some((2, clawvault_core::audit::BreakReason::Altered));
    db.run("UPDATE audit_events SET outcome = 'fine' WHERE resource_id = 'failed'").await;
    assert_eq!(broken_at().await, altered, "an outcome none of the three");
    db.run("UPDATE audit_events SET outcome = 'failure' WHERE resource_id = 'failed'").await;
    assert_eq!(broken_at().await, None, "put back");
    db.run("UPDATE audit_events SET created_at = 'infinity' WHERE resource_id = 'failed'").await;
    assert_eq!(broken_at().await, altered, "a time out of range");
    s.close().await;
}
