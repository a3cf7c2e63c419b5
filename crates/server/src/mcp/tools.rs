//! The tools, with 1Claw's names and parameters. Each is a call of [`crate::service`] (which
//! decides and audits), run by [`Clawvault::run`] (which audits the call as a whole and
//! answers). Only `get_secret` and `get_env_bundle` hand a value back, and only to a caller
//! with `read`; their descriptions tell the model how to treat it. `request_secret` takes one
//! in, from a user's browser, never through the model.

use axum::http::request::Parts;
use base64::Engine;
use clawvault_core::SecretValue;
use clawvault_core::generate::{Charset, DEFAULT_LENGTH};
use clawvault_core::time_util::rfc3339;
use rmcp::handler::server::common::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, tool, tool_router};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::handler::{Clawvault, invalid};
use super::params::{
    CreateVault, GithubToken, GrantAccess, HttpRequest, InspectContent, ListSecrets, OneSecret, PutSecret,
    RequestSecret, RotateAndStore, RotateGenerate, ShareSecret,
};
use clawvault_core::inspect::{MAX_FINDINGS, inspect};
use clawvault_core::redact::Redactor;

use crate::error::{ApiError, ApiResult};
use crate::service::egress::{self, HttpCall};
use crate::service::github;
use crate::service::policies::{self, NewPolicy, Terms};
use crate::service::secret_requests::{self, NewRequest};
use crate::service::secrets::{self, NewVersion, NextValue, Rotation, SecretVersion};
use crate::service::shares::{self, NewShare};
use crate::service::{self, vaults};
use clawvault_core::github_app::Narrowing;

/// A secret as every answer describes it: never its value.
fn described(v: &SecretVersion) -> Value {
    json!({
        "id": v.secret.id,
        "path": v.secret.path,
        "type": v.meta.secret_type.as_str(),
        "version": v.meta.version,
        "metadata": serde_json::from_str::<Value>(&v.meta.metadata).unwrap_or_default(),
        "created_at": rfc3339(v.meta.created_at),
        "expires_at": v.meta.expires_at.map(rfc3339),
        "access_count": v.meta.access_count,
        "max_access_count": v.meta.max_access_count,
    })
}

fn time(field: &'static str, raw: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| invalid(field, "must be an RFC 3339 time such as 2027-01-31T12:00:00Z"))
}

