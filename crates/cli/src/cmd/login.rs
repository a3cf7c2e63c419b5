//! `clawvault login` and `clawvault logout`: saved profiles.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::context::{Source, Target};
use crate::exit::Coded;
use crate::output;
use crate::profile::{Profile, Profiles};

/// `clawvault login`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault login --address https://vault.example.com:8420      # prompts for the API key
  clawvault login --address https://10.0.0.5:8420 --ca-cert server.pem --from-file admin.key
  pass show clawvault/key | clawvault login --profile staging --address https://staging:8420
  clawvault secret list prod --profile staging                 # or CLAWVAULT_PROFILE=staging

The key is checked against the server, then address, key and certificate are saved as the
profile (`default` unless --profile or CLAWVAULT_PROFILE names another) in
~/.config/clawvault/profiles.toml, mode 0600. Later commands use the profile from any directory.")]
pub struct LoginArgs {
    /// Read the API key from this file (otherwise from stdin, or a hidden prompt).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    #[command(flatten)]
    pub global: Global,
}

/// `clawvault logout`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault logout                       # forget the default profile
  clawvault logout --profile staging

The key itself keeps working: revoke it with `clawvault apikey delete` (or, for an agent,
`clawvault agent rotate-key`).")]
pub struct LogoutArgs {
    #[command(flatten)]
    pub global: Global,
}

/// Checks the key against the server and saves the profile.
///
/// # Errors
/// Unreachable server, rejected key, I/O.
pub async fn run(args: LoginArgs) -> Result<()> {
    let global = &args.global;
    // Logging in is how a profile comes to exist: a new name is no error here.
    let target = Target::resolve_with(global, true)?;
    // A new profile names its server: a key typed for prod must not go to whatever answers
    // on this machine's default address.
    if Profiles::load()?.get(&target.profile).is_none()
        && matches!(target.address_from, Source::LocalServer(_) | Source::Default)
    {
        return Err(Coded::invalid(format!(
            "say which server profile {} is for: `clawvault login --profile {} --address URL` (or set CLAWVAULT_ADDR)",
            target.profile, target.profile
        )));
    }
    let key = read_key(args.from_file.as_ref())?;
    let me = target.client_with_key(&key)?.whoami().await?;
    let ca_cert = match &target.ca {
        Some((pem, _)) => Some(
            String::from_utf8(pem.clone())
                .map_err(|_| Coded::invalid("the CA certificate is not PEM text: give the .pem file"))?,
        ),
        None => None,
    };
    let file = Profiles::save(
        &target.profile,
        Profile { address: target.address.clone(), api_key: key.to_string(), ca_cert },
    )?;
    let who = format!("{}:{}", me.kind, me.name);
    if global.json {
        output::json(&json!({
            "profile": target.profile,
            "address": target.address,
            "file": file,
            "principal": who,
            "identity": me,
        }))?;
    } else {
        println!(
            "Logged in to {} as {who}; saved as profile {} in {} (mode 0600).",
            target.address,
            target.profile,
            file.display()
        );
    }
    Ok(())
}

/// Forgets a profile.
///
/// # Errors
/// I/O.
pub fn logout(args: &LogoutArgs) -> Result<()> {
    let (name, _) = crate::context::profile_name(&args.global)?;
    let removed = Profiles::remove(&name)?;
    if args.global.json {
        output::json(&json!({ "profile": name, "removed": removed }))?;
    } else if removed {
        println!("Removed profile {name}. The key itself still works until it is revoked.");
    } else {
        println!("No profile {name} was saved; nothing to remove.");
    }
    Ok(())
}

fn read_key(from_file: Option<&PathBuf>) -> Result<Zeroizing<String>> {
    let raw = match from_file {
        Some(path) => return crate::context::read_key_file(path),
        None if std::io::stdin().is_terminal() => {
            Zeroizing::new(rpassword::prompt_password("API key (input hidden): ")?)
        }
        None => {
            let mut s = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
    };
    let key = Zeroizing::new(raw.trim().to_owned());
    if key.is_empty() {
        return Err(Coded::invalid("no API key given: pipe it in, or use --from-file FILE"));
    }
    Ok(key)
}
