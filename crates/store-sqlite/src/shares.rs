//! Shares.

use clawvault_store::{AuditBatch, Result, ShareChange, ShareRecord};
use rusqlite::params;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros, to_json_list};
use crate::sql::{all, execute, one};
use crate::{SqliteStore, backend};

impl SqliteStore {
    pub(crate) async fn create_share_impl(&self, s: &ShareRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (s, audit) = (s.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO shares (id, sealed_id, secret_id, vault_id, secret_path, secret_version, created_by, created_by_type, recipient_type, \
                     recipient_id, recipient_email, passphrase_hash, expires_at, max_access_count, access_count, ip_allowlist, \
                     accepted, declined, revoked, created_at, created_with_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        s.id,
                        s.sealed_id,
                        s.secret_id,
                        s.vault_id,
                        s.secret_path,
                        s.secret_version,
                        s.created_by,
                        s.created_by_type.as_str(),
                        s.recipient_type.as_str(),
                        s.recipient_id,
                        s.recipient_email,
                        s.passphrase_hash,
                        micros(s.expires_at),
                        s.max_access_count,
                        s.access_count,
                        to_json_list(&s.ip_allowlist),
                        i64::from(s.accepted),
                        i64::from(s.declined),
                        i64::from(s.revoked),
                        micros(s.created_at),
                        s.created_with_key,
                    ],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn share_impl(&self, id: Uuid) -> Result<Option<ShareRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM shares WHERE id = ?", [id], convert::share))
    }

    pub(crate) async fn shares_by_impl(&self, creator: Uuid) -> Result<Vec<ShareRecord>> {
        self.readers.read(|c| {
            all(c, "SELECT * FROM shares WHERE created_by = ? ORDER BY created_at DESC, id", [creator], convert::share)
        })
    }

    pub(crate) async fn unhashed_shares_impl(&self) -> Result<Vec<Uuid>> {
        self.readers.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM shares WHERE sealed_id IS NULL").map_err(backend)?;
            let ids = stmt.query_map([], |r| r.get::<_, Uuid>(0)).map_err(backend)?;
            ids.collect::<rusqlite::Result<Vec<Uuid>>>().map_err(backend)
        })
    }

    pub(crate) async fn rekey_share_impl(&self, old: Uuid, row: Uuid, sealed_id: Vec<u8>) -> Result<()> {
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "UPDATE shares SET id = ?, sealed_id = ? WHERE id = ? AND sealed_id IS NULL",
                    params![row, sealed_id, old],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await
    }

    pub(crate) async fn all_shares_impl(&self) -> Result<Vec<ShareRecord>> {
        self.readers.read(|c| all(c, "SELECT * FROM shares ORDER BY created_at DESC, id", [], convert::share))
    }

    pub(crate) async fn shares_for_impl(&self, recipient: Uuid) -> Result<Vec<ShareRecord>> {
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM shares WHERE recipient_id = ? ORDER BY created_at DESC, id",
                [recipient],
                convert::share,
            )
        })
    }

    pub(crate) async fn change_share_impl(&self, id: Uuid, change: ShareChange, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        let sql = match change {
            // Declining is final: an accept never undoes a decline, even one that raced it.
            ShareChange::Accept => "UPDATE shares SET accepted = 1 WHERE id = ? AND declined = 0",
            ShareChange::Decline => "UPDATE shares SET declined = 1, accepted = 0 WHERE id = ?",
            ShareChange::Revoke => "UPDATE shares SET revoked = 1 WHERE id = ?",
        };
        self.writer()?
            .write(move |c| {
                let done = execute(c, sql, [id]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn consume_share_impl(&self, id: Uuid, max: Option<i64>) -> Result<Option<i64>> {
        self.writer()?
            .write(move |c| {
                one(
                    c,
                    "UPDATE shares SET access_count = access_count + 1 WHERE id = ?1 AND (?2 IS NULL OR access_count < ?2) RETURNING access_count",
                    params![id, max],
                    |r| r.get::<_, i64>(0).map_err(backend),
                )
            })
            .await
    }
}
