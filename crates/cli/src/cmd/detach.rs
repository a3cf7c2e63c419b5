//! `clawvault server --detach`: the server in the background, and the command back only once
//! it answers, so that the next command (a script's, or a pasted README's) never races its
//! start. The same binary is started again without `--detach`; its banner (the first admin
//! key, on a first start) comes back through a pipe to this terminal, never into the log.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::exit::Coded;

/// Set in the background server's environment.
const CHILD_ENV: &str = "CLAWVAULT_DETACHED";
/// The line the background server prints after its banner: the starting command stops
/// reading there.
pub const READY: &str = "clawvault: ready";
/// How long a start may take (a first start makes keys; PostgreSQL may be slow to answer).
const START_LIMIT: Duration = Duration::from_secs(60);

/// Whether this process is the background server of `--detach`.
#[must_use]
pub fn is_detached_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Starts this same command without `--detach` in the background, relays its banner, and
/// returns once it answers.
///
/// # Errors
/// The server failing to start (with the end of its log), I/O.
pub fn start(data_dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let log_path = data_dir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let args: Vec<_> = std::env::args_os().skip(1).filter(|a| a != "--detach").collect();
    let exe = std::env::current_exe().context("finding the clawvault binary")?;
    let mut child = Command::new(exe)
        .args(args)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout().lock();
    loop {
        match rx.recv_timeout(START_LIMIT) {
            Ok(line) if line == READY => break,
            Ok(line) => {
                writeln!(out, "{line}")?;
            }
            Err(e) => {
                // Its output closed: it is ending on its own. Otherwise it took too long.
                if e == mpsc::RecvTimeoutError::Timeout {
                    let _ = child.kill();
                }
                let status = child.wait().ok().filter(|_| e == mpsc::RecvTimeoutError::Disconnected);
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
                return Err(Coded {
                    code: status.and_then(|s| s.code()).and_then(|c| u8::try_from(c).ok()).unwrap_or(1),
                    message: format!(
                        "the server did not start; the end of {}:\n{}",
                        log_path.display(),
                        tail.join("\n")
                    ),
                }
                .into());
            }
        }
    }
    writeln!(
        out,
        "Running in the background (pid {}); log: {}. Stop it with `kill {}`.",
        child.id(),
        log_path.display(),
        child.id()
    )?;
    out.flush()?;
    Ok(())
}
