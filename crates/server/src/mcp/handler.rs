//! The MCP server handler: who calls (the caller `auth::admit` put in the request), which
//! vault a call means, and how every tool call is audited, limited and answered.

use std::future::Future;
use std::sync::Arc;

use axum::http::request::Parts;
use clawvault_core::action::Action;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use serde_json::Value;

use super::output;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::service::{secrets, vaults};
use crate::state::AppState;

/// What the model is told about this server when it connects.
const INSTRUCTIONS: &str = "clawvault keeps this agent's secrets (API keys, tokens, passwords). \
Secret values are credentials: never repeat, summarise, store or log them. Prefer tools that use \
a secret without showing it; call get_secret only when a value must be handed to something \
no other tool can reach, and use it at once. Paths look like `bots/discord/token`.";

/// The MCP server: one per request (stateless), cheap to clone.
#[derive(Clone)]
pub struct Clawvault {
    pub(super) state: AppState,
    tools: Arc<ToolRouter<Self>>,
}

/// Who calls, from the HTTP request the call came in.
pub(super) struct Who {
    pub caller: Caller,
    /// The vault the connection names (`X-Vault-ID`), if any.
    pub vault: Option<String>,
}

impl Clawvault {
    pub(super) fn new(state: AppState) -> Self {
        Self { state, tools: Arc::new(Self::tool_router()) }
    }

    /// The caller `auth::admit` authenticated. Its absence is a wiring fault, not a client's.
    pub(super) fn who(parts: &Parts) -> Result<Who, ErrorData> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("request reached a tool unauthenticated", None))?;
        // A header that names nothing (not text, or blank) is refused, not ignored: ignoring
        // it would fall back to another vault than the client meant.
        let vault = match parts.headers.get("x-vault-id") {
            None => None,
            Some(v) => {
                Some(v.to_str().ok().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).ok_or_else(|| {
                    ErrorData::invalid_request(
                        "the X-Vault-ID header must be a vault's name or id, in plain text",
                        None,
                    )
                })?)
            }
        };
        Ok(Who { caller, vault })
    }

    /// The vault a call means: the one it names, else the connection's, else the only one the
    /// caller can see.
    pub(super) async fn vault(&self, who: &Who, named: Option<&str>) -> ApiResult<String> {
        match named.or(who.vault.as_deref()).map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Ok(v.to_owned()),
            None => Ok(vaults::sole(&self.state, &who.caller).await?.id.to_string()),
        }
    }

    /// Runs one tool call: within the caller's tool-call budget, audited as `mcp.tool_call`
    /// (tool, the paths it named, outcome; never a value), answered as a tool result.
    pub(super) async fn run(
        &self,
        who: &Who,
        tool: &'static str,
        paths: &[&str],
        body: impl Future<Output = ApiResult<Value>>,
    ) -> Result<CallToolResult, ErrorData> {
        // A call over budget does nothing and is not written: a looping agent must not turn
        // its refused calls into audit writes.
        if let Err(e) = self.state.limits.before_tool_call(&who.caller.principal.id().to_string()) {
            return Ok(output::failure(&e));
        }
        let mut op = Op::new(&self.state, &who.caller, Action::McpToolCall);
        op.resource(tool);
        if !paths.is_empty() {
            op.detail("paths", paths.iter().map(|p| p.chars().take(600).collect::<String>()).collect::<Vec<_>>());
        }
        let result = body.await;
        Ok(match op.finish(result).await {
            Ok(value) => output::success(&value),
            Err(e) => output::failure(&e),
        })
    }
}

/// A field the caller sent that does not parse.
pub(super) fn invalid(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid { field, problem: problem.into() }
}

/// The one resource: the paths of the secrets the caller can list, never values.
pub const SECRETS_RESOURCE: &str = "vault://secrets";

#[tool_handler(router = self.tools)]
impl ServerHandler for Clawvault {
    fn get_info(&self) -> ServerConfig {
        let mut info = Implementation::new("clawvault", env!("CARGO_PKG_VERSION"));
        info.title = Some("clawvault".into());
        info.description = Some("Secrets for fleets of AI agents".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(info)
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(SECRETS_RESOURCE, "secrets")
                .with_description("Paths, types and versions of the secrets this agent can list (never values)")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != SECRETS_RESOURCE {
            return Err(ErrorData::resource_not_found(
                format!("no resource {:?}: the one resource is {SECRETS_RESOURCE}", request.uri),
                None,
            ));
        }
        let parts = context
            .extensions
            .get::<Parts>()
            .ok_or_else(|| ErrorData::internal_error("request reached a resource unauthenticated", None))?;
        let who = Self::who(parts)?;
        let listed = async {
            let vault = self.vault(&who, None).await?;
            secrets::list(&self.state, &who.caller, &vault, "").await
        }
        .await
        // Refusals name no value; a resource read has no tool error, so they are the request's.
        .map_err(|e| ErrorData::invalid_request(e.to_string(), None))?;
        let paths: Vec<Value> = listed
            .iter()
            .map(|v| serde_json::json!({ "path": v.secret.path, "type": v.meta.secret_type.as_str(), "version": v.meta.version }))
            .collect();
        let text = serde_json::json!({ "secrets": paths }).to_string();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, SECRETS_RESOURCE)]).into())
    }
}
