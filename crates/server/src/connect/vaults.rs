//! `GET /v1/vaults` (with `filter=title eq "…"`, how ESO and the SDKs find a vault by name)
//! and `GET /v1/vaults/{id}`: the clawvault vaults the caller may see.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use clawvault_core::time_util::rfc3339;
use clawvault_store::VaultRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::ConnectCaller;
use super::filter::Filter;
use super::reply::{self, Refusal};
use super::{ids, vault_ref};
use crate::service::vaults;
use crate::state::AppState;

/// The `filter` query of a listing.
#[derive(Debug, Deserialize)]
pub struct Listing {
    /// `title eq "…"` or `title co "…"`.
    pub filter: Option<String>,
}

impl Listing {
    /// The parsed filter.
    ///
    /// # Errors
    /// A 400 answer naming the forms understood.
    pub fn filter(&self) -> Result<Option<Filter>, Refusal> {
        self.filter.as_deref().map(Filter::parse).transpose().map_err(reply::bad_request)
    }
}

fn vault_json(v: &VaultRecord) -> Value {
    json!({
        "id": ids::encode(v.id),
        "name": v.name,
        "description": v.description,
        "attributeVersion": 1,
        "contentVersion": 1,
        "type": "USER_CREATED",
        "createdAt": rfc3339(v.created_at),
        "updatedAt": rfc3339(v.created_at),
    })
}

/// `GET /v1/vaults`.
pub async fn list(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Query(q): Query<Listing>,
) -> Result<Response, Refusal> {
    let filter = q.filter()?;
    let all = vaults::list(&state, &caller).await?;
    Ok(reply::ok(&Value::Array(
        all.iter().filter(|v| filter.as_ref().is_none_or(|f| f.admits(&v.name))).map(vault_json).collect(),
    )))
}

/// `GET /v1/vaults/{vault}`.
pub async fn get(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path(vault): Path<String>,
) -> Result<Response, Refusal> {
    let v = vaults::get(&state, &caller, &vault_ref(&vault)).await?;
    Ok(reply::ok(&vault_json(&v.record)))
}
