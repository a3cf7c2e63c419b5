//! Vault KV settings of keys.

use clawvault_store::{AuditBatch, KvSettingsRecord, Result};
use rusqlite::params;
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{self, micros};
use crate::sql::{all, execute, one};
use crate::{SqliteStore, backend};

impl SqliteStore {
    pub(crate) async fn kv_settings_impl(&self, vault_id: Uuid, path: &str) -> Result<Option<KvSettingsRecord>> {
        self.readers.read(|c| {
            one(
                c,
                "SELECT * FROM kv_settings WHERE vault_id = ? AND path = ?",
                params![vault_id, path],
                convert::kv_settings,
            )
        })
    }

    pub(crate) async fn kv_settings_under_impl(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<KvSettingsRecord>> {
        let prefix = prefix.to_owned();
        self.readers
            .scan(move |c| {
                all(
                    c,
                    "SELECT * FROM kv_settings WHERE vault_id = ?1 AND substr(path, 1, ?2) = ?3 ORDER BY path",
                    params![vault_id, i64::try_from(prefix.len()).unwrap_or(i64::MAX), prefix],
                    convert::kv_settings,
                )
            })
            .await
    }

    pub(crate) async fn put_kv_settings_impl(&self, r: &KvSettingsRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (r, audit) = (r.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO kv_settings (vault_id, path, settings, updated_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (vault_id, path) DO UPDATE SET settings = ?3, updated_at = ?4",
                    params![r.vault_id, r.path, r.settings, micros(r.updated_at)],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn delete_kv_settings_impl(
        &self,
        vault_id: Uuid,
        path: &str,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        let (path, audit) = (path.to_owned(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let done =
                    execute(c, "DELETE FROM kv_settings WHERE vault_id = ? AND path = ?", params![vault_id, path])
                        .map_err(backend)?
                        > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }
}
