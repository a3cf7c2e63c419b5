//! Secret requests: one-time links on which a user enters a value.

use clawvault_store::{AuditBatch, Result, SecretRequestRecord};
use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros};
use crate::sql::{execute, one};
use crate::{SqliteStore, backend};

impl SqliteStore {
    pub(crate) async fn create_secret_request_impl(
        &self,
        r: &SecretRequestRecord,
        forget_before: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        let (r, audit) = (r.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(c, "DELETE FROM secret_requests WHERE expires_at < ?", [micros(forget_before)])
                    .map_err(backend)?;
                execute(
                    c,
                    "INSERT INTO secret_requests (id, vault_id, path, secret_type, description, requested_by, \
                     requested_by_type, requested_with_key, requested_generation, created_at, expires_at, used_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        r.id,
                        r.vault_id,
                        r.path,
                        r.secret_type.as_str(),
                        r.description,
                        r.requested_by,
                        r.requested_by_type.as_str(),
                        r.requested_with_key,
                        r.requested_generation,
                        micros(r.created_at),
                        micros(r.expires_at),
                        r.used_at.map(micros),
                    ],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn secret_request_impl(&self, id: Uuid) -> Result<Option<SecretRequestRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM secret_requests WHERE id = ?", [id], convert::secret_request))
    }

    pub(crate) async fn open_secret_requests_impl(&self, requester: Uuid, now: OffsetDateTime) -> Result<i64> {
        self.readers.read(|c| {
            let found = one(
                c,
                "SELECT COUNT(*) FROM secret_requests WHERE requested_by = ? AND expires_at > ? AND used_at IS NULL",
                params![requester, micros(now)],
                |r| r.get::<_, i64>(0).map_err(backend),
            )?;
            Ok(found.unwrap_or(0))
        })
    }

    pub(crate) async fn claim_secret_request_impl(&self, id: Uuid, at: OffsetDateTime) -> Result<bool> {
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "UPDATE secret_requests SET used_at = ?1 WHERE id = ?2 AND used_at IS NULL AND expires_at > ?1",
                    params![micros(at), id],
                )
                .map(|n| n == 1)
                .map_err(backend)
            })
            .await
    }

    pub(crate) async fn release_secret_request_impl(&self, id: Uuid) -> Result<()> {
        self.writer()?
            .write(move |c| {
                execute(c, "UPDATE secret_requests SET used_at = NULL WHERE id = ?", [id]).map(|_| ()).map_err(backend)
            })
            .await
    }
}
