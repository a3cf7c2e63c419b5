//! Filtered audit queries give the same answers whether the events are in the deferred lookup
//! index, in the unindexed tail, or split between the two.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use clawvault_core::audit::{AuditEvent, ChainKey, ChainedEvent, Outcome};
use clawvault_core::keyring::SubKey;
use clawvault_store::{AuditBatch, AuditFilter, Store};
use clawvault_store_sqlite::{OpenMode, SqliteStore};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn event(i: i64, base: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: base + Duration::seconds(i),
        action: ["secret.read", "secret.write", "vault.create"][usize::try_from(i % 3).unwrap()].into(),
        outcome: Outcome::Success,
        actor_type: "user".into(),
        actor_id: format!("actor-{}", i % 4),
        resource_type: "secret".into(),
        resource_id: format!("v/p{}", i % 7),
        vault_id: None,
        ip_address: None,
        details: "{}".into(),
    }
}

fn filters(base: OffsetDateTime) -> Vec<AuditFilter> {
    let f = |action: Option<&str>, actor: Option<&str>, resource: Option<&str>, from: Option<i64>, to: Option<i64>| {
        AuditFilter {
            action: action.map(Into::into),
            actor_id: actor.map(Into::into),
            resource_id: resource.map(Into::into),
            from: from.map(|s| base + Duration::seconds(s)),
            to: to.map(|s| base + Duration::seconds(s)),
            limit: 1000,
            offset: 0,
            newest_first: false,
        }
    };
    vec![
        f(None, None, None, None, None),
        f(Some("secret.read"), None, None, None, None),
        f(None, Some("actor-1"), None, None, None),
        f(None, None, Some("v/p3"), None, None),
        f(Some("secret.write"), Some("actor-2"), None, None, None),
        f(Some("secret.read"), None, Some("v/p0"), Some(10), None),
        f(None, None, None, Some(20), Some(40)),
        f(None, Some("actor-3"), None, None, Some(30)),
        f(Some("nothing"), None, None, None, None),
    ]
}

fn expected(all: &[ChainedEvent], f: &AuditFilter) -> Vec<i64> {
    all.iter()
        .filter(|e| f.action.as_ref().is_none_or(|a| &e.event.action == a))
        .filter(|e| f.actor_id.as_ref().is_none_or(|a| &e.event.actor_id == a))
        .filter(|e| f.resource_id.as_ref().is_none_or(|r| &e.event.resource_id == r))
        .filter(|e| f.from.is_none_or(|t| e.event.created_at >= t))
        .filter(|e| f.to.is_none_or(|t| e.event.created_at <= t))
        .map(|e| e.seq)
        .collect()
}

async fn check(s: &SqliteStore, base: OffsetDateTime) {
    let all = s.audit_after(0, 10_000).await.unwrap();
    for f in filters(base) {
        let want = expected(&all, &f);
        let (got, total) = s.list_audit(&f).await.unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), want, "{f:?}");
        assert_eq!(total, want.len() as u64, "{f:?}");
        let page = AuditFilter { limit: 3, offset: 2, ..f.clone() };
        let (got, _) = s.list_audit(&page).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.seq).collect::<Vec<_>>(),
            want.iter().skip(2).take(3).copied().collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_agree_across_index_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite"), OpenMode::ReadWrite).await.unwrap();
    let key = ChainKey::new(SubKey::from_bytes([1; 32]));
    let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let first: Vec<_> = (0..40).map(|i| event(i, base)).collect();
    s.append_audit(AuditBatch::new(&key, &first)).await.unwrap();
    check(&s, base).await;
    s.index_audit().await.unwrap();
    check(&s, base).await;
    let tail: Vec<_> = (40..60).map(|i| event(i, base)).collect();
    s.append_audit(AuditBatch::new(&key, &tail)).await.unwrap();
    check(&s, base).await;
    s.index_audit().await.unwrap();
    check(&s, base).await;
}
