//! Installation tokens minted from a `github_app` secret for a caller who may `use` it: the
//! app's key signs a short JWT (RS256, dated a minute back, nine minutes long) that GitHub's
//! API exchanges for an installation token, optionally narrowed to some repositories and
//! permissions. The caller gets the token, never the key. Tokens are kept until five minutes
//! before they expire (`crate::minted`), so most calls open nothing and send nothing; every
//! call, kept or minted, is one `github.token_mint` audit event. GitHub never revokes what it
//! mints early, so a token's own hour bounds it.

use std::time::Duration;

use clawvault_core::SecretValue;
use clawvault_core::action::Action;
use clawvault_core::github_app::{self, Narrowing};
use clawvault_core::policy::Permission;
use clawvault_core::secret::SecretType;
use clawvault_core::time_util::{now, rfc3339};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::reveal::{self, Purpose};
use super::{access, secrets};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::minted::MintedToken;
use crate::op::Op;
use crate::outbound::Reach;
use crate::state::AppState;

/// Deadline of the exchange with GitHub.
const TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest answer read from GitHub.
const MAX_ANSWER: usize = 256 * 1024;
/// Longest part of GitHub's own message passed on in an error.
const MAX_MESSAGE: usize = 300;

/// A token for the caller, and whether it was kept from an earlier call.
#[derive(Debug)]
pub struct Minted {
    /// The token and what it may do.
    pub token: MintedToken,
    /// Kept from an earlier call (nothing was sent to GitHub).
    pub cached: bool,
}

/// Refuses a `github_app` value that could not mint: its shape, and a key jsonwebtoken can
/// sign RS256 with. Neither error shows the value.
///
/// # Errors
/// 400 naming the field.
pub fn check_value(value: &SecretValue) -> ApiResult<()> {
    let app = github_app::parse(value.expose())
        .map_err(|e| ApiError::Invalid { field: "value", problem: format!("is not a github_app value: {e}") })?;
    signing_key(&app).map(|_| ())
}

fn signing_key(app: &github_app::AppCredentials) -> ApiResult<EncodingKey> {
    EncodingKey::from_rsa_pem(app.private_key.as_bytes()).map_err(|_| ApiError::Invalid {
        field: "value",
        problem: "private_key is not an RSA private key in PEM (GitHub's downloaded .pem file)".into(),
    })
}

/// Mints (or hands out a kept) installation token from the `github_app` secret at
/// `raw_path`, narrowed as asked.
///
/// # Errors
/// 400 for a narrowing GitHub would refuse or a secret of another type; 403 without `use`;
/// 404, 410 as for opening a secret; 502 when GitHub refuses (its reason, never the key) or
/// cannot be reached.
pub async fn mint(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    narrowing: Narrowing,
) -> ApiResult<Minted> {
    let mut op = Op::new(state, caller, Action::GithubTokenMint);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = mint_in(state, &mut op, caller, vault_ref, raw_path, narrowing).await;
    op.finish(result).await
}

async fn mint_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    narrowing: Narrowing,
) -> ApiResult<Minted> {
    access::require_scope(caller, Purpose::Use.scope())?;
    let narrowing = narrowing.normalise().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !narrowing.repositories.is_empty() {
        op.detail("repositories", narrowing.repositories.clone());
    }
    if !narrowing.permissions.is_empty() {
        op.detail("permissions", serde_json::json!(narrowing.permissions));
    }
    let (vault, path) = secrets::locate(state, op, caller, vault_ref, raw_path, Permission::Use).await?;
    let row = secrets::current(state, &vault, &path)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no secret at {path:?} in vault {:?}", vault.record.name)))?;
    let (secret, record) = (&row.0, &row.1);
    op.detail("secret_id", secret.id.to_string());
    op.detail("version", record.meta.version);
    if record.meta.secret_type != SecretType::GithubApp {
        return Err(ApiError::BadRequest(format!(
            "{path:?} is a {} secret: tokens are minted from a github_app secret (app_id, installation_id, private_key)",
            record.meta.secret_type
        )));
    }
    reveal::ensure_openable(secret, &record.meta, &path)?;
    // A read-limited version spends a reading on every mint, so nothing is kept for it: a kept
    // token would go on being handed out past the limit.
    let keep = record.meta.max_access_count.is_none();
    let key = (secret.id, record.meta.version, narrowing.body().to_string());
    // One mint per key at a time: callers arriving together wait for the first one's token.
    let _flight = if keep { Some(state.minted.flight(&key).await) } else { None };
    if let Some(token) = state.minted.get(&key, now()).filter(|_| keep) {
        op.detail("cached", true);
        op.detail("expires_at", rfc3339(token.expires_at));
        return Ok(Minted { token, cached: true });
    }
    let (_, value) = reveal::open(state, op, &vault, secret, record, &path).await?;
    let app = github_app::parse(value.expose()).map_err(|e| ApiError::BadRequest(format!("{path:?}: {e}")))?;
    let token = exchange(state, &app, &narrowing).await?;
    op.detail("cached", false);
    op.detail("expires_at", rfc3339(token.expires_at));
    if keep {
        state.minted.put(key, token.clone(), now());
    }
    Ok(Minted { token, cached: false })
}

