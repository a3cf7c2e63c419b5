//! The conformance suite: behaviour every [`Store`] backend must show. Backends call
//! [`run_all`] from their tests with a factory that makes a fresh, empty store.

// A test suite: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use clawvault_core::SecretType;
use clawvault_core::audit::{AuditEvent, ChainKey, Outcome, Verifier};
use clawvault_core::keyring::SubKey;
use clawvault_core::policy::{Conditions, Effect, Permission};
use clawvault_core::time_util::now;
use time::Duration;
use uuid::Uuid;

use crate::{
    AgentRecord, ApiKeyRecord, AuditBatch, AuditFilter, EnrollmentRecord, EnrollmentStatus, PolicyRecord,
    PrincipalKind, PutVersion, RecipientType, Role, ServerKeyRecord, ShareChange, ShareRecord, Store, StoreError,
    UserDeletion, UserRecord, VaultRecord, VersionMeta, VersionRecord,
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
    concurrent_writers(&[Arc::new(make().await)]).await;
    people_and_agents(&make().await).await;
    policies(&make().await).await;
    shares(&make().await).await;
    enrollments(&make().await).await;
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
        created_by_type: PrincipalKind::User,
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

    assert_eq!(s.secret_by_id(sid).await.unwrap().unwrap().path, "api/openai");
    assert!(s.secret_by_id(Uuid::new_v4()).await.unwrap().is_none());
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
    assert_eq!(revived.deleted_through, 2, "the versions from before the deletion stay closed");
    s.put_version(&put(v.id, sid, "api/openai", 3), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.secret(v.id, "api/openai").await.unwrap().unwrap().deleted_through, 2, "a live write keeps it");
    assert_eq!(s.version(v.id, "api/openai", None).await.unwrap().unwrap().0.deleted_through, 2);
    assert!(s.set_secret_deleted(sid, None, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.secret(v.id, "api/openai").await.unwrap().unwrap().deleted_through, 0, "a restore reopens them");
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

/// Writers spread over `stores` (handles on one database) write one path at once: every
/// version is there exactly once and the audit chain holds every write in one order.
async fn concurrent_writers<S: Store>(stores: &[Arc<S>]) {
    let k = key();
    let s = Arc::clone(&stores[0]);
    let v = vault_record("busy");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let writers = 8_usize;
    let per_writer = 5_i64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = Arc::clone(&stores[w % stores.len()]);
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
    let total = i64::try_from(writers).unwrap() * per_writer;
    assert_eq!(rec.current_version, total);
    let versions: Vec<i64> = s.list_versions(rec.id).await.unwrap().iter().map(|m| m.version).collect();
    assert_eq!(versions, (1..=total).rev().collect::<Vec<_>>(), "no version lost or duplicated");
    let mut verifier = Verifier::from_genesis(&k);
    let events = s.audit_after(0, 1000).await.unwrap();
    assert_eq!(events.len(), usize::try_from(total).unwrap());
    for e in &events {
        assert!(verifier.push(e));
    }
    assert!(verifier.finish(s.audit_head().await.unwrap().as_ref()).is_valid());
}

fn agent_record(name: &str, key_hash: Option<Vec<u8>>) -> AgentRecord {
    AgentRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        description: "a bot".into(),
        created_by: Uuid::new_v4(),
        key_hash,
        key_prefix: Some("ocv_abcdefgh".into()),
        key_expires_at: None,
        is_active: true,
        token_ttl_seconds: Some(300),
        vault_ids: vec![Uuid::new_v4()],
        scopes: vec!["vault:read".into()],
        expires_at: None,
        not_before: None,
        token_generation: 0,
        auth_method: "api_key".into(),
        intents_api_enabled: false,
        shroud_enabled: false,
        created_at: now(),
        last_active_at: None,
    }
}

fn policy_record(vault_id: Uuid, principal_id: Uuid) -> PolicyRecord {
    PolicyRecord {
        id: Uuid::new_v4(),
        vault_id,
        principal_kind: PrincipalKind::Agent,
        principal_id,
        secret_path_pattern: "api-keys/**".into(),
        permissions: vec![Permission::Read],
        effect: Effect::Allow,
        conditions: Conditions::default(),
        priority: 0,
        expires_at: None,
        created_by: Uuid::new_v4(),
        created_by_type: PrincipalKind::User,
        created_at: now(),
    }
}

async fn people_and_agents(s: &impl Store) {
    let k = key();
    let a = UserRecord { id: Uuid::new_v4(), name: "ada".into(), role: Role::Admin, created_at: now() };
    let b = UserRecord { id: Uuid::new_v4(), name: "bob".into(), role: Role::Member, created_at: now() };
    s.create_user(&a, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_user(&b, AuditBatch::new(&k, &[])).await.unwrap();
    let mut users = s.list_users().await.unwrap();
    users.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(users, vec![a.clone(), b.clone()]);
    let key_rec = ApiKeyRecord {
        id: Uuid::new_v4(),
        user_id: b.id,
        name: "k".into(),
        key_prefix: "1ck_x".into(),
        key_hash: vec![1; 32],
        scopes: vec![],
        is_active: true,
        created_at: now(),
        expires_at: None,
        last_used_at: None,
    };
    s.create_api_key(&key_rec, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.api_key(key_rec.id).await.unwrap().unwrap(), key_rec);
    let bobs_bot = AgentRecord { created_by: b.id, ..agent_record("bobs-bot", Some(vec![9; 32])) };
    let bobs_idle = AgentRecord { created_by: b.id, is_active: false, ..agent_record("bobs-idle", None) };
    s.create_agent(&bobs_bot, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_agent(&bobs_idle, AuditBatch::new(&k, &[])).await.unwrap();
    let at = now();
    assert_eq!(
        s.delete_user(b.id, at, AuditBatch::new(&k, &[])).await.unwrap(),
        UserDeletion::Deleted { deactivated: vec![bobs_bot.id] }
    );
    assert!(s.api_key(key_rec.id).await.unwrap().is_none(), "a user's keys go with them");
    let cut = s.agent(bobs_bot.id).await.unwrap().unwrap();
    assert_eq!(
        (cut.is_active, cut.not_before, cut.token_generation),
        (false, Some(at), bobs_bot.token_generation + 1),
        "the agents a person created are cut off with them"
    );
    assert_eq!(s.delete_user(b.id, at, AuditBatch::new(&k, &[])).await.unwrap(), UserDeletion::NotFound);
    assert_eq!(
        s.delete_user(a.id, at, AuditBatch::new(&k, &[])).await.unwrap(),
        UserDeletion::LastAdmin,
        "never the last admin"
    );
    assert_eq!(s.list_users().await.unwrap(), vec![a.clone()]);
    s.delete_agent(bobs_bot.id, AuditBatch::new(&k, &[])).await.unwrap();
    s.delete_agent(bobs_idle.id, AuditBatch::new(&k, &[])).await.unwrap();

    let agent = agent_record("bot", Some(vec![7; 32]));
    s.create_agent(&agent, AuditBatch::new(&k, &[event("agent.create", "a")])).await.unwrap();
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap(), agent);
    assert_eq!(s.agent_by_key_hash(&[7; 32]).await.unwrap().unwrap().id, agent.id);
    let twin = AgentRecord { id: Uuid::new_v4(), ..agent.clone() };
    assert!(
        matches!(s.create_agent(&twin, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))),
        "key hashes are unique"
    );
    let keyless = agent_record("enrolling", None);
    s.create_agent(&keyless, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.list_agents().await.unwrap().len(), 2);

    let mut changed = agent.clone();
    changed.is_active = false;
    changed.not_before = Some(now());
    changed.key_hash = Some(vec![8; 32]);
    changed.vault_ids = vec![];
    changed.token_generation = 2;
    assert!(s.update_agent(&changed, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap(), changed);
    let mut stale = changed.clone();
    stale.token_generation = 1;
    assert!(s.update_agent(&stale, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(
        s.agent(agent.id).await.unwrap().unwrap().token_generation,
        2,
        "a write from an older read never lowers the token generation"
    );
    assert!(s.agent_by_key_hash(&[7; 32]).await.unwrap().is_none(), "the old key is gone");
    let at = now();
    s.touch_agent(agent.id, at).await.unwrap();
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap().last_active_at, Some(at));

    let v = vault_record("agents-vault");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_policy(&policy_record(v.id, agent.id), AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.delete_agent(agent.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.agent(agent.id).await.unwrap().is_none());
    assert!(s.policies_of(PrincipalKind::Agent, agent.id).await.unwrap().is_empty(), "an agent's policies go with it");
    assert!(!s.delete_agent(agent.id, AuditBatch::new(&k, &[])).await.unwrap());

    for n in ["token-signing:1", "token-signing:2", "master"] {
        s.insert_server_key(ServerKeyRecord {
            name: n.into(),
            wrapped: vec![1],
            root_key_id: "r".into(),
            created_at: now(),
        })
        .await
        .unwrap();
    }
    let names: Vec<String> = s.server_keys("token-signing:").await.unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, vec!["token-signing:1", "token-signing:2"]);
}

async fn policies(s: &impl Store) {
    let k = key();
    let v = vault_record("policed");
    let w = vault_record("other");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_vault(&w, AuditBatch::new(&k, &[])).await.unwrap();
    let who = Uuid::new_v4();
    let p1 = policy_record(v.id, who);
    let p2 = PolicyRecord { id: Uuid::new_v4(), vault_id: w.id, effect: Effect::Deny, ..p1.clone() };
    let p3 = PolicyRecord {
        id: Uuid::new_v4(),
        principal_id: Uuid::new_v4(),
        principal_kind: PrincipalKind::User,
        ..p1.clone()
    };
    for p in [&p1, &p2, &p3] {
        s.create_policy(p, AuditBatch::new(&k, &[])).await.unwrap();
    }
    assert_eq!(s.policy(p1.id).await.unwrap().unwrap(), p1);
    assert_eq!(s.list_policies(v.id).await.unwrap().len(), 2);
    let mut mine: Vec<Uuid> = s.policies_of(PrincipalKind::Agent, who).await.unwrap().iter().map(|p| p.id).collect();
    mine.sort();
    let mut want = vec![p1.id, p2.id];
    want.sort();
    assert_eq!(mine, want, "every vault's policies of that principal");
    assert!(s.policies_of(PrincipalKind::User, who).await.unwrap().is_empty(), "kinds are kept apart");

    let mut changed = p1.clone();
    changed.permissions = vec![Permission::Read, Permission::Write];
    changed.conditions = crate::codec::conditions("{\"ip_allowlist\":[\"10.0.0.0/8\"]}").unwrap();
    changed.expires_at = Some(now() + Duration::days(1));
    changed.secret_path_pattern = "ignored/**".into();
    assert!(s.update_policy(&changed, AuditBatch::new(&k, &[])).await.unwrap());
    let stored = s.policy(p1.id).await.unwrap().unwrap();
    assert_eq!(stored.permissions, changed.permissions);
    assert_eq!(stored.secret_path_pattern, "api-keys/**", "pattern and principal are immutable");
    assert!(s.delete_policy(p1.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(!s.delete_policy(p1.id, AuditBatch::new(&k, &[])).await.unwrap());
    s.delete_vault(w.id, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.policy(p2.id).await.unwrap().is_none(), "a vault's policies go with it");
}

async fn shares(s: &impl Store) {
    let k = key();
    let v = vault_record("shared");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    s.put_version(&put(v.id, sid, "a/b", 0), AuditBatch::new(&k, &[])).await.unwrap();
    let creator = Uuid::new_v4();
    let recipient = Uuid::new_v4();
    let share = ShareRecord {
        id: Uuid::new_v4(),
        sealed_id: Some(vec![1, 2, 3]),
        secret_id: sid,
        vault_id: v.id,
        secret_path: "a/b".into(),
        secret_version: 1,
        created_by: creator,
        created_by_type: PrincipalKind::User,
        created_with_key: Some(Uuid::new_v4()),
        recipient_type: RecipientType::Agent,
        recipient_id: Some(recipient),
        recipient_email: None,
        passphrase_hash: Some("$argon2id$...".into()),
        expires_at: now() + Duration::hours(1),
        max_access_count: Some(2),
        access_count: 0,
        ip_allowlist: vec!["10.0.0.0/8".into()],
        accepted: false,
        declined: false,
        revoked: false,
        created_at: now(),
    };
    s.create_share(&share, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.share(share.id).await.unwrap().unwrap(), share);
    assert_eq!(s.shares_by(creator).await.unwrap().len(), 1);
    assert_eq!(s.shares_for(recipient).await.unwrap().len(), 1);
    assert!(s.shares_for(creator).await.unwrap().is_empty());
    assert_eq!(s.all_shares().await.unwrap(), vec![share.clone()]);
    assert!(s.change_share(share.id, ShareChange::Accept, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.share(share.id).await.unwrap().unwrap().accepted);
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), Some(1));
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), Some(2));
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), None, "never beyond the limit");
    assert!(s.change_share(share.id, ShareChange::Revoke, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.share(share.id).await.unwrap().unwrap().revoked);
    assert!(!s.change_share(Uuid::new_v4(), ShareChange::Decline, AuditBatch::new(&k, &[])).await.unwrap());
    let open = ShareRecord { id: Uuid::new_v4(), max_access_count: None, ..share.clone() };
    s.create_share(&open, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.consume_share(open.id, None).await.unwrap(), Some(1), "unlimited shares count too");

    // A row written before share ids were hashed is found, and moved once.
    let legacy = ShareRecord { id: Uuid::new_v4(), sealed_id: None, ..share.clone() };
    s.create_share(&legacy, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.unhashed_shares().await.unwrap(), vec![legacy.id]);
    let row = Uuid::new_v4();
    s.rekey_share(legacy.id, row, vec![9; 40]).await.unwrap();
    s.rekey_share(legacy.id, Uuid::new_v4(), vec![8; 40]).await.unwrap();
    assert!(s.share(legacy.id).await.unwrap().is_none());
    assert_eq!(s.share(row).await.unwrap().unwrap().sealed_id, Some(vec![9; 40]), "moved once");
    assert!(s.unhashed_shares().await.unwrap().is_empty());
}

async fn enrollments(s: &impl Store) {
    let k = key();
    let e = EnrollmentRecord {
        id: Uuid::new_v4(),
        name: "newbot".into(),
        description: String::new(),
        public_key: Some("ssh-ed25519 AAAA".into()),
        fingerprint: "SHA256:abc".into(),
        poll_token_hash: vec![3; 32],
        status: EnrollmentStatus::Pending,
        agent_id: None,
        sealed_key: None,
        decided_by: None,
        created_at: now(),
        expires_at: now() + Duration::hours(1),
    };
    s.create_enrollment(&e, AuditBatch::new(&k, &[])).await.unwrap();
    let stale = EnrollmentRecord { id: Uuid::new_v4(), expires_at: now() - Duration::hours(1), ..e.clone() };
    s.create_enrollment(&stale, AuditBatch::new(&k, &[])).await.unwrap();
    let pending: Vec<Uuid> = s.pending_enrollments(now()).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(pending, vec![e.id], "lapsed requests are not pending");
    assert!(s.take_enrollment_key(e.id).await.unwrap().is_none(), "nothing to take before approval");

    let agent = agent_record("newbot", Some(vec![9; 32]));
    let admin = Uuid::new_v4();
    s.decide_enrollment(e.id, admin, Some((&agent, vec![42; 40])), AuditBatch::new(&k, &[])).await.unwrap();
    let decided = s.enrollment(e.id).await.unwrap().unwrap();
    assert_eq!(
        (decided.status, decided.agent_id, decided.decided_by),
        (EnrollmentStatus::Approved, Some(agent.id), Some(admin))
    );
    assert!(s.agent(agent.id).await.unwrap().is_some(), "approval creates the agent in the same transaction");
    assert!(matches!(
        s.decide_enrollment(e.id, admin, None, AuditBatch::new(&k, &[])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.take_enrollment_key(e.id).await.unwrap(), Some(vec![42; 40]));
    assert_eq!(s.take_enrollment_key(e.id).await.unwrap(), None, "the key is delivered exactly once");

    let other = EnrollmentRecord { id: Uuid::new_v4(), ..e.clone() };
    s.create_enrollment(&other, AuditBatch::new(&k, &[])).await.unwrap();
    s.decide_enrollment(other.id, admin, None, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.enrollment(other.id).await.unwrap().unwrap().status, EnrollmentStatus::Denied);
    let clash = agent_record("clash", Some(vec![9; 32]));
    let third = EnrollmentRecord { id: Uuid::new_v4(), ..e };
    s.create_enrollment(&third, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.decide_enrollment(third.id, admin, Some((&clash, vec![1])), AuditBatch::new(&k, &[])).await.is_err());
    assert_eq!(
        s.enrollment(third.id).await.unwrap().unwrap().status,
        EnrollmentStatus::Pending,
        "a failed approval changes nothing"
    );
}

/// For stores several servers share: two handles `a` and `b` on one fresh database behave as
/// one store. Writers on both never collide on a version, a read limit is never exceeded by
/// readers on both, audit events of both form one chain, and every change made through one is
/// seen through the other, in commit order, with a signal.
///
/// # Panics
/// When the backend misbehaves.
pub async fn shared_database<S: Store>(a: Arc<S>, b: Arc<S>) {
    assert!(a.shared() && b.shared(), "a store several servers write must say so");
    let start = b.change_position().await.unwrap();
    let signal = b.change_signal().expect("a shared store signals changes");
    concurrent_writers(&[Arc::clone(&a), Arc::clone(&b)]).await;

    // A read limit of 5 against 2 × 8 concurrent readers: exactly 5 succeed.
    let k = key();
    let v = vault_record("limited-everywhere");
    a.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    let mut p = put(v.id, sid, "once", 0);
    p.record.meta.max_access_count = Some(5);
    a.put_version(&p, AuditBatch::new(&k, &[])).await.unwrap();
    let mut readers = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        readers.push(tokio::spawn(async move { s.consume_access(sid, 1, 5).await.unwrap() }));
    }
    let mut granted = Vec::new();
    for r in readers {
        if let Some(n) = r.await.unwrap() {
            granted.push(n);
        }
    }
    granted.sort_unstable();
    assert_eq!(granted, vec![1, 2, 3, 4, 5], "each read counted once, none past the limit");

    // Changes through `a` reach `b`, in order, and wake it.
    let notified = signal.notified();
    let agent = agent_record("followed", None);
    a.create_agent(&agent, AuditBatch::new(&k, &[])).await.unwrap();
    let mut changed = agent.clone();
    changed.is_active = false;
    a.update_agent(&changed, AuditBatch::new(&k, &[event("agent.update", "x")])).await.unwrap();
    a.revoke_token("jti-everywhere", now() + Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), notified).await.expect("the other handle is woken");
    let batch = b.changes_since(start).await.unwrap();
    assert!(batch.complete);
    let tail: Vec<_> = batch.changes.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(tail, vec![crate::Change::Agent(agent.id), crate::Change::Token("jti-everywhere".into())]);
    assert!(batch.changes.contains(&crate::Change::Secret { vault_id: v.id, path: "once".into() }));
    assert_eq!(batch.position, b.change_position().await.unwrap());
    let none = b.changes_since(batch.position).await.unwrap();
    assert!(none.changes.is_empty() && none.complete && none.position == batch.position);
}
