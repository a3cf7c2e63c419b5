//! Items: list (summaries, never a value), get, create (`POST`, 200 as the Go SDK requires),
//! replace (`PUT`, refused if the item changed since the version the client read) and delete
//! (`DELETE`, 204; the secret is soft-deleted, so an admin can restore it).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::auth::ConnectCaller;
use super::filter::Filter;
use super::item::{self, ItemBody, METADATA_KEY};
use super::reply::{self, Refusal};
use super::vaults::Listing;
use super::{ids, vault_ref};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::service::secrets::{self, Intent, KeptContent};
use crate::state::AppState;

/// `GET /v1/vaults/{vault}/items[?filter=…]`.
pub async fn list(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path(vault): Path<String>,
    Query(q): Query<Listing>,
) -> Result<Response, Refusal> {
    let filter = q.filter()?;
    let vault = vault_ref(&vault);
    let found = match &filter {
        // ESO's and the SDKs' lookup by title: one path, not a scan of the vault.
        Some(Filter::Is(title)) => secrets::list_one(&state, &caller, &vault, title).await?,
        _ => secrets::list(&state, &caller, &vault, "").await?,
    };
    Ok(reply::ok(&Value::Array(
        found.iter().filter(|v| filter.as_ref().is_none_or(|f| f.admits(&v.secret.path))).map(item::summary).collect(),
    )))
}

/// The path of item `item` in `vault`, for a caller who may do `intent` on it.
pub async fn path(
    state: &AppState,
    caller: &Caller,
    vault: &str,
    item: &str,
    intent: Intent,
) -> Result<String, Refusal> {
    let Some(id) = ids::decode(item) else {
        return Err(reply::bad_request(
            "Invalid Item UUID: item ids are 26 lowercase letters and digits; find an item by its title with ?filter=title eq \"TITLE\"",
        ));
    };
    secrets::path_of(state, caller, vault, id, intent).await.map_err(|e| match e {
        ApiError::NotFound(_) => Refusal::Own(StatusCode::NOT_FOUND, format!("item {item} not found")),
        other => other.into(),
    })
}

/// `GET /v1/vaults/{vault}/items/{item}`.
pub async fn get(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let vault = vault_ref(&vault);
    let path = path(&state, &caller, &vault, &item, Intent::Read).await?;
    let opened = secrets::read(&state, &caller, &vault, &path, None).await?;
    Ok(reply::ok(&item::full(&opened.version, &opened.value)))
}

/// The item a request carries, read with the body deadline and without echoing a value in
/// an error (serde's messages quote what they could not read).
type Body = Result<ApiJson<ItemBody>, ApiError>;

/// Writes `sent` at `path`, answering with the item as written.
async fn write(
    state: &AppState,
    caller: &Caller,
    vault: &str,
    path: &str,
    sent: ItemBody,
    expected: Option<i64>,
    creating: bool,
) -> Result<Response, Refusal> {
    let parsed = item::parse(sent, creating).map_err(reply::bad_request)?;
    let answer_value = parsed.value.clone();
    let content = KeptContent {
        value: parsed.value,
        secret_type: parsed.secret_type,
        keep_plain_type: parsed.plain,
        surface_metadata: Some((METADATA_KEY, parsed.layout)),
    };
    let written = match secrets::write_keeping(state, caller, vault, path, content, expected).await {
        Ok(w) => w,
        Err(ApiError::Invalid { field: "cas", .. }) if creating => {
            return Err(Refusal::Own(
                StatusCode::CONFLICT,
                format!("an item titled {path:?} already exists in this vault: replace it with PUT on its id"),
            ));
        }
        Err(ApiError::Invalid { field: "cas", problem }) => {
            return Err(Refusal::Own(
                StatusCode::CONFLICT,
                format!("the item changed since the version you read ({problem}): read it again and retry"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut answer = item::full(&written, &answer_value);
    // Values the caller sent are echoed; values the server generated only to a reader.
    if !parsed.generated.is_empty() && !secrets::revealable(state, caller, vault, path).await.unwrap_or(false) {
        item::hide(&mut answer, &parsed.generated);
    }
    Ok(reply::ok(&answer))
}

/// `POST /v1/vaults/{vault}/items`: the item's title is the new secret's path.
pub async fn create(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path(vault): Path<String>,
    sent: Body,
) -> Result<Response, Refusal> {
    let ApiJson(sent) = sent?;
    let Some(title) = sent.title.clone().filter(|t| !t.is_empty()) else {
        return Err(reply::bad_request("the item needs a title: it is the secret's path, such as bots/discord"));
    };
    // The vault is the path's: ESO may put the vault's name in the body's `vault.id`.
    let vault = vault_ref(&vault);
    // Who may not write there is refused (and recorded) before the item is looked at.
    secrets::authorize(&state, &caller, &vault, &title, Intent::Write).await?;
    write(&state, &caller, &vault, &title, sent, Some(0), true).await
}

/// `PUT /v1/vaults/{vault}/items/{item}`: replaces the item's fields and layout.
pub async fn replace(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item)): Path<(String, String)>,
    sent: Body,
) -> Result<Response, Refusal> {
    let ApiJson(sent) = sent?;
    let vault = vault_ref(&vault);
    let path = path(&state, &caller, &vault, &item, Intent::Write).await?;
    if sent.title.as_deref().is_some_and(|t| t != path) {
        return Err(reply::bad_request(format!(
            "items are not renamed: the title is the secret's path ({path:?}); create an item with the new title and delete this one"
        )));
    }
    // The version read makes the replace a check-and-set; without one it is unconditional.
    let expected = match sent.version {
        Some(v) if v < 1 => {
            return Err(reply::bad_request(
                "version must be the item's version as read (1 or more), or left out to replace whatever is there",
            ));
        }
        v => v,
    };
    write(&state, &caller, &vault, &path, sent, expected, false).await
}

/// `DELETE /v1/vaults/{vault}/items/{item}`.
pub async fn delete(
    State(state): State<AppState>,
    ConnectCaller(caller): ConnectCaller,
    Path((vault, item)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let vault = vault_ref(&vault);
    let path = path(&state, &caller, &vault, &item, Intent::Delete).await?;
    secrets::delete(&state, &caller, &vault, &path).await?;
    Ok(reply::no_content())
}
