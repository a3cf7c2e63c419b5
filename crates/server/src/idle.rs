//! Connections that go quiet are closed. Without this, a client that opens a connection and
//! never finishes its request headers (or its body) holds a connection and a file descriptor
//! forever, and enough of them exhaust the server's descriptors. Any byte read or written
//! restarts the clock, so a keep-alive connection between requests and a request whose
//! handler is still working are affected only after a full idle period without traffic.
//!
//! A handler that waits on something bounded by deadlines of its own (a proxied call waiting
//! minutes for a model's answer) [`IdleHold::hold`]s its connection: the idle clock does not
//! close it while the hold lasts.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A listener whose connections close after a period without traffic (`idle_timeout_seconds`).
#[derive(Debug)]
pub struct IdleListener<L> {
    inner: L,
    idle: Duration,
}

impl<L> IdleListener<L> {
    /// Wraps `inner`; its connections close after `idle` without traffic.
    pub fn new(inner: L, idle: Duration) -> Self {
        Self { inner, idle }
    }
}

impl<L: Listener> Listener for IdleListener<L>
where
    L::Io: Unpin,
{
    type Io = IdleStream<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        (IdleStream::new(io, self.idle), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Keeps a connection open past its idle period while any [`Held`] of it lives; given to each
/// request on the connection as an extension.
#[derive(Debug, Clone, Default)]
pub struct IdleHold(Arc<AtomicUsize>);

impl IdleHold {
    /// Holds the connection open until the returned guard is dropped.
    #[must_use]
    pub fn hold(&self) -> Held {
        self.0.fetch_add(1, Ordering::AcqRel);
        Held(Arc::clone(&self.0))
    }

    fn held(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

/// A hold on a connection (see [`IdleHold`]).
#[derive(Debug)]
pub struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection whose idle clock can be held (see [`IdleHold`]).
pub trait Holdable {
    /// The connection's hold.
    fn idle_hold(&self) -> IdleHold;
}

/// A stream that fails with `TimedOut` once it has carried nothing for its idle period.
#[derive(Debug)]
pub struct IdleStream<S> {
    io: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    hold: IdleHold,
}

impl<S> Holdable for IdleStream<S> {
    fn idle_hold(&self) -> IdleHold {
        self.hold.clone()
    }
}

impl<S> IdleStream<S> {
    fn new(io: S, idle: Duration) -> Self {
        Self { io, idle, deadline: Box::pin(tokio::time::sleep(idle)), hold: IdleHold::default() }
    }

    fn progressed(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// While the stream waits: whether the idle period has run out (the waker is registered
    /// with the timer otherwise). A hold keeps a connection whose server side is busy open;
    /// it does not keep one whose client stopped reading (`writing`).
    fn expired(&mut self, cx: &mut Context<'_>, writing: bool) -> bool {
        while self.deadline.as_mut().poll(cx).is_ready() {
            if writing || !self.hold.held() {
                return true;
            }
            // Held: a new period starts (and is polled, so the waker is registered again).
            self.progressed();
        }
        false
    }

    /// What a write returned, with the clock restarted by progress and a wait past the idle
    /// period turned into an error.
    fn wrote(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx, true) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx, false) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_times_out_and_traffic_keeps_it_open() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleStream::new(server, Duration::from_secs(30));
        let mut client = client;
        let mut buf = [0u8; 8];

        // Bytes every 20 s keep it open past 30 s.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            client.write_all(b"x").await.unwrap();
            assert_eq!(server.read(&mut buf).await.unwrap(), 1);
        }
        // Then silence: the read fails once the idle period has passed.
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_does_not_keep_a_client_that_stopped_reading() {
        let (_client, server) = tokio::io::duplex(16);
        let mut server = IdleStream::new(server, Duration::from_secs(30));
        let _held = server.idle_hold().hold();
        let err = server.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_connection_outlives_its_idle_period_until_released() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleStream::new(server, Duration::from_secs(30));
        let _client = client;
        let held = server.idle_hold().hold();
        let mut buf = [0u8; 8];
        let quiet = tokio::time::timeout(Duration::from_secs(95), server.read(&mut buf)).await;
        assert!(quiet.is_err(), "still open, still waiting, after three idle periods");
        drop(held);
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
