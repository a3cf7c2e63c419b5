//! `run_with_secrets`, the tool `clawvault mcp --allow-run` adds: runs a command on this
//! machine with secrets the agent may *use* as environment variables, and hands back its exit
//! code and output with every value (and the agent's own key) redacted. Off unless asked for:
//! the model chooses the command, so it could set out to print a value in a form no redaction
//! knows; redaction catches the accidental echo (a tool printing its configuration).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use clawvault_client::Client;
use clawvault_core::SecretValue;
use clawvault_core::redact::Redactor;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The tool's name.
pub const NAME: &str = "run_with_secrets";
/// Output kept of each stream; the rest is read and dropped.
const MAX_OUTPUT: usize = 1024 * 1024;
/// Deadline when the call names none, and the longest it may name.
const DEFAULT_TIMEOUT: u64 = 60;
const MAX_TIMEOUT: u64 = 600;
/// Variables one call may set from secrets.
const MAX_VARS: usize = 32;
/// What the command inherits from this process: enough to find programs and speak a locale,
/// never this process's own credentials (`CLAWVAULT_AGENT_KEY`).
const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

/// `run_with_secrets`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunWithSecrets {
    /// The program and its arguments, run without a shell, for example
    /// `["psql", "-h", "db", "-c", "select 1"]`.
    pub command: Vec<String>,
    /// Environment variables to set from secrets, by name: `{"PGPASSWORD": "db/password"}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run `command[0]` as a `sh -c` script instead (pipes, redirections); the rest of
    /// `command` become `$0`, `$1`, ...
    #[serde(default)]
    pub shell: bool,
    /// Seconds before the command is killed (default 60, at most 600).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Vault name or id (default: `--vault`, else the agent's only vault).
    #[serde(default)]
    pub vault: Option<String>,
}

/// The tool as `tools/list` shows it.
pub fn tool() -> Tool {
    Tool::new(
        NAME,
        "Run a command on the agent's machine with secrets in its environment (needs the use permission), without seeing them: name variables and the secret paths that fill them. Returns the exit code and output with every value redacted. No shell unless asked; killed after its timeout.",
        schema_for_type::<RunWithSecrets>(),
    )
}

fn failure(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

/// Runs one call.
pub async fn call(
    client: &Client,
    default_vault: Option<&str>,
    agent_key: &str,
    args: serde_json::Map<String, serde_json::Value>,
) -> CallToolResult {
    let args: RunWithSecrets = match serde_json::from_value(serde_json::Value::Object(args)) {
        Ok(a) => a,
        // serde's message may quote an argument; the model sent it, but nothing else learns it.
        Err(e) => return failure(format!("invalid request: {e}")),
    };
    if args.command.is_empty() || args.command[0].is_empty() {
        return failure("invalid request: command names no program");
    }
    if args.env.len() > MAX_VARS {
        return failure(format!("invalid request: env sets more than {MAX_VARS} variables"));
    }
    if let Some(bad) = args.env.keys().find(|k| !clawvault_core::env_bundle::is_name(k)) {
        return failure(format!("invalid request: {bad:?} is not an environment variable name"));
    }
    let timeout = args.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT);
    if !(1..=MAX_TIMEOUT).contains(&timeout) {
        return failure(format!("invalid request: timeout_seconds must be 1 to {MAX_TIMEOUT}"));
    }
    let vault = match vault_of(client, args.vault.as_deref().or(default_vault)).await {
        Ok(v) => v,
        Err(text) => return failure(text),
    };
    let mut values: Vec<(String, String, SecretValue)> = Vec::new();
    for (name, path) in &args.env {
        match client.use_secret(&vault, path).await {
            Ok(secret) => values.push((name.clone(), path.clone(), secret.value)),
            Err(e) => return failure(format!("{path}: {e}")),
        }
    }
    let mut known: Vec<(&str, &[u8])> = values.iter().map(|(_, p, v)| (p.as_str(), v.expose())).collect();
    known.push(("agent-key", agent_key.as_bytes()));
    let redactor = match Redactor::new(known) {
        Ok(r) => r,
        Err(e) => return failure(format!("server error: {e}")),
    };
    match execute(&args, &values, timeout).await {
        Ok(done) => {
            let out = redactor.redact_cut(&done.stdout, done.stdout_cut);
            let err = redactor.redact_cut(&done.stderr, done.stderr_cut);
            CallToolResult::success(vec![ContentBlock::text(
                json!({
                    "exit_code": done.code,
                    "signal": done.signal,
                    "timed_out": done.timed_out,
                    "stdout": String::from_utf8_lossy(&out),
                    "stderr": String::from_utf8_lossy(&err),
                    "stdout_truncated": done.stdout_cut,
                    "stderr_truncated": done.stderr_cut,
                    "secrets_used": values.iter().map(|(_, p, _)| p.as_str()).collect::<Vec<_>>(),
                })
                .to_string(),
            )])
        }
        Err(text) => failure(redactor.redact_str(&text)),
    }
}

/// The vault a call means: the one named, else the agent's only one.
async fn vault_of(client: &Client, named: Option<&str>) -> Result<String, String> {
    if let Some(v) = named.map(str::trim).filter(|v| !v.is_empty()) {
        return Ok(v.to_owned());
    }
    let me = client.whoami().await.map_err(|e| e.to_string())?;
    match me.vault_ids.as_deref().unwrap_or_default() {
        [one] => Ok(one.to_string()),
        _ => Err("invalid request: name the vault (the vault parameter, or start clawvault mcp with --vault)".into()),
    }
}

struct Done {
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_cut: bool,
    stderr_cut: bool,
}

async fn execute(
    args: &RunWithSecrets,
    values: &[(String, String, SecretValue)],
    timeout: u64,
) -> Result<Done, String> {
    let mut cmd = if args.shell {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").args(&args.command);
        c
    } else {
        let mut c = tokio::process::Command::new(&args.command[0]);
        c.args(&args.command[1..]);
        c
    };
    cmd.env_clear();
    for name in INHERITED {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    for (name, _, value) in values {
        cmd.env(name, std::ffi::OsStr::from_bytes(value.expose()));
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {:?}: {e}", args.command[0]))?;
    let pid = child.id();
    let out = tokio::spawn(bounded(child.stdout.take()));
    let err = tokio::spawn(bounded(child.stderr.take()));
    let (status, timed_out) = match tokio::time::timeout(Duration::from_secs(timeout), child.wait()).await {
        Ok(status) => (status.map_err(|e| format!("the command failed: {e}"))?, false),
        Err(_) => {
            // The whole process group: a shell's children too.
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
            }
            let _ = child.kill().await;
            (child.wait().await.map_err(|e| format!("the command failed: {e}"))?, true)
        }
    };
    let (stdout, stdout_cut) = out.await.unwrap_or_default();
    let (stderr, stderr_cut) = err.await.unwrap_or_default();
    Ok(Done { code: status.code(), signal: status.signal(), timed_out, stdout, stderr, stdout_cut, stderr_cut })
}

/// Everything a stream writes, keeping the first [`MAX_OUTPUT`] bytes.
async fn bounded(stream: Option<impl AsyncRead + Unpin>) -> (Vec<u8>, bool) {
    let Some(mut stream) = stream else { return (Vec::new(), false) };
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT - kept.len();
                if n > room {
                    kept.extend_from_slice(&buf[..room]);
                    cut = true;
                } else {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
    (kept, cut)
}
