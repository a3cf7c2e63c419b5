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

/// One answer read off `conn`, lower-cased (its head and what of its body came with it).
fn answer(conn: &mut TcpStream) -> String {
    let mut buf = [0u8; 8192];
    let n = conn.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase()
}

/// A request refused on its headers (authentication comes before the body), whose body the
/// client sent in a write of its own, gets its answer and keeps its connection for the next
/// request. The server used to answer at once and close the connection with the body unread:
/// the kernel then reset it, throwing the answer away ("server disconnected without sending a
/// response", seen from the MCP SDK's OAuth flow under load). A body too large to be read first
/// that is left unread gets `Connection: close`.
#[test]
fn a_request_refused_before_its_body_was_read_keeps_its_answer_and_its_connection() {
    let s = TestServer::start();
    let addr = s.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let put = |length: usize| {
        format!(
            "PUT /v1/vaults/default/secrets/kept HTTP/1.1\r\nHost: clawvault\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\n\r\n"
        )
    };
    let body = r#"{"value":"v"}"#;
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..3 {
        conn.write_all(put(body.len()).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        conn.write_all(body.as_bytes()).unwrap();
        let refused = answer(&mut conn);
        assert!(refused.starts_with("http/1.1 401") && !refused.contains("connection: close"), "{refused}");
    }

    let large = format!(r#"{{"value":"{}"}}"#, "v".repeat(100 * 1024));
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(format!("{}{large}", put(large.len())).as_bytes()).unwrap();
    let refused = answer(&mut conn);
    assert!(refused.starts_with("http/1.1 401") && refused.contains("connection: close"), "{refused}");
}
