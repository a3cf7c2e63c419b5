//! KV v2 on every vault: `<mount>/data/<path>` reads, writes and deletes versions,
//! `<mount>/{delete,undelete,destroy}/<path>` change them one by one, `<mount>/metadata`
//! describes, configures, lists and deletes keys. The mount is the vault's name. Every call
//! is one call of [`crate::service`] (`kv`, `secrets`), which decides and audits, so a version
//! written here is the version the native API and the MCP tools see, on the same audit chain.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clawvault_store::VersionChange;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::VaultCaller;
use super::fields;
use super::reply;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::kv::{self, KvSettings, SettingsChange, Versions};
use crate::service::secrets::SecretVersion;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/{mount}/data/{*path}",
            get(read).put(write).post(write).patch(patch).delete(delete_current).fallback(unsupported_on),
        )
        .route("/v1/{mount}/delete/{*path}", post(delete_versions).put(delete_versions))
        .route("/v1/{mount}/undelete/{*path}", post(undelete_versions).put(undelete_versions))
        .route("/v1/{mount}/destroy/{*path}", post(destroy_versions).put(destroy_versions))
        .route("/v1/{mount}/metadata", get(metadata_root).fallback(list_root))
        .route("/v1/{mount}/metadata/", get(metadata_root).fallback(list_root))
        .route(
            "/v1/{mount}/metadata/{*path}",
            get(metadata)
                .put(put_metadata)
                .post(put_metadata)
                .patch(patch_metadata)
                .delete(delete_metadata)
                .fallback(list_verb),
        )
}

/// `?version=N` and `?list=true`.
#[derive(Debug, Deserialize)]
struct Params {
    version: Option<String>,
    list: Option<String>,
}

/// The version a read asks for: absent or 0 is the current one. Errors are Vault's 400
/// messages.
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

/// A JSON body as Vault reads one: whatever the `Content-Type`; empty or the literal `null`
/// (what `bao write -f` sends) is an empty object. Errors are Vault's 400 messages.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body).map_err(|e| format!("failed to decode JSON input: {e}"))? {
        Value::Null => Ok(Map::new()),
        Value::Object(o) => Ok(o),
        _ => Err("failed to decode JSON input: the body must be a JSON object".into()),
    }
}

/// Vault's 415 unless the body is a JSON merge patch.
fn unless_merge_patch(headers: &HeaderMap) -> Option<Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("application/merge-patch+json") {
        return None;
    }
    Some(reply::errors(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &[&format!(
            "PATCH requires Content-Type of application/merge-patch+json, provided {:?}",
            content_type.chars().take(80).collect::<String>()
        )],
    ))
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
    match kv::read(&state, &caller, &mount, &path, version).await {
        Ok((opened, settings)) => reply::data(json!({
            "data": Value::Object(fields::of(opened.version.meta.secret_type, &opened.value)),
            "metadata": fields::version_metadata(&opened.version.secret, &opened.version.meta, &settings),
        })),
        Err(e) => match e.unhinted().0 {
            // A version that exists but is closed: Vault's 404 with the envelope, its data null.
            ApiError::Gone(_) => closed(&state, &caller, &mount, &path, version).await.unwrap_or_else(reply::not_found),
            _ => reply::refusal(&e),
        },
    }
}

/// The 404 envelope of a closed version (deleted, destroyed, expired, read up), when the
/// caller may see the key's versions.
async fn closed(state: &AppState, caller: &Caller, mount: &str, path: &str, version: Option<i64>) -> Option<Response> {
    let key = kv::key(state, caller, mount, path).await.ok()?;
    let secret = key.secret.as_ref()?;
    let wanted = version.unwrap_or(secret.current_version);
    if wanted < kv::oldest_kept(secret.current_version, key.settings.max_versions) {
        // Trimmed by max_versions: nothing there, as Vault answers.
        return None;
    }
    let meta = key.versions.iter().find(|m| m.version == wanted)?;
    Some(reply::envelope(
        StatusCode::NOT_FOUND,
        json!({ "data": null, "metadata": fields::version_metadata(secret, meta, &key.settings) }),
        Value::Null,
    ))
}

/// A data write's body: `{"data": {...}, "options": {"cas": N}}`.
struct Write {
    data: Map<String, Value>,
    cas: Option<i64>,
}

