//! Installation tokens minted from `github_app` secrets (`POST
//! /v1/vaults/{vault}/github-token/{path}`): the caller needs `use`; the app's key stays on
//! the server.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Client, ClientError, encode_path, encode_segment};

/// What the token may reach (empty: all the installation has).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenRequest {
    /// Repository names (without the owner).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// Permission name to `read`, `write` or `admin`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub permissions: BTreeMap<String, String>,
}

/// A minted installation token.
#[derive(Deserialize, Serialize)]
pub struct GithubToken {
    /// The token (`ghs_…`).
    pub token: Zeroizing<String>,
    /// When GitHub expires it (RFC 3339).
    pub expires_at: String,
    /// The permissions GitHub granted it.
    #[serde(default)]
    pub permissions: serde_json::Value,
    /// The repositories it reaches, when narrowed.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Kept from an earlier call.
    #[serde(default)]
    pub cached: bool,
}

impl std::fmt::Debug for GithubToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl Client {
    /// An installation token minted from the `github_app` secret at `path`. Never print it
    /// where a log keeps it.
    ///
    /// # Errors
    /// API errors (502 when GitHub refuses, with its reason).
    pub async fn github_token(
        &self,
        vault: &str,
        path: &str,
        request: &TokenRequest,
    ) -> Result<GithubToken, ClientError> {
        let url = format!("/v1/vaults/{}/github-token/{}", encode_segment(vault), encode_path(path)?);
        self.call(Method::POST, &url, Some(request)).await
    }
}
