//! Secret events: recorded by the write transaction that causes them (the writer thread makes
//! commit order and number order one), read by event streams, pruned after a window.

use clawvault_store::{Result, SecretEvent, SecretEventKind, SecretEventPage, StoredSecretEvent};
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use crate::convert::{get, micros, time};
use crate::sql::{all, execute, one};
use crate::{SqliteStore, backend};

/// A page of events after a number: the statement every event stream polls.
pub(crate) const AFTER: &str = "SELECT * FROM secret_events WHERE seq > ? ORDER BY seq LIMIT ?";

/// Records `events` in the caller's write transaction, stamped `at`.
pub(crate) fn record(conn: &Connection, events: &[SecretEvent], at: OffsetDateTime) -> Result<()> {
    for e in events {
        execute(
            conn,
            "INSERT INTO secret_events (created_at, vault_id, path, kind, version) VALUES (?, ?, ?, ?, ?)",
            params![micros(at), e.vault_id, e.path, e.kind.as_str(), e.version],
        )
        .map_err(backend)?;
    }
    Ok(())
}

fn stored(row: &Row<'_>) -> Result<StoredSecretEvent> {
    let kind: String = get(row, "kind")?;
    Ok(StoredSecretEvent {
        seq: get(row, "seq")?,
        at: time(get(row, "created_at")?)?,
        event: SecretEvent {
            vault_id: get(row, "vault_id")?,
            path: get(row, "path")?,
            kind: SecretEventKind::parse(&kind)
                .ok_or_else(|| clawvault_store::StoreError::Corrupt(format!("unknown secret event kind {kind:?}")))?,
            version: get(row, "version")?,
        },
    })
}

impl SqliteStore {
    pub(crate) async fn secret_events_after_impl(&self, after: i64, limit: u32) -> Result<SecretEventPage> {
        self.readers.read(|c| {
            let oldest: Option<i64> =
                one(c, "SELECT MIN(seq) AS seq FROM secret_events", [], |r| get(r, "seq"))?.flatten();
            let events = all(c, AFTER, params![after, i64::from(limit)], stored)?;
            Ok(SecretEventPage { events, complete: oldest.is_none_or(|o| o <= after.saturating_add(1)) })
        })
    }

    pub(crate) async fn secret_event_head_impl(&self) -> Result<i64> {
        self.readers.read(|c| {
            Ok(one(c, "SELECT MAX(seq) AS seq FROM secret_events", [], |r| get::<Option<i64>>(r, "seq"))?
                .flatten()
                .unwrap_or(0))
        })
    }

    pub(crate) async fn prune_secret_events_impl(&self, before: OffsetDateTime) -> Result<u64> {
        self.writer()?
            .write(move |c| {
                let n = execute(
                    c,
                    "DELETE FROM secret_events WHERE created_at < ? AND seq < (SELECT MAX(seq) FROM secret_events)",
                    [micros(before)],
                )
                .map_err(backend)?;
                Ok(n as u64)
            })
            .await
    }
}
