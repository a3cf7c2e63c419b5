//! The conformance suite: behaviour every [`Store`] backend must show, one check per property.
//!
//! A backend's tests expand [`conformance_tests!`](crate::conformance_tests) with a function
//! that makes a fresh, empty store, and get one test per check, so one failure never hides
//! the others. Stores several servers share also expand
//! [`shared_database_tests!`](crate::shared_database_tests).

// A test suite: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use clawvault_core::SecretType;
use clawvault_core::audit::{AuditEvent, ChainKey, Outcome, Verifier, verify_all};
use clawvault_core::keyring::SubKey;
use clawvault_core::policy::{Conditions, Effect, Permission};
use clawvault_core::time_util::now;
use time::Duration;
use uuid::Uuid;

use crate::{
    AgentRecord, ApiKeyRecord, AuditBatch, AuditFilter, AuthRoleRecord, Change, ConsumerRecord, EnrollmentRecord,
    EnrollmentStatus, KvSettingsRecord, PolicyRecord, PrincipalKind, ProxyRouteRecord, ProxyUsageRecord, PutVersion,
    RecipientType, Role, SecretEvent, SecretEventKind, SecretEventPage, SecretRecord, SecretRequestRecord,
    ServerKeyRecord, ShareChange, ShareRecord, Store, StoreError, UserDeletion, UserRecord, VaultRecord, VersionChange,
    VersionMeta, VersionRecord,
};

/// One `#[tokio::test]` per conformance check, each on a fresh store from `$fresh`: an async
/// function returning the store and whatever must live as long as it (a temporary directory,
/// a throwaway database).
///
/// ```ignore
/// async fn fresh() -> (SqliteStore, tempfile::TempDir) { … }
/// clawvault_store::conformance_tests!(fresh);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh;
            an_existing_server_key_is_never_replaced,
            server_keys_are_listed_by_prefix,
            user_names_are_unique,
            api_keys_are_found_by_hash_and_deleted_by_their_owner,
            vault_names_are_unique,
            a_vault_takes_its_secrets_and_policies_with_it,
            a_second_creator_or_a_stale_writer_loses,
            versions_are_read_by_number_and_listed_newest_first,
            secrets_are_listed_by_prefix,
            a_disabled_version_stays_stored_and_marked,
            kv_settings_exist_before_a_version_and_go_with_their_vault,
            login_roles_are_unique_per_method_and_go_with_their_agent,
            a_deleted_secret_is_hidden_until_restored,
            a_write_to_a_deleted_secret_keeps_older_versions_closed,
            a_read_limit_is_never_exceeded,
            revoked_tokens_are_kept_until_they_expire,
            audit_events_are_filtered_and_paged,
            audit_events_form_one_verifiable_chain,
            concurrent_writers_lose_no_version,
            deleting_a_user_takes_their_keys_and_cuts_off_their_agents,
            the_last_admin_is_never_deleted,
            agents_are_found_by_key_hash_which_is_unique,
            an_agent_update_never_lowers_the_token_generation,
            an_agent_takes_its_policies_with_it,
            policies_are_found_by_vault_and_by_principal,
            a_policy_update_keeps_pattern_and_principal,
            shares_are_found_by_creator_and_recipient,
            share_openings_never_exceed_the_limit,
            shares_are_accepted_revoked_and_declined,
            unhashed_share_rows_are_moved_once,
            a_secret_request_is_claimed_once_and_forgotten_after_expiry,
            lapsed_enrollments_are_not_pending,
            an_approval_creates_the_agent_and_hands_its_key_out_once,
            a_denial_or_a_failed_approval_leaves_the_enrollment_settled_or_pending,
            secret_events_are_numbered_in_commit_order_and_pruned_to_a_window,
            a_consumers_ack_replaces_its_row_and_goes_with_the_vault,
            proxy_routes_are_made_once_replaced_and_deleted,
            proxy_usage_adds_up_per_identity_route_and_day,
        );
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep) = $fresh().await;
                $crate::conformance::$check(&::std::sync::Arc::new(store)).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of a store several servers share, each on two handles on
/// one fresh database from `$fresh_pair`: an async function returning both handles and
/// whatever must live as long as they do.
#[macro_export]
macro_rules! shared_database_tests {
    ($fresh_pair:path) => {
        $crate::shared_database_tests!(@each $fresh_pair;
            a_shared_store_says_so,
            writers_on_two_handles_lose_no_version,
            readers_on_two_handles_never_exceed_a_read_limit,
            changes_through_one_handle_reach_the_other_in_order,
            secret_events_of_both_handles_form_one_sequence,
            audit_appends_of_both_handles_form_one_chain,
            events_answered_in_turn_on_two_handles_are_chained_in_that_order,
        );
    };
    (@each $fresh_pair:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (a, b, _keep) = $fresh_pair().await;
                $crate::conformance::$check(::std::sync::Arc::new(a), ::std::sync::Arc::new(b)).await;
            }
        )*
    };
}

fn secret_event(vault_id: Uuid, path: &str, kind: SecretEventKind, version: i64) -> SecretEvent {
    SecretEvent { vault_id, path: path.to_owned(), kind, version }
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
                disabled_at: None,
                destroyed: false,
            },
            ciphertext: format!("sealed-{expected}").into_bytes(),
        },
    }
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