#[tool_router(vis = "pub(super)")]
impl Clawvault {
    #[tool(description = "List the secrets this agent can see: paths, types, versions and metadata, never values.")]
    async fn list_secrets(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<ListSecrets>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let prefix = p.prefix.unwrap_or_default();
        self.run(&who, "list_secrets", &[&prefix], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let list = secrets::list(&self.state, &who.caller, &vault, &prefix).await?;
            Ok(json!({ "secrets": list.iter().map(described).collect::<Vec<_>>() }))
        })
        .await
    }

    #[tool(description = "Describe one secret (type, version, metadata, expiry, read count) without its value.")]
    async fn describe_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<OneSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "describe_secret", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let (secret, versions) = secrets::versions(&self.state, &who.caller, &vault, &p.path).await?;
            let meta = versions
                .into_iter()
                .find(|m| m.version == secret.current_version)
                .ok_or_else(|| ApiError::NotFound(format!("no secret at {:?}", p.path)))?;
            Ok(described(&SecretVersion { secret, meta }))
        })
        .await
    }

    #[tool(
        description = "Reveal a secret's value (needs the read permission). The value is a credential: use it immediately for the call that needs it; never repeat, summarise, store or log it. Prefer tools that use a secret without revealing it."
    )]
    async fn get_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<OneSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "get_secret", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let opened = secrets::read(&self.state, &who.caller, &vault, &p.path, None).await?;
            // A value that is not text (a file, a binary key) comes as base64, never mangled.
            let (value, encoding) = match opened.value.expose_str() {
                Some(text) => (text.to_owned(), "utf-8"),
                None => (base64::engine::general_purpose::STANDARD.encode(opened.value.expose()), "base64"),
            };
            Ok(json!({
                "path": opened.version.secret.path,
                "type": opened.version.meta.secret_type.as_str(),
                "version": opened.version.meta.version,
                "value": value,
                "encoding": encoding,
            }))
        })
        .await
    }

    #[tool(
        description = "Reveal an env_bundle secret (KEY=VALUE lines) as a JSON object of variables (needs read). The values are credentials: never repeat, summarise, store or log them."
    )]
    async fn get_env_bundle(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<OneSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "get_env_bundle", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let opened = secrets::read(&self.state, &who.caller, &vault, &p.path, None).await?;
            let text = opened.value.expose_str().ok_or_else(|| invalid("path", "names a secret that is not text"))?;
            let vars = clawvault_core::env_bundle::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Ok(json!({ "path": opened.version.secret.path, "version": opened.version.meta.version, "env": vars }))
        })
        .await
    }

    #[tool(
        description = "Store a secret as a new version (creates it on first write). The version takes exactly the type (default api_key) and metadata given here: to replace only the value of an existing secret and keep its type, metadata and allowed hosts, use rotate_and_store. Returns the path and version, never the value."
    )]
    async fn put_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<PutSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let PutSecret { path, value, secret_type, metadata, expires_at, max_access_count, vault } = p;
        let value = SecretValue::from_str_value(&value.0);
        self.run(&who, "put_secret", &[&path], async {
            let expires_at = expires_at.as_deref().map(|t| time("expires_at", t)).transpose()?;
            let new = NewVersion::parse(
                value,
                Some(secret_type.as_deref().unwrap_or("api_key")),
                metadata,
                expires_at,
                max_access_count,
            )?;
            let vault = self.vault(&who, vault.as_deref()).await?;
            let written = secrets::write(&self.state, &who.caller, &vault, &path, new).await?;
            Ok(described(&written))
        })
        .await
    }

    #[tool(
        description = "Store a new value for an existing secret (a key the provider just issued), keeping its type and metadata. Returns the new version, never the value."
    )]
    async fn rotate_and_store(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<RotateAndStore>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let value = SecretValue::from_str_value(&p.value.0);
        self.run(&who, "rotate_and_store", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let rotation = Rotation { next: NextValue::Given(value), secret_type: None };
            Ok(described(&secrets::rotate(&self.state, &who.caller, &vault, &p.path, rotation).await?))
        })
        .await
    }

    #[tool(
        description = "Replace an existing secret's value with one the server generates (for secrets clawvault issues itself, such as webhook tokens). The new value is not shown."
    )]
    async fn rotate_generate(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<RotateGenerate>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "rotate_generate", &[&p.path], async {
            let charset = match p.charset.as_deref() {
                None => Charset::default(),
                Some(c) => c.parse::<Charset>().map_err(|e| invalid("charset", e.to_string()))?,
            };
            let next = NextValue::Generate { length: p.length.unwrap_or(DEFAULT_LENGTH), charset };
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let rotation = Rotation { next, secret_type: None };
            Ok(described(&secrets::rotate(&self.state, &who.caller, &vault, &p.path, rotation).await?))
        })
        .await
    }

    #[tool(description = "Delete a secret (every version). A human admin can restore it.")]
    async fn delete_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<OneSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "delete_secret", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            secrets::delete(&self.state, &who.caller, &vault, &p.path).await?;
            Ok(json!({ "deleted": p.path }))
        })
        .await
    }

    #[tool(description = "List a secret's versions, newest first (metadata only, never values).")]
    async fn list_versions(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<OneSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "list_versions", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let (secret, versions) = secrets::versions(&self.state, &who.caller, &vault, &p.path).await?;
            let versions: Vec<Value> = versions
                .iter()
                .map(|m| {
                    json!({
                        "version": m.version,
                        "type": m.secret_type.as_str(),
                        "created_at": rfc3339(m.created_at),
                        "expires_at": m.expires_at.map(rfc3339),
                        "disabled": m.is_disabled,
                        "current": m.version == secret.current_version,
                    })
                })
                .collect();
            Ok(json!({ "path": secret.path, "versions": versions }))
        })
        .await
    }

    #[tool(description = "List the vaults this agent can see.")]
    async fn list_vaults(&self, Extension(parts): Extension<Parts>) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "list_vaults", &[], async {
            let list = vaults::list(&self.state, &who.caller).await?;
            let list: Vec<Value> = list
                .iter()
                .map(|v| json!({ "id": v.id, "name": v.name, "description": v.description, "created_at": rfc3339(v.created_at) }))
                .collect();
            Ok(json!({ "vaults": list }))
        })
        .await
    }

    #[tool(description = "Create a vault owned by this agent.")]
    async fn create_vault(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<CreateVault>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "create_vault", &[], async {
            let v = vaults::create(&self.state, &who.caller, &p.name, p.description.as_deref().unwrap_or("")).await?;
            Ok(json!({ "id": v.id, "name": v.name, "description": v.description }))
        })
        .await
    }

    #[tool(description = "Grant a user or agent permissions on paths of a vault this agent owns.")]
    async fn grant_access(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<GrantAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let pattern = p.secret_path_pattern.unwrap_or_else(|| "**".into());
        self.run(&who, "grant_access", &[&pattern], async {
            let new = NewPolicy {
                kind: p.principal_type,
                principal_id: service::id(&p.principal_id, "principal_id")?,
                pattern: pattern.clone(),
                terms: Terms {
                    permissions: p.permissions.unwrap_or_else(|| vec!["read".into()]),
                    effect: "allow".into(),
                    conditions: Value::Null,
                    expires_at: None,
                    priority: 0,
                },
            };
            let policy = policies::create(&self.state, &who.caller, &p.vault_id, new).await?;
            Ok(json!({
                "policy_id": policy.id,
                "vault_id": policy.vault_id,
                "principal_id": policy.principal_id,
                "secret_path_pattern": policy.secret_path_pattern,
                "permissions": policy.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }))
        })
        .await
    }

    #[tool(
        description = "Share one secret with a user, an agent, this agent's creator, or anyone holding the link, until a time and for a number of openings. Returns the share's link, never the value."
    )]
    async fn share_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<ShareSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "share_secret", &[], async {
            let recipient_id = p.recipient_id.as_deref().map(|id| service::id(id, "recipient_id")).transpose()?;
            let new = NewShare {
                recipient_type: p.recipient_type,
                recipient_id,
                expires_at: time("expires_at", &p.expires_at)?,
                max_access_count: Some(p.max_access_count.unwrap_or(5)),
                passphrase: None,
                ip_allowlist: Vec::new(),
            };
            let share = shares::create(&self.state, &who.caller, &p.secret_id, new).await?;
            Ok(json!({
                "share_id": share.id,
                "share_url": crate::native::share_url(&self.state, share.id),
                "recipient_type": share.recipient_type.as_str(),
                "expires_at": rfc3339(share.expires_at),
                "max_access_count": share.max_access_count,
            }))
        })
        .await
    }

    #[tool(
        description = "Ask a user to enter a secret's value (a new key from a provider, a password only they know) without it passing through you (needs the write permission on the path). Returns a one-time link: give it to the user and ask them to open it and enter the value there, never to paste it into the chat. The link works once, for 15 minutes. The value never passes through this conversation; describe_secret or list_secrets shows when it has been stored."
    )]
    async fn request_secret(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<RequestSecret>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let path = p.path.clone();
        self.run(&who, "request_secret", &[&path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let new = NewRequest {
                path: p.path,
                description: p.description.unwrap_or_default(),
                secret_type: p.secret_type,
            };
            let issued = secret_requests::create(&self.state, &who.caller, &vault, new).await?;
            Ok(json!({
                "url": issued.url,
                "vault": issued.vault_name,
                "path": issued.path,
                "expires_at": rfc3339(issued.expires_at),
                "message": format!(
                    "Ask the user to open {} and enter the value for {} in vault {} there (not in this chat). The link works once, until {}.",
                    issued.url, issued.path, issued.vault_name, rfc3339(issued.expires_at)
                ),
            }))
        })
        .await
    }

    #[tool(
        description = "Get a GitHub installation token (ghs_..., valid up to an hour) minted from a github_app secret (needs the use permission; the app's private key is never shown). Narrow it with repositories and permissions. Use it as a Bearer token or GH_TOKEN; do not repeat or store it."
    )]
    async fn github_token(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<GithubToken>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "github_token", &[&p.path], async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let narrowing = Narrowing {
                repositories: p.repositories.unwrap_or_default(),
                permissions: p.permissions.unwrap_or_default(),
            };
            let minted = github::mint(&self.state, &who.caller, &vault, &p.path, narrowing).await?;
            Ok(json!({
                "token": minted.token.token.as_str(),
                "expires_at": rfc3339(minted.token.expires_at),
                "permissions": minted.token.permissions,
                "repositories": minted.token.repositories,
            }))
        })
        .await
    }

    #[tool(
        description = "Call an HTTP API with secrets filled in that you never see (needs the use permission): write {{secret:PATH}} in the URL's path or query, a header value or the body. A secret goes only to the hosts its metadata allowed_hosts names; the answer comes back with every value redacted. Requests without a placeholder are refused; redirects are not followed."
    )]
    async fn http_request(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<HttpRequest>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        let paths: Vec<String> = [p.url.as_str(), p.body.as_deref().unwrap_or("")]
            .into_iter()
            .chain(p.headers.iter().flat_map(|h| h.values().map(String::as_str)))
            .filter_map(|t| clawvault_core::placeholder::parse(t).ok())
            .flat_map(|pieces| clawvault_core::placeholder::paths(&pieces))
            .map(|path| path.as_str().to_owned())
            .collect();
        let touched: Vec<&str> = paths.iter().map(String::as_str).collect();
        self.run(&who, "http_request", &touched, async {
            let vault = self.vault(&who, p.vault.as_deref()).await?;
            let call = HttpCall {
                method: p.method.unwrap_or_else(|| "GET".into()),
                url: p.url,
                headers: p.headers.unwrap_or_default().into_iter().collect(),
                body: p.body.unwrap_or_default(),
            };
            let answer = egress::http_request(&self.state, &who.caller, &vault, call).await?;
            Ok(json!({
                "status": answer.status,
                "headers": answer.headers.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                "body": String::from_utf8_lossy(&answer.body),
                "truncated": answer.truncated,
                "secrets_used": answer.used,
            }))
        })
        .await
    }

    #[tool(
        description = "Scan text for credentials before it is sent or after it is received: values of secrets this agent may use (reported by path), provider keys, tokens, private keys, high-entropy strings. Reports kinds, paths and positions, never the matched text."
    )]
    async fn inspect_content(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(p): Parameters<InspectContent>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = Self::who(&parts)?;
        self.run(&who, "inspect_content", &[], async {
            // Without a vault to compare with, the scan still finds credential shapes, and
            // says that it compared no secret.
            let vault = match p.vault.as_deref().or(who.vault.as_deref()) {
                Some(named) => Some(named.to_owned()),
                None => vaults::sole(&self.state, &who.caller).await.ok().map(|v| v.id.to_string()),
            };
            let values = match &vault {
                Some(v) => secrets::recognisable(&self.state, &who.caller, v).await?,
                None => Vec::new(),
            };
            let compared = values.len();
            let content = p.content;
            // Matching a megabyte against many patterns is work for a blocking thread.
            let findings = tokio::task::spawn_blocking(move || {
                let known = Redactor::new(values.iter().map(|(p, v)| (p.as_str(), v.expose())))?;
                Ok::<_, clawvault_core::redact::RedactError>(inspect(&content.0, &known))
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            let verdict = if findings.is_empty() { "clean" } else { "suspicious" };
            Ok(json!({
                "verdict": verdict,
                "context": p.context,
                "secrets_compared": compared,
                "vault_compared": vault.is_some(),
                "truncated": findings.len() >= MAX_FINDINGS,
                "findings": findings,
            }))
        })
        .await
    }
}