/// GitHub's answer to `POST /app/installations/{id}/access_tokens`.
#[derive(Deserialize)]
struct Answer {
    token: Zeroizing<String>,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(default)]
    permissions: serde_json::Value,
    #[serde(default)]
    repositories: Vec<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    name: String,
}

async fn exchange(state: &AppState, app: &github_app::AppCredentials, narrowing: &Narrowing) -> ApiResult<MintedToken> {
    let claims = github_app::claims(&app.app_id, now().unix_timestamp());
    let jwt = Zeroizing::new(
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &signing_key(app)?)
            .map_err(|_| ApiError::BadRequest("the app's private key cannot sign a JWT".into()))?,
    );
    let base = &state.config.github_api_base;
    let url = format!("{base}/app/installations/{}/access_tokens", app.installation_id);
    let client =
        state.outbound.client(&Reach::Configured, CONNECT_TIMEOUT).map_err(|e| ApiError::BadGateway(e.to_string()))?;
    let request = client
        .post(&url)
        .bearer_auth(jwt.as_str())
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header("user-agent", "clawvault")
        .json(&narrowing.body())
        .timeout(TIMEOUT);
    let unreachable = |e: reqwest::Error| {
        let e = e.without_url();
        ApiError::BadGateway(if e.is_timeout() {
            format!("GitHub's API at {base} did not answer within {} s", TIMEOUT.as_secs())
        } else {
            format!("cannot reach GitHub's API at {base}")
        })
    };
    let mut resp = request.send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(ApiError::BadGateway(format!("GitHub's API answered more than {MAX_ANSWER} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    if status != 201 {
        return Err(ApiError::BadGateway(refusal(status, &body, app.installation_id)));
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadGateway("GitHub's API answered without a token and its expiry".into()))?;
    // The token goes into environment files and `gh`'s YAML: only the characters GitHub's
    // tokens are made of, so a broken or hostile API cannot add lines there.
    if !github_app::is_token(&answer.token) {
        return Err(ApiError::BadGateway("GitHub's API answered with something that is not a token".into()));
    }
    let now = now();
    if answer.expires_at <= now {
        return Err(ApiError::BadGateway("GitHub's API answered with a token that has already expired".into()));
    }
    Ok(MintedToken {
        token: answer.token,
        // GitHub's tokens last an hour: a later expiry is not believed (nor kept that long).
        expires_at: answer.expires_at.min(now + time::Duration::hours(1)),
        permissions: answer.permissions,
        repositories: answer.repositories.into_iter().map(|r| r.name).collect(),
    })
}

/// GitHub's reason for a refusal, with what usually causes it.
fn refusal(status: u16, body: &[u8], installation: u64) -> String {
    let message: String = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_default()
        .chars()
        // Printable ASCII only: no control or direction-changing characters reach a terminal.
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(MAX_MESSAGE)
        .collect();
    let cause = match status {
        401 => "the app id or private key is wrong (or this server's clock is off)",
        403 => "the app lacks a permission the token asks for",
        404 => "no such installation of this app: check installation_id",
        422 => "a repository or permission asked for is not the installation's",
        _ => "GitHub could not mint a token",
    };
    format!("GitHub refused to mint a token for installation {installation} ({status}: {message}): {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_github_said_and_what_to_check() {
        let m = refusal(404, br#"{"message": "Not Found\n"}"#, 7);
        assert!(m.contains("404: Not Found") && m.contains("installation_id") && m.contains("installation 7"), "{m}");
        assert!(refusal(500, b"<html>", 7).contains("500: "));
    }
}
