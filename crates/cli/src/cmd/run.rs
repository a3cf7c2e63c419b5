//! `clawvault run -- CMD`: runs a command with secrets in its environment, fetched with the
//! `use` permission (the values go to the process, never to this command's own output), and
//! by default masks every value, and its encoded forms, in what the command prints: streamed
//! as it writes, holding back only an end that could still become a value. Signals reach the
//! command; its exit code is this command's (128 + the signal when a signal ended it). With
//! `--watch` the command is restarted when a secret it uses really changes.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use clawvault_client::{Client, HeldSecret};
use clawvault_core::SecretValue;
use clawvault_core::redact::Redactor;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

use super::split_reference;
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;

mod watch;

/// The file in the working directory that names a project's variables.
const PROJECT_FILE: &str = "clawvault.toml";
/// Variables that carry this command's own credentials: never passed to the command.
const OWN_CREDENTIALS: &[&str] = &["CLAWVAULT_API_KEY", "CLAWVAULT_API_KEY_FILE", "CLAWVAULT_AGENT_KEY"];

/// `clawvault run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault run --env OPENAI_API_KEY=prod/openai/api-key -- python bot.py
  clawvault run --env-bundle prod/discord-bot/env -- node index.js
  clawvault run --watch --env DISCORD_TOKEN=prod/bots/discord -- ./bot
  CLAWVAULT_API_KEY=\"$(cat agent.key)\" clawvault run -- ./bot      # variables from ./clawvault.toml

clawvault.toml in the working directory may name the variables:
  [env]
  OPENAI_API_KEY = \"prod/openai/api-key\"

The secrets need only the use permission. Output is masked unless --no-mask: every value, and
its base64, hex and percent-encoded forms, is shown as [REDACTED:VAULT/PATH]. Nothing starts
unless every secret could be read.")]
pub struct RunArgs {
    /// NAME=VAULT/PATH: set the variable NAME to that secret's value; repeat for more.
    #[arg(long = "env", value_name = "NAME=VAULT/PATH")]
    env: Vec<String>,
    /// VAULT/PATH of an env bundle (KEY=VALUE lines) or JSON secret: each of its keys becomes
    /// a variable; repeat for more.
    #[arg(long = "env-bundle", value_name = "VAULT/PATH")]
    bundles: Vec<String>,
    /// Mask the values in the command's output (the default).
    #[arg(long, overrides_with = "no_mask")]
    mask: bool,
    /// Pass the command's output through untouched.
    #[arg(long, overrides_with = "mask")]
    no_mask: bool,
    /// Restart the command when a secret it uses changes (and only then).
    #[arg(long)]
    watch: bool,
    /// --watch: the signal that asks the command to stop before a restart.
    #[arg(long, default_value = "TERM", value_name = "SIGNAL")]
    restart_signal: String,
    /// --watch: seconds the command has to exit after that signal before it is killed.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    grace: u64,
    /// --watch: the name this consumer has in the fleet view (default: run:COMMAND).
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    command: Vec<String>,
    #[command(flatten)]
    pub global: Global,
}

/// Where one variable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// One secret's value.
    Secret { name: String, vault: String, path: String },
    /// Every key of a bundle.
    Bundle { vault: String, path: String },
}

impl Source {
    fn reference(&self) -> String {
        match self {
            Self::Secret { vault, path, .. } | Self::Bundle { vault, path } => format!("{vault}/{path}"),
        }
    }
}

/// The secrets a run uses, and what they set.
#[derive(Debug)]
struct Plan {
    sources: Vec<Source>,
}

fn source_of(name: &str, reference: &str) -> Result<Source> {
    if !clawvault_core::env_bundle::is_name(name) {
        return Err(Coded::invalid(format!("{name:?} is not an environment variable name (letters, digits and _)")));
    }
    let (vault, path) = split_reference(reference)?;
    Ok(Source::Secret { name: name.to_owned(), vault: vault.to_owned(), path: path.to_owned() })
}

