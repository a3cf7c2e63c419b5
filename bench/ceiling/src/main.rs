//! The benchmark ceiling: the least an HTTP server on this stack can do per request (axum,
//! one route, a fixed 200-byte JSON body). clawvault's figures are reported as a share of it.
//!
//! Run: `clawvault-bench-ceiling 127.0.0.1:8499`, then load `GET /` with wrk.

use axum::Router;
use axum::http::header;
use axum::routing::get;

const BODY: &str = concat!(
    r#"{"id":"0b9f6a34-2c11-4f59-9e77-1a2b3c4d5e6f","path":"bench","type":"generic","#,
    r#""value":"0123456789abcdef0123456789abcdef","version":1,"metadata":{},"#,
    r#""created_at":"2026-11-26T00:00:00Z","expires_at":null}"#
);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8499".to_owned());
    let app = Router::new().route("/", get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ceiling listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