/// An admin, a member and an API key of the member's, stored.
async fn two_users_and_a_key(s: &impl Store) -> (UserRecord, UserRecord, ApiKeyRecord) {
    let k = key();
    let a = UserRecord { id: Uuid::new_v4(), name: "ada".into(), role: Role::Admin, created_at: now() };
    let b = UserRecord { id: Uuid::new_v4(), name: "bob".into(), role: Role::Member, created_at: now() };
    s.create_user(&a, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_user(&b, AuditBatch::new(&k, &[])).await.unwrap();
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
    (a, b, key_rec)
}

/// A vault holding `api/openai` at version 2 (sealed-0, sealed-1); the secret's id.
async fn vault_with_two_versions(s: &impl Store) -> (VaultRecord, Uuid) {
    let k = key();
    let v = vault_record("v");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    s.put_version(&put(v.id, sid, "api/openai", 0), AuditBatch::new(&k, &[event("secret.write", "x")])).await.unwrap();
    s.put_version(&put(v.id, sid, "api/openai", 1), AuditBatch::new(&k, &[])).await.unwrap();
    (v, sid)
}

fn paths(listed: Vec<(SecretRecord, VersionMeta)>) -> Vec<String> {
    listed.into_iter().map(|(s, _)| s.path).collect()
}

/// A share of a stored secret, to a recipient agent, readable twice.
async fn stored_share(s: &impl Store) -> ShareRecord {
    let k = key();
    let v = vault_record("shared");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let sid = Uuid::new_v4();
    s.put_version(&put(v.id, sid, "a/b", 0), AuditBatch::new(&k, &[])).await.unwrap();
    let share = ShareRecord {
        id: Uuid::new_v4(),
        sealed_id: Some(vec![1, 2, 3]),
        secret_id: sid,
        vault_id: v.id,
        secret_path: "a/b".into(),
        secret_version: 1,
        created_by: Uuid::new_v4(),
        created_by_type: PrincipalKind::User,
        created_with_key: Some(Uuid::new_v4()),
        recipient_type: RecipientType::Agent,
        recipient_id: Some(Uuid::new_v4()),
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
    share
}

fn enrollment_record() -> EnrollmentRecord {
    EnrollmentRecord {
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
    }
}

/// Inserting a server key under a taken name returns the stored one.
pub async fn an_existing_server_key_is_never_replaced<S: Store>(s: &Arc<S>) {
    assert!(s.server_key("master").await.unwrap().is_none());
    let first = ServerKeyRecord { name: "master".into(), wrapped: vec![1], root_key_id: "a".into(), created_at: now() };
    let second = ServerKeyRecord { wrapped: vec![2], ..first.clone() };
    assert_eq!(s.insert_server_key(first.clone()).await.unwrap(), first);
    assert_eq!(s.insert_server_key(second).await.unwrap(), first, "an existing key is never replaced");
}

/// Server keys are listed by name prefix, oldest first.
pub async fn server_keys_are_listed_by_prefix<S: Store>(s: &Arc<S>) {
    let t = now();
    for (n, age) in [("token-signing:b", 2), ("token-signing:a", 1), ("master", 3)] {
        let created_at = t - Duration::minutes(age);
        let rec = ServerKeyRecord { name: n.into(), wrapped: vec![1], root_key_id: "r".into(), created_at };
        s.insert_server_key(rec).await.unwrap();
    }
    let names: Vec<String> = s.server_keys("token-signing:").await.unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, vec!["token-signing:b", "token-signing:a"], "oldest first");
    assert!(s.server_keys("token_signing").await.unwrap().is_empty(), "a prefix is matched literally");
}

/// Users are counted, read back, listed, and a second user of the same name is a conflict.
pub async fn user_names_are_unique<S: Store>(s: &Arc<S>) {
    let k = key();
    assert_eq!(s.count_users().await.unwrap(), 0);
    let user = UserRecord { id: Uuid::new_v4(), name: "admin".into(), role: Role::Admin, created_at: now() };
    s.create_user(&user, AuditBatch::new(&k, &[event("user.create", "u")])).await.unwrap();
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert_eq!(s.user(user.id).await.unwrap().unwrap(), user);
    let dup = UserRecord { id: Uuid::new_v4(), ..user.clone() };
    assert!(matches!(s.create_user(&dup, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));
    let other = UserRecord { id: Uuid::new_v4(), name: "bob".into(), role: Role::Member, created_at: now() };
    s.create_user(&other, AuditBatch::new(&k, &[])).await.unwrap();
    let mut users = s.list_users().await.unwrap();
    users.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(users, vec![user, other]);
}

/// API keys are found by hash and by id, touched, and deleted only by their owner.
pub async fn api_keys_are_found_by_hash_and_deleted_by_their_owner<S: Store>(s: &Arc<S>) {
    let k = key();
    let user = UserRecord { id: Uuid::new_v4(), name: "admin".into(), role: Role::Admin, created_at: now() };
    s.create_user(&user, AuditBatch::new(&k, &[])).await.unwrap();
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
    assert_eq!(s.api_key(rec.id).await.unwrap().unwrap(), rec);
    assert!(s.api_key_by_hash(&[8; 32]).await.unwrap().is_none());
    let used = now();
    s.touch_api_key(rec.id, used).await.unwrap();
    assert_eq!(s.list_api_keys(user.id).await.unwrap()[0].last_used_at, Some(used));
    assert!(!s.delete_api_key(Uuid::new_v4(), rec.id, AuditBatch::new(&k, &[])).await.unwrap(), "other user's key");
    assert!(s.delete_api_key(user.id, rec.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.api_key_by_hash(&[9; 32]).await.unwrap().is_none());
}

/// Vaults are found by id and name, listed, and a second vault of the same name is a conflict.
pub async fn vault_names_are_unique<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("prod");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let dup = VaultRecord { id: Uuid::new_v4(), ..v.clone() };
    assert!(matches!(s.create_vault(&dup, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.vault(v.id).await.unwrap().unwrap(), v);
    assert_eq!(s.vault_by_name("prod").await.unwrap().unwrap(), v);
    assert_eq!(s.list_vaults().await.unwrap(), vec![v]);
}

/// Deleting a vault deletes its secrets and its policies, once.
pub async fn a_vault_takes_its_secrets_and_policies_with_it<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("prod");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    s.put_version(&put(v.id, Uuid::new_v4(), "a/b", 0), AuditBatch::new(&k, &[])).await.unwrap();
    let p = policy_record(v.id, Uuid::new_v4());
    s.create_policy(&p, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.vault(v.id).await.unwrap().is_none());
    assert!(s.secret(v.id, "a/b").await.unwrap().is_none(), "secrets go with their vault");
    assert!(s.policy(p.id).await.unwrap().is_none(), "a vault's policies go with it");
    assert!(!s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
}

/// A second creator of a path, and a writer that read an older version, get a conflict.
pub async fn a_second_creator_or_a_stale_writer_loses<S: Store>(s: &Arc<S>) {
    let k = key();
    let (v, sid) = vault_with_two_versions(s.as_ref()).await;
    let again = put(v.id, Uuid::new_v4(), "api/openai", 0);
    assert!(matches!(s.put_version(&again, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))));
    assert!(matches!(
        s.put_version(&put(v.id, sid, "api/openai", 1), AuditBatch::new(&k, &[])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.secret(v.id, "api/openai").await.unwrap().unwrap().current_version, 2, "nothing written");
}

/// Versions are read as current or by number, with their metadata, and listed newest first.
pub async fn versions_are_read_by_number_and_listed_newest_first<S: Store>(s: &Arc<S>) {
    let (v, sid) = vault_with_two_versions(s.as_ref()).await;
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
}

/// Secrets are listed by path prefix, in path order, each with its current version.
pub async fn secrets_are_listed_by_prefix<S: Store>(s: &Arc<S>) {
    let k = key();
    let (v, _) = vault_with_two_versions(s.as_ref()).await;
    s.put_version(&put(v.id, Uuid::new_v4(), "api/anthropic", 0), AuditBatch::new(&k, &[])).await.unwrap();
    s.put_version(&put(v.id, Uuid::new_v4(), "db/main", 0), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(paths(s.list_secrets(v.id, "api/").await.unwrap()), vec!["api/anthropic", "api/openai"]);
    assert_eq!(s.list_secrets(v.id, "").await.unwrap().len(), 3);
    assert_eq!(s.list_secrets(v.id, "api/openai").await.unwrap()[0].1.version, 2);
}

/// Disabling a version marks it (with the time of the first disable) and keeps it; enabling
/// reopens it; destroying erases its ciphertext for good, and a destroyed version is never
/// enabled again; an unknown version changes nothing.
pub async fn a_disabled_version_stays_stored_and_marked<S: Store>(s: &Arc<S>) {
    let k = key();
    let (v, sid) = vault_with_two_versions(s.as_ref()).await;
    let change = |version, change, at| s.change_version(sid, version, change, at, AuditBatch::new(&k, &[]));
    let first = now();
    assert!(change(1, VersionChange::Disable, first).await.unwrap());
    assert!(change(1, VersionChange::Disable, first + Duration::hours(1)).await.unwrap());
    assert!(!change(9, VersionChange::Disable, first).await.unwrap());
    let (_, one) = s.version(v.id, "api/openai", Some(1)).await.unwrap().unwrap();
    assert!(one.meta.is_disabled && !one.meta.destroyed);
    assert_eq!(one.meta.disabled_at, Some(first), "the first disable's time is kept");
    assert!(!one.ciphertext.is_empty(), "kept");
    assert!(!s.version(v.id, "api/openai", Some(2)).await.unwrap().unwrap().1.meta.is_disabled);
    assert!(change(1, VersionChange::Enable, now()).await.unwrap());
    let (_, one) = s.version(v.id, "api/openai", Some(1)).await.unwrap().unwrap();
    assert!(!one.meta.is_disabled && one.meta.disabled_at.is_none());
    assert!(change(2, VersionChange::Destroy, now()).await.unwrap());
    let (_, two) = s.version(v.id, "api/openai", Some(2)).await.unwrap().unwrap();
    assert!(two.meta.is_disabled && two.meta.destroyed && two.ciphertext.is_empty(), "erased");
    assert!(!change(2, VersionChange::Enable, now()).await.unwrap(), "a destroyed version stays closed");
    assert!(s.version(v.id, "api/openai", Some(2)).await.unwrap().unwrap().1.meta.is_disabled);
}

/// Login roles are found by method and name and by id, unique per method, deleted, and go
/// with the agent they map to.
pub async fn login_roles_are_unique_per_method_and_go_with_their_agent<S: Store>(s: &Arc<S>) {
    let k = key();
    let agent = agent_record("eso", None);
    s.create_agent(&agent, AuditBatch::new(&k, &[])).await.unwrap();
    let role = |method: &str, name: &str| AuthRoleRecord {
        id: Uuid::new_v4(),
        method: method.into(),
        name: name.into(),
        agent_id: agent.id,
        bindings: r#"{"bound_service_account_names":["eso"]}"#.into(),
        secret_hash: (method == "approle").then(|| vec![7; 32]),
        token_ttl_seconds: 600,
        created_by: Uuid::new_v4(),
        created_at: now(),
    };
    let k8s = role("kubernetes", "eso");
    s.create_auth_role(&k8s, AuditBatch::new(&k, &[])).await.unwrap();
    let approle = role("approle", "eso");
    s.create_auth_role(&approle, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(matches!(
        s.create_auth_role(&role("kubernetes", "eso"), AuditBatch::new(&k, &[])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.auth_role("kubernetes", "eso").await.unwrap().as_ref(), Some(&k8s));
    assert_eq!(s.auth_role_by_id(approle.id).await.unwrap().as_ref(), Some(&approle));
    assert_eq!(s.auth_role("jwt", "eso").await.unwrap(), None);
    let methods: Vec<String> = s.auth_roles().await.unwrap().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, vec!["approle", "kubernetes"]);
    assert!(s.delete_auth_role(approle.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(!s.delete_auth_role(approle.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.delete_agent(agent.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.auth_role_by_id(k8s.id).await.unwrap(), None, "gone with its agent");
}

/// A key's Vault KV settings are written, replaced, found by path and prefix, forgotten, and
/// go with their vault; they exist without any version.
pub async fn kv_settings_exist_before_a_version_and_go_with_their_vault<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("kv");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let record = |path: &str, settings: &str| KvSettingsRecord {
        vault_id: v.id,
        path: path.into(),
        settings: settings.into(),
        updated_at: now(),
    };
    assert_eq!(s.kv_settings(v.id, "app/db").await.unwrap(), None);
    s.put_kv_settings(&record("app/db", r#"{"max_versions":5}"#), AuditBatch::new(&k, &[])).await.unwrap();
    let replaced = record("app/db", r#"{"cas_required":true}"#);
    s.put_kv_settings(&replaced, AuditBatch::new(&k, &[])).await.unwrap();
    s.put_kv_settings(&record("app/cache", "{}"), AuditBatch::new(&k, &[])).await.unwrap();
    s.put_kv_settings(&record("other", "{}"), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.kv_settings(v.id, "app/db").await.unwrap(), Some(replaced));
    let under: Vec<String> = s.kv_settings_under(v.id, "app/").await.unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(under, vec!["app/cache", "app/db"]);
    assert!(s.secret(v.id, "app/db").await.unwrap().is_none(), "settings make no secret");
    assert!(s.delete_kv_settings(v.id, "app/cache", AuditBatch::new(&k, &[])).await.unwrap());
    assert!(!s.delete_kv_settings(v.id, "app/cache", AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.kv_settings(v.id, "app/db").await.unwrap(), None, "gone with the vault");
}

/// A proxy route is made once under its name, replaced only when it exists, listed by name
/// and deleted; a write that changes nothing leaves no audit event.
pub async fn proxy_routes_are_made_once_replaced_and_deleted<S: Store>(s: &Arc<S>) {
    let k = key();
    let route = |name: &str, spec: &str| ProxyRouteRecord {
        name: name.into(),
        vault_id: Uuid::new_v4(),
        spec: spec.into(),
        created_by: Uuid::new_v4(),
        created_at: now(),
        updated_at: now(),
    };
    let made = || [event("proxy.route_write", "openai")];
    assert!(
        !s.put_proxy_route(&route("openai", "{}"), true, AuditBatch::new(&k, &made())).await.unwrap(),
        "none to replace"
    );
    assert!(s.audit_head().await.unwrap().is_none(), "a refused write is not audited");
    let first = route("openai", r#"{"a":1}"#);
    assert!(s.put_proxy_route(&first, false, AuditBatch::new(&k, &made())).await.unwrap());
    assert!(!s.put_proxy_route(&route("openai", "{}"), false, AuditBatch::new(&k, &made())).await.unwrap(), "taken");
    s.put_proxy_route(&route("anthropic", "{}"), false, AuditBatch::new(&k, &made())).await.unwrap();
    let replaced = ProxyRouteRecord { spec: r#"{"a":2}"#.into(), updated_at: now(), ..route("openai", "") };
    assert!(s.put_proxy_route(&replaced, true, AuditBatch::new(&k, &made())).await.unwrap());
    let listed = s.proxy_routes().await.unwrap();
    assert_eq!(listed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["anthropic", "openai"]);
    let openai = &listed[1];
    assert_eq!((openai.spec.as_str(), openai.vault_id), (r#"{"a":2}"#, replaced.vault_id));
    assert_eq!(
        (openai.created_by, openai.created_at),
        (first.created_by, first.created_at),
        "kept from the first write"
    );
    assert!(s.delete_proxy_route("openai", AuditBatch::new(&k, &made())).await.unwrap());
    assert!(!s.delete_proxy_route("openai", AuditBatch::new(&k, &made())).await.unwrap());
    assert_eq!(s.proxy_routes().await.unwrap().len(), 1);
    let (events, total) = s.list_audit(&AuditFilter { limit: 100, ..AuditFilter::default() }).await.unwrap();
    assert_eq!((events.len(), total), (4, 4), "one event per write that changed something");
}

/// Usage rows add up per identity, route and day, and are listed from a day on.
pub async fn proxy_usage_adds_up_per_identity_route_and_day<S: Store>(s: &Arc<S>) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let row = |principal_id, route: &str, day, requests, response_bytes| ProxyUsageRecord {
        principal_id,
        route: route.into(),
        day,
        requests,
        response_bytes,
    };
    s.add_proxy_usage(&[row(a, "openai", 10, 2, 100), row(b, "openai", 10, 1, 5)]).await.unwrap();
    s.add_proxy_usage(&[row(a, "openai", 10, 3, 50), row(a, "openai", 11, 1, 1), row(a, "tg", 11, 7, 0)])
        .await
        .unwrap();
    let of_a = s.proxy_usage(10, Some("openai"), Some(a), 100).await.unwrap();
    assert_eq!(of_a, vec![row(a, "openai", 10, 5, 150), row(a, "openai", 11, 1, 1)]);
    assert_eq!(s.proxy_usage(11, None, None, 100).await.unwrap().len(), 2);
    assert_eq!(s.proxy_usage(10, None, None, 2).await.unwrap().len(), 2, "limited");
    assert_eq!(s.proxy_usage(12, None, None, 100).await.unwrap(), vec![]);
}

/// A deleted secret keeps its deletion time and is not listed until restored.
pub async fn a_deleted_secret_is_hidden_until_restored<S: Store>(s: &Arc<S>) {
    let k = key();
    let (v, sid) = vault_with_two_versions(s.as_ref()).await;
    s.put_version(&put(v.id, Uuid::new_v4(), "api/anthropic", 0), AuditBatch::new(&k, &[])).await.unwrap();
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
}

/// Writing to a deleted path revives it with the next version, and the versions from before
/// the deletion stay closed until a restore.
pub async fn a_write_to_a_deleted_secret_keeps_older_versions_closed<S: Store>(s: &Arc<S>) {
    let k = key();
    let (v, sid) = vault_with_two_versions(s.as_ref()).await;
    s.set_secret_deleted(sid, Some(now()), AuditBatch::new(&k, &[])).await.unwrap();
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

/// Each counted read is numbered, and none is granted past the limit.
pub async fn a_read_limit_is_never_exceeded<S: Store>(s: &Arc<S>) {
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

/// Revoked token ids are listed until the token would have expired; revoking twice is fine.
pub async fn revoked_tokens_are_kept_until_they_expire<S: Store>(s: &Arc<S>) {
    let k = key();
    let t = now();
    s.revoke_token("live", t + Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    s.revoke_token("dead", t - Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    s.revoke_token("live", t + Duration::hours(1), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.revoked_tokens(t).await.unwrap(), vec!["live".to_owned()]);
}

/// Three batches of four events, the middle one with a vault.
async fn four_audit_events(s: &impl Store) {
    let k = key();
    assert!(s.audit_head().await.unwrap().is_none());
    s.append_audit(AuditBatch::new(&k, &[event("secret.read", "v/a"), event("secret.read", "v/b")])).await.unwrap();
    let v = vault_record("audited");
    s.create_vault(&v, AuditBatch::new(&k, &[event("vault.create", "v")])).await.unwrap();
    s.append_audit(AuditBatch::new(&k, &[event("secret.write", "v/a")])).await.unwrap();
}

/// Audit events are listed in order (either way), filtered by action, resource and time, and
/// paged.
pub async fn audit_events_are_filtered_and_paged<S: Store>(s: &Arc<S>) {
    four_audit_events(s.as_ref()).await;
    let all = AuditFilter { limit: 100, ..AuditFilter::default() };
    let (events, total) = s.list_audit(&all).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let reads = AuditFilter { action: Some("secret.read".into()), limit: 1, ..AuditFilter::default() };
    let (page, total) = s.list_audit(&reads).await.unwrap();
    assert_eq!((page.len(), total), (1, 2));
    let second = AuditFilter { offset: 1, ..reads.clone() };
    assert_eq!(s.list_audit(&second).await.unwrap().0[0].event.resource_id, "v/b");
    let by_resource = AuditFilter { resource_id: Some("v/a".into()), limit: 10, ..AuditFilter::default() };
    assert_eq!(s.list_audit(&by_resource).await.unwrap().1, 2);
    let future = AuditFilter { from: Some(now() + Duration::hours(1)), limit: 10, ..AuditFilter::default() };
    assert_eq!(s.list_audit(&future).await.unwrap().1, 0);
    let newest = AuditFilter { newest_first: true, limit: 3, ..AuditFilter::default() };
    let (events, total) = s.list_audit(&newest).await.unwrap();
    assert_eq!((events.iter().map(|e| e.seq).collect::<Vec<_>>(), total), (vec![4, 3, 2], 4));
    let newest_reads = AuditFilter { newest_first: true, offset: 1, ..reads };
    assert_eq!(s.list_audit(&newest_reads).await.unwrap().0[0].event.resource_id, "v/a", "paged from the newest");
}

/// Events appended alone and with writes form one chain that verifies against the head.
pub async fn audit_events_form_one_verifiable_chain<S: Store>(s: &Arc<S>) {
    four_audit_events(s.as_ref()).await;
    let k = key();
    let mut verifier = Verifier::from_genesis(&k);
    for e in s.audit_after(0, 1000).await.unwrap() {
        assert!(verifier.push(&e));
    }
    let report = verifier.finish(s.audit_head().await.unwrap().as_ref());
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.checked, 4);
    assert_eq!(s.audit_after(2, 1).await.unwrap()[0].seq, 3);
}

/// Eight writers on one path lose no version.
pub async fn concurrent_writers_lose_no_version<S: Store>(s: &Arc<S>) {
    concurrent_writers(&[Arc::clone(s)]).await;
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

/// Deleting a user deletes their API keys and cuts off the active agents they created
/// (inactive, not before the deletion, a new token generation), and reports which.
pub async fn deleting_a_user_takes_their_keys_and_cuts_off_their_agents<S: Store>(s: &Arc<S>) {
    let k = key();
    let (_, b, key_rec) = two_users_and_a_key(s.as_ref()).await;
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
        "the agents a user created are cut off with them"
    );
    assert_eq!(s.agent(bobs_idle.id).await.unwrap().unwrap(), bobs_idle, "an inactive agent is left as it was");
    assert_eq!(s.delete_user(b.id, at, AuditBatch::new(&k, &[])).await.unwrap(), UserDeletion::NotFound);
}

/// The last admin is never deleted, and refusing changes nothing.
pub async fn the_last_admin_is_never_deleted<S: Store>(s: &Arc<S>) {
    let k = key();
    let (a, b, _) = two_users_and_a_key(s.as_ref()).await;
    assert_eq!(
        s.delete_user(a.id, now(), AuditBatch::new(&k, &[])).await.unwrap(),
        UserDeletion::LastAdmin,
        "never the last admin"
    );
    let mut users = s.list_users().await.unwrap();
    users.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(users, vec![a, b]);
}

/// Agents are found by id and key hash, listed, and two agents never share a key hash.
pub async fn agents_are_found_by_key_hash_which_is_unique<S: Store>(s: &Arc<S>) {
    let k = key();
    let agent = agent_record("bot", Some(vec![7; 32]));
    s.create_agent(&agent, AuditBatch::new(&k, &[event("agent.create", "a")])).await.unwrap();
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap(), agent);
    assert_eq!(s.agent_by_key_hash(&[7; 32]).await.unwrap().unwrap().id, agent.id);
    let twin = AgentRecord { id: Uuid::new_v4(), ..agent.clone() };
    assert!(
        matches!(s.create_agent(&twin, AuditBatch::new(&k, &[])).await, Err(StoreError::Conflict(_))),
        "key hashes are unique"
    );
    s.create_agent(&agent_record("enrolling", None), AuditBatch::new(&k, &[])).await.unwrap();
    s.create_agent(&agent_record("waiting", None), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.list_agents().await.unwrap().len(), 3, "many agents may have no key yet");
    let at = now();
    s.touch_agent(agent.id, at).await.unwrap();
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap().last_active_at, Some(at));
}

/// An update stores every field, drops the old key hash, and never lowers the token
/// generation (a write from an older read keeps the newer cut-off).
pub async fn an_agent_update_never_lowers_the_token_generation<S: Store>(s: &Arc<S>) {
    let k = key();
    let agent = agent_record("bot", Some(vec![7; 32]));
    s.create_agent(&agent, AuditBatch::new(&k, &[])).await.unwrap();
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
}

/// Deleting an agent deletes its policies, once.
pub async fn an_agent_takes_its_policies_with_it<S: Store>(s: &Arc<S>) {
    let k = key();
    let agent = agent_record("bot", Some(vec![7; 32]));
    s.create_agent(&agent, AuditBatch::new(&k, &[])).await.unwrap();
    let v = vault_record("agents-vault");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    s.create_policy(&policy_record(v.id, agent.id), AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.delete_agent(agent.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.agent(agent.id).await.unwrap().is_none());
    assert!(s.policies_of(PrincipalKind::Agent, agent.id).await.unwrap().is_empty(), "an agent's policies go with it");
    assert!(!s.delete_agent(agent.id, AuditBatch::new(&k, &[])).await.unwrap());
}

/// Policies are read back whole, listed per vault, and found per principal across vaults with
/// principal kinds kept apart.
pub async fn policies_are_found_by_vault_and_by_principal<S: Store>(s: &Arc<S>) {
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
    assert_eq!(s.policy(p2.id).await.unwrap().unwrap(), p2);
    assert_eq!(s.list_policies(v.id).await.unwrap().len(), 2);
    let mut mine: Vec<Uuid> = s.policies_of(PrincipalKind::Agent, who).await.unwrap().iter().map(|p| p.id).collect();
    mine.sort();
    let mut want = vec![p1.id, p2.id];
    want.sort();
    assert_eq!(mine, want, "every vault's policies of that principal");
    assert!(s.policies_of(PrincipalKind::User, who).await.unwrap().is_empty(), "kinds are kept apart");
}

/// An update changes permissions, conditions and expiry; pattern and principal never change.
pub async fn a_policy_update_keeps_pattern_and_principal<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("policed");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let p1 = policy_record(v.id, Uuid::new_v4());
    s.create_policy(&p1, AuditBatch::new(&k, &[])).await.unwrap();
    let mut changed = p1.clone();
    changed.permissions = vec![Permission::Read, Permission::Write];
    changed.conditions = crate::codec::conditions("{\"ip_allowlist\":[\"10.0.0.0/8\"]}").unwrap();
    changed.expires_at = Some(now() + Duration::days(1));
    changed.secret_path_pattern = "ignored/**".into();
    changed.principal_id = Uuid::new_v4();
    assert!(s.update_policy(&changed, AuditBatch::new(&k, &[])).await.unwrap());
    let stored = s.policy(p1.id).await.unwrap().unwrap();
    assert_eq!(stored.permissions, changed.permissions);
    assert_eq!(stored.conditions.to_json(), changed.conditions.to_json());
    assert_eq!(stored.expires_at, changed.expires_at);
    assert_eq!(stored.secret_path_pattern, "api-keys/**", "the pattern is immutable");
    assert_eq!(stored.principal_id, p1.principal_id, "the principal is immutable");
    assert!(s.delete_policy(p1.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(!s.delete_policy(p1.id, AuditBatch::new(&k, &[])).await.unwrap());
}

/// A share is read back whole, and listed for its creator, its recipient and admins.
pub async fn shares_are_found_by_creator_and_recipient<S: Store>(s: &Arc<S>) {
    let share = stored_share(s.as_ref()).await;
    let recipient = share.recipient_id.unwrap();
    assert_eq!(s.share(share.id).await.unwrap().unwrap(), share);
    assert_eq!(s.shares_by(share.created_by).await.unwrap(), vec![share.clone()]);
    assert_eq!(s.shares_for(recipient).await.unwrap(), vec![share.clone()]);
    assert!(s.shares_for(share.created_by).await.unwrap().is_empty());
    assert_eq!(s.all_shares().await.unwrap(), vec![share]);
}

/// Openings are numbered and never granted past the limit; unlimited shares are counted too.
pub async fn share_openings_never_exceed_the_limit<S: Store>(s: &Arc<S>) {
    let k = key();
    let share = stored_share(s.as_ref()).await;
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), Some(1));
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), Some(2));
    assert_eq!(s.consume_share(share.id, Some(2)).await.unwrap(), None, "never beyond the limit");
    let open = ShareRecord { id: Uuid::new_v4(), max_access_count: None, ..share };
    s.create_share(&open, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.consume_share(open.id, None).await.unwrap(), Some(1), "unlimited shares count too");
    assert_eq!(s.share(open.id).await.unwrap().unwrap().access_count, 1);
}

/// A share is accepted, declined (for good: no accept after) and revoked by a change that says
/// whether it applied.
pub async fn shares_are_accepted_revoked_and_declined<S: Store>(s: &Arc<S>) {
    let k = key();
    let share = stored_share(s.as_ref()).await;
    assert!(s.change_share(share.id, ShareChange::Accept, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.share(share.id).await.unwrap().unwrap().accepted);
    assert!(s.change_share(share.id, ShareChange::Decline, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.share(share.id).await.unwrap().unwrap().declined);
    assert!(
        !s.change_share(share.id, ShareChange::Accept, AuditBatch::new(&k, &[])).await.unwrap(),
        "declining is final"
    );
    let after = s.share(share.id).await.unwrap().unwrap();
    assert!(after.declined && !after.accepted);
    assert!(s.change_share(share.id, ShareChange::Revoke, AuditBatch::new(&k, &[])).await.unwrap());
    assert!(s.share(share.id).await.unwrap().unwrap().revoked);
    assert!(!s.change_share(Uuid::new_v4(), ShareChange::Decline, AuditBatch::new(&k, &[])).await.unwrap());
}

/// A secret request round-trips, is claimed by exactly one of many concurrent claims, can be
/// released after a failed store, never claims once expired, is forgotten after expiry, and
/// goes with its vault.
pub async fn a_secret_request_is_claimed_once_and_forgotten_after_expiry<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("requests");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let asker = Uuid::new_v4();
    let request = |expires_at| SecretRequestRecord {
        id: Uuid::new_v4(),
        vault_id: v.id,
        path: "providers/openai".into(),
        secret_type: SecretType::ApiKey,
        description: "the new OpenAI key".into(),
        requested_by: asker,
        requested_by_type: PrincipalKind::Agent,
        requested_with_key: None,
        requested_generation: Some(3),
        created_at: now(),
        expires_at,
        used_at: None,
    };
    let lapsed = request(now() - Duration::days(2));
    s.create_secret_request(&lapsed, now() - Duration::days(3), AuditBatch::new(&k, &[])).await.unwrap();
    let stale = request(now() - Duration::minutes(1));
    s.create_secret_request(&stale, now() - Duration::days(3), AuditBatch::new(&k, &[])).await.unwrap();
    assert!(!s.claim_secret_request(stale.id, now()).await.unwrap(), "an expired link claims nothing");
    let live = request(now() + Duration::minutes(15));
    s.create_secret_request(&live, now() - Duration::days(1), AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.secret_request(lapsed.id).await.unwrap(), None, "forgotten a day after expiry");
    assert_eq!(s.secret_request(stale.id).await.unwrap().as_ref(), Some(&stale), "kept within the day");
    assert_eq!(s.secret_request(live.id).await.unwrap().as_ref(), Some(&live));
    assert_eq!(s.open_secret_requests(asker, now()).await.unwrap(), 1);
    let claims: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(s);
            tokio::spawn(async move { s.claim_secret_request(live.id, now()).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one claim wins");
    assert!(s.secret_request(live.id).await.unwrap().unwrap().used_at.is_some());
    assert_eq!(s.open_secret_requests(asker, now()).await.unwrap(), 0);
    s.release_secret_request(live.id).await.unwrap();
    assert_eq!(s.secret_request(live.id).await.unwrap().unwrap().used_at, None);
    assert!(s.claim_secret_request(live.id, now()).await.unwrap(), "usable again after a release");
    assert!(!s.claim_secret_request(Uuid::new_v4(), now()).await.unwrap());
    assert!(s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap());
    assert_eq!(s.secret_request(live.id).await.unwrap(), None, "gone with its vault");
}

/// A row written before share ids were hashed is found, and moved once.
pub async fn unhashed_share_rows_are_moved_once<S: Store>(s: &Arc<S>) {
    let k = key();
    let share = stored_share(s.as_ref()).await;
    let legacy = ShareRecord { id: Uuid::new_v4(), sealed_id: None, ..share };
    s.create_share(&legacy, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.unhashed_shares().await.unwrap(), vec![legacy.id]);
    let row = Uuid::new_v4();
    s.rekey_share(legacy.id, row, vec![9; 40]).await.unwrap();
    s.rekey_share(legacy.id, Uuid::new_v4(), vec![8; 40]).await.unwrap();
    assert!(s.share(legacy.id).await.unwrap().is_none());
    assert_eq!(s.share(row).await.unwrap().unwrap().sealed_id, Some(vec![9; 40]), "moved once");
    assert!(s.unhashed_shares().await.unwrap().is_empty());
}

/// Requests past their expiry are not pending; nothing can be taken before approval.
pub async fn lapsed_enrollments_are_not_pending<S: Store>(s: &Arc<S>) {
    let k = key();
    let e = enrollment_record();
    s.create_enrollment(&e, AuditBatch::new(&k, &[])).await.unwrap();
    let stale = EnrollmentRecord { id: Uuid::new_v4(), expires_at: now() - Duration::hours(1), ..e.clone() };
    s.create_enrollment(&stale, AuditBatch::new(&k, &[])).await.unwrap();
    let pending: Vec<Uuid> = s.pending_enrollments(now()).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(pending, vec![e.id], "lapsed requests are not pending");
    assert_eq!(s.enrollment(stale.id).await.unwrap().unwrap(), stale, "but still readable");
    assert!(s.take_enrollment_key(e.id).await.unwrap().is_none(), "nothing to take before approval");
}

/// Approval records the decision and creates the agent in one transaction; a request is
/// decided once; the sealed key is handed out exactly once.
pub async fn an_approval_creates_the_agent_and_hands_its_key_out_once<S: Store>(s: &Arc<S>) {
    let k = key();
    let e = enrollment_record();
    s.create_enrollment(&e, AuditBatch::new(&k, &[])).await.unwrap();
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
}

/// A denial settles the request; an approval that cannot create its agent changes nothing.
pub async fn a_denial_or_a_failed_approval_leaves_the_enrollment_settled_or_pending<S: Store>(s: &Arc<S>) {
    let k = key();
    let admin = Uuid::new_v4();
    let denied = enrollment_record();
    s.create_enrollment(&denied, AuditBatch::new(&k, &[])).await.unwrap();
    s.decide_enrollment(denied.id, admin, None, AuditBatch::new(&k, &[])).await.unwrap();
    assert_eq!(s.enrollment(denied.id).await.unwrap().unwrap().status, EnrollmentStatus::Denied);

    s.create_agent(&agent_record("holder", Some(vec![9; 32])), AuditBatch::new(&k, &[])).await.unwrap();
    let clash = agent_record("clash", Some(vec![9; 32]));
    let third = enrollment_record();
    s.create_enrollment(&third, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.decide_enrollment(third.id, admin, Some((&clash, vec![1])), AuditBatch::new(&k, &[])).await.is_err());
    assert_eq!(
        s.enrollment(third.id).await.unwrap().unwrap().status,
        EnrollmentStatus::Pending,
        "a failed approval changes nothing"
    );
    assert!(s.agent(clash.id).await.unwrap().is_none(), "and creates no agent");
}

/// Both handles on a shared database say it is shared.
pub async fn a_shared_store_says_so<S: Store>(a: Arc<S>, b: Arc<S>) {
    assert!(a.shared() && b.shared(), "a store several servers write must say so");
    assert!(b.change_signal().is_some(), "a shared store signals changes");
}

/// Writers on both handles never collide on a version, and their audit events form one chain.
pub async fn writers_on_two_handles_lose_no_version<S: Store>(a: Arc<S>, b: Arc<S>) {
    concurrent_writers(&[a, b]).await;
}

/// Reads' events appended at once through both handles (each server racing the other for the
/// chain's head), beside writes, form one chain that verifies, with every event in it once.
pub async fn audit_appends_of_both_handles_form_one_chain<S: Store>(a: Arc<S>, b: Arc<S>) {
    let k = key();
    let v = vault_record("raced");
    a.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8_usize {
        let s = if t % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        let vault_id = v.id;
        tasks.push(tokio::spawn(async move {
            let k = key();
            for i in 0..25 {
                let name = format!("{t}-{i}");
                if i % 8 == 7 {
                    let ev = [event("secret.write", &name)];
                    s.put_version(&put(vault_id, Uuid::new_v4(), &name, 0), AuditBatch::new(&k, &ev)).await.unwrap();
                } else {
                    s.append_audit(AuditBatch::new(&k, &[event("secret.read", &name)])).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = a.audit_after(0, 1000).await.unwrap();
    let mut verifier = Verifier::from_genesis(&k);
    for e in &events {
        assert!(verifier.push(e), "the chain breaks at {}", e.seq);
    }
    let report = verifier.finish(b.audit_head().await.unwrap().as_ref());
    assert!(report.is_valid(), "{report:?}");
    let mut names: Vec<&str> = events.iter().map(|e| e.event.resource_id.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!((events.len(), names.len()), (8 * 25, 8 * 25), "every event once");
}

/// An event answered before another was appended comes first in the chain, whichever handle
/// appended each and whether it came alone (a read's) or with a write: the chain's order is
/// the order in which things happened, as anyone waiting for each answer saw it.
pub async fn events_answered_in_turn_on_two_handles_are_chained_in_that_order<S: Store>(a: Arc<S>, b: Arc<S>) {
    let k = key();
    let v = vault_record("in-turn");
    a.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    for i in 0..40_usize {
        let s = if i % 3 == 1 { &b } else { &a };
        let name = format!("turn-{i:02}");
        if i % 5 == 4 {
            let ev = [event("secret.write", &name)];
            s.put_version(&put(v.id, Uuid::new_v4(), &name, 0), AuditBatch::new(&k, &ev)).await.unwrap();
        } else {
            s.append_audit(AuditBatch::new(&k, &[event("secret.read", &name)])).await.unwrap();
        }
    }
    let events = b.audit_after(0, 1000).await.unwrap();
    let order: Vec<&str> = events.iter().map(|e| e.event.resource_id.as_str()).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("turn-{i:02}")).collect();
    assert_eq!(order, expected);
    assert!(verify_all(&k, &events, a.audit_head().await.unwrap().as_ref()).is_valid());
}

/// A read limit of 5 against 2 × 8 concurrent readers: exactly 5 succeed.
pub async fn readers_on_two_handles_never_exceed_a_read_limit<S: Store>(a: Arc<S>, b: Arc<S>) {
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
}

/// Changes through `a` reach `b`, in commit order, and wake it: exactly the changes each
/// write's batch names, none added by the store.
pub async fn changes_through_one_handle_reach_the_other_in_order<S: Store>(a: Arc<S>, b: Arc<S>) {
    let k = key();
    let start = b.change_position().await.unwrap();
    let signal = b.change_signal().expect("a shared store signals changes");
    let notified = signal.notified();
    let v = vault_record("followed");
    a.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let secret = [Change::Secret { vault_id: v.id, path: "once".into() }];
    a.put_version(&put(v.id, Uuid::new_v4(), "once", 0), AuditBatch::new(&k, &[]).changing(&secret)).await.unwrap();
    let agent = agent_record("followed", None);
    a.create_agent(&agent, AuditBatch::new(&k, &[])).await.unwrap();
    let mut changed = agent.clone();
    changed.is_active = false;
    let deactivated = [Change::Agent(agent.id)];
    a.update_agent(&changed, AuditBatch::new(&k, &[event("agent.update", "x")]).changing(&deactivated)).await.unwrap();
    let revoked = [Change::Token("jti-everywhere".into())];
    a.revoke_token("jti-everywhere", now() + Duration::hours(1), AuditBatch::new(&k, &[]).changing(&revoked))
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), notified).await.expect("the other handle is woken");
    let batch = b.changes_since(start).await.unwrap();
    assert!(batch.complete);
    assert_eq!(batch.changes, vec![secret[0].clone(), deactivated[0].clone(), revoked[0].clone()]);
    assert_eq!(batch.position, b.change_position().await.unwrap());
    let none = b.changes_since(batch.position).await.unwrap();
    assert!(none.changes.is_empty() && none.complete && none.position == batch.position);
}

/// Secret events are recorded with the write that announces them (none for a write that
/// fails), numbered in commit order, read after a number a page at a time, and pruned to a
/// window that always keeps the newest; a reader from before a pruned event is told so.
pub async fn secret_events_are_numbered_in_commit_order_and_pruned_to_a_window<S: Store>(s: &Arc<S>) {
    let k = key();
    assert_eq!(s.secret_event_head().await.unwrap(), 0);
    assert_eq!(s.secret_events_after(0, 10).await.unwrap(), SecretEventPage { events: vec![], complete: true });
    let v = vault_record("evented");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let id = Uuid::new_v4();
    let first = [secret_event(v.id, "bots/a", SecretEventKind::Written, 1)];
    s.put_version(&put(v.id, id, "bots/a", 0), AuditBatch::new(&k, &[event("secret.write", "a")]).announcing(&first))
        .await
        .unwrap();
    // A stale write fails: its event is not recorded.
    let lost = [secret_event(v.id, "bots/a", SecretEventKind::Written, 1)];
    assert!(
        s.put_version(
            &put(v.id, id, "bots/a", 0),
            AuditBatch::new(&k, &[event("secret.write", "a")]).announcing(&lost)
        )
        .await
        .is_err()
    );
    let second = [
        secret_event(v.id, "bots/a", SecretEventKind::Rotated, 2),
        secret_event(v.id, "bots/a", SecretEventKind::Disabled, 1),
    ];
    s.put_version(&put(v.id, id, "bots/a", 1), AuditBatch::new(&k, &[event("secret.rotate", "a")]).announcing(&second))
        .await
        .unwrap();
    let page = s.secret_events_after(0, 10).await.unwrap();
    assert!(page.complete);
    let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let events: Vec<SecretEvent> = page.events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(events, [first.to_vec(), second.to_vec()].concat());
    let head = s.secret_event_head().await.unwrap();
    assert_eq!(head, *seqs.last().unwrap());
    let paged = s.secret_events_after(seqs[0], 1).await.unwrap();
    assert_eq!(paged.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![seqs[1]]);
    assert!(s.secret_events_after(head, 10).await.unwrap().events.is_empty());

    let pruned = s.prune_secret_events(now() + Duration::hours(1)).await.unwrap();
    assert_eq!(pruned, 2, "all but the newest");
    assert_eq!(s.secret_event_head().await.unwrap(), head, "the newest is kept");
    let late = s.secret_events_after(0, 10).await.unwrap();
    assert!(!late.complete, "a reader from before the window is told it missed events");
    assert_eq!(late.events.len(), 1);
    assert!(s.secret_events_after(head - 1, 10).await.unwrap().complete);
}

/// Secret events written through two handles form one sequence in commit order, which each
/// handle reads alike.
pub async fn secret_events_of_both_handles_form_one_sequence<S: Store>(a: Arc<S>, b: Arc<S>) {
    let k = key();
    let v = vault_record("evented-twice");
    a.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let mut tasks = Vec::new();
    for (i, store) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            let path = format!("p{i}");
            for version in 1..=5 {
                let events = [secret_event(v.id, &path, SecretEventKind::Written, version)];
                let id = Uuid::from_u128(i as u128 + 1);
                store
                    .put_version(
                        &put(v.id, id, &path, version - 1),
                        AuditBatch::new(&k, &[event("secret.write", &path)]).announcing(&events),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let from_a = a.secret_events_after(0, 100).await.unwrap();
    let from_b = b.secret_events_after(0, 100).await.unwrap();
    assert_eq!(from_a, from_b);
    assert_eq!(from_a.events.len(), 20);
    for i in 0..4 {
        let versions: Vec<i64> =
            from_a.events.iter().filter(|e| e.event.path == format!("p{i}")).map(|e| e.event.version).collect();
        assert_eq!(versions, vec![1, 2, 3, 4, 5], "each writer's events in its commit order");
    }
}

/// A consumer's acknowledgement replaces its earlier one for the same secret (other
/// consumers, hosts and secrets keep theirs); rows are listed by vault and path, and go with
/// their vault.
pub async fn a_consumers_ack_replaces_its_row_and_goes_with_the_vault<S: Store>(s: &Arc<S>) {
    let k = key();
    let v = vault_record("fleet");
    s.create_vault(&v, AuditBatch::new(&k, &[])).await.unwrap();
    let agent = Uuid::new_v4();
    let row = |consumer: &str, host: &str, path: &str, version: i64| ConsumerRecord {
        principal_id: agent,
        principal_type: PrincipalKind::Agent,
        consumer: consumer.to_owned(),
        host: host.to_owned(),
        vault_id: v.id,
        path: path.to_owned(),
        version,
        seen_at: now(),
    };
    let first =
        [row("sync", "web-1", "bots/a", 1), row("sync", "web-2", "bots/a", 1), row("run:bot", "web-1", "db", 3)];
    s.ack_consumers(&first, AuditBatch::new(&k, &[event("consumer.ack", "fleet")])).await.unwrap();
    s.ack_consumers(&[row("sync", "web-1", "bots/a", 2)], AuditBatch::new(&k, &[])).await.unwrap();
    let all = s.consumers(Some(v.id), None).await.unwrap();
    let seen: Vec<(&str, &str, &str, i64)> =
        all.iter().map(|r| (r.path.as_str(), r.consumer.as_str(), r.host.as_str(), r.version)).collect();
    assert_eq!(seen, [("bots/a", "sync", "web-1", 2), ("bots/a", "sync", "web-2", 1), ("db", "run:bot", "web-1", 3)]);
    assert_eq!(s.consumers(Some(v.id), Some("db")).await.unwrap().len(), 1);
    assert_eq!(s.consumers(None, None).await.unwrap().len(), 3);
    s.delete_vault(v.id, AuditBatch::new(&k, &[])).await.unwrap();
    assert!(s.consumers(None, None).await.unwrap().is_empty(), "rows go with their vault");
}

/// Filtered audit queries give the same answers whether the events are in a backend's deferred
/// lookup index, in the unindexed tail after it, or split between the two. `index` brings the
/// backend's index up to date, merging every whole run of [`crate::AUDIT_LOOKUP_RUN`] events
/// (backends without a deferred index pass a no-op).
pub async fn audit_filters_agree_across_index_and_tail<S: Store>(s: &S, index: impl AsyncFn(&S)) {
    let key = ChainKey::new(SubKey::from_bytes([1; 32]));
    let base = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let numbered = |i: i64| AuditEvent {
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
    };
    let filter =
        |action: Option<&str>, actor: Option<&str>, resource: Option<&str>, from: Option<i64>, to: Option<i64>| {
            AuditFilter {
                action: action.map(Into::into),
                actor_id: actor.map(Into::into),
                resource_id: resource.map(Into::into),
                from: from.map(|s| base + Duration::seconds(s)),
                to: to.map(|s| base + Duration::seconds(s)),
                limit: 100_000,
                offset: 0,
                newest_first: false,
            }
        };
    // Seconds around the ends of the first runs (events count from 0).
    let edge = crate::AUDIT_LOOKUP_RUN;
    let filters = [
        filter(None, None, None, None, None),
        filter(Some("secret.read"), None, None, None, None),
        filter(None, Some("actor-1"), None, None, None),
        filter(None, None, Some("v/p3"), None, None),
        filter(Some("secret.write"), Some("actor-2"), None, None, None),
        filter(Some("secret.read"), None, Some("v/p0"), Some(10), None),
        filter(None, None, None, Some(20), Some(40)),
        filter(None, Some("actor-3"), None, None, Some(30)),
        filter(Some("nothing"), None, None, None, None),
        filter(None, None, Some("v/p5"), Some(edge - 30), None),
        filter(None, None, None, Some(edge - 20), Some(edge + 20)),
        filter(Some("vault.create"), Some("actor-1"), None, Some(edge - 40), Some(edge + 40)),
        filter(None, Some("actor-0"), None, Some(2 * edge - 30), Some(2 * edge + 30)),
    ];
    let check = async || {
        let all = s.audit_after(0, 100_000).await.unwrap();
        for f in &filters {
            let want: Vec<i64> = all
                .iter()
                .filter(|e| f.action.as_ref().is_none_or(|a| &e.event.action == a))
                .filter(|e| f.actor_id.as_ref().is_none_or(|a| &e.event.actor_id == a))
                .filter(|e| f.resource_id.as_ref().is_none_or(|r| &e.event.resource_id == r))
                .filter(|e| f.from.is_none_or(|t| e.event.created_at >= t))
                .filter(|e| f.to.is_none_or(|t| e.event.created_at <= t))
                .map(|e| e.seq)
                .collect();
            let (got, total) = s.list_audit(f).await.unwrap();
            let got: Vec<i64> = got.iter().map(|e| e.seq).collect();
            let first_difference = got.iter().zip(&want).position(|(g, w)| g != w);
            assert!(
                got == want,
                "{f:?}: {} events listed, {} expected, first difference at {first_difference:?}",
                got.len(),
                want.len()
            );
            assert_eq!(total, want.len() as u64, "{f:?}");
            let page = AuditFilter { limit: 3, offset: 2, ..f.clone() };
            let (got, _) = s.list_audit(&page).await.unwrap();
            assert_eq!(
                got.iter().map(|e| e.seq).collect::<Vec<_>>(),
                want.iter().skip(2).take(3).copied().collect::<Vec<_>>()
            );
        }
    };
    let first: Vec<_> = (0..40).map(numbered).collect();
    s.append_audit(AuditBatch::new(&key, &first)).await.unwrap();
    check().await;
    index(s).await;
    check().await;
    let tail: Vec<_> = (40..60).map(numbered).collect();
    s.append_audit(AuditBatch::new(&key, &tail)).await.unwrap();
    check().await;
    index(s).await;
    check().await;
    // Two whole runs (the first may be one a backend lists from the start) and a tail.
    let run: Vec<_> = (60..2 * edge + 60).map(numbered).collect();
    for batch in run.chunks(1000) {
        s.append_audit(AuditBatch::new(&key, batch)).await.unwrap();
    }
    check().await;
    index(s).await;
    check().await;
}
