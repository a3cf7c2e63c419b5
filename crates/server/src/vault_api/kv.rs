//! KV v2 on every vault: `<mount>/data/<path>` reads and writes versions, `<mount>/metadata`
//! describes and lists them. The mount is the vault's name. Every call is one call of
//! [`crate::service::secrets`], which decides and audits, so a version written here is the
//! same version the native API and the MCP tools see, on the same audit chain.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::VaultCaller;
use super::fields;
use super::reply;
use crate::error::ApiError;
use crate::service::secrets;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/{mount}/data/{*path}", get(read).put(write).post(write).patch(patch).fallback(unsupported_on))
        .route("/v1/{mount}/metadata", get(metadata_root).fallback(list_root))
        .route("/v1/{mount}/metadata/", get(metadata_root).fallback(list_root))
        .route("/v1/{mount}/metadata/{*path}", get(metadata).fallback(list_verb))
}

/// `?version=N` and `?list=true`.
#[derive(Debug, Deserialize)]
struct Params {
    version: Option<String>,
    list: Option<String>,
}

/// The version a read asks for: absent or 0 is the current one.
/// Errors are Vault's 400 messages.
fn version(params: &Params) -> Result<Option<i64>, String> {
    match params.version.as_deref().map(str::trim) {
        None | Some("" | "0") => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "version: {:?} is not a version number (a whole number; 0 for the current version)",
                v.chars().take(20).collect::<String>()
            )),
        },
    }
}

fn listing(params: &Params) -> bool {
    params.list.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

async fn read(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    if listing(&params) {
        return reply::errors(StatusCode::METHOD_NOT_ALLOWED, &["unsupported operation: list metadata/<path> instead"]);
    }
    let version = match version(&params) {
        Ok(v) => v,
        Err(message) => return reply::bad_request(&message),
    };
    if path.ends_with('/') {
        return reply::not_found();
    }
    match secrets::read(&state, &caller, &mount, &path, version).await {
        Ok(opened) => reply::data(json!({
            "data": fields::of(opened.version.meta.secret_type, &opened.value),
            "metadata": fields::version_metadata(&opened.version.secret, &opened.version.meta),
        })),
        Err(e) => match e.unhinted().0 {
            // A version that exists but is closed: Vault's 404 with the envelope, its data null.
            ApiError::Gone(_) => closed(&state, &caller, &mount, &path, version).await.unwrap_or_else(reply::not_found),
            _ => reply::refusal(&e),
        },
    }
}

/// The 404 envelope of a closed version (deleted, disabled, expired, read up), when the
/// caller may see the secret's versions.
async fn closed(
    state: &AppState,
    caller: &crate::auth::Caller,
    mount: &str,
    path: &str,
    version: Option<i64>,
) -> Option<Response> {
    let (secret, versions) = secrets::versions(state, caller, mount, path).await.ok()?;
    let wanted = version.unwrap_or(secret.current_version);
    let meta = versions.iter().find(|m| m.version == wanted)?;
    Some(reply::envelope(
        StatusCode::NOT_FOUND,
        json!({ "data": null, "metadata": fields::version_metadata(&secret, meta) }),
        Value::Null,
    ))
}

/// A write's body: `{"data": {...}, "options": {"cas": N}}`.
struct Write {
    data: Map<String, Value>,
    cas: Option<i64>,
}

/// Errors are Vault's 400 messages.
fn parse_write(body: &[u8]) -> Result<Write, String> {
    // `bao write -f` sends the literal `null`: an empty object.
    let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| format!("failed to decode JSON input: {e}"))?
    };
    let mut object = match parsed {
        Value::Null => Map::new(),
        Value::Object(o) => o,
        _ => return Err("failed to decode JSON input: the body must be a JSON object".into()),
    };
    let data = match object.remove("data") {
        Some(Value::Object(data)) => data,
        None | Some(Value::Null) => return Err("no data provided".into()),
        Some(_) => return Err("data must be a JSON object of fields".into()),
    };
    let cas = match object.remove("options") {
        None | Some(Value::Null) => None,
        Some(Value::Object(options)) => match options.get("cas") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| "options.cas must be a version number (0: only if new)".to_owned())?,
            ),
        },
        Some(_) => return Err("options must be a JSON object".into()),
    };
    Ok(Write { data, cas })
}

