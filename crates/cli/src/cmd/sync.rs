//! `clawvault sync --config FILE`: a daemon for hosts (what agenix or Vault Agent do), as an
//! agent that may `use` its secrets. It writes one file per secret (or a rendered template)
//! with strict modes, replaced atomically; follows the event stream and rewrites an output only
//! when its bytes change, running that output's `on_change` then and only then; falls back to
//! polling with backoff while the server cannot be reached; keeps the last good outputs in an
//! offline cache encrypted with a key derived from its agent key, so that a restart while the
//! server is down still renders them; and tells the fleet view which versions it holds.
//! `--once` renders and exits (boot units).

mod config;
mod credentials;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use clap::Args;
use clawvault_client::{Client, HeldSecret, StreamEvent};
use clawvault_core::crypto::{self, DataKey};
use clawvault_core::template::Reference;
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

use self::config::{Config, Content, Output, TokenForm};
use super::inject;
use crate::context;
use crate::exit::Coded;
use crate::files;

/// `clawvault sync`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault sync --config /etc/clawvault/sync.toml
  clawvault sync --config /etc/clawvault/sync.toml --once     # render and exit (a boot unit)

The configuration (TOML):
  address = \"https://vault.example.com:8420\"
  key_file = \"/etc/clawvault/agent.key\"      # an agent key that may use the secrets
  cache_dir = \"/var/cache/clawvault\"          # the encrypted offline cache
  credential_socket = \"/run/clawvault/credentials.sock\"   # for LoadCredential= (optional)
  [[file]]
  path = \"/run/secrets/discord-token\"
  secret = \"prod/bots/discord\"
  mode = \"0400\"
  owner = \"discord-bot\"
  on_change = \"systemctl restart discord-bot\"
  [[template]]
  source = \"/etc/clawvault/bot.env.tpl\"      # {{ cv://prod/db#password }} references
  path = \"/run/bot/bot.env\"
  [[credential]]                              # served on the socket, never written
  unit = \"discord-bot.service\"
  id = \"discord-token\"
  secret = \"prod/bots/discord\"

See docs/hosts.md for systemd and NixOS.")]
pub struct SyncArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Render every output once and exit (non-zero if any could not be rendered).
    #[arg(long)]
    once: bool,
}

/// The offline cache's file in `cache_dir`.
const CACHE_FILE: &str = "sync-cache.sealed";
/// What binds the cache's ciphertext to its use.
const CACHE_AAD: &[u8] = b"clawvault sync offline cache v1";
/// Waits between attempts while the server cannot be reached, growing to the last.
const BACKOFF: [u64; 6] = [1, 2, 4, 8, 15, 30];
/// How often the fleet view is told again what this daemon holds.
const ACK_EVERY: Duration = Duration::from_secs(300);
/// How often minted GitHub tokens are asked for again: the server hands out the same token
/// until five minutes before it expires, then a new one, which replaces the file.
const TOKENS_EVERY: Duration = Duration::from_secs(60);

fn is_minted(o: &Output) -> bool {
    matches!(o.content, Content::GithubToken { .. })
}

fn log(message: &str) {
    eprintln!("clawvault sync: {message}");
}

/// One output rendered: its bytes and the versions they came from.
struct Rendered {
    bytes: Zeroizing<Vec<u8>>,
    versions: Vec<HeldSecret>,
}

async fn render(client: &Client, output: &Output) -> Result<Rendered> {
    let mut read = HashMap::new();
    let bytes = match &output.content {
        // A whole value as it is: a file may hold bytes that are not text.
        Content::Secret { vault, path, field: None } => {
            Zeroizing::new(inject::secret(client, &mut read, vault, path).await?.value.expose().to_vec())
        }
        Content::Secret { vault, path, field: Some(f) } => {
            let r = Reference { vault: vault.clone(), path: path.clone(), field: Some(f.clone()) };
            Zeroizing::new(inject::resolve(client, &mut read, &r).await?.as_bytes().to_vec())
        }
        Content::Template(t) => Zeroizing::new(inject::render(client, t, &mut read).await?.as_bytes().to_vec()),
        Content::GithubToken { vault, path, request, form } => {
            let minted = client.github_token(vault, path, request).await?;
            if !clawvault_core::github_app::is_token(&minted.token) {
                anyhow::bail!("the server answered with something that is not a GitHub token");
            }
            token_file(&minted.token, form)
        }
    };
    let versions = read.into_iter().map(|((vault, path), s)| HeldSecret { vault, path, version: s.version }).collect();
    Ok(Rendered { bytes, versions })
}

