//! The conformance suite: behaviour every [`Store`] backend must show. Backends call
//! [`run_all`] from their tests with a factory that makes a fresh, empty store.

// A test suite: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use clawvault_core::SecretType;
use clawvault_core::audit::{AuditEvent, ChainKey, Outcome, Verifier};
use clawvault_core::keyring::SubKey;
use clawvault_core::time_util::now;
use time::Duration;
use uuid::Uuid;

use crate::{
    ApiKeyRecord, AuditBatch, AuditFilter, PutVersion, Role, ServerKeyRecord, Store, StoreError, UserRecord,
    VaultRecord, VersionMeta, VersionRecord,
};

/// Runs every conformance check, each on a fresh store from `make`.
///
/// # Panics
/// When a backend misbehaves (this is a test suite).
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    server_keys(&make().await).await;
    users_and_api_keys(&make().await).await;
    vaults(&make().await).await;
    versions(&make().await).await;
    read_limits(&make().await).await;
    revocations(&make().await).await;
    audit_listing_and_chain(&make().await).await;
    concurrent_writers(Arc::new(make().await)).await;
}

fn key() -> ChainKey {
    ChainKey::new(SubKey::from_bytes([5; 32]))
}

fn event(action: &str, resource: &str) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: now(),
        action: action.to_owned(),
        outcome: Outcome::Success,
        actor_type: "user".into(),
        actor_id: "actor-1".into(),
        resource_type: "secret".into(),
        resource_id: resource.to_owned(),
        vault_id: None,
        ip_address: Some("127.0.0.1".into()),
        details: "{}".into(),
    }
}

fn vault_record(name: &str) -> VaultRecord {
    VaultRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        description: String::new(),
        created_by: Uuid::new_v4(),
        created_by_type: "user".into(),
        created_at: now(),
        wrapped_key: vec![1, 2, 3],
        root_key_id: "rk".into(),
    }
}

fn put(vault_id: Uuid, secret_id: Uuid, path: &str, expected: i64) -> PutVersion {
    PutVersion {
        secret_id,
        vault_id,
        path: path.to_owned(),
        expected_version: expected,
        record: VersionRecord {
            meta: VersionMeta {
                version: expected + 1,
                secret_type: SecretType::ApiKey,
                metadata: "{\"env\":\"prod\"}".into(),
                created_by: Uuid::nil(),
                created_at: now(),
                expires_at: None,
                max_access_count: None,
                access_count: 0,
                is_disabled: false,
            },
            ciphertext: format!("sealed-{expected}").into_bytes(),
        },
    }
}

async fn server_keys(s: &impl Store) {
    assert!(s.server_key("master").await.unwrap().is_none());
    let first = ServerKeyRecord { name: "master".into(), wrapped: vec![1], root_key_id: "a".into(), created_at: now() };
    let second = ServerKeyRecord { wrapped: vec![2], ..first.clone() };
    assert_eq!(s.insert_server_key(first.clone()).await.unwrap(), first);
    assert_eq!(s.insert_server_key(second).await.unwrap(), first, "an existing key is never replaced");
}

