//! Verification of the whole audit chain, streamed from the store page by page. Used by
//! `GET /v1/audit/verify` and by `clawvault audit verify --data-dir` (offline).

use clawvault_core::audit::{Anchor, ChainKey, Report, Verifier};
use clawvault_store::{Store, StoreError};

const PAGE: u32 = 1000;

/// Verifies from the first event; with `limit`, stops after that many events (then the head
/// and anchor are not checked and the result is not complete). With `anchor` (already checked
/// to be this key's), the chain must still hold the anchored event.
///
/// # Errors
/// Storage failures.
pub async fn verify_chain(
    store: &dyn Store,
    key: &ChainKey,
    limit: Option<u64>,
    anchor: Option<Anchor>,
) -> Result<(Report, bool), StoreError> {
    let head = store.audit_head().await?;
    // Events appended while this runs, and (SQLite) a log that goes on past its index's MAC'd
    // head, extend the chain past the head read here: it must hold that head.
    let mut verifier = Verifier::from_genesis(key).expecting_head(head.as_ref());
    if let Some(a) = anchor {
        verifier = verifier.with_anchor(a);
    }
    let mut after = 0;
    let mut seen = 0u64;
    'pages: loop {
        let page = store.audit_after(after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if limit.is_some_and(|l| seen >= l) {
                return Ok((verifier.finish_partial(), false));
            }
            seen += 1;
            after = e.seq;
            if !verifier.push(e) {
                break 'pages;
            }
        }
    }
    Ok((verifier.finish(head.as_ref()), true))
}
