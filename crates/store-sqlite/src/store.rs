//! `impl Store for SqliteStore`.

use async_trait::async_trait;
use clawvault_core::audit::{ChainHead, ChainedEvent};
use clawvault_store::{
    ApiKeyRecord, AuditBatch, AuditFilter, PutVersion, Result, SecretRecord, ServerKeyRecord, Store, StoreError,
    UserRecord, VaultRecord, VersionMeta, VersionRecord,
};
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::{self, micros, opt_micros, secret_columns, version_columns};
use crate::{SqliteStore, audit, backend};

fn unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

impl SqliteStore {
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn server_key(&self, name: &str) -> Result<Option<ServerKeyRecord>> {
        let row = sqlx::query("SELECT name, wrapped, root_key_id, created_at FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.writer)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(ServerKeyRecord {
                name: r.get("name"),
                wrapped: r.get("wrapped"),
                root_key_id: r.get("root_key_id"),
                created_at: convert::time(r.get("created_at"))?,
            })
        })
        .transpose()
    }

    async fn insert_server_key(&self, key: ServerKeyRecord) -> Result<ServerKeyRecord> {
        sqlx::query("INSERT INTO server_keys (name, wrapped, root_key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(&key.name)
            .bind(&key.wrapped)
            .bind(&key.root_key_id)
            .bind(micros(key.created_at))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        self.server_key(&key.name).await?.ok_or(StoreError::Corrupt("server key vanished".into()))
    }

    async fn create_user(&self, user: &UserRecord, audit: AuditBatch<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO users (id, name, role, created_at) VALUES (?, ?, ?, ?)")
            .bind(user.id)
            .bind(&user.name)
            .bind(user.role.as_str())
            .bind(micros(user.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if unique_violation(&e) { StoreError::Conflict("a user with that name exists") } else { backend(e) }
            })?;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(convert::user).transpose()
    }

    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.writer).await.map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_api_key(&self, key: &ApiKeyRecord, audit: AuditBatch<'_>) -> Result<()> {
        let scopes = serde_json::to_string(&key.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes, is_active, created_at, expires_at, last_used_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id)
        .bind(key.user_id)
        .bind(&key.name)
        .bind(&key.key_prefix)
        .bind(&key.key_hash)
        .bind(scopes)
        .bind(i64::from(key.is_active))
        .bind(micros(key.created_at))
        .bind(opt_micros(key.expires_at))
        .bind(opt_micros(key.last_used_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(convert::api_key).transpose()
    }

    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(convert::api_key).collect()
    }

    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE id = ? AND user_id = ?")
            .bind(key_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn touch_api_key(&self, key_id: Uuid, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(micros(at))
            .bind(key_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(micros(expires_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn revoked_tokens(&self, now: OffsetDateTime) -> Result<Vec<String>> {
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < ?")
            .bind(micros(now))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        sqlx::query_scalar("SELECT jti FROM revoked_tokens").fetch_all(&self.writer).await.map_err(backend)
    }

    async fn create_vault(&self, vault: &VaultRecord, audit: AuditBatch<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO vaults (id, name, description, created_by, created_by_type, created_at, wrapped_key, root_key_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(vault.id)
        .bind(&vault.name)
        .bind(&vault.description)
        .bind(vault.created_by)
        .bind(&vault.created_by_type)
        .bind(micros(vault.created_at))
        .bind(&vault.wrapped_key)
        .bind(&vault.root_key_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| if unique_violation(&e) { StoreError::Conflict("a vault with that name exists") } else { backend(e) })?;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn vault(&self, id: Uuid) -> Result<Option<VaultRecord>> {
        let row = sqlx::query("SELECT * FROM vaults WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(convert::vault).transpose()
    }

    async fn vault_by_name(&self, name: &str) -> Result<Option<VaultRecord>> {
        let row = sqlx::query("SELECT * FROM vaults WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(convert::vault).transpose()
    }

    async fn list_vaults(&self) -> Result<Vec<VaultRecord>> {
        let rows = sqlx::query("SELECT * FROM vaults ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(convert::vault).collect()
    }

    async fn delete_vault(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM vaults WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn secret(&self, vault_id: Uuid, path: &str) -> Result<Option<SecretRecord>> {
        let row =
            sqlx::query(concat!("SELECT ", secret_columns!(), " FROM secrets s WHERE s.vault_id = ? AND s.path = ?"))
                .bind(vault_id)
                .bind(path)
                .fetch_optional(&self.writer)
                .await
                .map_err(backend)?;
        row.as_ref().map(convert::secret).transpose()
    }

    async fn put_version(&self, put: &PutVersion, audit: AuditBatch<'_>) -> Result<()> {
        let m = &put.record.meta;
        if m.version != put.expected_version + 1 {
            return Err(StoreError::Conflict("version must follow the expected version"));
        }
        let mut tx = self.begin().await?;
        if put.expected_version == 0 {
            sqlx::query(
                "INSERT INTO secrets (id, vault_id, path, current_version, created_by, created_at, updated_at, deleted_at) \
                 VALUES (?, ?, ?, 1, ?, ?, ?, NULL)",
            )
            .bind(put.secret_id)
            .bind(put.vault_id)
            .bind(&put.path)
            .bind(m.created_by)
            .bind(micros(m.created_at))
            .bind(micros(m.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| if unique_violation(&e) { StoreError::Conflict("the secret was created concurrently") } else { backend(e) })?;
        } else {
            let updated = sqlx::query(
                "UPDATE secrets SET current_version = ?, updated_at = ?, deleted_at = NULL \
                 WHERE id = ? AND vault_id = ? AND current_version = ?",
            )
            .bind(m.version)
            .bind(micros(m.created_at))
            .bind(put.secret_id)
            .bind(put.vault_id)
            .bind(put.expected_version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::Conflict("the secret changed concurrently"));
            }
        }
        sqlx::query(
            "INSERT INTO secret_versions (secret_id, version, secret_type, metadata, created_by, created_at, expires_at, \
             max_access_count, access_count, is_disabled, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
        )
        .bind(put.secret_id)
        .bind(m.version)
        .bind(m.secret_type.as_str())
        .bind(&m.metadata)
        .bind(m.created_by)
        .bind(micros(m.created_at))
        .bind(opt_micros(m.expires_at))
        .bind(m.max_access_count)
        .bind(&put.record.ciphertext)
        .execute(&mut *tx)
        .await
        .map_err(|e| if unique_violation(&e) { StoreError::Conflict("the version exists") } else { backend(e) })?;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn version(
        &self,
        vault_id: Uuid,
        path: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRecord, VersionRecord)>> {
        let row = sqlx::query(concat!(
            "SELECT ", secret_columns!(), ", ", version_columns!(), ", v.ciphertext AS v_ciphertext \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE(?3, s.current_version) \
             WHERE s.vault_id = ?1 AND s.path = ?2"
        ))
            .bind(vault_id)
            .bind(path)
            .bind(version)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(|r| Ok((convert::secret(&r)?, convert::version(&r)?))).transpose()
    }

    async fn consume_access(&self, secret_id: Uuid, version: i64, max: i64) -> Result<Option<i64>> {
        let n: Option<i64> = sqlx::query_scalar(
            "UPDATE secret_versions SET access_count = access_count + 1 \
             WHERE secret_id = ? AND version = ? AND access_count < ? RETURNING access_count",
        )
        .bind(secret_id)
        .bind(version)
        .bind(max)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend)?;
        Ok(n)
    }

    async fn list_secrets(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<(SecretRecord, VersionMeta)>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            ", ",
            version_columns!(),
            " FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE s.vault_id = ?1 AND s.deleted_at IS NULL AND substr(s.path, 1, ?2) = ?3 ORDER BY s.path"
        ))
        .bind(vault_id)
        .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
        .bind(prefix)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| Ok((convert::secret(r)?, convert::version_meta(r)?))).collect()
    }

    async fn list_versions(&self, secret_id: Uuid) -> Result<Vec<VersionMeta>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM secret_versions v WHERE v.secret_id = ? ORDER BY v.version DESC"
        ))
        .bind(secret_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(convert::version_meta).collect()
    }

    async fn disable_version(&self, secret_id: Uuid, version: i64, audit: AuditBatch<'_>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE secret_versions SET is_disabled = 1 WHERE secret_id = ? AND version = ?")
            .bind(secret_id)
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn set_secret_deleted(
        &self,
        secret_id: Uuid,
        deleted_at: Option<OffsetDateTime>,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE secrets SET deleted_at = ? WHERE id = ?")
            .bind(opt_micros(deleted_at))
            .bind(secret_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        audit::append(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn append_audit(&self, batch: AuditBatch<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        audit::append(&mut tx, batch).await?;
        tx.commit().await.map_err(backend)
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>> {
        let mut conn = self.reader.acquire().await.map_err(backend)?;
        audit::head(&mut conn).await
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
        macro_rules! filter {
            () => {
                "WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR actor_id = ?2) AND (?3 IS NULL OR resource_id = ?3) \
                 AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at <= ?5)"
            };
        }
        let from = opt_micros(f.from);
        let to = opt_micros(f.to);
        let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM audit_events ", filter!()))
            .bind(&f.action)
            .bind(&f.actor_id)
            .bind(&f.resource_id)
            .bind(from)
            .bind(to)
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        let rows = sqlx::query(concat!("SELECT * FROM audit_events ", filter!(), " ORDER BY seq LIMIT ?6 OFFSET ?7"))
            .bind(&f.action)
            .bind(&f.actor_id)
            .bind(&f.resource_id)
            .bind(from)
            .bind(to)
            .bind(i64::from(f.limit))
            .bind(i64::try_from(f.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let events = rows.iter().map(convert::chained_event).collect::<Result<Vec<_>>>()?;
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(convert::chained_event).collect()
    }
}