/// The variables of `clawvault.toml` in `dir`, if there is one.
fn project_file(dir: &Path) -> Result<Vec<Source>> {
    let file = dir.join(PROJECT_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else { return Ok(Vec::new()) };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Coded::invalid(format!("{}: {}", file.display(), e.message().trim())))?;
    let Some(env) = table.get("env") else { return Ok(Vec::new()) };
    let env = env.as_table().ok_or_else(|| Coded::invalid(format!("{}: [env] must be a table", file.display())))?;
    env.iter()
        .map(|(name, reference)| {
            let reference = reference.as_str().ok_or_else(|| {
                Coded::invalid(format!(
                    "{}: env.{name} must be a string such as \"prod/openai/api-key\"",
                    file.display()
                ))
            })?;
            source_of(name, reference)
        })
        .collect()
}

impl Plan {
    fn new(args: &RunArgs, dir: &Path) -> Result<Self> {
        let mut sources = project_file(dir)?;
        for spec in &args.env {
            let (name, reference) = spec.split_once('=').ok_or_else(|| {
                Coded::invalid(format!(
                    "--env {spec:?} is not NAME=VAULT/PATH, such as OPENAI_API_KEY=prod/openai/api-key"
                ))
            })?;
            // The command line wins over the file for the same name.
            sources.retain(|s| !matches!(s, Source::Secret { name: n, .. } if n == name));
            sources.push(source_of(name, reference)?);
        }
        for reference in &args.bundles {
            let (vault, path) = split_reference(reference)?;
            sources.push(Source::Bundle { vault: vault.to_owned(), path: path.to_owned() });
        }
        Ok(Self { sources })
    }

    /// Reads every secret: the variables and the values to mask, or the first failure (the
    /// command is never started with part of its environment).
    async fn fetch(&self, client: &Client) -> Result<Fetched> {
        let mut vars: BTreeMap<String, Zeroizing<String>> = BTreeMap::new();
        let mut masked: Vec<(String, SecretValue)> = Vec::new();
        let mut versions = Vec::new();
        for source in &self.sources {
            let reference = source.reference();
            let (vault, path) = match source {
                Source::Secret { vault, path, .. } | Source::Bundle { vault, path } => (vault, path),
            };
            let secret = client
                .use_secret(vault, path)
                .await
                .with_context(|| format!("{reference}: cannot be used, so the command was not started"))?;
            versions.push(HeldSecret { vault: vault.clone(), path: path.clone(), version: secret.version });
            let text = secret.value.expose_str().ok_or_else(|| {
                Coded::invalid(format!("{reference}: its value is not text, so it cannot be an environment variable"))
            })?;
            if text.contains('\0') {
                return Err(Coded::invalid(format!(
                    "{reference}: its value holds a NUL byte, which no environment variable can"
                )));
            }
            match source {
                Source::Secret { name, .. } => {
                    vars.insert(name.clone(), Zeroizing::new(text.to_owned()));
                }
                Source::Bundle { .. } => {
                    for (name, value) in bundle(&reference, &secret.secret_type, text)? {
                        masked.push((reference.clone(), SecretValue::from_str_value(&value)));
                        vars.insert(name, value);
                    }
                }
            }
            masked.push((reference, secret.value.clone()));
        }
        Ok(Fetched { vars, masked, versions })
    }
}

/// The variables of a bundle: `KEY=VALUE` lines, or a JSON object's keys.
fn bundle(reference: &str, secret_type: &str, text: &str) -> Result<Vec<(String, Zeroizing<String>)>> {
    if secret_type == "json" {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| Coded::invalid(format!("{reference}: a json secret that is not an object of fields")))?;
        return object
            .into_iter()
            .map(|(k, v)| {
                if !clawvault_core::env_bundle::is_name(&k) {
                    return Err(Coded::invalid(format!("{reference}: key {k:?} is not an environment variable name")));
                }
                let value = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                Ok((k, Zeroizing::new(value)))
            })
            .collect();
    }
    let vars = clawvault_core::env_bundle::parse(text).map_err(|e| Coded::invalid(format!("{reference}: {e}")))?;
    Ok(vars.into_iter().map(|(k, v)| (k, Zeroizing::new(v))).collect())
}

/// What one fetch gave.
struct Fetched {
    vars: BTreeMap<String, Zeroizing<String>>,
    /// Values to mask, by the reference shown in their place.
    masked: Vec<(String, SecretValue)>,
    /// The version of each secret read, for the fleet view.
    versions: Vec<HeldSecret>,
}

