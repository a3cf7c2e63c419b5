//! Vaults, secrets and versions.

use clawvault_store::{
    AuditBatch, PutVersion, Result, SecretRecord, StoreError, VaultRecord, VersionChange, VersionMeta, VersionRecord,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::{self, SECRET_COLUMNS, VERSION_COLUMNS};
use crate::sql;
use crate::{PgStore, audit, backend, conflict_on_unique};

pub(crate) async fn create_vault(s: &PgStore, v: &VaultRecord, batch: AuditBatch<'_>) -> Result<()> {
    let v = v.clone();
    let insert = sql::query(
        "INSERT INTO vaults (id, name, description, created_by, created_by_type, created_at, wrapped_key, root_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(v.id)
    .bind(v.name)
    .bind(v.description)
    .bind(v.created_by)
    .bind(v.created_by_type.as_str())
    .bind(v.created_at)
    .bind(v.wrapped_key)
    .bind(v.root_key_id);
    s.audited(vec![insert], "a vault with that name exists", batch).await.map(|_| ())
}

pub(crate) async fn vault(s: &PgStore, id: Uuid) -> Result<Option<VaultRecord>> {
    rows::one(s, sql::query("SELECT * FROM vaults WHERE id = $1").bind(id), rows::vault).await
}

pub(crate) async fn vault_by_name(s: &PgStore, name: &str) -> Result<Option<VaultRecord>> {
    rows::one(s, sql::query("SELECT * FROM vaults WHERE name = $1").bind(name), rows::vault).await
}

pub(crate) async fn list_vaults(s: &PgStore) -> Result<Vec<VaultRecord>> {
    rows::many(s, sql::query("SELECT * FROM vaults ORDER BY created_at, id"), rows::vault).await
}

pub(crate) async fn delete_vault(s: &PgStore, id: Uuid, batch: AuditBatch<'_>) -> Result<bool> {
    let delete = sql::query("DELETE FROM vaults WHERE id = $1").bind(id);
    Ok(s.audited(vec![delete], "", batch).await? > 0)
}

pub(crate) async fn secret(s: &PgStore, vault_id: Uuid, path: &str) -> Result<Option<SecretRecord>> {
    rows::one(
        s,
        sql::dynamic(format!("SELECT {SECRET_COLUMNS} FROM secrets s WHERE s.vault_id = $1 AND s.path = $2"))
            .bind(vault_id)
            .bind(path),
        rows::secret,
    )
    .await
}

pub(crate) async fn secret_by_id(s: &PgStore, id: Uuid) -> Result<Option<SecretRecord>> {
    rows::one(s, sql::dynamic(format!("SELECT {SECRET_COLUMNS} FROM secrets s WHERE s.id = $1")).bind(id), rows::secret)
        .await
}

pub(crate) async fn put_version(s: &PgStore, put: &PutVersion, batch: AuditBatch<'_>) -> Result<()> {
    if put.record.meta.version != put.expected_version + 1 {
        return Err(StoreError::Conflict("version must follow the expected version"));
    }
    let put = put.clone();
    let batch = s.owned(batch);
    s.write(move |tx| {
        Box::pin(async move {
            let m = &put.record.meta;
            // One statement either way: the secret row (created, or moved on by compare-and-set)
            // and its new version. Under READ COMMITTED a concurrent writer of the same row
            // waits for the first to commit, then re-checks the condition against the committed
            // row: the loser updates nothing and inserts nothing. (Parameters go with their types,
            // so each branch may leave some unused.)
            let (statement, conflict) = if put.expected_version == 0 {
                (
                    "WITH head AS (INSERT INTO secrets (id, vault_id, path, current_version, created_by, created_at, \
                     updated_at, deleted_at) VALUES ($1, $10, $11, 1, $5, $6, $6, NULL) RETURNING id) ",
                    "the secret was created concurrently",
                )
            } else {
                (
                    "WITH head AS (UPDATE secrets SET current_version = $2, updated_at = $6, deleted_at = NULL, \
                     deleted_through = CASE WHEN deleted_at IS NULL THEN deleted_through ELSE current_version END \
                     WHERE id = $1 AND vault_id = $10 AND current_version = $12 RETURNING id) ",
                    "the version exists",
                )
            };
            let written = sql::dynamic(format!(
                "{statement}INSERT INTO secret_versions (secret_id, version, secret_type, metadata, created_by, \
                 created_at, expires_at, max_access_count, access_count, is_disabled, ciphertext) \
                 SELECT id, $2, $3, $4, $5, $6, $7, $8, 0, FALSE, $9 FROM head"
            ))
            .bind(put.secret_id)
            .bind(m.version)
            .bind(m.secret_type.as_str())
            .bind(m.metadata.clone())
            .bind(m.created_by)
            .bind(m.created_at)
            .bind(m.expires_at)
            .bind(m.max_access_count)
            .bind(put.record.ciphertext.clone())
            .bind(put.vault_id)
            .bind(put.path.clone())
            .bind(put.expected_version)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique(conflict))?;
            if written.rows_affected() == 0 {
                return Err(StoreError::Conflict("the secret changed concurrently"));
            }
            audit::append(&mut *tx, &batch).await
        })
    })
    .await
}

pub(crate) async fn version(
    s: &PgStore,
    vault_id: Uuid,
    path: &str,
    version: Option<i64>,
) -> Result<Option<(SecretRecord, VersionRecord)>> {
    rows::one(
        s,
        sql::dynamic(format!(
            "SELECT {SECRET_COLUMNS}, {VERSION_COLUMNS}, v.ciphertext AS v_ciphertext \
         FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE($3, s.current_version) \
         WHERE s.vault_id = $1 AND s.path = $2"
        ))
        .bind(vault_id)
        .bind(path)
        .bind(version),
        rows::secret_and_version,
    )
    .await
}

pub(crate) async fn consume_access(s: &PgStore, secret_id: Uuid, version: i64, max: i64) -> Result<Option<i64>> {
    // One statement: the row lock makes concurrent readers on every server count one at a
    // time, and the condition is re-checked against the committed count.
    sql::query_scalar(
        "UPDATE secret_versions SET access_count = access_count + 1 \
         WHERE secret_id = $1 AND version = $2 AND access_count < $3 RETURNING access_count",
    )
    .bind(secret_id)
    .bind(version)
    .bind(max)
    .fetch_optional(s.pool())
    .await
    .map_err(backend)
}

pub(crate) async fn list_secrets(
    s: &PgStore,
    vault_id: Uuid,
    prefix: &str,
) -> Result<Vec<(SecretRecord, VersionMeta)>> {
    // COLLATE "C": byte order, as the embedded store sorts.
    rows::many(
        s,
        sql::dynamic(format!(
            "SELECT {SECRET_COLUMNS}, {VERSION_COLUMNS} \
         FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
         WHERE s.vault_id = $1 AND s.deleted_at IS NULL AND starts_with(s.path, $2) ORDER BY s.path COLLATE \"C\""
        ))
        .bind(vault_id)
        .bind(prefix),
        rows::secret_and_meta,
    )
    .await
}

pub(crate) async fn list_versions(s: &PgStore, secret_id: Uuid) -> Result<Vec<VersionMeta>> {
    rows::many(
        s,
        sql::dynamic(format!(
            "SELECT {VERSION_COLUMNS} FROM secret_versions v WHERE v.secret_id = $1 ORDER BY v.version DESC"
        ))
        .bind(secret_id),
        rows::version_meta,
    )
    .await
}

pub(crate) async fn change_version(
    s: &PgStore,
    secret_id: Uuid,
    version: i64,
    change: VersionChange,
    at: OffsetDateTime,
    batch: AuditBatch<'_>,
) -> Result<bool> {
    let statement = match change {
        VersionChange::Disable => {
            "UPDATE secret_versions SET is_disabled = TRUE, disabled_at = COALESCE(disabled_at, $1) \
             WHERE secret_id = $2 AND version = $3"
        }
        VersionChange::Enable => {
            "UPDATE secret_versions SET is_disabled = FALSE, disabled_at = NULL \
             WHERE $1::timestamptz IS NOT NULL AND secret_id = $2 AND version = $3 AND NOT destroyed"
        }
        VersionChange::Destroy => {
            "UPDATE secret_versions SET is_disabled = TRUE, destroyed = TRUE, ciphertext = ''::bytea \
             WHERE $1::timestamptz IS NOT NULL AND secret_id = $2 AND version = $3"
        }
    };
    let q = sql::query(statement).bind(at).bind(secret_id).bind(version);
    Ok(s.audited(vec![q], "", batch).await? > 0)
}

pub(crate) async fn set_secret_deleted(
    s: &PgStore,
    secret_id: Uuid,
    deleted_at: Option<OffsetDateTime>,
    batch: AuditBatch<'_>,
) -> Result<bool> {
    let q = sql::query(
        "UPDATE secrets SET deleted_at = $1, \
         deleted_through = CASE WHEN $1::timestamptz IS NULL THEN 0 ELSE deleted_through END WHERE id = $2",
    )
    .bind(deleted_at)
    .bind(secret_id);
    Ok(s.audited(vec![q], "", batch).await? > 0)
}
