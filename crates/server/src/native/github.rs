//! `POST /v1/vaults/{vault}/github-token/{path}`: an installation token minted from a
//! `github_app` secret for a caller who may `use` it (the app's key never leaves the server).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use clawvault_core::action::Action;
use clawvault_core::github_app::Narrowing;
use clawvault_core::time_util::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::github::{self, Minted};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mint_token))
}

/// What the token may reach (both optional: by default, all the installation has).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// Repository names (without the owner), at most 500.
    #[serde(default)]
    repositories: Vec<String>,
    /// Permission name to `read`, `write` or `admin` (`{"contents": "read"}`).
    #[serde(default)]
    permissions: BTreeMap<String, String>,
}

/// An installation token.
#[derive(Debug, Serialize, ToSchema)]
pub struct MintedOut {
    /// The token (`ghs_…`), for `Authorization: Bearer` or `GH_TOKEN`.
    pub token: String,
    /// When GitHub expires it (RFC 3339); it is handed out again until five minutes before.
    pub expires_at: String,
    /// The permissions GitHub granted it.
    #[schema(value_type = Object)]
    pub permissions: serde_json::Value,
    /// The repositories it reaches, when narrowed.
    pub repositories: Vec<String>,
    /// Kept from an earlier call (nothing was sent to GitHub).
    pub cached: bool,
}

impl From<Minted> for MintedOut {
    fn from(m: Minted) -> Self {
        Self {
            token: m.token.token.to_string(),
            expires_at: rfc3339(m.token.expires_at),
            permissions: m.token.permissions,
            repositories: m.token.repositories,
            cached: m.cached,
        }
    }
}

/// Mint an installation token from a `github_app` secret (needs `use`).
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/github-token/{*path}", tag = "secrets", request_body = MintRequest,
    params(("vault_id" = String, Path, description = "vault id or name"), ("path" = String, Path, description = "path of the github_app secret")),
    responses((status = 200, body = MintedOut), (status = 400, body = crate::error::ProblemDoc),
              (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc),
              (status = 410, body = crate::error::ProblemDoc), (status = 502, body = crate::error::ProblemDoc)))]
async fn mint_token(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, path)): Path<(String, String)>,
    body: Result<ApiJson<MintRequest>, ApiError>,
) -> ApiResult<Json<MintedOut>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => {
            return Err(refused(
                &state,
                Asker::Caller(&caller),
                Action::GithubTokenMint,
                &format!("{vault}/{path}"),
                e,
            )
            .await);
        }
    };
    let narrowing = Narrowing { repositories: b.repositories, permissions: b.permissions };
    Ok(Json(github::mint(&state, &caller, &vault, &path, narrowing).await?.into()))
}