impl Fetched {
    fn redactor(&self, own_key: Option<&str>) -> Result<Redactor> {
        let mut known: Vec<(&str, &[u8])> = self.masked.iter().map(|(r, v)| (r.as_str(), v.expose())).collect();
        if let Some(key) = own_key {
            known.push(("api-key", key.as_bytes()));
        }
        Redactor::new(known).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

fn spawn(args: &RunArgs, fetched: &Fetched, mask: bool) -> Result<Child> {
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    for name in OWN_CREDENTIALS {
        cmd.env_remove(name);
    }
    for (name, value) in &fetched.vars {
        cmd.env(name, value.as_str());
    }
    cmd.stdin(Stdio::inherit());
    let (out, err) = if mask { (Stdio::piped(), Stdio::piped()) } else { (Stdio::inherit(), Stdio::inherit()) };
    cmd.stdout(out).stderr(err);
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Coded::not_found(format!("{}: no such command", args.command[0])),
        _ => anyhow::anyhow!("cannot start {}: {e}", args.command[0]),
    })
}

/// Copies `from` to this process's stdout (or stderr) with every value masked, a chunk at a
/// time as the command writes it.
fn relay(
    from: impl AsyncRead + Unpin + Send + 'static,
    redactor: Arc<Redactor>,
    to_stderr: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut from = from;
        let mut stream = redactor.stream();
        let mut buf = vec![0u8; 8192];
        let write = |bytes: &[u8]| {
            if bytes.is_empty() {
                return;
            }
            let _ = if to_stderr {
                let mut e = std::io::stderr().lock();
                e.write_all(bytes).and_then(|()| e.flush())
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(bytes).and_then(|()| o.flush())
            };
        };
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => write(&stream.push(&buf[..n])),
            }
        }
        write(&stream.finish());
    })
}

/// The signal named `raw` (`TERM`, `SIGTERM`, `15`).
fn signal_named(raw: &str) -> Result<rustix::process::Signal> {
    use rustix::process::Signal;
    let name = raw.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let by_name = match name {
        "TERM" => Some(Signal::TERM),
        "INT" => Some(Signal::INT),
        "HUP" => Some(Signal::HUP),
        "QUIT" => Some(Signal::QUIT),
        "USR1" => Some(Signal::USR1),
        "USR2" => Some(Signal::USR2),
        "KILL" => Some(Signal::KILL),
        _ => name.parse::<i32>().ok().and_then(Signal::from_named_raw),
    };
    by_name
        .ok_or_else(|| Coded::invalid(format!("{raw:?} is not a signal: use TERM, INT, HUP, QUIT, USR1, USR2 or KILL")))
}

/// Sends `sig` to the running command.
fn send(child: &Child, sig: rustix::process::Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// The exit code for how the command ended (a shell's: 128 + the signal for a killed one).
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        _ => 1,
    }
}

/// The signals relayed to the command, listened for before it starts: one that arrived
/// between its start and the listening would end this process with its default action and
/// leave the command running alone. Interrupt and quit typed at a terminal already reach the
/// command (it is in the terminal's foreground group), so they are relayed only when no
/// terminal sent them.
pub(super) struct Relayed {
    term: Signals,
    hup: Signals,
    int: Signals,
    quit: Signals,
    usr1: Signals,
    usr2: Signals,
    from_terminal: bool,
}

type Signals = tokio::signal::unix::Signal;

impl Relayed {
    /// Starts listening.
    pub(super) fn listen() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            from_terminal: std::io::stdin().is_terminal(),
        })
    }

    /// The next signal to relay.
    pub(super) async fn next(&mut self) -> rustix::process::Signal {
        use rustix::process::Signal;
        loop {
            tokio::select! {
                _ = self.term.recv() => return Signal::TERM,
                _ = self.hup.recv() => return Signal::HUP,
                _ = self.int.recv() => if !self.from_terminal { return Signal::INT },
                _ = self.quit.recv() => if !self.from_terminal { return Signal::QUIT },
                _ = self.usr1.recv() => return Signal::USR1,
                _ = self.usr2.recv() => return Signal::USR2,
            }
        }
    }
}

