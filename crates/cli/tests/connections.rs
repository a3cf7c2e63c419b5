//! Connections that go quiet are closed: a client that never finishes its request headers or
//! its body cannot hold a connection (and a file descriptor) forever. Traffic keeps a
//! connection open.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;

/// Reads until the server closes the connection; fails if that takes longer than `within`.
fn closed_by_server(mut conn: TcpStream, within: Duration) -> Vec<u8> {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    match conn.read_to_end(&mut got) {
        Ok(_) => got,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => got,
        Err(e) => panic!("the server kept a quiet connection open for {within:?}: {e}"),
    }
}

#[test]
fn quiet_connections_are_closed_and_busy_ones_are_not() {
    let s = TestServer::start_with_config("idle_timeout_seconds = 1\n");
    let addr = s.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();

    // Headers never finished.
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: clawvault\r\n").unwrap();
    let started = Instant::now();
    closed_by_server(conn, Duration::from_secs(15));
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the idle period");

    // A body announced and never sent.
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.write_all(b"PUT /v1/vaults/default/secrets/slow HTTP/1.1\r\nHost: clawvault\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    closed_by_server(conn, Duration::from_secs(15));

    // A connection that keeps talking stays open past the idle period.
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(500));
        conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: clawvault\r\n\r\n").unwrap();
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}