/// A minted token as the file its readers expect.
fn token_file(token: &str, form: &TokenForm) -> Zeroizing<Vec<u8>> {
    let text = match form {
        TokenForm::Env => format!("GITHUB_TOKEN={token}\nGH_TOKEN={token}\n"),
        TokenForm::GhHosts(host) => format!("{host}:\n    oauth_token: {token}\n    git_protocol: https\n"),
    };
    Zeroizing::new(text.into_bytes())
}

/// Writes `bytes` to the output if they differ from what is there, then runs its
/// `on_change`; returns whether it wrote. A credential is served from memory, never written.
async fn apply(output: &Output, bytes: &[u8], served: &credentials::Served) -> Result<bool> {
    if let Some(key) = &output.credential {
        let mut map = served.write().map_err(|_| anyhow::anyhow!("the credential table is poisoned"))?;
        let changed = map.get(key).is_none_or(|old| old.as_slice() != bytes);
        map.insert(key.clone(), Zeroizing::new(bytes.to_vec()));
        return Ok(changed);
    }
    if std::fs::read(&output.path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    if let Some(dir) = output.path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    files::write_atomic(&output.path, bytes, output.mode, output.owner)?;
    // clawvault wrote it: `bundle install` and `inject` may replace it without --force.
    files::remember(&output.path);
    if let Some(command) = &output.on_change {
        match tokio::process::Command::new("sh").arg("-c").arg(command).status().await {
            Ok(s) if s.success() => {}
            Ok(s) => log(&format!("on_change of {} exited with {s}", output.path.display())),
            Err(e) => log(&format!("on_change of {} could not start: {e}", output.path.display())),
        }
    }
    Ok(true)
}

/// The daemon's state.
struct Daemon {
    config: Config,
    client: Client,
    cache_key: DataKey,
    /// The last good bytes of each output.
    outputs: BTreeMap<PathBuf, Zeroizing<Vec<u8>>>,
    /// What each output was rendered from.
    versions: BTreeMap<PathBuf, Vec<HeldSecret>>,
    /// The credentials served on the socket.
    served: credentials::Served,
}

impl Daemon {
    fn cache_path(&self) -> PathBuf {
        self.config.cache_dir.join(CACHE_FILE)
    }

    fn save_cache(&self) {
        let map: BTreeMap<String, String> = self
            .outputs
            .iter()
            .map(|(p, b)| (p.display().to_string(), base64::engine::general_purpose::STANDARD.encode(b.as_slice())))
            .collect();
        let Ok(plain) = serde_json::to_vec(&map).map(Zeroizing::new) else { return };
        let sealed = match crypto::seal(&self.cache_key, &plain, CACHE_AAD) {
            Ok(s) => s,
            Err(e) => return log(&format!("cannot seal the offline cache: {e}")),
        };
        if let Err(e) = files::make_private_dir(&self.config.cache_dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| files::write_atomic(&self.cache_path(), &sealed, 0o600, None))
        {
            log(&format!("cannot write the offline cache: {e}"));
        }
    }

    fn load_cache(&self) -> Option<BTreeMap<PathBuf, Zeroizing<Vec<u8>>>> {
        let sealed = std::fs::read(self.cache_path()).ok()?;
        let plain = match crypto::open(&self.cache_key, &sealed, CACHE_AAD, "offline cache") {
            Ok(p) => p,
            Err(_) => {
                log("the offline cache does not open with this agent key (re-keyed?); it is ignored");
                return None;
            }
        };
        let map: BTreeMap<String, String> = serde_json::from_slice(&plain).ok()?;
        Some(
            map.into_iter()
                .filter_map(|(p, b)| {
                    Some((PathBuf::from(p), Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(b).ok()?)))
                })
                .collect(),
        )
    }

    /// Renders the outputs `which` selects and writes those whose bytes changed; returns how
    /// many could not be rendered.
    async fn refresh(&mut self, which: impl Fn(&Output) -> bool) -> usize {
        let mut failed = 0;
        let mut changed = false;
        for output in self.config.outputs.clone().iter().filter(|o| which(o)) {
            match render(&self.client, output).await {
                Ok(r) => {
                    match apply(output, &r.bytes, &self.served).await {
                        Ok(wrote) => changed |= wrote,
                        Err(e) => {
                            log(&format!("{e:#}"));
                            failed += 1;
                            continue;
                        }
                    }
                    self.outputs.insert(output.path.clone(), r.bytes);
                    self.versions.insert(output.path.clone(), r.versions);
                }
                Err(e) => {
                    log(&format!("{}: {e:#}; the file keeps its last content", output.path.display()));
                    failed += 1;
                }
            }
        }
        if changed || failed == 0 {
            self.save_cache();
        }
        failed
    }

    /// Writes the cached outputs (the server cannot be reached).
    async fn render_cached(&mut self) -> bool {
        let Some(cached) = self.load_cache() else { return false };
        // Minted tokens are not written back from the cache: by now they may have expired.
        for output in self.config.outputs.iter().filter(|o| !is_minted(o)) {
            if let Some(bytes) = cached.get(&output.path)
                && let Err(e) = apply(output, bytes, &self.served).await
            {
                log(&format!("{e:#}"));
            }
        }
        self.outputs = cached;
        log("rendered the outputs from the offline cache");
        true
    }

    async fn ack(&self) {
        let mut held: Vec<HeldSecret> = self.versions.values().flatten().cloned().collect();
        held.sort_by(|a, b| (&a.vault, &a.path).cmp(&(&b.vault, &b.path)));
        held.dedup();
        if held.is_empty() {
            return;
        }
        if let Err(e) = self.client.ack_consumers(&self.config.consumer, &super::run::host_name(), &held).await {
            log(&format!("cannot tell the fleet view which versions this host holds ({e})"));
        }
    }
}

