//! `clawvault agent enroll`: the agent's side of enrollment. A fresh Ed25519 key pair proves
//! that whoever collects the key is whoever asked; the private half never leaves this process,
//! and the agent's key goes straight into a profile or a 0600 file, never to the screen.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use clawvault_client::{ClientError, EnrollmentRequest};
use clawvault_core::enrollment::possession_message;
use serde_json::json;

use super::parse_duration;
use crate::cli::Global;
use crate::context::Target;
use crate::exit::{Coded, FORBIDDEN, GONE};
use crate::output;
use crate::profile::{Profile, Profiles};

/// How often the request is polled while it waits for a user.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// `clawvault agent enroll`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault agent enroll ci-runner --address https://vault.example.com:8420 --profile ci
  clawvault agent enroll nightly-bot --description 'release notes' --key-file bot.key
  clawvault agent enroll ci-runner --wait 10m --json

Run this where the agent runs. It asks the server to enroll an agent, prints the pairing id
and the fingerprint of a key pair made for this request, and waits while a user checks the
fingerprint (`clawvault agent pending`) and approves (`clawvault agent approve PAIRING_ID`).
The agent's key is then saved as the profile (a new one) or in --key-file, mode 0600; it is
never printed.")]
pub struct EnrollArgs {
    /// The name to ask for.
    pub name: String,
    /// What the agent is for, shown to whoever approves.
    #[arg(long)]
    pub description: Option<String>,
    /// Write the key to this new file (mode 0600) instead of saving a profile.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Stop waiting after this long (e.g. 10m, 1h); by default until the request lapses.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
}

