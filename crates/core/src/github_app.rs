//! GitHub App credentials (a secret of type `github_app`) and what minting an installation
//! token from them asks for: the app JWT's claims and the narrowing of a token to some
//! repositories and permissions. The private key never leaves the server; errors name the
//! field at fault, never its content.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// An app JWT is dated this far in the past, so that a GitHub clock a little behind still
/// takes it (GitHub's own advice).
pub const JWT_BACKDATE_SECS: i64 = 60;
/// An app JWT lives this long after now (GitHub refuses more than ten minutes).
pub const JWT_LIFETIME_SECS: i64 = 9 * 60;
/// A minted token is handed out again until this long before it expires.
pub const REFRESH_BEFORE_SECS: i64 = 5 * 60;
/// GitHub narrows a token to at most this many repositories.
pub const MAX_REPOSITORIES: usize = 500;
const MAX_PERMISSIONS: usize = 64;
const MAX_KEY_BYTES: usize = 16 * 1024;

/// Why a `github_app` value or a narrowing is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GithubAppError {
    /// The value is not the expected JSON object.
    #[error(
        "a github_app secret is a JSON object {{\"app_id\": 123, \"installation_id\": 456, \"private_key\": \"-----BEGIN RSA PRIVATE KEY-----...\"}}: {0}"
    )]
    Shape(String),
    /// A narrowing that GitHub would refuse.
    #[error("{0}")]
    Narrowing(String),
}

/// A GitHub App's credentials.
pub struct AppCredentials {
    /// The app's id (digits) or client id (`Iv1.…`), the JWT's issuer.
    pub app_id: String,
    /// The installation tokens are minted for.
    pub installation_id: u64,
    /// The app's private key (PEM).
    pub private_key: Zeroizing<String>,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    app_id: Value,
    installation_id: Value,
    private_key: Zeroizing<String>,
}

fn shape(problem: &str) -> GithubAppError {
    GithubAppError::Shape(problem.to_owned())
}

