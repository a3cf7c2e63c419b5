//! `sys/`: what clients ask before their first real call. The CLI's preflight
//! (`sys/internal/ui/mounts/<path>`) decides the KV version: a 404 there would make it fall
//! back to KV v1 paths silently, so a mount it may not see is a 403. ESO's openbao provider
//! checks `sys/mounts/<mount>`. Health and seal status answer without a token, as Vault's do.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use clawvault_store::VaultRecord;
use serde_json::{Map, Value, json};

use super::auth::VaultCaller;
use super::reply;
use crate::service::vaults;
use crate::state::AppState;

/// The KV engine version every mount reports, as the string clients compare.
const KV_VERSION: &str = "2";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sys/health", get(health))
        .route("/v1/sys/seal-status", get(seal_status))
        .route("/v1/sys/internal/ui/mounts/{*path}", get(preflight))
        .route("/v1/sys/mounts", get(mounts))
        .route("/v1/sys/mounts/{mount}", get(mount))
}

/// How a vault looks as a KV v2 mount.
fn mount_info(vault: &VaultRecord) -> Value {
    json!({
        "accessor": format!("kv_{}", &vault.id.simple().to_string()[..8]),
        "config": {"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
        "description": vault.description,
        "external_entropy_access": false,
        "local": false,
        "options": {"version": KV_VERSION},
        "path": format!("{}/", vault.name),
        "plugin_version": "",
        "running_plugin_version": "",
        "running_sha256": "",
        "seal_wrap": false,
        "type": "kv",
        "uuid": vault.id.to_string(),
        "deprecation_status": "supported",
    })
}

fn status_fields() -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("initialized".into(), true.into());
    fields.insert("sealed".into(), false.into());
    fields.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    fields.insert("cluster_name".into(), "clawvault".into());
    fields.insert("cluster_id".into(), "".into());
    fields
}

async fn health() -> Response {
    let mut body = status_fields();
    body.insert("standby".into(), false.into());
    body.insert("performance_standby".into(), false.into());
    body.insert("replication_performance_mode".into(), "disabled".into());
    body.insert("replication_dr_mode".into(), "disabled".into());
    body.insert("server_time_utc".into(), time::OffsetDateTime::now_utc().unix_timestamp().into());
    reply::json_body(StatusCode::OK, &Value::Object(body))
}

async fn seal_status() -> Response {
    let mut body = status_fields();
    for (key, value) in [
        ("type", json!("shamir")),
        ("t", json!(1)),
        ("n", json!(1)),
        ("progress", json!(0)),
        ("nonce", json!("")),
        ("migration", json!(false)),
        ("recovery_seal", json!(false)),
        ("storage_type", json!("clawvault")),
    ] {
        body.insert(key.into(), value);
    }
    reply::json_body(StatusCode::OK, &Value::Object(body))
}

/// The CLI's preflight: the mount a path is in, and its KV version.
async fn preflight(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path(path): Path<String>,
) -> Response {
    let mount = path.split('/').next().unwrap_or_default();
    match vaults::get(&state, &caller, mount).await {
        Ok(vault) => reply::data(mount_info(&vault.record)),
        Err(_) => reply::errors(
            StatusCode::FORBIDDEN,
            &[&format!(
                "preflight capability check returned 403, please ensure client's policies grant access to path \"{}/\"",
                mount.chars().take(128).collect::<String>()
            )],
        ),
    }
}

/// Every vault the caller sees, as mounts (in `data` and, as Vault also answers, at the top).
async fn mounts(State(state): State<AppState>, VaultCaller(caller): VaultCaller) -> Response {
    match vaults::list(&state, &caller).await {
        Ok(list) => {
            let map: Map<String, Value> = list.iter().map(|v| (format!("{}/", v.name), mount_info(v))).collect();
            flattened(Value::Object(map))
        }
        Err(e) => reply::refusal(&e),
    }
}

/// One vault as a mount (ESO's openbao provider checks `type` and `options.version`).
async fn mount(State(state): State<AppState>, VaultCaller(caller): VaultCaller, Path(name): Path<String>) -> Response {
    match vaults::get(&state, &caller, name.trim_end_matches('/')).await {
        Ok(vault) => flattened(mount_info(&vault.record)),
        Err(e) => reply::refusal(&e),
    }
}

/// The envelope with `data`'s fields repeated at the top level, as Vault's `sys/mounts` does.
fn flattened(data: Value) -> Response {
    let mut body = json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "wrap_info": null,
        "warnings": null,
        "auth": null,
    });
    if let (Value::Object(top), Value::Object(fields)) = (&mut body, &data) {
        for (k, v) in fields {
            top.insert(k.clone(), v.clone());
        }
        top.insert("data".into(), data.clone());
    }
    reply::json_body(StatusCode::OK, &body)
}
