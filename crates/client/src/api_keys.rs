//! A user's own `1ck_` API keys: made, listed (prefixes only) and deleted by that user.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Client, ClientError};

/// An API key as lists show it: never the key itself, only its display prefix.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApiKey {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// The key's first characters, to recognise it by.
    pub key_prefix: String,
    /// What it may do (empty: all its owner may).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// False once revoked.
    pub is_active: bool,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Unusable after this time.
    pub expires_at: Option<String>,
    /// Last used.
    pub last_used_at: Option<String>,
}

/// A new key, which the server shows this once.
#[derive(Deserialize, Serialize)]
pub struct ApiKeyCreated {
    /// The record.
    pub key: ApiKey,
    /// The `1ck_` key itself.
    pub api_key: String,
}

impl std::fmt::Debug for ApiKeyCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyCreated").field("key", &self.key).field("api_key", &"[REDACTED]").finish()
    }
}

impl Drop for ApiKeyCreated {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

/// `POST /v1/auth/api-keys`.
#[derive(Debug, Clone, Serialize)]
pub struct NewApiKey {
    /// Label.
    pub name: String,
    /// Scopes (`secrets:read`, ...); empty: all its owner may do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiKeyList {
    keys: Vec<ApiKey>,
}

impl Client {
    /// Makes a key for the caller; the key is in the answer, once.
    ///
    /// # Errors
    /// API errors (400 unknown scope or past expiry, 403 for agents).
    pub async fn create_api_key(&self, new: &NewApiKey) -> Result<ApiKeyCreated, ClientError> {
        self.call(Method::POST, "/v1/auth/api-keys", Some(new)).await
    }

    /// The caller's keys, prefixes only.
    ///
    /// # Errors
    /// API errors (403 for agents).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, ClientError> {
        let list: ApiKeyList = self.call(Method::GET, "/v1/auth/api-keys", None).await?;
        Ok(list.keys)
    }

    /// Deletes one of the caller's keys: it and the tokens made from it stop working at once.
    ///
    /// # Errors
    /// API errors (404 for a key that is not the caller's).
    pub async fn delete_api_key(&self, id: Uuid) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/auth/api-keys/{id}"), None).await
    }
}