/// Asks to be enrolled, waits for a user's answer, and keeps the key.
///
/// # Errors
/// A profile that already holds a login, an existing key file, a denied or lapsed request,
/// client errors.
pub async fn run(global: &Global, args: EnrollArgs) -> Result<()> {
    let target = Target::resolve_with(global, true)?;
    let profiles = Profiles::load()?;
    if args.key_file.is_none() && profiles.get(&target.profile).is_some() {
        return Err(Coded::invalid(format!(
            "profile {} already holds a login: enroll into a new one with --profile NAME, or into a file \
             with --key-file FILE",
            target.profile
        )));
    }
    // Made now, before anything is asked: a file that cannot be made must not lose a key that
    // is handed out only once.
    let mut key_file = args.key_file.as_deref().map(KeyFile::create).transpose()?;
    let deadline = args
        .wait
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|d| Instant::now() + Duration::from_secs(u64::try_from(d.whole_seconds()).unwrap_or(0)));

    let pair = Ed25519KeyPair::generate().map_err(|_| anyhow::anyhow!("cannot make a key pair"))?;
    let client = target.anonymous(&target.address)?;
    let started = client
        .request_enrollment(&EnrollmentRequest {
            name: args.name.clone(),
            description: args.description.clone(),
            public_key: ssh_line(pair.public_key().as_ref(), &args.name),
        })
        .await?;
    let pairing = started.pairing_id;
    let asked = format!(
        "Asked {} to enroll agent {}.\nPairing id:  {pairing}\nFingerprint: {}\n\
         A user approves it with `clawvault agent approve {pairing}` after checking that \
         `clawvault agent pending` shows this fingerprint.\nWaiting for an answer (Ctrl-C gives up)...",
        target.address,
        output::printable(&args.name),
        started.fingerprint
    );
    if global.json {
        eprintln!("{asked}");
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{asked}")?;
        out.flush()?;
    }

    let signature = STANDARD.encode(pair.sign(possession_message(pairing).as_bytes()).as_ref());
    let spinner = waiting_spinner();
    let (agent_id, key) = loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            spinner.finish_and_clear();
            return Err(Coded {
                code: crate::exit::ERROR,
                message: format!(
                    "still pending after {}: nobody approved it yet; enroll again when a user is at hand",
                    args.wait.unwrap_or_default()
                ),
            }
            .into());
        }
        match client.enrollment_status(pairing, &started.poll_token, &signature).await {
            Ok(s) => match (s.status.as_str(), s.api_key, s.agent_id) {
                ("approved", Some(key), Some(id)) => break (id, key),
                ("approved", _, _) => {
                    spinner.finish_and_clear();
                    return Err(Coded::invalid("approved, but the key was already collected by an earlier poll"));
                }
                ("denied", _, _) => {
                    spinner.finish_and_clear();
                    return Err(Coded { code: FORBIDDEN, message: "a user denied the enrollment".into() }.into());
                }
                ("expired", _, _) => {
                    spinner.finish_and_clear();
                    return Err(Coded {
                        code: GONE,
                        message: "the request lapsed before anyone approved it: enroll again".into(),
                    }
                    .into());
                }
                _ => {}
            },
            Err(ClientError::RateLimited { retry_after, .. }) => {
                tokio::time::sleep(Duration::from_secs(retry_after.min(60))).await;
            }
            Err(e) => {
                spinner.finish_and_clear();
                return Err(e.into());
            }
        }
        spinner.tick();
        tokio::time::sleep(POLL_EVERY).await;
    };
    spinner.finish_and_clear();

    let saved = match key_file.take() {
        Some(file) => {
            let path = file.keep(&key)?;
            json!({ "key_file": path })
        }
        _ => {
            let ca_cert = target.ca.as_ref().and_then(|(pem, _)| String::from_utf8(pem.clone()).ok());
            let profile = Profile { address: target.address.clone(), api_key: key.to_string(), ca_cert };
            match Profiles::save_new(&target.profile, profile)? {
                Some(file) => json!({ "profile": target.profile, "file": file }),
                None => {
                    // A login took the name while we waited: keep the key beside it, not over it.
                    let path = crate::profile::config_dir().join(format!("{}-{pairing}.key", target.profile));
                    KeyFile::create(&path)?.keep(&key)?;
                    eprintln!(
                        "Profile {} was saved by another command meanwhile; the agent's key is in {} instead.",
                        target.profile,
                        path.display()
                    );
                    json!({ "key_file": path })
                }
            }
        }
    };
    let principal = format!("agent:{}", args.name);
    if global.json {
        let mut out = json!({ "principal": principal, "agent_id": agent_id, "pairing_id": pairing });
        if let (Some(o), Some(s)) = (out.as_object_mut(), saved.as_object()) {
            o.extend(s.clone());
        }
        output::json(&out)?;
    } else {
        let place = match saved["key_file"].as_str() {
            Some(p) => format!("the key is in {p} (mode 0600)"),
            None => format!(
                "saved as profile {} (use it with --profile {} or CLAWVAULT_PROFILE={})",
                target.profile, target.profile, target.profile
            ),
        };
        println!("Approved: enrolled as {} ({agent_id}); {place}.", output::printable(&principal));
        println!("It can read nothing until a policy grants it access.");
    }
    Ok(())
}

/// The public key as an OpenSSH line, the form the server shows as a fingerprint.
fn ssh_line(public_key: &[u8], comment: &str) -> String {
    let mut blob = Vec::new();
    for part in [b"ssh-ed25519".as_slice(), public_key] {
        blob.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        blob.extend_from_slice(part);
    }
    let comment: String = comment.chars().filter(char::is_ascii_graphic).collect();
    format!("ssh-ed25519 {} {comment}", STANDARD.encode(blob))
}

/// A spinner on stderr while waiting, when someone is watching at a terminal.
fn waiting_spinner() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("waiting for a user to approve");
    spinner
}

/// The file the key will go to: made (0600, new: nothing there, not even a dangling link)
/// before the request, removed again unless the key is written into it.
struct KeyFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl KeyFile {
    fn create(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
            Coded::invalid(format!("cannot create {} for the key ({e}): give a new file", path.display()))
        })?;
        Ok(Self { path: path.to_owned(), file: Some(file) })
    }

    /// Writes the key and keeps the file; returns its path.
    fn keep(mut self, key: &str) -> Result<PathBuf> {
        let Some(mut file) = self.file.take() else {
            return Err(anyhow::anyhow!("the key file was already written"));
        };
        if let Err(e) = file.write_all(format!("{key}\n").as_bytes()).and_then(|()| file.sync_all()) {
            let _ = std::fs::remove_file(&self.path);
            return Err(e).with_context(|| format!("writing the key to {}", self.path.display()));
        }
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
