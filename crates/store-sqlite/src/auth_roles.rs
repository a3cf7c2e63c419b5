//! Login roles of the Vault-compatible API.

use clawvault_store::{AuditBatch, AuthRoleRecord, Result};
use rusqlite::params;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros};
use crate::sql::{all, conflict_on_unique, execute, one};
use crate::{SqliteStore, backend};

impl SqliteStore {
    pub(crate) async fn create_auth_role_impl(&self, r: &AuthRoleRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (r, audit) = (r.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO auth_roles (id, method, name, agent_id, bindings, secret_hash, token_ttl_seconds, \
                     created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        r.id,
                        r.method,
                        r.name,
                        r.agent_id,
                        r.bindings,
                        r.secret_hash,
                        r.token_ttl_seconds,
                        r.created_by,
                        micros(r.created_at),
                    ],
                )
                .map_err(conflict_on_unique("a role of that method with that name exists"))?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn auth_role_impl(&self, method: &str, name: &str) -> Result<Option<AuthRoleRecord>> {
        self.readers.read(|c| {
            one(c, "SELECT * FROM auth_roles WHERE method = ? AND name = ?", params![method, name], convert::auth_role)
        })
    }

    pub(crate) async fn auth_role_by_id_impl(&self, id: Uuid) -> Result<Option<AuthRoleRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM auth_roles WHERE id = ?", [id], convert::auth_role))
    }

    pub(crate) async fn auth_roles_impl(&self) -> Result<Vec<AuthRoleRecord>> {
        self.readers.read(|c| all(c, "SELECT * FROM auth_roles ORDER BY method, name", [], convert::auth_role))
    }

    pub(crate) async fn delete_auth_role_impl(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM auth_roles WHERE id = ?", [id]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }
}