/// Runs the daemon (or, with `--once`, one rendering).
///
/// # Errors
/// A bad configuration or key file; with `--once`, outputs that could not be rendered.
pub async fn run(args: SyncArgs) -> Result<()> {
    let config = config::load(&args.config)?;
    let key = context::read_key_file(&config.key_file)?;
    let mut builder = Client::builder(&config.address).api_key(&key);
    if let Some(ca) = &config.ca_cert {
        builder = builder.ca_certificate_pem(std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?);
    }
    let client = builder.build().map_err(|e| Coded::invalid(e.to_string()))?;
    let cache_key = clawvault_core::keyring::key_from_credential(key.as_bytes(), b"sync offline cache v1");
    drop(key);
    let served = credentials::Served::default();
    if let (Some(socket), false) = (&config.credential_socket, args.once) {
        credentials::serve(socket, std::sync::Arc::clone(&served), log)?;
    }
    let mut daemon = Daemon { config, client, cache_key, outputs: BTreeMap::new(), versions: BTreeMap::new(), served };

    // Follow first, render second: a change in between is then an event, not a gap.
    let mut stream = if args.once { None } else { daemon.client.events(None, None).await.ok() };
    let failed = daemon.refresh(|_| true).await;
    let rendered_all = failed == 0;
    if failed == daemon.config.outputs.len() && !daemon.render_cached().await && args.once {
        return Err(anyhow::anyhow!("no output could be rendered, and there is no offline cache"));
    }
    daemon.ack().await;
    if args.once {
        return if rendered_all {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{failed} output(s) could not be rendered (see above)"))
        };
    }
    log(&format!("keeping {} output(s) up to date", daemon.config.outputs.len()));

    let mut last_seq: Option<i64> = None;
    let mut attempt = 0usize;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut again = tokio::time::interval_at(tokio::time::Instant::now() + ACK_EVERY, ACK_EVERY);
    let mut tokens = tokio::time::interval_at(tokio::time::Instant::now() + TOKENS_EVERY, TOKENS_EVERY);
    let has_tokens = daemon.config.outputs.iter().any(is_minted);
    loop {
        let Some(s) = stream.as_mut() else {
            // Polling with backoff until the event stream is back; every attempt renders.
            let wait = Duration::from_secs(BACKOFF[attempt.min(BACKOFF.len() - 1)]);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
            }
            attempt += 1;
            if let Ok(s) = daemon.client.events(None, last_seq).await {
                log("following changes again");
                stream = Some(s);
                attempt = 0;
            }
            if daemon.refresh(|_| true).await == 0 {
                daemon.ack().await;
            }
            continue;
        };
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = again.tick() => daemon.ack().await,
            _ = tokens.tick(), if has_tokens => {
                daemon.refresh(is_minted).await;
            }
            got = s.next() => match got {
                Some(Ok(StreamEvent::Secret(e))) => {
                    last_seq = Some(e.seq);
                    let touched = |o: &Output| o.secrets().iter().any(|(v, p)| *p == e.path && (*v == e.vault || *v == e.vault_id.to_string()));
                    if daemon.config.outputs.iter().any(touched) {
                        daemon.refresh(touched).await;
                        daemon.ack().await;
                    }
                }
                Some(Ok(StreamEvent::Reset { .. })) => {
                    daemon.refresh(|_| true).await;
                    daemon.ack().await;
                }
                Some(Ok(StreamEvent::End { message })) => {
                    log(&format!("the server ended the event stream: {message}"));
                    stream = None;
                }
                Some(Err(e)) => {
                    log(&format!("the event stream broke ({e}); polling until it is back"));
                    stream = None;
                }
                None => {
                    log("the event stream closed; polling until it is back");
                    stream = None;
                }
            },
        }
    }
}
