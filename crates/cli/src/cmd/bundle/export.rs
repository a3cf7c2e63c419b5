//! `clawvault bundle export`: reads every secret first, then (when asked) creates the host's
//! agent, then writes the bundle and the host's new identity; an agent made for a bundle that
//! could not be written is deleted again.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use clawvault_bundle::{Bundle, Entry, Host, Manifest, Recipients, SecretEntry, keys, manifest};
use clawvault_client::{Client, NewAgent, NewPolicy};
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::context::Target;
use crate::exit::Coded;
use crate::files;
use crate::output;

/// What to bundle, for whom, and where to write it.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The vault (name or id).
    #[arg(long, value_name = "VAULT")]
    vault: String,
    /// Only the secrets under this path; files are named by their path below it.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// Encrypt to this age recipient (age1…); repeat for several.
    #[arg(long, short = 'r', value_name = "AGE_RECIPIENT")]
    recipient: Vec<String>,
    /// Make a fresh age identity for the host, write it here (0600) and encrypt to it too.
    #[arg(long, value_name = "FILE")]
    identity_out: Option<PathBuf>,
    /// Create an agent of this name that may `use` the secrets under the prefix, and carry
    /// its key in the bundle (with what `clawvault sync` needs to start).
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// The server address the host reaches (default: the one this command uses).
    #[arg(long = "server-address", value_name = "URL", requires = "agent")]
    server_address: Option<String>,
    /// The bundle file to write (mode 0600, atomically).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Replace a file that clawvault did not write (or that changed since).
    #[arg(long)]
    force: bool,
}

pub(super) async fn run(global: &Global, args: ExportArgs) -> Result<()> {
    let mut recipients = Recipients::default();
    for r in &args.recipient {
        recipients.add(r).map_err(|e| Coded::invalid(e.to_string()))?;
    }
    if let Some(out) = &args.identity_out
        && out.symlink_metadata().is_ok()
    {
        return Err(Coded::invalid(format!(
            "{} exists; an identity is never replaced (a host may hold it): choose another file",
            out.display()
        )));
    }
    let fresh = args.identity_out.as_ref().map(|_| keys::generate());
    if let Some((_, recipient)) = &fresh {
        recipients.add(recipient).map_err(|e| Coded::invalid(e.to_string()))?;
    }
    if recipients.is_empty() {
        return Err(Coded::invalid("encrypt to someone: --recipient age1… (the host's) or --identity-out FILE"));
    }
    if !args.force {
        files::check_ours(&args.output)?;
    }
    let target = Target::resolve(global)?;
    let client = target.client()?;
    let prefix = args.prefix.trim_matches('/').to_owned();
    let (mut bundle, skipped) = read_secrets(&client, &args.vault, &prefix).await?;
    if let Some(name) = &args.agent {
        refuse_taken_name(&client, name).await?;
    }

    let made = match &args.agent {
        Some(name) => {
            let address = args.server_address.clone().unwrap_or_else(|| target.address.clone());
            Some(make_agent(&client, &args.vault, &prefix, name, &address, &mut bundle).await?)
        }
        None => None,
    };
    let written = write(&args, &bundle, &recipients, fresh.as_ref().map(|(t, _)| t));
    if let Err(e) = written {
        if let Some(id) = made {
            let _ = client.delete_agent(id).await;
        }
        return Err(e);
    }
    let count = bundle.manifest.as_ref().map_or(0, |m| m.secrets.len());
    let mut text =
        format!("Wrote {count} secrets to {} (mode 0600), for {} recipients.", args.output.display(), recipients.len());
    if let (Some(out), Some((_, recipient))) = (&args.identity_out, &fresh) {
        text.push_str(&format!(
            "\nThe host's identity is in {} ({recipient}): copy it to the host, then delete it here.",
            out.display()
        ));
    }
    if let Some(name) = &args.agent {
        text.push_str(&format!(
            "\nAgent {name} may use the secrets under {}/{prefix}; its key is in the bundle.",
            args.vault
        ));
    }
    if !skipped.is_empty() {
        text.push_str(&format!(
            "\nLeft out (read-limited: reading them would spend a reading): {}",
            skipped.join(", ")
        ));
    }
    output::done(
        global.json,
        "exported",
        serde_json::json!({
            "file": args.output,
            "secrets": count,
            "recipients": recipients.len(),
            "identity_file": args.identity_out,
            "recipient": fresh.as_ref().map(|(_, r)| r),
            "agent_id": made,
            "skipped": skipped,
        }),
        &text,
    )
}

