use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use clawvault_core::generate::{Charset, DEFAULT_LENGTH};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{
    PutSecretRequest, RotateRequest, SecretCreated, SecretList, SecretMetadataOut, SecretOut, VersionList,
};
use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::reveal::Purpose;
use crate::service::secrets::{self, NewVersion, OpenedVersion};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_secret, get_secret, delete_secret))
        .routes(routes!(list_secrets))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(disable_version))
        .routes(routes!(rotate_secret))
        .routes(routes!(restore_secret))
        .routes(routes!(use_secret))
}

/// Splits `a/b/c/7` into (`a/b/c`, 7).
fn path_and_version(rest: &str) -> ApiResult<(&str, i64)> {
    let (path, version) =
        rest.rsplit_once('/').ok_or_else(|| ApiError::BadRequest("expected .../{path}/{version}".into()))?;
    let version = version
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::BadRequest("version must be a whole number from 1".into()))?;
    Ok((path, version))
}

fn new_version(b: PutSecretRequest) -> ApiResult<NewVersion> {
    NewVersion::parse(b.value, b.secret_type.as_deref(), b.metadata, b.expires_at, b.max_access_count)
}

fn revealed(r: OpenedVersion) -> SecretOut {
    let OpenedVersion { version: d, value } = r;
    SecretOut {
        id: d.secret.id,
        path: d.secret.path,
        secret_type: d.meta.secret_type.as_str().to_owned(),
        value,
        version: d.meta.version,
        metadata: serde_json::from_str(&d.meta.metadata).unwrap_or_default(),
        created_by: d.meta.created_by,
        created_at: d.meta.created_at,
        expires_at: d.meta.expires_at,
        cmek_encrypted: false,
        access_count: d.meta.access_count,
        max_access_count: d.meta.max_access_count,
    }
}

/// Write a new version of a secret (creates it on first write).
#[utoipa::path(put, path = "/v1/vaults/{vault_id}/secrets/{*path}", tag = "secrets", request_body = PutSecretRequest,
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path, may contain /")),
    responses((status = 201, body = SecretCreated), (status = 400, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc), (status = 413, body = crate::error::ProblemDoc)))]
async fn put_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
    body: Result<ApiJson<PutSecretRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<SecretCreated>)> {
    let new = match body.and_then(|ApiJson(b)| new_version(b)) {
        Ok(new) => new,
        Err(e) => {
            return Err(
                refused(&state, Asker::Caller(&caller), Action::SecretWrite, &format!("{vault}/{path}"), e).await
            );
        }
    };
    let written = secrets::write(&state, &caller, &vault, &path, new).await?;
    Ok((StatusCode::CREATED, Json(SecretCreated::from(&written))))
}

/// Read the current version of a secret (with its value).
#[utoipa::path(get, path = "/v1/vaults/{vault_id}/secrets/{*path}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 200, body = SecretOut), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 410, body = crate::error::ProblemDoc)))]
async fn get_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let r = secrets::read(&state, &caller, &vault, &path, None).await?;
    Ok(Json(revealed(r)))
}

/// Use a secret: its current value for a clawvault client to put where the caller does not see
/// it (a process environment, a file); needs `use`, which `read` implies. The CLI never prints
/// what it gets here, and MCP's tools never hand it to the model.
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/secret-use/{*path}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 200, body = SecretOut), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 410, body = crate::error::ProblemDoc)))]
async fn use_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let r = secrets::open(&state, &caller, Purpose::Use, &vault, &path, None).await?;
    Ok(Json(revealed(r)))
}

/// Delete a secret (all versions; an admin can restore it).
#[utoipa::path(delete, path = "/v1/vaults/{vault_id}/secrets/{*path}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    secrets::delete(&state, &caller, &vault, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only paths starting with this.
    prefix: Option<String>,
}

/// List secrets (paths, types, versions; never values).
#[utoipa::path(get, path = "/v1/vaults/{vault_id}/secrets", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ListQuery),
    responses((status = 200, body = SecretList), (status = 404, body = crate::error::ProblemDoc)))]
