//! Login roles of the Vault-compatible API: which Kubernetes service accounts, JWTs or
//! AppRoles log in, and as which agent (admins).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{Client, ClientError};

/// A login role.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Role {
    /// Id (an AppRole's `role_id`).
    pub id: Uuid,
    /// `kubernetes`, `jwt` or `approle`.
    pub method: String,
    /// The `role` a login names.
    pub name: String,
    /// The agent a login becomes.
    pub agent_id: Uuid,
    /// What a login must show.
    #[serde(default)]
    pub bindings: Value,
    /// Lifetime of a login's token.
    pub token_ttl_seconds: i64,
    /// Who made it.
    pub created_by: Uuid,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A role to create.
#[derive(Debug, Clone, Serialize)]
pub struct NewRole {
    /// `kubernetes`, `jwt` or `approle`.
    pub method: String,
    /// Its name.
    pub name: String,
    /// The agent's id.
    pub agent_id: Uuid,
    /// Method bindings (see the server's documentation).
    pub bindings: Value,
    /// Token lifetime (default 600 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<i64>,
}

/// A created role; an AppRole's `secret_id` comes only here.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreatedRole {
    /// The role.
    pub role: Role,
    /// The AppRole's secret, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
}

#[derive(Deserialize)]
struct RoleList {
    roles: Vec<Role>,
}

impl Client {
    /// Creates a login role (admins).
    ///
    /// # Errors
    /// API errors (400 bindings, 403, 404 agent, 409 name taken).
    pub async fn create_role(&self, role: &NewRole) -> Result<CreatedRole, ClientError> {
        self.call(Method::POST, "/v1/auth/roles", Some(role)).await
    }

    /// Every login role (admins).
    ///
    /// # Errors
    /// API errors.
    pub async fn list_roles(&self) -> Result<Vec<Role>, ClientError> {
        let list: RoleList = self.call(Method::GET, "/v1/auth/roles", None).await?;
        Ok(list.roles)
    }

    /// Deletes a login role (admins).
    ///
    /// # Errors
    /// API errors (404).
    pub async fn delete_role(&self, id: Uuid) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/auth/roles/{id}"), None).await
    }
}
