//! The fleet view: consumers (`run --watch`, `sync` daemons) say which version of each secret
//! they hold, as the identity they run as; who may list a path sees who holds what of it,
//! against the latest version, so "who still runs the old key?" has an answer.

use clawvault_core::SecretPath;
use clawvault_core::action::Action;
use clawvault_core::policy::Permission;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, ConsumerRecord};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{access, free_text, vaults};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// Most secrets one acknowledgement names.
pub const MAX_HELD: usize = 1000;
/// Longest consumer or host name.
pub const MAX_NAME_LEN: usize = 128;
/// Most rows the fleet view answers with.
pub const MAX_ROWS: usize = 10_000;
/// A consumer that has not said anything for this long is marked silent.
pub const SILENT_AFTER: Duration = Duration::minutes(10);

/// One secret a consumer holds.
#[derive(Debug, Clone)]
pub struct Held {
    /// Vault name or id.
    pub vault: String,
    /// Path.
    pub path: String,
    /// Version held.
    pub version: i64,
}

/// One row of the fleet view.
#[derive(Debug, Clone)]
pub struct FleetRow {
    /// The stored row.
    pub record: ConsumerRecord,
    /// The vault's name.
    pub vault: String,
    /// The secret's current version (`None`: deleted).
    pub latest: Option<i64>,
    /// The consumer holds an older version than the current one.
    pub stale: bool,
    /// The consumer has not acknowledged anything for [`SILENT_AFTER`].
    pub silent: bool,
}

/// Records that the caller's consumer `consumer` on `host` holds `held`. Each secret must be
/// one the caller may use, read or list.
///
/// # Errors
/// 400 (names, too many, a version below 1, a bad path), 403, 404 for a vault.
pub async fn ack(state: &AppState, caller: &Caller, consumer: &str, host: &str, held: &[Held]) -> ApiResult<usize> {
    let mut op = Op::new(state, caller, Action::ConsumerAck);
    op.resource(format!("{consumer}@{host}").chars().take(300).collect::<String>());
    let result = async {
        if !access::has_scope(caller, Scope::SecretsUse) && !access::has_scope(caller, Scope::SecretsRead) {
            access::require_scope(caller, Scope::SecretsUse)?;
        }
        free_text("consumer", consumer, MAX_NAME_LEN, true)?;
        free_text("host", host, MAX_NAME_LEN, true)?;
        if held.len() > MAX_HELD {
            return Err(ApiError::BadRequest(format!("an acknowledgement names at most {MAX_HELD} secrets")));
        }
        let at = now();
        let mut rows = Vec::with_capacity(held.len());
        for h in held {
            if h.version < 1 {
                return Err(ApiError::Invalid {
                    field: "version",
                    problem: "must be a version number (1 or more)".into(),
                });
            }
            let vault = vaults::open(state, &mut op, caller, &h.vault).await?;
            let path = SecretPath::parse(&h.path).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let mut allowed = false;
            for p in [Permission::Use, Permission::Read, Permission::List] {
                if access::check_path(state, caller, &vault.record, &path, p).await.is_ok() {
                    allowed = true;
                    break;
                }
            }
            if !allowed {
                return Err(ApiError::Forbidden(format!(
                    "{:?} in vault {:?} is not a secret this identity may use, read or list",
                    h.path, vault.record.name
                )));
            }
            // Only a version that exists: a consumer claiming a newer one would hide that it
            // still runs the old key.
            let latest = super::secrets::current(state, &vault, &path)
                .await?
                .filter(|row| row.0.deleted_at.is_none())
                .map(|row| row.0.current_version)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("no secret at {:?} in vault {:?}", h.path, vault.record.name))
                })?;
            if h.version > latest {
                return Err(ApiError::Invalid {
                    field: "version",
                    problem: format!("{} is beyond {:?}'s latest version ({latest})", h.version, h.path),
                });
            }
            rows.push(ConsumerRecord {
                principal_id: caller.principal.id(),
                principal_type: caller.principal.kind(),
                consumer: consumer.to_owned(),
                host: host.to_owned(),
                vault_id: vault.record.id,
                path: path.as_str().to_owned(),
                version: h.version,
                seen_at: at,
            });
        }
        op.detail("count", rows.len());
        let events = [op.success()];
        state.store.ack_consumers(&rows, AuditBatch::new(&state.chain_key, &events)).await?;
        Ok(rows.len())
    }
    .await;
    op.finish(result).await
}

/// Who holds what: the rows of the paths the caller may list, of one vault (and path) when
/// given, with each secret's current version.
///
/// # Errors
/// 403, 404 for a vault.
pub async fn fleet(
    state: &AppState,
    caller: &Caller,
    vault_ref: Option<&str>,
    path: Option<&str>,
) -> ApiResult<Vec<FleetRow>> {
    let mut op = Op::new(state, caller, Action::ConsumerList);
    op.resource(vault_ref.unwrap_or("*").to_owned());
    let result = async {
        access::require_scope(caller, Scope::SecretsRead)?;
        let vault_id: Option<Uuid> = match vault_ref {
            Some(r) => Some(vaults::open(state, &mut op, caller, r).await?.record.id),
            None => None,
        };
        let silent_before: OffsetDateTime = now() - SILENT_AFTER;
        let mut out = Vec::new();
        for record in state.store.consumers(vault_id, path).await? {
            let Some(vault) = state.vault(&record.vault_id.to_string()).await? else { continue };
            let Ok(p) = SecretPath::parse(&record.path) else { continue };
            if !access::sees(state, caller, &vault.record).await?
                || access::check_path(state, caller, &vault.record, &p, Permission::List).await.is_err()
            {
                continue;
            }
            let latest = super::secrets::current(state, &vault, &p)
                .await?
                .filter(|row| row.0.deleted_at.is_none())
                .map(|row| row.0.current_version);
            let stale = latest.is_some_and(|l| record.version < l);
            let silent = record.seen_at < silent_before;
            out.push(FleetRow { vault: vault.record.name.clone(), latest, stale, silent, record });
            if out.len() >= MAX_ROWS {
                op.detail("truncated", true);
                break;
            }
        }
        op.detail("count", out.len());
        Ok(out)
    }
    .await;
    op.finish(result).await
}