async fn list_secrets(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(vault): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<SecretList>> {
    let rows = secrets::list(&state, &caller, &vault, q.prefix.as_deref().unwrap_or("")).await?;
    Ok(Json(SecretList { secrets: rows.iter().map(SecretMetadataOut::from).collect() }))
}

/// List a secret's versions, newest first.
#[utoipa::path(get, path = "/v1/vaults/{vault_id}/secret-versions/{*path}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 200, body = VersionList), (status = 404, body = crate::error::ProblemDoc)))]
async fn list_versions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
) -> ApiResult<Json<VersionList>> {
    let (secret, versions) = secrets::versions(&state, &caller, &vault, &path).await?;
    Ok(Json(VersionList {
        versions: versions.iter().map(|m| SecretMetadataOut::new(secret.id, &secret.path, m)).collect(),
    }))
}

/// Read one version of a secret: `.../secret-version/{path}/{version}`.
#[utoipa::path(get, path = "/v1/vaults/{vault_id}/secret-version/{*path_and_version}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path_and_version" = String, Path, description = "secret path, then `/` and the version number")),
    responses((status = 200, body = SecretOut), (status = 404, body = crate::error::ProblemDoc), (status = 410, body = crate::error::ProblemDoc)))]
async fn get_version(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, rest)): Path<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let (path, version) = match path_and_version(&rest) {
        Ok(v) => v,
        Err(e) => {
            return Err(
                refused(&state, Asker::Caller(&caller), Action::SecretRead, &format!("{vault}/{rest}"), e).await
            );
        }
    };
    let r = secrets::read(&state, &caller, &vault, path, Some(version)).await?;
    Ok(Json(revealed(r)))
}

/// Disable one version: kept for the record, reads answer 410.
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/secret-version-disable/{*path_and_version}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path_and_version" = String, Path, description = "secret path, then `/` and the version number")),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn disable_version(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, rest)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (path, version) = match path_and_version(&rest) {
        Ok(v) => v,
        Err(e) => {
            let resource = format!("{vault}/{rest}");
            return Err(refused(&state, Asker::Caller(&caller), Action::SecretVersionDisable, &resource, e).await);
        }
    };
    secrets::disable(&state, &caller, &vault, path, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate: the next version, generated by the server (length, charset) or given (`value`,
/// which needs `write`), keeping the secret's type (unless `type` changes it) and metadata.
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/secret-rotate/{*path}", tag = "secrets", request_body = RotateRequest,
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 201, body = SecretCreated), (status = 400, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
    body: Result<ApiJson<RotateRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<SecretCreated>)> {
    let parsed = body.and_then(|ApiJson(b)| {
        let ty = secrets::parse_type(b.secret_type.as_deref())?;
        if let Some(value) = b.value {
            if b.length.is_some() || b.charset.is_some() {
                return Err(ApiError::BadRequest(
                    "give either a value or length and charset for a generated one, not both".into(),
                ));
            }
            return Ok(secrets::Rotation { next: secrets::NextValue::Given(value), secret_type: ty });
        }
        let charset = match b.charset.as_deref() {
            None => Charset::default(),
            Some(c) => c.parse::<Charset>().map_err(|e| ApiError::BadRequest(e.to_string()))?,
        };
        let length = b.length.unwrap_or(DEFAULT_LENGTH);
        Ok(secrets::Rotation { next: secrets::NextValue::Generate { length, charset }, secret_type: ty })
    });
    let generate = match parsed {
        Ok(rotation) => rotation,
        Err(e) => {
            return Err(
                refused(&state, Asker::Caller(&caller), Action::SecretRotate, &format!("{vault}/{path}"), e).await
            );
        }
    };
    let written = secrets::rotate(&state, &caller, &vault, &path, generate).await?;
    Ok((StatusCode::CREATED, Json(SecretCreated::from(&written))))
}

/// Restore a deleted secret (admins only).
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/secret-restore/{*path}", tag = "secrets",
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "secret path")),
    responses((status = 200, body = SecretMetadataOut), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn restore_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
) -> ApiResult<Json<SecretMetadataOut>> {
    let d = secrets::restore(&state, &caller, &vault, &path).await?;
    Ok(Json(SecretMetadataOut::from(&d)))
}
