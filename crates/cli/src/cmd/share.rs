//! `clawvault share ...`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use clawvault_client::{Client, ClientError, NewShare, OpenedShare, SecretValue, Share, ShareListing};
use uuid::Uuid;

use super::{agent, deadline, split_reference, user};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};
use crate::principals::Principals;

/// Who receives a share: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RecipientArg {
    /// Anyone holding the link (add --passphrase and --max-reads).
    #[arg(long)]
    pub anyone: bool,
    /// This agent (id or name).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// This user (id, or name for admins).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The user who created the calling agent (for agents handing a value to their owner).
    #[arg(long)]
    pub creator: bool,
}

/// Where a share passphrase comes from.
#[derive(Debug, Args)]
pub struct PassphraseArg {
    /// Read the passphrase from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase")]
    pub passphrase_file: Option<PathBuf>,
    /// Ask for a passphrase (hidden), or read it from stdin when stdin is not a terminal.
    #[arg(long)]
    pub passphrase: bool,
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a secret's current value (needs the `share` permission); prints the share's link.
    #[command(after_help = "\
Examples:
  clawvault share create prod/openai/api-key --anyone --expires-in 1h --max-reads 1 --passphrase
  clawvault share create prod/db/password --user mia --expires-in 7d
  clawvault share create prod/discord/token --agent release-bot --max-reads 3
  clawvault share create ops/found-key --creator            # an agent handing a value to its owner

The recipient opens it with `clawvault share open ID_OR_LINK`. A link share without a
passphrase is readable by whoever sees the link: keep --max-reads low.")]
    Create {
        /// VAULT/PATH of the secret.
        reference: String,
        #[command(flatten)]
        recipient: RecipientArg,
        /// The share stops opening after this long (e.g. 30m, 24h, 7d).
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        expires_in: String,
        /// The share opens at most this many times.
        #[arg(long, value_name = "N")]
        max_reads: Option<i64>,
        #[command(flatten)]
        passphrase: PassphraseArg,
        /// Only open from this client address range (CIDR); repeat for more.
        #[arg(long = "ip", value_name = "CIDR")]
        ips: Vec<String>,
    },
    /// Open a share and print its value (shares addressed to you use your key; link shares
    /// open without one).
    #[command(after_help = "\
Examples:
  clawvault share open --passphrase \\
      https://vault.example.com/v1/share/5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01
  clawvault share open 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01 > db-password
  clawvault share open 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01 --passphrase-file pass.txt --json

A link on another server than your saved one is opened without your credentials.")]
    Open {
        /// Share id or link.
        share: String,
        #[command(flatten)]
        passphrase: PassphraseArg,
    },
    /// List shares you created (or, with --inbound, shares addressed to you; with --all, every
    /// share on the server, for admins).
    #[command(
        after_help = "Examples:\n  clawvault share list\n  clawvault share list --inbound --json\n  clawvault share list --all"
    )]
    List {
        /// Shares addressed to you instead of those you created.
        #[arg(long, conflicts_with = "all")]
        inbound: bool,
        /// Every share on the server (admins).
        #[arg(long)]
        all: bool,
    },
    /// Revoke a share you created (admins: any share): it stops opening at once.
    #[command(after_help = "Examples:\n  clawvault share revoke 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Revoke {
        /// Share id or link.
        share: String,
    },
    /// Accept a share addressed to you.
    #[command(after_help = "Examples:\n  clawvault share accept 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Accept {
        /// Share id or link.
        share: String,
    },
    /// Decline a share addressed to you: it does not open until you accept it.
    #[command(after_help = "Examples:\n  clawvault share decline 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Decline {
        /// Share id or link.
        share: String,
    },
}

/// Where the share API puts a share in a link.
const LINK_PATH: &str = "/v1/share/";

/// A share named on the command line: its id, and the server a link points at.
#[derive(Debug, PartialEq, Eq)]
struct ShareRef {
    id: Uuid,
    origin: Option<String>,
}

fn parse_ref(raw: &str) -> Result<ShareRef> {
    let invalid = || Coded::invalid(format!("{raw:?} is neither a share id nor a share link (…{LINK_PATH}ID)"));
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(ShareRef { id, origin: None });
    }
    let (origin, rest) = raw.split_once(LINK_PATH).ok_or_else(invalid)?;
    let id = rest.split(['?', '#', '/']).next().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(invalid)?;
    let origin = Some(origin.to_owned()).filter(|o| o.starts_with("http://") || o.starts_with("https://"));
    Ok(ShareRef { id, origin })
}