async fn users_and_api_keys(s: &impl Store) {
    let k = key();
    assert_eq!(s.count_users().await.unwrap(), 0);
    let user = UserRecord { id: Uuid::new_v4(), name: "admin".into(), role: Role::Admin, created_at: now() };
    s.create_user(&user, AuditBatch::new(&k, &[event("user.create", "u")])).await.unwrap();
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert_eq!(s.user(user.id).await.unwrap().unwrap(), user);
    let dup = UserRecord { id: Uuid::new_v4(), ..user.clone() };
    assert!(matches!(s.create_user(&dup, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));

    let rec = ApiKeyRecord {
        id: Uuid::new_v4(),
        user_id: user.id,
        name: "laptop".into(),
        key_prefix: "1ck_abcdefgh".into(),
        key_hash: vec![9; 32],
        scopes: vec!["*".into()],
        is_active: true,
        created_at: now(),
        expires_at: Some(now() + Duration::days(1)),
        last_used_at: None,
    };
    s.create_api_key(&rec, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.api_key_by_hash(&[9; 32]).await.unwrap().unwrap(), rec);
    assert!(s.api_key_by_hash(&[8; 32]).await.unwrap().is_none());
    let used = now();
    s.touch_api_key(rec.id, used).await.unwrap();
    assert_eq!(s.list_api_keys(user.id).await.unwrap()[0].last_used_at, Some(used));
    assert!(!s.delete_api_key(Uuid::new_v4(), rec.id, AuditBatch::new(&k, &[])).await.unwrap(), "other user's key");
    assert!(s.delete_api_key(user.id, rec.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.api_key_by_hash(&[9; 32]).await.unwrap().is_none());
}

async fn vaults(s: &impl Store) {
    let k = key();
    let v = vault_record("prod");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let dup = VaultRecord { id: Uuid::new_v4(), ..v.clone() };
    assert!(matches!(s.create_vault(&dup, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.vault(v.id).await.unwrap().unwrap(), v);
    assert_eq!(s.vault_by_name("prod").await.unwrap().unwrap(), v);
    assert_eq!(s.list_vaults().await.unwrap(), vec![v.clone()]);
    let sid = Uuid::new_v4();
    s.put_version(&put(v.id, sid, "a/b", 0), AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.vault(v.id).await.unwrap().is_none());
    assert!(s.secret(v.id, "a/b").await.unwrap().is_none(), "secrets go with their vault");
    assert!(!s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
}

async fn versions(s: &impl Store) {
    let k = key();
    let v = vault_record("v");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    s.put_version(&put(v.id, sid, "api/openai", 0), AuditBatch::new(&k, &[event("secret.write", "x")])).await.unwrap();
    // A second creator of the same path loses cleanly.
    let again = put(v.id, Uuid::new_v4(), "api/openai", 0);
    assert!(matches!(s.put_version(&again, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));
    s.put_version(&put(v.id, sid, "api/openai", 1), AuditBatch::new(&k, &[])).await.unwrap();
    // A stale writer loses cleanly.
    assert!(matches!(
        s.put_version(&put(v.id, sid, "api/openai", 1), AuditBatch::new(&k, &[])).await,
        Err(StoreError::Conflict(_))
    ));

    let (secret, cur) = s.version(v.id, "api/openai", None).await.unwrap().unwrap();
    assert_eq!((secret.id, secret.current_version, cur.meta.version), (sid, 2, 2));
    assert_eq!(cur.ciphertext, b"sealed-1");
    assert_eq!(cur.meta.metadata, "{\"env\":\"prod\"}");
    let (_, first) = s.version(v.id, "api/openai", Some(1)).await.unwrap().unwrap();
    assert_eq!(first.ciphertext, b"sealed-0");
    assert!(s.version(v.id, "api/openai", Some(3)).await.unwrap().is_none());
    assert!(s.version(v.id, "api/other", None).await.unwrap().is_none());
    let listed: Vec<i64> = s.list_versions(sid).await.unwrap().iter().map(|m| m.version).collect();
    assert_eq!(listed, vec![2, 1], "newest first");

    s.put_version(&put(v.id, Uuid::new_v4(), "api/anthropic", 0), AuditBatch::new(&k, &[])).await.unwrap();
    s.put_version(&put(v.id, Uuid::new_v4(), "db/main", 0), AuditBatch::new(&k, &[])).await.unwrap();
    let paths = |l: Vec<(crate::SecretRecord, VersionMeta)>| l.into_iter().map(|(s, _)| s.path).collect::<Vec<_>>();
    assert_eq!(paths(s.list_secrets(v.id, "api/").await.unwrap()), vec!["api/anthropic", "api/openai"]);
    assert_eq!(s.list_secrets(v.id, "").await.unwrap().len(), 3);
    assert_eq!(s.list_secrets(v.id, "api/openai").await.unwrap()[0].1.version, 2);

    assert!(s.disable_version(sid, 1, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(!s.disable_version(sid, 9, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.version(v.id, "api/openai", Some(1)).await.unwrap().unwrap().1.meta.is_disabled);

    let at = now();
    assert!(s.set_secret_deleted(sid, Some(at), AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.secret(v.id, "api/openai").await.unwrap().unwrap().deleted_at, Some(at));
    assert_eq!(
        paths(s.list_secrets(v.id, "api/").await.unwrap()),
        vec!["api/anthropic"],
        "deleted secrets are not listed"
    );
    assert!(s.set_secret_deleted(sid, None, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.list_secrets(v.id, "api/").await.unwrap().len(), 2);
    // Writing to a deleted path revives it with the next version.
    s.set_secret_deleted(sid, Some(at), AuditBatch::new(&k, &[])).await.unwrap();
    s.put_version(&put(v.id, sid, "api/openai", 2), AuditBatch::new(&k, &[])).await.unwrap();
    let revived = s.secret(v.id, "api/openai").await.unwrap().unwrap();
    assert_eq!((revived.current_version, revived.deleted_at), (3, None));
}

async fn read_limits(s: &impl Store) {
    let k = key();
    let v = vault_record("limits");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    let mut p = put(v.id, sid, "once", 0);
    p.record.meta.max_access_count = Some(2);
    s.put_version(&p, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.consume_access(sid, 1, 2).await.unwrap(), Some(1));
    assert_eq!(s.consume_access(sid, 1, 2).await.unwrap(), Some(2));
    assert_eq!(s.consume_access(sid, 1, 2).await.unwrap(), None);
    assert_eq!(s.version(v.id, "once", None).await.unwrap().unwrap().1.meta.access_count, 2);
}

async fn revocations(s: &impl Store) {
    let k = key();
    let t = now();
    s.revoke_token("live", t + Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    s.revoke_token("dead", t - Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    s.revoke_token("live", t + Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.revoked_tokens(t).await.unwrap(), vec!["live".to_owned()]);
}

async fn audit_listing_and_chain(s: &impl Store) {
    let k = key();
    assert!(s.audit_head().await.unwrap().is_none());
    s.append_audit(AuditBatch::new(&k, &[event("secret.read", "v/a"), event("secret.read", "v/b")])).await.unwrap();
    let v = vault_record("audited");
    s.create_vault(&v, AuditBatch::new(&k, &[event("vault.create", "v")])).await.unwrap();
    s.append_audit(AuditBatch::new(&k, &[event("secret.write", "v/a")])).await.unwrap();

    let all = AuditFilter { limit: 100, ..AuditFilter::default() };
    let (events, total) = s.list_audit(&all).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let reads = AuditFilter { action: Some("secret.read".into()), limit: 1, ..AuditFilter::default() };
    let (page, total) = s.list_audit(&reads).await.unwrap();
    assert_eq!((page.len(), total), (1, 2));
    let second = AuditFilter { offset: 1, ..reads };
    assert_eq!(s.list_audit(&second).await.unwrap().0[0].event.resource_id, "v/b");
    let by_resource = AuditFilter { resource_id: Some("v/a".into()), limit: 10, ..AuditFilter::default() };
    assert_eq!(s.list_audit(&by_resource).await.unwrap().1, 2);
    let future = AuditFilter { from: Some(now() + Duration::hours(1)), limit: 10, ..AuditFilter::default() };
    assert_eq!(s.list_audit(&future).await.unwrap().1, 0);

    let mut verifier = Verifier::from_genesis(&k);
    for e in s.audit_after(0, 1000).await.unwrap() {
        assert!(verifier.push(&e));
    }
    let report = verifier.finish(s.audit_head().await.unwrap().as_ref());
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.checked, 4);
    assert_eq!(s.audit_after(2, 1).await.unwrap()[0].seq, 3);
}

async fn concurrent_writers<S: Store>(s: Arc<S>) {
    let k = key();
    let v = vault_record("busy");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let writers = 8;
    let per_writer = 5;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = Arc::clone(&s);
        let vault_id = v.id;
        tasks.push(tokio::spawn(async move {
            let k = key();
            for i in 0..per_writer {
                loop {
                    let (sid, cur) = match s.secret(vault_id, "shared").await.unwrap() {
                        Some(rec) => (rec.id, rec.current_version),
                        None => (Uuid::new_v4(), 0),
                    };
                    let ev = [event("secret.write", &format!("{w}-{i}"))];
                    match s.put_version(&put(vault_id, sid, "shared", cur), AuditBatch::new(&k, &ev)).await {
                        Ok(()) => break,
                        Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rec = s.secret(v.id, "shared").await.unwrap().unwrap();
    assert_eq!(rec.current_version, writers * per_writer);
    let versions: Vec<i64> = s.list_versions(rec.id).await.unwrap().iter().map(|m| m.version).collect();
    assert_eq!(versions, (1..=writers * per_writer).rev().collect::<Vec<_>>(), "no version lost or duplicated");
    let mut verifier = Verifier::from_genesis(&k);
    let events = s.audit_after(0, 1000).await.unwrap();
    assert_eq!(events.len(), usize::try_from(writers * per_writer).unwrap());
    for e in &events {
        assert!(verifier.push(e));
    }
    assert!(verifier.finish(s.audit_head().await.unwrap().as_ref()).is_valid());
}
