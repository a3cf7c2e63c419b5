//! Users, agents and self-enrollment.

use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuditBatch, EnrollmentRecord, EnrollmentStatus, Result, ServerKeyRecord, StoreError,
    UserDeletion, UserRecord,
};
use rusqlite::{Connection, params};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros, opt_micros, to_json_list};
use crate::sql::{all, conflict_on_unique, execute, one};
use crate::{SqliteStore, backend};

fn insert_agent(c: &Connection, a: &AgentRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO agents (id, name, description, created_by, key_hash, key_prefix, key_expires_at, is_active, \
         token_ttl_seconds, vault_ids, scopes, expires_at, not_before, token_generation, auth_method, intents_api_enabled, \
         shroud_enabled, created_at, last_active_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            a.id,
            a.name,
            a.description,
            a.created_by,
            a.key_hash,
            a.key_prefix,
            opt_micros(a.key_expires_at),
            i64::from(a.is_active),
            a.token_ttl_seconds,
            to_json_list(&a.vault_ids),
            to_json_list(&a.scopes),
            opt_micros(a.expires_at),
            opt_micros(a.not_before),
            a.token_generation,
            a.auth_method,
            i64::from(a.intents_api_enabled),
            i64::from(a.shroud_enabled),
            micros(a.created_at),
            opt_micros(a.last_active_at),
        ],
    )
    .map(|_| ())
    .map_err(conflict_on_unique("that agent key is already in use"))
}

/// Deletes a user unless they are the last admin (decided inside the write's transaction).
const DELETE_UNLESS_LAST_ADMIN: &str = "DELETE FROM users WHERE id = ?1 \
     AND (role <> 'admin' OR (SELECT count(*) FROM users WHERE role = 'admin') > 1)";

impl SqliteStore {
    pub(crate) async fn list_users_impl(&self) -> Result<Vec<UserRecord>> {
        self.readers.read(|c| all(c, "SELECT * FROM users ORDER BY created_at, id", [], convert::user))
    }

