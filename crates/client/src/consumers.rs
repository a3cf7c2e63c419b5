//! The fleet view: consumers acknowledge the versions they hold; anyone who may list a secret
//! sees who holds what of it.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::{Client, ClientError, encode_segment};

/// One secret a consumer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldSecret {
    /// Vault name or id.
    pub vault: String,
    /// Path.
    pub path: String,
    /// The version held.
    pub version: i64,
}

/// One consumer's hold of one secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConsumerHold {
    /// The consumer's name.
    pub consumer: String,
    /// Its host.
    pub host: String,
    /// `agent` or `user`.
    pub principal_type: String,
    /// The identity it runs as.
    pub principal_id: Uuid,
    /// Vault id.
    pub vault_id: Uuid,
    /// Vault name.
    pub vault: String,
    /// Path.
    pub path: String,
    /// The version it holds.
    pub version: i64,
    /// The secret's current version (`None`: deleted).
    pub latest_version: Option<i64>,
    /// It holds an older version than the current one.
    pub stale: bool,
    /// It has not acknowledged anything for ten minutes.
    pub silent: bool,
    /// When it last acknowledged (RFC 3339).
    pub seen_at: String,
}

#[derive(Deserialize)]
struct Acked {
    acknowledged: usize,
}

#[derive(Deserialize)]
struct Fleet {
    consumers: Vec<ConsumerHold>,
}

impl Client {
    /// Says that the consumer `consumer` on `host`, running as this client's identity, holds
    /// `secrets`.
    ///
    /// # Errors
    /// API errors.
    pub async fn ack_consumers(
        &self,
        consumer: &str,
        host: &str,
        secrets: &[HeldSecret],
    ) -> Result<usize, ClientError> {
        let body = json!({ "consumer": consumer, "host": host, "secrets": secrets });
        let acked: Acked = self.call(Method::POST, "/v1/consumers/ack", Some(&body)).await?;
        Ok(acked.acknowledged)
    }

    /// Who holds what, of one vault (and path) when given.
    ///
    /// # Errors
    /// API errors.
    pub async fn fleet(&self, vault: Option<&str>, path: Option<&str>) -> Result<Vec<ConsumerHold>, ClientError> {
        let mut query = Vec::new();
        if let Some(v) = vault {
            query.push(format!("vault={}", encode_segment(v)));
        }
        if let Some(p) = path {
            query.push(format!("path={}", encode_segment(p)));
        }
        let url =
            if query.is_empty() { "/v1/consumers".to_owned() } else { format!("/v1/consumers?{}", query.join("&")) };
        let fleet: Fleet = self.call(Method::GET, &url, None).await?;
        Ok(fleet.consumers)
    }
}
