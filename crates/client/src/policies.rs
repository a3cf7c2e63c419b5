//! Policies: who (a user or an agent) may do what on which paths of a vault.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{Client, ClientError, encode_segment};

/// A policy (1Claw's shape).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Policy {
    /// Id.
    pub id: Uuid,
    /// Its vault.
    pub vault_id: Uuid,
    /// `user` or `agent`.
    pub principal_type: String,
    /// Whom it names.
    pub principal_id: Uuid,
    /// Glob over path segments: `*` one segment, `**` any number.
    pub secret_path_pattern: String,
    /// `read`, `use`, `write`, `delete`, `rotate`, `list`, `share`.
    pub permissions: Vec<String>,
    /// `{"ip_allowlist": [...], "time_window": {...}}`.
    #[serde(default)]
    pub conditions: Value,
    /// Applies until then.
    pub expires_at: Option<String>,
    /// Who made it.
    pub created_by: Uuid,
    /// `user` or `agent`.
    pub created_by_type: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// `allow` or `deny` (a deny wins).
    pub effect: String,
    /// Recorded.
    #[serde(default)]
    pub priority: i64,
    /// Schema version.
    #[serde(default)]
    pub policy_schema_version: i64,
}

/// When a policy applies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Conditions {
    /// Client addresses (CIDR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    /// Hours and days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
}

impl Conditions {
    /// True when nothing restricts the policy.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ip_allowlist.is_none() && self.time_window.is_none()
    }
}

/// Hours (`09:00` to `17:00`) on some days (`mon`...) in a time zone (`UTC`).
#[derive(Debug, Clone, Serialize)]
pub struct TimeWindow {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
    /// `mon` ... `sun`.
    pub days: Vec<String>,
    /// Time zone.
    pub tz: String,
}

/// `POST /v1/vaults/{vault}/policies`.
#[derive(Debug, Clone, Serialize)]
pub struct NewPolicy {
    /// `user` or `agent`.
    pub principal_type: String,
    /// Whom it names.
    pub principal_id: Uuid,
    /// Path glob (`**`: the whole vault).
    pub secret_path_pattern: String,
    /// Permission names.
    pub permissions: Vec<String>,
    /// When it applies.
    #[serde(skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// `PUT /v1/vaults/{vault}/policies/{id}`: only the fields set are changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyUpdate {
    /// Permission names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// When it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Conditions>,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PolicyList {
    policies: Vec<Policy>,
}

fn policies_url(vault: &str) -> String {
    format!("/v1/vaults/{}/policies", encode_segment(vault))
}

impl Client {
    /// Grants (or denies) a user or agent permissions on paths of a vault (owners, admins).
    ///
    /// # Errors
    /// API errors (400 bad permission, pattern, condition or principal; 403; 404).
    pub async fn create_policy(&self, vault: &str, policy: &NewPolicy) -> Result<Policy, ClientError> {
        self.call(Method::POST, &policies_url(vault), Some(policy)).await
    }

    /// A vault's policies (owners, admins).
    ///
    /// # Errors
    /// API errors.
    pub async fn list_policies(&self, vault: &str) -> Result<Vec<Policy>, ClientError> {
        let list: PolicyList = self.call(Method::GET, &policies_url(vault), None).await?;
        Ok(list.policies)
    }

    /// Changes a policy; it applies to the next request.
    ///
    /// # Errors
    /// API errors.
    pub async fn update_policy(&self, vault: &str, id: Uuid, update: &PolicyUpdate) -> Result<Policy, ClientError> {
        self.call(Method::PUT, &format!("{}/{id}", policies_url(vault)), Some(update)).await
    }

    /// Deletes a policy; it stops applying on the next request.
    ///
    /// # Errors
    /// API errors.
    pub async fn delete_policy(&self, vault: &str, id: Uuid) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("{}/{id}", policies_url(vault)), None).await
    }
}
