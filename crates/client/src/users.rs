//! Users: admins and members, each with their own `1ck_` keys.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Client, ClientError};

/// A user.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Name (unique).
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A new user and their first key, which the server shows this once.
#[derive(Deserialize, Serialize)]
pub struct UserCreated {
    /// The user.
    pub user: User,
    /// Their `1ck_` key.
    pub api_key: String,
}

impl std::fmt::Debug for UserCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreated").field("user", &self.user).field("api_key", &"[REDACTED]").finish()
    }
}

impl Drop for UserCreated {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

#[derive(Debug, Deserialize)]
struct UserList {
    users: Vec<User>,
}

impl Client {
    /// Creates a user (admins); their first key is in the answer, once.
    ///
    /// # Errors
    /// API errors (400 bad name or role, 403, 409 taken name).
    pub async fn create_user(&self, name: &str, role: &str) -> Result<UserCreated, ClientError> {
        let body = serde_json::json!({ "name": name, "role": role });
        self.call(Method::POST, "/v1/users", Some(&body)).await
    }

    /// Everyone (admins).
    ///
    /// # Errors
    /// API errors (403 for members and agents).
    pub async fn list_users(&self) -> Result<Vec<User>, ClientError> {
        let list: UserList = self.call(Method::GET, "/v1/users", None).await?;
        Ok(list.users)
    }

    /// Deletes a user with their keys and policies, deactivating the agents they created
    /// (admins; never the last admin); returns those agents.
    ///
    /// # Errors
    /// API errors (404, 409 for the last admin).
    pub async fn delete_user(&self, id: Uuid) -> Result<Vec<DeactivatedAgent>, ClientError> {
        let deleted: UserDeleted = self.call(Method::DELETE, &format!("/v1/users/{id}"), None).await?;
        Ok(deleted.deactivated_agents)
    }
}

/// An agent deactivated along with the user who created it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeactivatedAgent {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct UserDeleted {
    deactivated_agents: Vec<DeactivatedAgent>,
}
