//! The connection loop (in place of `axum::serve`, which sets no timer, so that hyper's
//! header deadline never applied): every connection's request headers must arrive within
//! `header_timeout_seconds`, and connections are capped in all and per client address, so
//! that neither slow clients nor many of them can exhaust the server's file descriptors.
//! Connections over a cap are closed at once; a client from another address still gets in.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::idle::Holdable;
use crate::tls::PeerAddr;

/// How many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// In all.
    pub total: usize,
    /// From one client address.
    pub per_address: usize,
    /// For a connection's request headers to arrive.
    pub header_timeout: Duration,
    /// For a request's body to arrive.
    pub body_timeout: Duration,
}

/// How long a request's body may take to arrive, given to every request (the JSON body
/// extractor gives up after it).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Open connections, counted for the caps.
#[derive(Debug, Clone)]
struct Counter {
    limits: ConnectionLimits,
    open: Arc<Mutex<Open>>,
}

/// Held by a connection's task; gives its place back when dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

impl Counter {
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_ip = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.limits.total || from_ip >= self.limits.per_address {
            return None;
        }
        open.total += 1;
        *open.by_address.entry(ip).or_default() += 1;
        Some(Slot { open: Arc::clone(&self.open), ip })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests (graceful shutdown) and returns.
///
/// # Errors
/// Never at present; kept for listeners that may fail for good.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: Holdable,
{
    let counter = Counter { limits, open: Arc::new(Mutex::new(Open::default())) };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Some(slot) = counter.admit(peer.ip()) else {
            tracing::debug!(peer = %peer, "connection refused: too many open connections");
            drop(io);
            continue;
        };
        let body_deadline = BodyDeadline(limits.body_timeout);
        let hold = io.idle_hold();
        let service = router.clone().map_request(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
            req.extensions_mut().insert(body_deadline);
            req.extensions_mut().insert(hold.clone());
            req.map(axum::body::Body::new)
        });
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let _done = done;
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
            builder.http2().timer(TokioTimer::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    // Every connection task holds a `done` sender: when the last one ends, this returns.
    let _ = done_rx.changed().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_in_all_and_per_address() {
        let counter = Counter {
            limits: ConnectionLimits {
                total: 3,
                per_address: 2,
                header_timeout: Duration::from_secs(1),
                body_timeout: Duration::from_secs(1),
            },
            open: Arc::new(Mutex::new(Open::default())),
        };
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = counter.admit(a).unwrap();
        let _second = counter.admit(a).unwrap();
        assert!(counter.admit(a).is_none(), "per address");
        let _third = counter.admit(b).unwrap();
        assert!(counter.admit(b).is_none(), "in all");
        drop(first);
        assert!(counter.admit(a).is_some(), "a closed connection gives its place back");
    }
}