/// The bundle of the secrets under `prefix`, and the read-limited ones left out.
async fn read_secrets(client: &Client, vault: &str, prefix: &str) -> Result<(Bundle, Vec<String>)> {
    let listed = client.list_secrets(vault, prefix).await?;
    let mut bundle = Bundle::default();
    let mut skipped = Vec::new();
    let mut entries = Vec::with_capacity(listed.len());
    for meta in &listed {
        let below = if prefix.is_empty() {
            meta.path.clone()
        } else {
            match meta.path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => rest.to_owned(),
                // `bots/discord-2` lists under the prefix `bots/discord` but is not below it.
                None => continue,
            }
        };
        // Reading spends a reading of a read-limited secret: such a secret is left out, said.
        if meta.max_access_count.is_some() {
            skipped.push(meta.path.clone());
            continue;
        }
        let secret = client
            .get_secret(vault, &meta.path, None)
            .await
            .with_context(|| format!("reading {vault}/{} for the bundle", meta.path))?;
        let file = format!("{}{below}", manifest::SECRETS_DIR);
        entries.push(SecretEntry {
            file: file.clone(),
            path: meta.path.clone(),
            version: secret.version,
            secret_type: secret.secret_type.clone(),
            bytes: secret.value.expose().len() as u64,
        });
        bundle.files.push(Entry { name: file, contents: Zeroizing::new(secret.value.expose().to_vec()) });
    }
    if entries.is_empty() {
        let under = if prefix.is_empty() { String::new() } else { format!(" under {prefix}") };
        return Err(Coded::not_found(format!("{vault} holds no secret{under} that you may read")));
    }
    bundle.manifest = Some(Manifest {
        format: manifest::FORMAT.to_owned(),
        created_at: now(),
        vault: vault.to_owned(),
        prefix: prefix.to_owned(),
        secrets: entries,
        host: None,
    });
    Ok((bundle, skipped))
}

/// Creates the host's agent, bound to the vault, allowed to `use` what the bundle holds.
async fn make_agent(
    client: &Client,
    vault: &str,
    prefix: &str,
    name: &str,
    address: &str,
    bundle: &mut Bundle,
) -> Result<uuid::Uuid> {
    let mut new = NewAgent::new(name);
    new.description = Some("made by clawvault bundle export".to_owned());
    new.vault_ids = crate::cmd::vault::ids(client, &[vault.to_owned()]).await?;
    let created = client.create_agent(&new).await.context("creating the host's agent")?;
    let id = created.agent.id;
    let policy = NewPolicy {
        principal_type: "agent".to_owned(),
        principal_id: id,
        // `PREFIX/*/**`, not `PREFIX/**`: `**` matches no segment too, and the secret at the
        // prefix itself is not in the bundle.
        secret_path_pattern: if prefix.is_empty() { "**".to_owned() } else { format!("{prefix}/*/**") },
        permissions: vec!["use".to_owned()],
        conditions: clawvault_client::Conditions::default(),
        expires_at: None,
        effect: Some("allow".to_owned()),
    };
    if let Err(e) = client.create_policy(vault, &policy).await {
        let _ = client.delete_agent(id).await;
        return Err(e).context("granting the host's agent `use`");
    }
    let key_file = manifest::AGENT_KEY.to_owned();
    bundle.files.push(Entry {
        name: key_file.clone(),
        contents: Zeroizing::new(format!("{}\n", created.api_key).into_bytes()),
    });
    if let Some(m) = &mut bundle.manifest {
        m.host = Some(Host { agent: name.to_owned(), agent_id: id.to_string(), address: address.to_owned(), key_file });
    }
    Ok(id)
}

fn write(
    args: &ExportArgs,
    bundle: &Bundle,
    recipients: &Recipients,
    identity: Option<&Zeroizing<String>>,
) -> Result<()> {
    let sealed = bundle.seal(recipients).map_err(|e| Coded::invalid(e.to_string()))?;
    files::write_atomic(&args.output, &sealed, 0o600, None)?;
    files::remember(&args.output);
    if let (Some(out), Some(text)) = (&args.identity_out, identity) {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        // create_new: an identity that appeared since the check is still never replaced.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .with_context(|| format!("writing the host's identity {}", out.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if let Err(e) = files::write_atomic(&args.output, &sealed, 0o600, None) {
        if let Some(out) = &args.identity_out {
            let _ = std::fs::remove_file(out);
        }
        return Err(e);
    }
    files::remember(&args.output);
    Ok(())
}

/// An agent name already taken would leave two agents of one name (and the old key live).
async fn refuse_taken_name(client: &Client, name: &str) -> Result<()> {
    if client.list_agents().await?.iter().any(|a| a.name == name) {
        return Err(Coded::invalid(format!(
            "an agent named {name:?} exists: give the host another name, or delete the old agent first \
             (clawvault agent delete {name})"
        )));
    }
    Ok(())
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