/// The answer to a write: the new version's metadata.
fn written(version: &secrets::SecretVersion) -> Response {
    reply::data(fields::version_metadata(&version.secret, &version.meta))
}

async fn write(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let write = match parse_write(&body) {
        Ok(w) => w,
        Err(message) => return reply::bad_request(&message),
    };
    match secrets::write_fields(&state, &caller, &mount, &path, &write.data, write.cas).await {
        Ok(version) => written(&version),
        Err(e) => reply::refusal(&e),
    }
}

/// A JSON merge patch of the current version's fields (`null` removes one), written as the
/// next version only if no other write came in between.
async fn patch(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/merge-patch+json") {
        return reply::errors(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &[&format!(
                "PATCH requires Content-Type of application/merge-patch+json, provided {:?}",
                content_type.chars().take(80).collect::<String>()
            )],
        );
    }
    let change = match parse_write(&body) {
        Ok(w) => w,
        Err(message) => return reply::bad_request(&message),
    };
    let current = match secrets::read(&state, &caller, &mount, &path, None).await {
        Ok(opened) => opened,
        Err(e) => {
            return match e.unhinted().0 {
                // Vault answers a patch of nothing with an empty 404.
                ApiError::NotFound(_) => StatusCode::NOT_FOUND.into_response(),
                ApiError::Gone(_) => {
                    closed(&state, &caller, &mount, &path, None).await.unwrap_or_else(reply::not_found)
                }
                _ => reply::refusal(&e),
            };
        }
    };
    let mut merged = fields::of(current.version.meta.secret_type, &current.value);
    fields::merge_patch(&mut merged, &Value::Object(change.data));
    let Value::Object(merged) = merged else { return reply::bad_request("the patch must be a JSON object") };
    let expected = change.cas.unwrap_or(current.version.meta.version);
    match secrets::write_fields(&state, &caller, &mount, &path, &merged, Some(expected)).await {
        Ok(version) => written(&version),
        Err(e) => reply::refusal(&e),
    }
}

async fn metadata(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    if listing(&params) {
        return list(&state, &caller, &mount, &path).await;
    }
    if path.ends_with('/') {
        return reply::not_found();
    }
    match secrets::versions(&state, &caller, &mount, &path).await {
        Ok((secret, versions)) => reply::data(fields::key_metadata(&secret, &versions)),
        Err(e) => match e.unhinted().0 {
            ApiError::Gone(_) => reply::not_found(),
            _ => reply::refusal(&e),
        },
    }
}

async fn metadata_root(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path(mount): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    if listing(&params) { list(&state, &caller, &mount, "").await } else { reply::not_found() }
}

/// `LIST` (hvac's verb) on the mount's metadata root; any other method is not offered.
async fn list_root(
    State(state): State<AppState>,
    method: Method,
    VaultCaller(caller): VaultCaller,
    Path(mount): Path<String>,
) -> Response {
    if method.as_str() == "LIST" { list(&state, &caller, &mount, "").await } else { unsupported() }
}

async fn list_verb(
    State(state): State<AppState>,
    method: Method,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
) -> Response {
    if method.as_str() == "LIST" { list(&state, &caller, &mount, &path).await } else { unsupported() }
}

async fn unsupported_on(VaultCaller(_): VaultCaller) -> Response {
    unsupported()
}

fn unsupported() -> Response {
    reply::errors(StatusCode::METHOD_NOT_ALLOWED, &["unsupported operation"])
}

/// The immediate children of `prefix`: keys, and folders ending in `/`; 404 when none.
async fn list(state: &AppState, caller: &crate::auth::Caller, mount: &str, prefix: &str) -> Response {
    let folder = match prefix.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    match secrets::list(state, caller, mount, &folder).await {
        Ok(found) => {
            let mut keys: Vec<String> = found
                .iter()
                .filter_map(|v| v.secret.path.strip_prefix(folder.as_str()))
                .filter(|rest| !rest.is_empty())
                .map(|rest| match rest.split_once('/') {
                    Some((child, _)) => format!("{child}/"),
                    None => rest.to_owned(),
                })
                .collect();
            keys.sort();
            keys.dedup();
            if keys.is_empty() { reply::not_found() } else { reply::data(json!({ "keys": keys })) }
        }
        Err(e) => reply::refusal(&e),
    }
}
