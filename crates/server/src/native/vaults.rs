use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{CreateVaultRequest, VaultList, VaultOut};
use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::vaults;
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_vault, list_vaults)).routes(routes!(get_vault, delete_vault))
}

/// Create a vault (with its own data key).
#[utoipa::path(post, path = "/v1/vaults", tag = "vaults", request_body = CreateVaultRequest,
    responses((status = 201, body = VaultOut), (status = 400, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn create_vault(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<CreateVaultRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<VaultOut>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::VaultCreate, "", e).await),
    };
    let record = vaults::create(&state, &caller, &b.name, b.description.as_deref().unwrap_or("")).await?;
    Ok((StatusCode::CREATED, Json(VaultOut::from(&record))))
}

/// List the vaults you can see.
#[utoipa::path(get, path = "/v1/vaults", tag = "vaults", responses((status = 200, body = VaultList)))]
async fn list_vaults(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<VaultList>> {
    let list = vaults::list(&state, &caller).await?;
    Ok(Json(VaultList { vaults: list.iter().map(VaultOut::from).collect() }))
}

/// One vault, by id or name.
#[utoipa::path(get, path = "/v1/vaults/{vault_id}", tag = "vaults", params(("vault_id" = String, Path, description = "vault id or name")),
    responses((status = 200, body = VaultOut), (status = 404, body = crate::error::ProblemDoc)))]
async fn get_vault(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(vault_ref): Path<String>,
) -> ApiResult<Json<VaultOut>> {
    let vault = vaults::get(&state, &caller, &vault_ref).await?;
    Ok(Json(VaultOut::from(&vault.record)))
}

/// Delete a vault and every secret in it.
#[utoipa::path(delete, path = "/v1/vaults/{vault_id}", tag = "vaults", params(("vault_id" = String, Path, description = "vault id or name")),
    responses((status = 204), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_vault(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(vault_ref): Path<String>,
) -> ApiResult<StatusCode> {
    vaults::delete(&state, &caller, &vault_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}