/// Errors are Vault's 400 messages.
fn parse_write(body: &[u8]) -> Result<Write, String> {
    let mut object = body_object(body)?;
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
fn written(version: &SecretVersion, settings: &KvSettings) -> Response {
    reply::data(fields::version_metadata(&version.secret, &version.meta, settings))
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
    match kv::write(&state, &caller, &mount, &path, &write.data, write.cas).await {
        Ok((version, settings)) => written(&version, &settings),
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
    if let Some(refused) = unless_merge_patch(&headers) {
        return refused;
    }
    let change = match parse_write(&body) {
        Ok(w) => w,
        Err(message) => return reply::bad_request(&message),
    };
    let current = match kv::read(&state, &caller, &mount, &path, None).await {
        Ok((opened, _)) => opened,
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
    let mut merged = Value::Object(fields::of(current.version.meta.secret_type, &current.value));
    fields::merge_patch(&mut merged, &Value::Object(change.data));
    let Value::Object(merged) = merged else { return reply::bad_request("the patch must be a JSON object") };
    let expected = change.cas.unwrap_or(current.version.meta.version);
    match kv::write(&state, &caller, &mount, &path, &merged, Some(expected)).await {
        Ok((version, settings)) => written(&version, &settings),
        Err(e) => reply::refusal(&e),
    }
}

/// 204, or the refusal.
fn done(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => reply::no_content(),
        Err(e) => reply::refusal(&e),
    }
}

async fn delete_current(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
) -> Response {
    done(kv::change_versions(&state, &caller, &mount, &path, Versions::Current, VersionChange::Disable).await)
}

/// `{"versions": [1, "2"]}`: numbers or numeric strings (the CLI sends strings). Errors are
/// Vault's 400 messages.
fn versions_of(body: &[u8]) -> Result<Vec<i64>, String> {
    let object = body_object(body)?;
    let list = match object.get("versions") {
        None | Some(Value::Null) => return Err("No version number provided".into()),
        Some(Value::Array(list)) => list.clone(),
        // One version, or a comma-separated list, as a string or a number.
        Some(Value::String(s)) => s.split(',').map(|v| Value::String(v.trim().to_owned())).collect(),
        Some(v @ Value::Number(_)) => vec![v.clone()],
        Some(_) => return Err("versions must be a list of version numbers".into()),
    };
    if list.is_empty() {
        return Err("No version number provided".into());
    }
    list.iter()
        .map(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| format!("versions: {v} is not a version number"))
        })
        .collect()
}

async fn change(
    state: &AppState,
    caller: &Caller,
    mount: &str,
    path: &str,
    body: &[u8],
    change: VersionChange,
) -> Response {
    match versions_of(body) {
        Ok(numbers) => done(kv::change_versions(state, caller, mount, path, Versions::These(numbers), change).await),
        Err(message) => reply::bad_request(&message),
    }
}

async fn delete_versions(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    change(&state, &caller, &mount, &path, &body, VersionChange::Disable).await
}

async fn undelete_versions(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    change(&state, &caller, &mount, &path, &body, VersionChange::Enable).await
}

async fn destroy_versions(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    change(&state, &caller, &mount, &path, &body, VersionChange::Destroy).await
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
    match kv::key(&state, &caller, &mount, &path).await {
        Ok(key) => reply::data(fields::key_metadata(&key)),
        Err(e) => reply::refusal(&e),
    }
}

/// A metadata write's fields; the ones absent stay as they are. Errors are Vault's 400
/// messages.
fn settings_change(body: &[u8], patch: bool) -> Result<SettingsChange, String> {
    let object = body_object(body)?;
    let number = |name: &str| -> Result<Option<i64>, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| format!("{name} must be a whole number, 0 or more")),
        }
    };
    let cas_required = match object.get("cas_required") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            Some(s.eq_ignore_ascii_case("true"))
        }
        Some(_) => return Err("cas_required must be true or false".into()),
    };
    let delete_version_after =
        match object.get("delete_version_after") {
            None | Some(Value::Null) => None,
            Some(v) => Some(fields::parse_duration(v).ok_or_else(|| {
                format!("delete_version_after: {v} is not a duration (seconds, or such as \"1h30m\")")
            })?),
        };
    let custom_metadata = match object.get("custom_metadata") {
        None => None,
        Some(Value::Null) if !patch => Some(BTreeMap::new()),
        Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(
            map.iter()
                .map(|(k, v)| {
                    let value = match v {
                        // A merge patch removes a key with null.
                        Value::Null if patch => None,
                        Value::String(s) => Some(s.clone()),
                        // Vault coerces other values to strings.
                        other => Some(other.to_string()),
                    };
                    (k.clone(), value)
                })
                .collect(),
        ),
        Some(_) => return Err("custom_metadata must be an object of strings".into()),
    };
    Ok(SettingsChange { max_versions: number("max_versions")?, cas_required, delete_version_after, custom_metadata })
}

async fn put_metadata(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    match settings_change(&body, false) {
        Ok(change) => done(kv::put_settings(&state, &caller, &mount, &path, change, false).await),
        Err(message) => reply::bad_request(&message),
    }
}

async fn patch_metadata(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = unless_merge_patch(&headers) {
        return refused;
    }
    match settings_change(&body, true) {
        Ok(change) => done(kv::put_settings(&state, &caller, &mount, &path, change, true).await),
        Err(message) => reply::bad_request(&message),
    }
}

async fn delete_metadata(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
) -> Response {
    done(kv::delete_key(&state, &caller, &mount, &path).await)
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
async fn list(state: &AppState, caller: &Caller, mount: &str, prefix: &str) -> Response {
    let folder = match prefix.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    match kv::list_paths(state, caller, mount, &folder).await {
        Ok(paths) => {
            let mut keys: Vec<String> = paths
                .iter()
                .filter_map(|p| p.strip_prefix(folder.as_str()))
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
