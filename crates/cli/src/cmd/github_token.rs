//! `clawvault github-token VAULT/PATH`: an installation token minted on the server from a
//! `github_app` secret (needs `use`; the app's key never leaves the server), printed alone on
//! stdout for `GH_TOKEN=$(...)`, or as JSON with its expiry and permissions.

use anyhow::Result;
use clap::Args;
use clawvault_client::TokenRequest;

use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output;

/// Which app, narrowed how.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  GH_TOKEN=$(clawvault github-token prod/github/app) gh pr list
  clawvault github-token prod/github/app --repository api --permission contents=read
  clawvault github-token prod/github/app --json

The token lasts up to an hour; the server hands the same one out again until five minutes before
it expires. Store the app's credentials once as a github_app secret:
{\"app_id\": 123, \"installation_id\": 456, \"private_key\": \"-----BEGIN RSA PRIVATE KEY-----...\"}")]
pub struct GithubTokenArgs {
    /// The `github_app` secret, as VAULT/PATH.
    #[arg(value_name = "VAULT/PATH")]
    reference: String,
    /// Only this repository of the installation (its name without the owner); repeat for more.
    #[arg(long = "repository", value_name = "NAME")]
    repositories: Vec<String>,
    /// Only this permission, as NAME=read|write|admin; repeat for more.
    #[arg(long = "permission", value_name = "NAME=LEVEL")]
    permissions: Vec<String>,
    #[command(flatten)]
    pub global: Global,
}

/// Runs `github-token`.
///
/// # Errors
/// A malformed reference or permission, API errors (GitHub's refusal with its reason).
pub async fn run(args: &GithubTokenArgs) -> Result<()> {
    let (vault, path) = super::split_reference(&args.reference)?;
    let mut request = TokenRequest { repositories: args.repositories.clone(), ..TokenRequest::default() };
    for p in &args.permissions {
        let (name, level) = p
            .split_once('=')
            .ok_or_else(|| Coded::invalid(format!("--permission {p:?}: write NAME=LEVEL, such as contents=read")))?;
        request.permissions.insert(name.trim().to_owned(), level.trim().to_owned());
    }
    let client = context::client(&args.global)?;
    let token = client.github_token(vault, path, &request).await?;
    if args.global.json {
        return output::json(&token);
    }
    println!("{}", token.token.as_str());
    Ok(())
}