/// Reads a `github_app` value.
///
/// # Errors
/// [`GithubAppError::Shape`] naming the field at fault.
pub fn parse(value: &[u8]) -> Result<AppCredentials, GithubAppError> {
    let raw: Raw =
        serde_json::from_slice(value).map_err(|_| shape("it is not such an object (exactly these three fields)"))?;
    let app_id = match &raw.app_id {
        Value::Number(n) if n.as_u64().is_some() => n.to_string(),
        Value::String(s) if (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') => {
            s.clone()
        }
        _ => return Err(shape("app_id must be the app's id (a number) or its client id (Iv1.…)")),
    };
    let installation_id = match &raw.installation_id {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
    .ok_or_else(|| shape("installation_id must be a positive number"))?;
    if raw.private_key.len() > MAX_KEY_BYTES || !raw.private_key.trim_start().starts_with("-----BEGIN ") {
        return Err(shape("private_key must be the app's PEM private key, as GitHub downloads it"));
    }
    Ok(AppCredentials { app_id, installation_id, private_key: raw.private_key })
}

/// Whether `token` is made of what GitHub's tokens are made of (letters, digits, `_`): it is
/// written into environment files and YAML, where anything else could add a line.
#[must_use]
pub fn is_token(token: &str) -> bool {
    (1..=255).contains(&token.len()) && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The claims of an app JWT issued at `now` (Unix seconds).
#[must_use]
pub fn claims(app_id: &str, now: i64) -> Value {
    json!({ "iat": now - JWT_BACKDATE_SECS, "exp": now + JWT_LIFETIME_SECS, "iss": app_id })
}

/// What a minted token may reach: some repositories of the installation, some permissions;
/// empty means all that the installation has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Narrowing {
    /// Repository names (without the owner).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Permission name to `read`, `write` or `admin`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
}

impl Narrowing {
    /// Checks it and puts it in one order (so that equal narrowings share a cached token).
    ///
    /// # Errors
    /// [`GithubAppError::Narrowing`] saying what GitHub would refuse.
    pub fn normalise(mut self) -> Result<Self, GithubAppError> {
        let bad = |m: String| Err(GithubAppError::Narrowing(m));
        if self.repositories.len() > MAX_REPOSITORIES {
            return bad(format!("repositories: at most {MAX_REPOSITORIES}"));
        }
        if let Some(r) = self.repositories.iter().find(|r| {
            r.is_empty()
                || r.len() > 100
                || r.chars().all(|c| c == '.')
                || !r.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        }) {
            return bad(format!(
                "repositories: {:?} is not a repository name (the name without its owner)",
                r.chars().take(100).collect::<String>()
            ));
        }
        self.repositories.sort();
        self.repositories.dedup();
        if self.permissions.len() > MAX_PERMISSIONS {
            return bad(format!("permissions: at most {MAX_PERMISSIONS}"));
        }
        for (name, level) in &self.permissions {
            if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return bad(format!(
                    "permissions: {:?} is not a permission name (contents, issues, pull_requests, ...)",
                    name.chars().take(64).collect::<String>()
                ));
            }
            if !matches!(level.as_str(), "read" | "write" | "admin") {
                return bad(format!("permissions: {name} must be read, write or admin"));
            }
        }
        Ok(self)
    }

    /// The request body GitHub takes.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        if !self.repositories.is_empty() {
            body.insert("repositories".into(), json!(self.repositories));
        }
        if !self.permissions.is_empty() {
            body.insert("permissions".into(), json!(self.permissions));
        }
        Value::Object(body)
    }

    /// Whether it narrows anything.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.repositories.is_empty() && self.permissions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\\nMIIcanary\\n-----END RSA PRIVATE KEY-----\\n";

    #[test]
    fn values_are_read_by_field_and_never_echoed() {
        let ok = parse(format!(r#"{{"app_id": 123, "installation_id": "456", "private_key": "{KEY}"}}"#).as_bytes())
            .expect("parses");
        assert_eq!((ok.app_id.as_str(), ok.installation_id), ("123", 456));
        assert!(!format!("{ok:?}").contains("canary"));
        let client_id =
            parse(format!(r#"{{"app_id": "Iv1.abc", "installation_id": 1, "private_key": "{KEY}"}}"#).as_bytes());
        assert_eq!(client_id.expect("client id").app_id, "Iv1.abc");
        for (bad, field) in [
            (format!(r#"{{"app_id": -1, "installation_id": 1, "private_key": "{KEY}"}}"#), "app_id"),
            (format!(r#"{{"app_id": 1, "installation_id": 0, "private_key": "{KEY}"}}"#), "installation_id"),
            (r#"{"app_id": 1, "installation_id": 1, "private_key": "canary"}"#.to_owned(), "private_key"),
            (format!(r#"{{"app_id": 1, "installation_id": 1, "private_key": "{KEY}", "api_url": "x"}}"#), "exactly"),
            ("canary".to_owned(), "exactly"),
        ] {
            let e = parse(bad.as_bytes()).expect_err(&bad).to_string();
            assert!(e.contains(field) && !e.contains("canary") && !e.contains("MII"), "{e}");
        }
    }

    #[test]
    fn a_jwt_is_backdated_and_short_lived() {
        let c = claims("123", 1_000_000);
        assert_eq!(c["iat"], 1_000_000 - 60);
        assert_eq!(c["iss"], "123");
        assert!(c["exp"].as_i64().expect("exp") - 1_000_000 <= 600);
    }

    #[test]
    fn narrowings_are_checked_and_put_in_one_order() {
        let n = Narrowing {
            repositories: vec!["b".into(), "a".into(), "a".into()],
            permissions: [("contents".to_owned(), "read".to_owned())].into(),
        }
        .normalise()
        .expect("valid");
        assert_eq!(n.repositories, vec!["a", "b"]);
        assert_eq!(n.body(), json!({"repositories": ["a", "b"], "permissions": {"contents": "read"}}));
        for bad in ["o/r", ".", ".."] {
            assert!(Narrowing { repositories: vec![bad.into()], ..Default::default() }.normalise().is_err(), "{bad}");
        }
        let bad_level =
            Narrowing { permissions: [("contents".to_owned(), "all".to_owned())].into(), ..Default::default() };
        assert!(bad_level.normalise().is_err());
        assert!(Narrowing::default().normalise().expect("empty").is_empty());
    }
}
