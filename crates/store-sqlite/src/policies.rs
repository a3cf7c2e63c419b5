//! Policies.

use clawvault_store::codec;
use clawvault_store::{AuditBatch, PolicyRecord, PrincipalKind, Result};
use rusqlite::params;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros, opt_micros, to_json_list};
use crate::sql::{all, execute, one};
use crate::{SqliteStore, backend};

impl SqliteStore {
    pub(crate) async fn create_policy_impl(&self, p: &PolicyRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (p, audit) = (p.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO policies (id, vault_id, principal_kind, principal_id, secret_path_pattern, permissions, effect, \
                     conditions, priority, expires_at, created_by, created_by_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        p.id,
                        p.vault_id,
                        p.principal_kind.as_str(),
                        p.principal_id,
                        p.secret_path_pattern,
                        to_json_list(&codec::permission_names(&p.permissions)),
                        p.effect.as_str(),
                        codec::conditions_text(&p.conditions),
                        p.priority,
                        opt_micros(p.expires_at),
                        p.created_by,
                        p.created_by_type.as_str(),
                        micros(p.created_at),
                    ],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn policy_impl(&self, id: Uuid) -> Result<Option<PolicyRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM policies WHERE id = ?", [id], convert::policy))
    }

    pub(crate) async fn list_policies_impl(&self, vault_id: Uuid) -> Result<Vec<PolicyRecord>> {
        self.readers.read(|c| {
            all(c, "SELECT * FROM policies WHERE vault_id = ? ORDER BY created_at, id", [vault_id], convert::policy)
        })
    }

    pub(crate) async fn policies_of_impl(&self, kind: PrincipalKind, principal_id: Uuid) -> Result<Vec<PolicyRecord>> {
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM policies WHERE principal_id = ? AND principal_kind = ? ORDER BY created_at, id",
                params![principal_id, kind.as_str()],
                convert::policy,
            )
        })
    }

    pub(crate) async fn update_policy_impl(&self, p: &PolicyRecord, audit: AuditBatch<'_>) -> Result<bool> {
        let (p, audit) = (p.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE policies SET permissions = ?, effect = ?, conditions = ?, priority = ?, expires_at = ? WHERE id = ?",
                    params![
                        to_json_list(&codec::permission_names(&p.permissions)),
                        p.effect.as_str(),
                        codec::conditions_text(&p.conditions),
                        p.priority,
                        opt_micros(p.expires_at),
                        p.id
                    ],
                )
                .map_err(backend)?
                    > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn delete_policy_impl(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM policies WHERE id = ?", [id]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }
}
