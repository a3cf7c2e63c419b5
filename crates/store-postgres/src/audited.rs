//! The common shape of a write: statements, then their audit events and the changes other
//! servers must follow, all in the server's next group commit.

use clawvault_store::{AuditBatch, Result};

use crate::audit;
use crate::sql::PgQuery;
use crate::{PgStore, conflict_on_unique};

impl PgStore {
    /// Runs `statements` in order, then appends `batch`'s events and records its changes. The
    /// first statement decides: when it touches no row, nothing else is written and 0 is
    /// returned. A unique violation is a conflict saying `on_unique`.
    pub(crate) async fn audited(
        &self,
        statements: Vec<PgQuery<'static>>,
        on_unique: &'static str,
        batch: AuditBatch<'_>,
    ) -> Result<u64> {
        let batch = self.owned(batch);
        self.write(move |tx| {
            Box::pin(async move {
                let mut touched = None;
                for statement in statements {
                    let n = statement.execute(&mut *tx).await.map_err(conflict_on_unique(on_unique))?.rows_affected();
                    if *touched.get_or_insert(n) == 0 {
                        return Ok(0);
                    }
                }
                audit::append(&mut *tx, &batch).await?;
                Ok(touched.unwrap_or(0))
            })
        })
        .await
    }
}
