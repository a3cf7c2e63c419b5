//! `clawvault mcp`: an MCP server on stdin and stdout for agent frameworks that start their
//! tools as processes (Claude Code and Desktop, OpenClaw). It relays every request to the
//! server's `/mcp` with the agent's key, so what a tool may do is decided there, exactly as for
//! clients that connect over HTTP. Nothing but MCP messages is written to stdout.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use zeroize::Zeroizing;

use super::mcp_run;
use crate::cli::Global;
use crate::context::{Target, read_key_file};
use crate::exit::Coded;

/// `clawvault mcp`.
#[derive(Debug, Args)]
#[command(after_help = "\
The agent's key comes from --key-file, else CLAWVAULT_AGENT_KEY, else the usual key
(--api-key-file, CLAWVAULT_API_KEY, a saved login), and must be an agent's (ocv_...): the model
gets what the key may do. The server address comes from the usual configuration (--address,
CLAWVAULT_ADDR, a saved login, the local server).

Examples:
  CLAWVAULT_AGENT_KEY=ocv_... clawvault mcp --address https://vault.example:8420
  clawvault mcp --key-file ~/.config/bot/agent.key --vault prod
  clawvault mcp --key-file agent.key --allow-run     # also run_with_secrets, on this machine

  # Claude Code
  claude mcp add clawvault --env CLAWVAULT_AGENT_KEY=ocv_... -- clawvault mcp")]
pub struct McpArgs {
    /// Read the agent's key from this file [env: CLAWVAULT_AGENT_KEY holds the key itself].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The vault (name or id) tools use when a call names none; by default the only vault the
    /// agent can see.
    #[arg(long, value_name = "VAULT")]
    pub vault: Option<String>,
    /// Offer the run_with_secrets tool: the model runs commands on this machine with secrets the
    /// agent may use in their environment (output redacted). Off by default: the model chooses
    /// the command.
    #[arg(long)]
    pub allow_run: bool,
    #[command(flatten)]
    pub global: Global,
}

/// Serves MCP on stdio until the client closes it.
///
/// # Errors
/// No key, an unreachable server, a refused key: before serving, so the client's log names
/// the cause.
pub async fn run(args: &McpArgs) -> Result<()> {
    let target = Target::resolve(&args.global)?;
    let key = agent_key(args, &target)?;
    let client = target.client_with_key(&key)?;
    // The key is checked before serving: a client that starts this process shows its stderr.
    client.whoami().await?;
    let upstream =
        ().serve(client.mcp_transport(args.vault.as_deref())?)
            .await
            .with_context(|| format!("cannot open the MCP endpoint of {}", target.address))?;
    let relay = Relay {
        upstream,
        address: target.address.clone(),
        run: args.allow_run.then(|| Run { client, vault: args.vault.clone(), agent_key: key.clone() }),
    };
    let served = relay.serve(rmcp::transport::stdio()).await.context("cannot start MCP on stdin and stdout")?;
    served.waiting().await.context("the MCP connection on stdio failed")?;
    Ok(())
}

fn agent_key(args: &McpArgs, target: &Target) -> Result<Zeroizing<String>> {
    let key = if let Some(path) = &args.key_file {
        read_key_file(path)?
    } else if let Some(k) = std::env::var("CLAWVAULT_AGENT_KEY").ok().filter(|k| !k.trim().is_empty()) {
        Zeroizing::new(k.trim().to_owned())
    } else {
        match &target.key {
            Some((k, _)) => k.clone(),
            None => {
                return Err(Coded::unauthenticated(
                    "no agent key: give the agent's key (ocv_...) with --key-file or CLAWVAULT_AGENT_KEY",
                ));
            }
        }
    };
    // The model behind this server gets what the key may do: a user's key (an admin's saved
    // login, say) would hand it every vault that user can reach.
    if !key.starts_with("ocv_") {
        return Err(Coded::invalid(
            "clawvault mcp serves an agent and takes only an agent's key (ocv_...): create one with \
             `clawvault agent create NAME --vault VAULT` and grant it only what the framework needs",
        ));
    }
    Ok(key)
}

/// The stdio server: the server's own tools, relayed, and `run_with_secrets` when allowed.
struct Relay {
    upstream: RunningService<RoleClient, ()>,
    address: String,
    run: Option<Run>,
}

/// What `run_with_secrets` needs: a client that fetches values to use, with the agent's key.
struct Run {
    client: clawvault_client::Client,
    vault: Option<String>,
    agent_key: Zeroizing<String>,
}

impl Relay {
    /// What the relay answers when the server cannot be asked: a tool error the model can
    /// read, never a value (the errors are the transport's, about the server).
    fn unreachable(&self, e: &rmcp::ServiceError) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(format!(
            "clawvault at {} did not answer this call: {e}. Check that it runs and that the agent's key is still valid.",
            self.address
        ))])
    }
}

impl Relay {
    /// A request the server refused or could not answer, as the client's error.
    fn relay_error(&self, e: &rmcp::ServiceError) -> ErrorData {
        match e {
            rmcp::ServiceError::McpError(e) => e.clone(),
            other => ErrorData::internal_error(format!("clawvault at {} did not answer: {other}", self.address), None),
        }
    }
}

impl ServerHandler for Relay {
    fn get_info(&self) -> ServerConfig {
        // The server's own name, version and instructions, as an HTTP client would see them.
        let upstream = self.upstream.peer_info();
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(
                upstream
                    .as_ref()
                    .and_then(|u| u.server_info.clone())
                    .unwrap_or_else(|| Implementation::new("clawvault", env!("CARGO_PKG_VERSION"))),
            );
        info.instructions = upstream.and_then(|u| u.instructions.clone());
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut listed = self.upstream.list_tools(request).await.map_err(|e| self.relay_error(&e))?;
        if self.run.is_some() {
            listed.tools.push(mcp_run::tool());
        }
        Ok(listed)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.upstream.list_resources(request).await.map_err(|e| self.relay_error(&e))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.upstream.read_resource_once(request).await.map_err(|e| self.relay_error(&e))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name == mcp_run::NAME {
            return Ok(match &self.run {
                Some(run) => {
                    mcp_run::call(
                        &run.client,
                        run.vault.as_deref(),
                        &run.agent_key,
                        request.arguments.unwrap_or_default(),
                    )
                    .await
                }
                None => CallToolResult::error(vec![ContentBlock::text(
                    "run_with_secrets is off: a human starts clawvault mcp with --allow-run to offer it",
                )]),
            }
            .into());
        }
        match self.upstream.call_tool_once(request).await {
            Ok(response) => Ok(response),
            Err(rmcp::ServiceError::McpError(e)) => Err(e),
            Err(e) => Ok(self.unreachable(&e).into()),
        }
    }
}
