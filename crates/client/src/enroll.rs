//! The agent's side of enrollment: ask to be enrolled with a public key, then poll, proving
//! possession of the private key, until a user approves and the key is handed over once.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{Client, ClientError};

/// `POST /v1/agents/enroll`.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentRequest {
    /// The name the agent asks for.
    pub name: String,
    /// What it is for, shown to the approver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ssh-ed25519 AAAA…`: its fingerprint is shown to the approver, and polls must be signed
    /// with its private key.
    pub public_key: String,
}

/// The answer to an enrollment request.
#[derive(Deserialize)]
pub struct EnrollmentStarted {
    /// The id a user approves.
    pub pairing_id: Uuid,
    /// The public key's fingerprint, to compare with what the approver sees.
    pub fingerprint: String,
    /// Sent with every poll (a secret: with it and the signature, the key can be collected).
    pub poll_token: Zeroizing<String>,
    /// The server's words.
    #[serde(default)]
    pub message: String,
}

impl std::fmt::Debug for EnrollmentStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentStarted")
            .field("pairing_id", &self.pairing_id)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Where an enrollment stands.
#[derive(Deserialize)]
pub struct EnrollmentStatus {
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    /// The new agent, once approved.
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    /// The agent's `ocv_` key: only in the first answer after approval.
    #[serde(default)]
    pub api_key: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for EnrollmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentStatus")
            .field("status", &self.status)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Asks to be enrolled as an agent (no credentials needed).
    ///
    /// # Errors
    /// API errors (400 bad name or key, 429 too many requests).
    pub async fn request_enrollment(&self, request: &EnrollmentRequest) -> Result<EnrollmentStarted, ClientError> {
        let resp = self.send(Method::POST, "/v1/agents/enroll", None, Some(request)).await?;
        Self::decode(resp).await
    }

    /// Where the enrollment `pairing_id` stands; `signature` is the base64 Ed25519 signature of
    /// `clawvault-enrollment:v1:<pairing id>`. Both travel in headers, out of access logs.
    ///
    /// # Errors
    /// API errors (401 wrong poll token or signature, 404, 429).
    pub async fn enrollment_status(
        &self,
        pairing_id: Uuid,
        poll_token: &str,
        signature: &str,
    ) -> Result<EnrollmentStatus, ClientError> {
        let resp = self
            .http
            .get(format!("{}/v1/agents/enroll/{pairing_id}/status", self.base))
            .header("x-poll-token", poll_token)
            .header("x-enrollment-signature", signature)
            .send()
            .await
            .map_err(|e| ClientError::unreachable(&self.base, &e))?;
        Self::decode(resp).await
    }
}
