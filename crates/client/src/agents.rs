//! Agents (machine identities with `ocv_` keys) and the enrollment requests users approve.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Client, ClientError, encode_segment};

/// An agent (1Claw's `AgentResponse`). Never holds its key.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Agent {
    /// Id.
    pub id: Uuid,
    /// Name (not necessarily unique).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Organisation.
    pub org_id: Uuid,
    /// `api_key`.
    pub auth_method: String,
    /// False once deactivated: its key and tokens are refused.
    pub is_active: bool,
    /// Recorded for 1Claw compatibility.
    #[serde(default)]
    pub intents_api_enabled: bool,
    /// Recorded for 1Claw compatibility.
    #[serde(default)]
    pub shroud_enabled: bool,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The vaults it is bound to (empty: any vault a policy opens).
    #[serde(default)]
    pub vault_ids: Vec<Uuid>,
    /// Token lifetime (none: the server's default).
    pub token_ttl_seconds: Option<i64>,
    /// The user who created it.
    pub created_by: Uuid,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Unusable after this time.
    pub expires_at: Option<String>,
    /// Last token exchange or request.
    pub last_active_at: Option<String>,
    /// The key's non-secret display prefix.
    pub api_key_prefix: Option<String>,
    /// The key's own expiry.
    pub api_key_expires_at: Option<String>,
}

/// `POST /v1/agents`.
#[derive(Debug, Clone, Serialize)]
pub struct NewAgent {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Always `api_key`.
    pub auth_method: String,
    /// Token lifetime in seconds (the server sets the range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<i64>,
    /// Bind to these vaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// Scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl NewAgent {
    /// An agent with this name and defaults otherwise.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: None,
            auth_method: "api_key".to_owned(),
            token_ttl_seconds: None,
            vault_ids: None,
            scopes: None,
            expires_at: None,
        }
    }
}

/// `PATCH /v1/agents/{id}`: only the fields set are changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Token lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<i64>,
    /// Vault binding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// Scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Activate or deactivate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// A new agent and its key, which the server shows this once.
#[derive(Deserialize, Serialize)]
pub struct AgentCreated {
    /// The agent.
    pub agent: Agent,
    /// The `ocv_` key.
    pub api_key: String,
}

impl std::fmt::Debug for AgentCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCreated").field("agent", &self.agent).field("api_key", &"[REDACTED]").finish()
    }
}

impl Drop for AgentCreated {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

/// A replacement key; the old one stopped working.
#[derive(Deserialize, Serialize)]
pub struct RotatedKey {
    /// The new `ocv_` key.
    pub api_key: String,
}

impl std::fmt::Debug for RotatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedKey").field("api_key", &"[REDACTED]").finish()
    }
}

impl Drop for RotatedKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

/// An agent's access token (`POST /v1/auth/agent-token`).
#[derive(Deserialize)]
pub struct AgentToken {
    /// The token.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// The agent.
    pub agent_id: Uuid,
    /// The vaults it is bound to.
    #[serde(default)]
    pub vault_ids: Vec<Uuid>,
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentToken")
            .field("agent_id", &self.agent_id)
            .field("expires_in", &self.expires_in)
            .field("access_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct AgentList {
    agents: Vec<Agent>,
}

/// A pending enrollment request, as an admin sees it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Enrollment {
    /// The id to approve or deny.
    pub pairing_id: Uuid,
    /// The name the agent asked for.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Fingerprint of the public key it sent: compare it with the agent's before approving.
    pub fingerprint: String,
    /// Requested (RFC 3339).
    pub created_at: String,
    /// The request lapses then.
    pub expires_at: String,
}

#[derive(Debug, Deserialize)]
struct EnrollmentList {
    enrollments: Vec<Enrollment>,
}

/// `POST /v1/agents/enroll/{pairing_id}/approve`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApproveEnrollment {
    /// Bind the new agent to these vaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// Its token lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Approved {
    agent: Agent,
}

fn agent_url(id: Uuid) -> String {
    format!("/v1/agents/{id}")
}

impl Client {
    /// Exchanges an agent key (`ocv_…`) for a token.
    ///
    /// # Errors
    /// 401 for a bad, rotated or deactivated key.
    pub async fn agent_token(&self, api_key: &str) -> Result<AgentToken, ClientError> {
        let body = serde_json::json!({ "api_key": api_key });
        let resp = self.send(Method::POST, "/v1/auth/agent-token", None, Some(&body)).await?;
        Self::decode(resp).await
    }

    /// Creates an agent; its key is in the answer, once.
    ///
    /// # Errors
    /// API errors (400 bad fields, 403 for agents).
    pub async fn create_agent(&self, agent: &NewAgent) -> Result<AgentCreated, ClientError> {
        self.call(Method::POST, "/v1/agents", Some(agent)).await
    }

    /// The agents the caller manages (admins: all).
    ///
    /// # Errors
    /// API errors.
    pub async fn list_agents(&self) -> Result<Vec<Agent>, ClientError> {
        let list: AgentList = self.call(Method::GET, "/v1/agents", None).await?;
        Ok(list.agents)
    }

    /// One agent.
    ///
    /// # Errors
    /// API errors (404).
    pub async fn get_agent(&self, id: Uuid) -> Result<Agent, ClientError> {
        self.call(Method::GET, &agent_url(id), None).await
    }

    /// Changes an agent; deactivating it cuts off its tokens at once.
    ///
    /// # Errors
    /// API errors.
    pub async fn update_agent(&self, id: Uuid, update: &AgentUpdate) -> Result<Agent, ClientError> {
        self.call(Method::PATCH, &agent_url(id), Some(update)).await
    }

    /// Deletes an agent and its policies.
    ///
    /// # Errors
    /// API errors.
    pub async fn delete_agent(&self, id: Uuid) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &agent_url(id), None).await
    }

    /// Replaces an agent's key; the old key and its tokens stop working at once.
    ///
    /// # Errors
    /// API errors.
    pub async fn rotate_agent_key(&self, id: Uuid) -> Result<RotatedKey, ClientError> {
        self.call(Method::POST, &format!("{}/rotate-key", agent_url(id)), None).await
    }

    /// Pending enrollment requests (admins).
    ///
    /// # Errors
    /// API errors.
    pub async fn list_enrollments(&self) -> Result<Vec<Enrollment>, ClientError> {
        let list: EnrollmentList = self.call(Method::GET, "/v1/agents/enroll", None).await?;
        Ok(list.enrollments)
    }

    /// Approves an enrollment request (admins); the agent fetches its key on its next poll.
    ///
    /// # Errors
    /// API errors.
    pub async fn approve_enrollment(
        &self,
        pairing_id: &str,
        approve: &ApproveEnrollment,
    ) -> Result<Agent, ClientError> {
        let url = format!("/v1/agents/enroll/{}/approve", encode_segment(pairing_id));
        let approved: Approved = self.call(Method::POST, &url, Some(approve)).await?;
        Ok(approved.agent)
    }

    /// Denies an enrollment request (admins).
    ///
    /// # Errors
    /// API errors.
    pub async fn deny_enrollment(&self, pairing_id: &str) -> Result<(), ClientError> {
        let url = format!("/v1/agents/enroll/{}/deny", encode_segment(pairing_id));
        self.call_empty(Method::POST, &url, None).await
    }
}
