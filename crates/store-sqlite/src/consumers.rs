//! The fleet view: what each consumer holds of each secret.

use clawvault_store::{AuditBatch, ConsumerRecord, Result, codec};
use rusqlite::{Row, params};
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{get, micros, time};
use crate::sql::{all, execute};
use crate::{SqliteStore, backend};

fn consumer(row: &Row<'_>) -> Result<ConsumerRecord> {
    Ok(ConsumerRecord {
        principal_id: get(row, "principal_id")?,
        principal_type: codec::principal_kind(&get::<String>(row, "principal_type")?, "consumer principal kind")?,
        consumer: get(row, "consumer")?,
        host: get(row, "host")?,
        vault_id: get(row, "vault_id")?,
        path: get(row, "path")?,
        version: get(row, "version")?,
        seen_at: time(get(row, "seen_at")?)?,
    })
}

impl SqliteStore {
    pub(crate) async fn ack_consumers_impl(&self, acks: &[ConsumerRecord], audit: AuditBatch<'_>) -> Result<()> {
        let (acks, audit) = (acks.to_vec(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                for a in &acks {
                    execute(
                        c,
                        "INSERT INTO consumers (principal_id, principal_type, consumer, host, vault_id, path, version, seen_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                         ON CONFLICT (principal_id, consumer, host, vault_id, path) DO UPDATE SET version = ?7, seen_at = ?8",
                        params![
                            a.principal_id,
                            a.principal_type.as_str(),
                            a.consumer,
                            a.host,
                            a.vault_id,
                            a.path,
                            a.version,
                            micros(a.seen_at)
                        ],
                    )
                    .map_err(backend)?;
                }
                audit.append(c)
            })
            .await
    }

    pub(crate) async fn consumers_impl(
        &self,
        vault_id: Option<Uuid>,
        path: Option<&str>,
    ) -> Result<Vec<ConsumerRecord>> {
        let path = path.map(str::to_owned);
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM consumers WHERE (?1 IS NULL OR vault_id = ?1) AND (?2 IS NULL OR path = ?2) \
                 ORDER BY vault_id, path, consumer, host",
                params![vault_id, path],
                consumer,
            )
        })
    }
}
