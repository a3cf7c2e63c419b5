//! Shares: one secret handed to someone, with an expiry, a read limit, a passphrase.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use clawvault_core::SecretValue;

use crate::{Client, ClientError};

/// A share to create.
#[derive(Debug, Serialize)]
pub struct NewShare {
    /// `user`, `agent`, `creator` or `anyone_with_link`.
    pub recipient_type: String,
    /// For `user` and `agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<Uuid>,
    /// RFC 3339.
    pub expires_at: String,
    /// Openings allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_access_count: Option<i64>,
    /// Required to open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<SecretValue>,
    /// Client addresses allowed to open.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_allowlist: Vec<String>,
}

/// A created share.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ShareCreated {
    /// Id.
    pub id: Uuid,
    /// Where it opens.
    pub share_url: String,
    /// Recipient kind.
    pub recipient_type: String,
    /// Expiry.
    pub expires_at: String,
    /// Openings allowed.
    pub max_access_count: Option<i64>,
}

/// An opened share.
#[derive(Deserialize, Serialize)]
pub struct OpenedShare {
    /// Share id.
    pub id: Uuid,
    /// The secret's path.
    pub path: String,
    /// Its type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The value.
    pub value: SecretValue,
    /// Openings so far.
    pub access_count: i64,
    /// Openings allowed.
    pub max_access_count: Option<i64>,
}

impl std::fmt::Debug for OpenedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedShare")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("value", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A share in a list.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Share {
    /// Id.
    pub id: Uuid,
    /// The secret.
    pub secret_id: Uuid,
    /// Its path.
    pub secret_path: String,
    /// Recipient kind.
    pub recipient_type: String,
    /// Recipient.
    pub recipient_id: Option<Uuid>,
    /// Openings so far.
    pub access_count: i64,
    /// Openings allowed.
    pub max_access_count: Option<i64>,
    /// Expiry.
    pub expires_at: String,
    /// Created.
    pub created_at: String,
    /// Expired.
    pub is_expired: bool,
    /// Accepted by its recipient.
    pub is_accepted: bool,
    /// The recipient declined it: it stays closed.
    #[serde(default)]
    pub is_declined: bool,
    /// Revoked by its creator.
    #[serde(default)]
    pub is_revoked: bool,
}

#[derive(Debug, Deserialize)]
struct ShareList {
    shares: Vec<Share>,
}

#[derive(Serialize)]
struct OpenBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    passphrase: Option<&'a SecretValue>,
}

impl Client {
    /// Shares a secret (needs the `share` permission).
    ///
    /// # Errors
    /// API errors (400, 403, 404, 429).
    pub async fn create_share(&self, secret_id: Uuid, share: &NewShare) -> Result<ShareCreated, ClientError> {
        self.call(Method::POST, &format!("/v1/secrets/{secret_id}/share"), Some(share)).await
    }

    /// Opens a share: with this client's credentials when it has some (targeted shares),
    /// anonymously otherwise (link shares).
    ///
    /// # Errors
    /// API errors (403 passphrase or address, 404, 410).
    pub async fn open_share(&self, id: Uuid, passphrase: Option<&SecretValue>) -> Result<OpenedShare, ClientError> {
        let body = OpenBody { passphrase };
        let token = if self.api_key.is_some() { Some(self.token().await?) } else { None };
        let resp = self
            .send(Method::GET, &format!("/v1/share/{id}"), token.as_deref().map(String::as_str), Some(&body))
            .await?;
        Self::decode(resp).await
    }

    /// Shares the caller created, received, or (admins) every share.
    ///
    /// # Errors
    /// API errors.
    pub async fn list_shares(&self, which: ShareListing) -> Result<Vec<Share>, ClientError> {
        let path = match which {
            ShareListing::Outbound => "/v1/shares/outbound",
            ShareListing::Inbound => "/v1/shares/inbound",
            ShareListing::All => "/v1/shares",
        };
        let list: ShareList = self.call(Method::GET, path, None).await?;
        Ok(list.shares)
    }

    /// Revokes a share the caller created.
    ///
    /// # Errors
    /// API errors (404).
    pub async fn revoke_share(&self, id: Uuid) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/share/{id}"), None).await
    }

    /// Accepts (or declines) a share addressed to the caller.
    ///
    /// # Errors
    /// API errors (404).
    pub async fn respond_share(&self, id: Uuid, accept: bool) -> Result<(), ClientError> {
        let verb = if accept { "accept" } else { "decline" };
        self.call_empty(Method::POST, &format!("/v1/shares/{id}/{verb}"), None).await
    }
}

/// Which shares [`Client::list_shares`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareListing {
    /// Those the caller created.
    Outbound,
    /// Those addressed to the caller.
    Inbound,
    /// Every share on the server (admins).
    All,
}
