//! `clawvault run --watch`: follows the event stream and restarts the command when a secret it
//! uses changed its value (a new version with the same value restarts nothing, nor does any
//! other secret's change). The stream is opened before the first read, so a change between
//! the two is not missed; a broken stream is reopened after the last event received.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clawvault_client::{Client, EventStream, SecretEvent, StreamEvent};
use rustix::process::Signal;
use tokio::process::Child;

use super::{Fetched, Plan, RunArgs, Source, exit_code, relay, send, spawn, stop};

/// Waits before reopening a broken stream, doubling up to the last.
const BACKOFF: [u64; 5] = [1, 2, 4, 8, 15];
/// How often the fleet view is told again what the command holds (it marks a consumer silent
/// after ten minutes).
const ACK_EVERY: Duration = Duration::from_secs(300);

/// Tells the fleet view which versions the command holds; a failure is reported, not fatal.
async fn ack(client: &Client, consumer: &str, fetched: &Fetched) {
    if let Err(e) = client.ack_consumers(consumer, &super::host_name(), &fetched.versions).await {
        eprintln!("clawvault run: cannot tell the fleet view which versions the command holds ({e})");
    }
}

/// Whether `event` is about a secret the plan uses.
fn concerns(plan: &Plan, event: &SecretEvent) -> bool {
    plan.sources.iter().any(|s| {
        let (Source::Secret { vault, path, .. } | Source::Bundle { vault, path }) = s;
        *path == event.path && (*vault == event.vault || *vault == event.vault_id.to_string())
    })
}

/// Whether two fetches would give the command a different environment.
fn differs(a: &Fetched, b: &Fetched) -> bool {
    a.vars.len() != b.vars.len() || a.vars.iter().zip(&b.vars).any(|((ka, va), (kb, vb))| ka != kb || va != vb)
}

struct Running {
    child: Child,
    relays: Vec<tokio::task::JoinHandle<()>>,
}

fn start(args: &RunArgs, fetched: &Fetched, own_key: Option<&str>, mask: bool) -> Result<Running> {
    let mut child = spawn(args, fetched, mask)?;
    let relays = if mask {
        let redactor = Arc::new(fetched.redactor(own_key)?);
        let out = child.stdout.take().map(|o| relay(o, Arc::clone(&redactor), false));
        let err = child.stderr.take().map(|e| relay(e, Arc::clone(&redactor), true));
        vec![out, err].into_iter().flatten().collect()
    } else {
        Vec::new()
    };
    Ok(Running { child, relays })
}

impl Running {
    async fn finish(self) {
        for r in self.relays {
            let _ = r.await;
        }
    }
}

/// The next event of `stream`, reopening it after `last` when it breaks.
async fn next_event(client: &Client, stream: &mut Option<EventStream>, last: &mut Option<i64>) -> StreamEvent {
    let mut attempt = 0;
    loop {
        if let Some(s) = stream.as_mut() {
            match s.next().await {
                Some(Ok(StreamEvent::Secret(e))) => {
                    *last = Some(e.seq);
                    return StreamEvent::Secret(e);
                }
                Some(Ok(other)) => return other,
                Some(Err(e)) => eprintln!("clawvault run: the event stream broke ({e}); reconnecting"),
                None => eprintln!("clawvault run: the event stream closed; reconnecting"),
            }
            *stream = None;
        }
        tokio::time::sleep(Duration::from_secs(BACKOFF[attempt.min(BACKOFF.len() - 1)])).await;
        attempt += 1;
        match client.events(None, *last).await {
            Ok(s) => *stream = Some(s),
            Err(e) => eprintln!("clawvault run: cannot follow changes ({e}); retrying"),
        }
    }
}

/// Runs the command, restarting it on every real change of its secrets.
///
/// # Errors
/// A secret that cannot be used at the start, a command that cannot start.
pub(super) async fn run(
    args: &RunArgs,
    plan: &Plan,
    client: &Client,
    own_key: Option<&str>,
    mask: bool,
    restart: Signal,
    mut relayed: super::Relayed,
) -> Result<u8> {
    let mut stream = Some(client.events(None, None).await?);
    let mut last = None;
    let mut fetched = plan.fetch(client).await?;
    let mut running = start(args, &fetched, own_key, mask)?;
    let program = std::path::Path::new(&args.command[0])
        .file_name()
        .map_or_else(|| args.command[0].clone(), |n| n.to_string_lossy().into_owned());
    let consumer = args.consumer.clone().unwrap_or_else(|| format!("run:{program}"));
    ack(client, &consumer, &fetched).await;
    let mut again = tokio::time::interval_at(tokio::time::Instant::now() + ACK_EVERY, ACK_EVERY);
    let grace = Duration::from_secs(args.grace);
    loop {
        tokio::select! {
            status = running.child.wait() => {
                let status = status?;
                running.relays.drain(..).for_each(drop);
                return Ok(exit_code(status));
            }
            sig = relayed.next() => send(&running.child, sig),
            _ = again.tick() => ack(client, &consumer, &fetched).await,
            event = next_event(client, &mut stream, &mut last) => {
                let relevant = match &event {
                    StreamEvent::Secret(e) => concerns(plan, e),
                    // Missed events: any may have been one of ours.
                    StreamEvent::Reset { .. } => true,
                    StreamEvent::End { message } => {
                        eprintln!("clawvault run: the server ended the event stream: {message}");
                        stream = None;
                        false
                    }
                };
                if !relevant {
                    continue;
                }
                let now = match plan.fetch(client).await {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("clawvault run: a secret changed but cannot be read ({e:#}); the command keeps its values");
                        continue;
                    }
                };
                if !differs(&fetched, &now) {
                    // Same values under new versions: the command holds those versions now.
                    if fetched.versions != now.versions {
                        fetched.versions = now.versions;
                        ack(client, &consumer, &fetched).await;
                    }
                    continue;
                }
                eprintln!("clawvault run: a secret changed; restarting the command");
                stop(&mut running.child, restart, grace).await;
                let old = std::mem::replace(&mut running, start(args, &now, own_key, mask)?);
                old.finish().await;
                fetched = now;
                ack(client, &consumer, &fetched).await;
            }
        }
    }
}