/// Relays signals to the command until it ends; returns how it ended.
async fn supervise(child: &mut Child, relayed: &mut Relayed) -> Result<ExitStatus> {
    loop {
        tokio::select! {
            status = child.wait() => return Ok(status?),
            sig = relayed.next() => send(child, sig),
        }
    }
}

/// Runs the command.
///
/// # Errors
/// A secret that cannot be used, a command that cannot start.
pub async fn run(args: RunArgs) -> Result<u8> {
    let mask = !args.no_mask;
    let restart = signal_named(&args.restart_signal)?;
    let dir = std::env::current_dir().context("reading the working directory")?;
    let plan = Plan::new(&args, &dir)?;
    if plan.sources.is_empty() {
        return Err(Coded::invalid(format!(
            "no secrets to inject: give --env NAME=VAULT/PATH or --env-bundle VAULT/PATH, or name them under [env] in ./{PROJECT_FILE}"
        )));
    }
    let target = context::Target::resolve(&args.global)?;
    let client = target.client()?;
    let own_key = target.key_text();
    let mut relayed = Relayed::listen()?;
    if args.watch {
        let own_key = own_key.as_ref().map(|k| k.as_str());
        return watch::run(&args, &plan, &client, own_key, mask, restart, relayed).await;
    }
    let fetched = plan.fetch(&client).await?;
    let redactor = Arc::new(fetched.redactor(own_key.as_ref().map(|k| k.as_str()))?);
    let mut child = spawn(&args, &fetched, mask)?;
    drop(fetched);
    let relays = if mask {
        let out = child.stdout.take().map(|o| relay(o, Arc::clone(&redactor), false));
        let err = child.stderr.take().map(|e| relay(e, Arc::clone(&redactor), true));
        vec![out, err].into_iter().flatten().collect()
    } else {
        Vec::new()
    };
    let status = supervise(&mut child, &mut relayed).await?;
    for r in relays {
        let _ = r.await;
    }
    Ok(exit_code(status))
}

/// This machine's name, as the fleet view shows it.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Stops the command for a restart: `sig`, then `grace`, then KILL.
async fn stop(child: &mut Child, sig: rustix::process::Signal, grace: Duration) {
    send(child, sig);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        send(child, rustix::process::Signal::KILL);
        let _ = child.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named_as_kill_names_them() {
        assert_eq!(signal_named("TERM").unwrap(), rustix::process::Signal::TERM);
        assert_eq!(signal_named("sighup").unwrap(), rustix::process::Signal::HUP);
        assert_eq!(signal_named("2").unwrap(), rustix::process::Signal::INT);
        assert!(signal_named("NOPE").is_err());
    }

    #[test]
    fn the_project_file_names_variables_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_FILE), "[env]\nA = \"prod/a\"\nB = \"prod/b\"\n").unwrap();
        let args = RunArgs {
            global: Global::default(),
            env: vec!["A=prod/other".into()],
            bundles: vec!["prod/bundle".into()],
            mask: false,
            no_mask: false,
            watch: false,
            restart_signal: "TERM".into(),
            grace: 10,
            consumer: None,
            command: vec!["true".into()],
        };
        let plan = Plan::new(&args, dir.path()).unwrap();
        let refs: Vec<String> = plan.sources.iter().map(Source::reference).collect();
        assert_eq!(refs, ["prod/b", "prod/other", "prod/bundle"]);
        std::fs::write(dir.path().join(PROJECT_FILE), "[env]\n\"1BAD\" = \"prod/a\"\n").unwrap();
        assert!(Plan::new(&RunArgs { env: vec![], bundles: vec![], ..args }, dir.path()).is_err());
    }

    #[test]
    fn bundles_are_env_lines_or_json_fields() {
        let lines = bundle("p/b", "env_bundle", "A=1\nexport B='two'\n").unwrap();
        assert_eq!(lines.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(), [("A", "1"), ("B", "two")]);
        let json = bundle("p/j", "json", r#"{"USER":"app","PORT":5432}"#).unwrap();
        assert_eq!(
            json.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
            [("PORT", "5432"), ("USER", "app")]
        );
        assert!(bundle("p/j", "json", r#"{"not a name":"x"}"#).is_err());
        let e = bundle("p/b", "env_bundle", "A=1\nnot a line\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("not a line"), "{e}");
    }
}