    pub(crate) async fn delete_user_impl(
        &self,
        id: Uuid,
        at: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<UserDeletion> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let deleted = execute(c, DELETE_UNLESS_LAST_ADMIN, [id]).map_err(backend)? > 0;
                if !deleted {
                    let exists = one(c, "SELECT * FROM users WHERE id = ?", [id], convert::user)?.is_some();
                    return Ok(if exists { UserDeletion::LastAdmin } else { UserDeletion::NotFound });
                }
                execute(c, "DELETE FROM policies WHERE principal_id = ?", [id]).map_err(backend)?;
                let mut deactivate = c
                    .prepare_cached(
                        "UPDATE agents SET is_active = 0, not_before = ?, token_generation = token_generation + 1 \
                         WHERE created_by = ? AND is_active = 1 RETURNING id",
                    )
                    .map_err(backend)?;
                let deactivated = deactivate
                    .query_map(params![micros(at), id], |r| r.get::<_, Uuid>(0))
                    .map_err(backend)?
                    .collect::<rusqlite::Result<Vec<Uuid>>>()
                    .map_err(backend)?;
                audit.append(c)?;
                Ok(UserDeletion::Deleted { deactivated })
            })
            .await
    }

    pub(crate) async fn api_key_impl(&self, key_id: Uuid) -> Result<Option<ApiKeyRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM api_keys WHERE id = ?", [key_id], convert::api_key))
    }

    pub(crate) async fn server_keys_impl(&self, prefix: &str) -> Result<Vec<ServerKeyRecord>> {
        let pattern = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM server_keys WHERE name LIKE ? ESCAPE '\\' ORDER BY created_at, name",
                [pattern],
                convert::server_key,
            )
        })
    }

    pub(crate) async fn create_agent_impl(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (agent, audit) = (agent.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                insert_agent(c, &agent)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn agent_impl(&self, id: Uuid) -> Result<Option<AgentRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM agents WHERE id = ?", [id], convert::agent))
    }

    pub(crate) async fn agent_by_key_hash_impl(&self, hash: &[u8]) -> Result<Option<AgentRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM agents WHERE key_hash = ?", [hash], convert::agent))
    }

    pub(crate) async fn list_agents_impl(&self) -> Result<Vec<AgentRecord>> {
        self.readers.scan(|c| all(c, "SELECT * FROM agents ORDER BY created_at, id", [], convert::agent)).await
    }

    pub(crate) async fn update_agent_impl(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<bool> {
        let (a, audit) = (agent.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE agents SET name = ?, description = ?, key_hash = ?, key_prefix = ?, key_expires_at = ?, \
                     is_active = ?, token_ttl_seconds = ?, vault_ids = ?, scopes = ?, expires_at = ?, not_before = ?, \
                     token_generation = MAX(token_generation, ?), auth_method = ?, intents_api_enabled = ?, shroud_enabled = ?, last_active_at = ? WHERE id = ?",
                    params![
                        a.name,
                        a.description,
                        a.key_hash,
                        a.key_prefix,
                        opt_micros(a.key_expires_at),
                        i64::from(a.is_active),
                        a.token_ttl_seconds,
                        to_json_list(&a.vault_ids),
                        to_json_list(&a.scopes),
                        opt_micros(a.expires_at),
                        opt_micros(a.not_before),
                        a.token_generation,
                        a.auth_method,
                        i64::from(a.intents_api_enabled),
                        i64::from(a.shroud_enabled),
                        opt_micros(a.last_active_at),
                        a.id,
                    ],
                )
                .map_err(conflict_on_unique("that agent key is already in use"))?
                    > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn delete_agent_impl(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM agents WHERE id = ?", [id]).map_err(backend)? > 0;
                if done {
                    execute(c, "DELETE FROM policies WHERE principal_id = ?", [id]).map_err(backend)?;
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn touch_agent_impl(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        self.writer()?
            .write(move |c| {
                execute(c, "UPDATE agents SET last_active_at = ? WHERE id = ?", params![micros(at), id])
                    .map(|_| ())
                    .map_err(backend)
            })
            .await
    }

    pub(crate) async fn create_enrollment_impl(&self, e: &EnrollmentRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (e, audit) = (e.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO enrollments (id, name, description, public_key, fingerprint, poll_token_hash, status, agent_id, \
                     sealed_key, decided_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        e.id,
                        e.name,
                        e.description,
                        e.public_key,
                        e.fingerprint,
                        e.poll_token_hash,
                        e.status.as_str(),
                        e.agent_id,
                        e.sealed_key,
                        e.decided_by,
                        micros(e.created_at),
                        micros(e.expires_at),
                    ],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn enrollment_impl(&self, id: Uuid) -> Result<Option<EnrollmentRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM enrollments WHERE id = ?", [id], convert::enrollment))
    }

    pub(crate) async fn pending_enrollments_impl(&self, now: OffsetDateTime) -> Result<Vec<EnrollmentRecord>> {
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM enrollments WHERE status = 'pending' AND expires_at > ? ORDER BY created_at",
                [micros(now)],
                convert::enrollment,
            )
        })
    }

    pub(crate) async fn decide_enrollment_impl(
        &self,
        id: Uuid,
        decided_by: Uuid,
        approved: Option<(&AgentRecord, Vec<u8>)>,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        let approved = approved.map(|(a, k)| (a.clone(), k));
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let (status, agent_id, sealed) = match &approved {
                    Some((agent, key)) => {
                        insert_agent(c, agent)?;
                        (EnrollmentStatus::Approved, Some(agent.id), Some(key.clone()))
                    }
                    None => (EnrollmentStatus::Denied, None, None),
                };
                let changed = execute(
                    c,
                    "UPDATE enrollments SET status = ?, agent_id = ?, sealed_key = ?, decided_by = ? WHERE id = ? AND status = 'pending'",
                    params![status.as_str(), agent_id, sealed, decided_by, id],
                )
                .map_err(backend)?;
                if changed == 0 {
                    return Err(StoreError::Conflict("the enrollment is no longer pending"));
                }
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn take_enrollment_key_impl(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        self.writer()?
            .write(move |c| {
                let key =
                    one(c, "SELECT sealed_key FROM enrollments WHERE id = ? AND status = 'approved'", [id], |r| {
                        r.get::<_, Option<Vec<u8>>>(0).map_err(backend)
                    })?
                    .flatten();
                if key.is_some() {
                    execute(c, "UPDATE enrollments SET sealed_key = NULL WHERE id = ?", [id]).map_err(backend)?;
                }
                Ok(key)
            })
            .await
    }
}