/// The client to open `share` with: the configured one, unless the link points at another
/// server, which must never see the configured credentials.
fn client_for(global: &Global, configured: Client, share: &ShareRef) -> Result<Client> {
    match &share.origin {
        Some(origin) if origin.trim_end_matches('/') != configured.address().trim_end_matches('/') => {
            context::Target::resolve(global)?.anonymous(origin)
        }
        _ => Ok(configured),
    }
}

/// Reads a passphrase from a file, a hidden prompt (twice when `confirm`), or stdin.
fn read_passphrase(arg: &PassphraseArg, confirm: bool) -> Result<Option<SecretValue>> {
    let text = if let Some(path) = &arg.passphrase_file {
        let raw = std::fs::read(path).with_context(|| format!("reading the passphrase from {}", path.display()))?;
        SecretValue::new(raw)
    } else if !arg.passphrase {
        return Ok(None);
    } else if std::io::stdin().is_terminal() {
        let first = SecretValue::new(rpassword::prompt_password("Passphrase (input hidden): ")?.into_bytes());
        if confirm {
            let again = SecretValue::new(rpassword::prompt_password("Passphrase again: ")?.into_bytes());
            if again.expose() != first.expose() {
                return Err(Coded::invalid("the passphrases differ; nothing was shared"));
            }
        }
        first
    } else {
        let mut raw = Vec::new();
        std::io::stdin().read_to_end(&mut raw)?;
        SecretValue::new(raw)
    };
    // A trailing newline from a file or `echo` is never part of a passphrase.
    let trimmed = text.expose_str().map(|s| s.trim_end_matches(['\r', '\n']).as_bytes().to_vec());
    let value = SecretValue::new(trimmed.ok_or_else(|| Coded::invalid("the passphrase is not UTF-8 text"))?);
    if value.is_empty() {
        return Err(Coded::invalid("the passphrase is empty"));
    }
    Ok(Some(value))
}

async fn recipient(client: &Client, r: &RecipientArg) -> Result<(&'static str, Option<Uuid>)> {
    Ok(match (&r.agent, &r.user) {
        (Some(a), _) => ("agent", Some(agent::id(client, a).await?)),
        (None, Some(u)) => ("user", Some(user::id(client, u).await?)),
        (None, None) if r.creator => ("creator", None),
        (None, None) => ("anyone_with_link", None),
    })
}

async fn secret_id(client: &Client, reference: &str) -> Result<Uuid> {
    let (vault, path) = split_reference(reference)?;
    let list = client
        .list_secrets(vault, path)
        .await
        .with_context(|| format!("looking up {reference} (sharing needs the list permission on it too)"))?;
    list.iter()
        .find(|s| s.path == path)
        .map(|s| s.id)
        .ok_or_else(|| Coded::not_found(format!("no secret {reference}: see `clawvault secret list {vault}`")))
}

fn describe_recipient(kind: &str, id: Option<Uuid>, principals: &Principals) -> String {
    match (kind, id) {
        ("anyone_with_link", _) => "anyone with the link".to_owned(),
        ("creator", _) => "the agent's creator".to_owned(),
        (kind, Some(id)) => principals.label(kind, &id.to_string()),
        (kind, None) => kind.to_owned(),
    }
}

fn reads(count: i64, max: Option<i64>) -> String {
    max.map_or_else(|| format!("{count}"), |m| format!("{count}/{m}"))
}

fn state(s: &Share) -> &'static str {
    if s.is_revoked {
        "revoked"
    } else if s.is_expired {
        "expired"
    } else if s.max_access_count.is_some_and(|m| s.access_count >= m) {
        "used up"
    } else if s.is_declined {
        "declined"
    } else if s.recipient_id.is_some() && !s.is_accepted {
        "pending"
    } else {
        "open"
    }
}

/// Opens a share; a share addressed to the caller that is not accepted yet is accepted first,
/// since asking to open it is consent.
async fn open(client: &Client, id: Uuid, passphrase: Option<&SecretValue>) -> Result<OpenedShare> {
    match client.open_share(id, passphrase).await {
        Err(ClientError::Api { status: 403, .. }) if awaiting_acceptance(client, id).await => {
            client.respond_share(id, true).await?;
            eprintln!("Accepted share {id}.");
            Ok(client.open_share(id, passphrase).await?)
        }
        other => Ok(other?),
    }
}

