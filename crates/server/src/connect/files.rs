//! An item's files: a file secret (type `file`, or a value that is not text) is an item with
//! one file, whose id is the item's; any other item has none. Each of these reads opens the
//! secret (needs `read`, is audited, counts against a read limit): a file's size is its
//! value's.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::auth::ConnectCaller;
use super::item;
use super::items::path;
use super::reply::{self, Refusal};
use super::vault_ref;
use crate::auth::Caller;
use crate::service::secrets::{self, Intent, OpenedVersion};
use crate::state::AppState;

/// `?inline_files=true`: the content, base64, in the file object.
#[derive(Debug, Deserialize)]
pub struct Inline {
    #[serde(default)]
    inline_files: Option<String>,
}

impl Inline {
    fn wanted(&self) -> bool {
        self.inline_files.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

async fn open(state: &AppState, caller: &Caller, vault: &str, item: &str) -> Result<OpenedVersion, Refusal> {
    let p = path(state, caller, vault, item, Intent::Read).await?;
    Ok(secrets::read(state, caller, vault, &p, None).await?)
}

fn files_of(opened: &OpenedVersion, inline: bool) -> Vec<Value> {
    if !item::is_file(opened.version.meta.secret_type, &opened.value) {
        return Vec::new();
    }
    let content = inline.then(|| opened.value.expose());
    vec![item::file(&opened.version, opened.value.len(), content)]
}

/// `GET /v1/vaults/{vault}/items/{item}/files`.
pub async fn list(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item)): Path<(String, String)>,
    Query(q): Query<Inline>,
) -> Result<Response, Refusal> {
    let opened = open(&state, &caller, &vault_ref(&vault), &item).await?;
    Ok(reply::ok(&Value::Array(files_of(&opened, q.wanted()))))
}

fn the_file(opened: &OpenedVersion, file: &str, inline: bool) -> Result<Value, Refusal> {
    files_of(opened, inline).into_iter().find(|f| f["id"] == file).ok_or_else(|| {
        Refusal::Own(StatusCode::NOT_FOUND, format!("file {} not found", file.chars().take(64).collect::<String>()))
    })
}

/// `GET /v1/vaults/{vault}/items/{item}/files/{file}`.
pub async fn get(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item, file)): Path<(String, String, String)>,
    Query(q): Query<Inline>,
) -> Result<Response, Refusal> {
    let opened = open(&state, &caller, &vault_ref(&vault), &item).await?;
    Ok(reply::ok(&the_file(&opened, &file, q.wanted())?))
}

/// `GET /v1/vaults/{vault}/items/{item}/files/{file}/content`: the bytes as they are.
pub async fn content(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item, file)): Path<(String, String, String)>,
) -> Result<Response, Refusal> {
    let opened = open(&state, &caller, &vault_ref(&vault), &item).await?;
    the_file(&opened, &file, false)?;
    let mut response = (StatusCode::OK, opened.value.expose().to_vec()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(response)
}
