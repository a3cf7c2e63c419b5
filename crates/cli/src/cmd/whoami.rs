//! `clawvault whoami`: whose credential the CLI uses, and where it came from.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::cli::Global;
use crate::context::Target;
use crate::output;

/// `clawvault whoami`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault whoami
  CLAWVAULT_API_KEY_FILE=bot.key clawvault whoami --json")]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub global: Global,
}

/// Asks the server who the configured key belongs to.
///
/// # Errors
/// No or a refused key, an unreachable server.
pub async fn run(args: &WhoamiArgs) -> Result<()> {
    let target = Target::resolve(&args.global)?;
    let me = target.client()?.whoami().await?;
    let principal = format!("{}:{}", me.kind, me.name);
    let key_from = target.key.as_ref().map(|(_, from)| from.to_string()).unwrap_or_default();
    let credential = if me.credential == "api_key" { "API key" } else { "access token" };
    let expires = me.credential_expires_at.clone().unwrap_or_else(|| "never".to_owned());
    if args.global.json {
        output::json(&json!({
            "principal": principal,
            "id": me.id,
            "kind": me.kind,
            "name": me.name,
            "role": me.role,
            "created_by": me.created_by,
            "vault_ids": me.vault_ids,
            "credential": me.credential,
            "credential_from": key_from,
            "credential_expires_at": me.credential_expires_at,
            "address": target.address,
            "profile": target.profile,
        }))?;
        return Ok(());
    }
    let mut rows = vec![("identity", principal), ("id", me.id.to_string())];
    if let Some(role) = &me.role {
        rows.push(("role", role.clone()));
    }
    if let Some(by) = me.created_by {
        rows.push(("created by", by.to_string()));
    }
    rows.push(("credential", format!("{credential} from {key_from}")));
    rows.push(("expires", expires));
    rows.push(("server", target.address.clone()));
    print!("{}", output::fields(&rows));
    Ok(())
}