async fn awaiting_acceptance(client: &Client, id: Uuid) -> bool {
    client
        .list_shares(ShareListing::Inbound)
        .await
        .is_ok_and(|shares| shares.iter().any(|s| s.id == id && !s.is_accepted && !s.is_declined))
}

/// Runs a share command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: ShareCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        ShareCommand::Create { reference, recipient: to, expires_in, max_reads, passphrase, ips } => {
            if max_reads.is_some_and(|n| n < 1) {
                return Err(Coded::invalid("--max-reads must be 1 or more (leave it out for no limit)"));
            }
            let secret = secret_id(&client, &reference).await?;
            let (recipient_type, recipient_id) = recipient(&client, &to).await?;
            let new = NewShare {
                recipient_type: recipient_type.to_owned(),
                recipient_id,
                expires_at: deadline(Some(&expires_in))?.unwrap_or_default(),
                max_access_count: max_reads,
                passphrase: read_passphrase(&passphrase, true)?,
                ip_allowlist: ips,
            };
            let created = client.create_share(secret, &new).await?;
            if global.json {
                output::json(&created)?;
            } else {
                let principals = Principals::load(&client, recipient_type == "user").await;
                println!("Shared {reference} with {}.", describe_recipient(recipient_type, recipient_id, &principals));
                print!(
                    "{}",
                    output::fields(&[
                        ("id", created.id.to_string()),
                        ("link", created.share_url.clone()),
                        ("expires", short_time(&created.expires_at)),
                        ("reads", max_reads.map_or_else(|| "unlimited".to_owned(), |m| format!("at most {m}"))),
                        ("passphrase", if new.passphrase.is_some() { "required" } else { "none" }.to_owned()),
                    ])
                );
                eprintln!("Open it with: clawvault share open {}", created.share_url);
            }
        }
        ShareCommand::Open { share, passphrase } => {
            let share = parse_ref(&share)?;
            let client = client_for(global, client, &share)?;
            let passphrase = read_passphrase(&passphrase, false)?;
            let opened = open(&client, share.id, passphrase.as_ref()).await?;
            if global.json {
                output::json(&opened)?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(opened.value.expose())?;
                if std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
                if let Some(max) = opened.max_access_count {
                    eprintln!("Share {} has been opened {} of {max} allowed times.", opened.id, opened.access_count);
                }
            }
        }
        ShareCommand::List { inbound, all } => {
            let which = match (inbound, all) {
                (_, true) => ShareListing::All,
                (true, false) => ShareListing::Inbound,
                (false, false) => ShareListing::Outbound,
            };
            let shares = client.list_shares(which).await?;
            if global.json {
                output::json(&shares)?;
            } else {
                let principals = Principals::load(&client, shares.iter().any(|s| s.recipient_type == "user")).await;
                let mut t = Table::new(vec!["ID", "PATH", "TO", "READS", "EXPIRES", "STATE"]);
                for s in &shares {
                    t.row(vec![
                        s.id.to_string(),
                        s.secret_path.clone(),
                        describe_recipient(&s.recipient_type, s.recipient_id, &principals),
                        reads(s.access_count, s.max_access_count),
                        short_time(&s.expires_at),
                        state(s).to_owned(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        ShareCommand::Revoke { share } => {
            let id = parse_ref(&share)?.id;
            client.revoke_share(id).await?;
            output::done(global.json, "revoked", id, &format!("Revoked share {id}: it no longer opens."))?;
        }
        ShareCommand::Accept { share } => {
            let id = parse_ref(&share)?.id;
            client.respond_share(id, true).await?;
            output::done(
                global.json,
                "accepted",
                id,
                &format!("Accepted share {id}: open it with `clawvault share open {id}`."),
            )?;
        }
        ShareCommand::Decline { share } => {
            let id = parse_ref(&share)?.id;
            client.respond_share(id, false).await?;
            output::done(global.json, "declined", id, &format!("Declined share {id}."))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01";

    #[test]
    fn share_references() {
        let id = Uuid::parse_str(ID).unwrap();
        assert_eq!(parse_ref(ID).unwrap(), ShareRef { id, origin: None });
        assert_eq!(
            parse_ref(&format!("https://vault.example.com:8420/v1/share/{ID}?x=1")).unwrap(),
            ShareRef { id, origin: Some("https://vault.example.com:8420".to_owned()) }
        );
        assert_eq!(parse_ref(&format!("/v1/share/{ID}")).unwrap(), ShareRef { id, origin: None });
        for bad in ["", "abc", "https://x/v1/share/nope", "https://x/v1/shares/5f0c"] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }
}
