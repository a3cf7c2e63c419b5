//! Words for failures whose cause lies in the CLI's own configuration: which key was refused
//! and where it came from, or why no key was sent, with the command that fixes it.

use clawvault_client::ClientError;

use crate::cli::Global;
use crate::context::{Source, Target};
use crate::profile::Profiles;

/// The error to report: a missing key is reported only once the address is known to answer,
/// since a wrong address (no profile saved for it) is the likelier cause.
pub async fn diagnose(err: anyhow::Error, global: &Global) -> anyhow::Error {
    let no_key = err.chain().any(|c| matches!(c.downcast_ref::<ClientError>(), Some(ClientError::NoCredentials)));
    if !no_key {
        return err;
    }
    let Ok(target) = Target::resolve(global) else { return err };
    let Ok(client) = target.anonymous(&target.address) else { return err };
    match client.health().await {
        Err(unreachable @ ClientError::Unreachable { .. }) => unreachable.into(),
        _ => err,
    }
}

/// A line to print under the error: the next step the server names, in the CLI's words, or
/// what in the CLI's own configuration explains the failure.
#[must_use]
pub fn hint(err: &anyhow::Error, global: &Global) -> Option<String> {
    let client_err = err.chain().find_map(|c| c.downcast_ref::<ClientError>())?;
    let target = Target::resolve(global).ok()?;
    let login = |profile: &str| {
        let flag =
            if profile == crate::profile::DEFAULT_PROFILE { String::new() } else { format!(" --profile {profile}") };
        format!("clawvault login{flag} --address {}", target.address)
    };
    if let ClientError::Api { hint: Some(code), .. } = client_err {
        return next_step(code).map(str::to_owned);
    }
    match client_err {
        ClientError::Api { status: 401, detail, .. } => {
            let (_, from) = target.key.as_ref()?;
            let fix = match from {
                Source::Profile(p) => format!("log in again with a current key: `{}`", login(p)),
                Source::LocalServer(dir) => format!(
                    "{}/admin-key belongs to another server than {}: log in with `{}`",
                    dir.display(),
                    target.address,
                    login(&target.profile)
                ),
                Source::Flag(..) | Source::Env(..) => {
                    "give a current key (`clawvault apikey create` makes one for a user; \
                     `clawvault agent rotate-key` for an agent)"
                        .to_owned()
                }
                Source::Default => return None,
            };
            let what = if detail.contains("expired") {
                "has expired"
            } else if detail.contains("deactivated") {
                "belongs to a deactivated agent (`clawvault agent activate` turns it back on)"
            } else {
                "was refused (wrong, revoked, or of a deleted user or agent)"
            };
            Some(format!("the API key from {from} {what}: {fix}"))
        }
        ClientError::NoCredentials => {
            let profiles = Profiles::load().ok()?;
            if let Some(p) = profiles.get(&target.profile) {
                return Some(format!(
                    "profile {} is saved for {}, not {} (from {}): drop that, or `{}`",
                    target.profile,
                    p.address,
                    target.address,
                    target.address_from,
                    login(&target.profile)
                ));
            }
            Some(format!(
                "no key is saved for {}: `{}`, or set CLAWVAULT_API_KEY_FILE",
                target.address,
                login(&target.profile)
            ))
        }
        ClientError::Unreachable { .. } if target.key.is_none() && matches!(target.address_from, Source::Default) => {
            Some(
                "no server is configured: log in to one with `clawvault login --address URL`, or start one on \
                  this machine with `clawvault server`"
                    .to_owned(),
            )
        }
        _ => None,
    }
}

/// The CLI's wording of a next step the server names (the native API words it with paths).
fn next_step(code: &str) -> Option<&'static str> {
    Some(match code {
        "list_vaults" => "see the vaults with `clawvault vault list`",
        "restore_secret" => "an admin restores it with `clawvault secret restore VAULT/PATH`",
        "accept_share" => "accept it with `clawvault share accept ID` (`clawvault share open` accepts on the way)",
        "send_passphrase" => "give the passphrase with --passphrase (asked for) or --passphrase-file FILE",
        "send_enrollment_signature" => "poll with the signature of the key the agent enrolled with",
        "exchange_agent_key" | "exchange_user_key" => "check that the key is the one you meant to use",
        "delete_api_key" => "revoke a key with `clawvault apikey delete ID`",
        "allow_host" => {
            "name the host in the secret's metadata: `--metadata '{\"allowed_hosts\": [\"api.example.com\"]}'`"
        }
        _ => return None,
    })
}

/// The error as the CLI prints it: a request field the server names is given as the flag that
/// sets it (`--expires-in`, not `expires_at`).
#[must_use]
pub fn message(err: &anyhow::Error) -> String {
    if let Some(ClientError::Api { status, status_text, detail, field: Some(field), .. }) =
        err.chain().find_map(|c| c.downcast_ref::<ClientError>())
    {
        let refused = format!("{status_text} ({status}): {} {detail}", flag_for(field));
        // What the command was doing when refused (`writing prod/a (from .env:3)`), if said.
        return match err.downcast_ref::<ClientError>() {
            Some(_) => refused,
            None => format!("{err}: {refused}"),
        };
    }
    format!("{err:#}")
}

/// The option that sets a request field, where the CLI has one.
fn flag_for(field: &str) -> &str {
    match field {
        "expires_at" => "--expires-in",
        "max_access_count" => "--max-reads",
        "token_ttl_seconds" => "--ttl",
        "prefix" => "--prefix",
        "metadata" => "--metadata",
        "vault_ids" => "--vault",
        "principal_id" => "--agent/--user",
        "scopes" => "--scope",
        other => other,
    }
}
