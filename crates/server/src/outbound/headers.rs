//! Which headers cross the proxy, each way, as a careful proxy decides (RFC 9110 §7.6.1).

use clawvault_core::redact::Redactor;
use reqwest::header::{CONNECTION, HeaderMap, HeaderName, HeaderValue};

/// Headers of one hop, never forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// What a caller sends that does not go upstream: its own credentials (the route puts the
/// real ones in), the host and forwarding headers it wrote, what would let an echoed value
/// escape scrubbing (compression, ranges), and `Expect` (the body is streamed as it comes).
const CALLER_ONLY: &[&str] = &[
    "host",
    "authorization",
    "x-api-key",
    "cookie",
    "accept-encoding",
    "range",
    "if-range",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// What an upstream answers that does not go back: its cookies (its session is not the
/// caller's to keep, and they would be set for clawvault's origin), the length (scrubbing
/// changes it), and what would send the caller's client elsewhere or pin it to this origin.
const UPSTREAM_ONLY: &[&str] = &["set-cookie", "set-cookie2", "content-length", "alt-svc", "strict-transport-security"];

/// Whether `name` is hop-by-hop, by the list or because `Connection` names it.
fn hop_by_hop(name: &HeaderName, connection: &[String]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || connection.iter().any(|c| c == name.as_str())
}

fn connection_names(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The caller's request headers that go upstream, without those in `replaced` (the route's
/// injections set them).
#[must_use]
pub fn forwardable(from: &HeaderMap, replaced: &[HeaderName]) -> HeaderMap {
    let connection = connection_names(from);
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        if hop_by_hop(name, &connection) || CALLER_ONLY.contains(&name.as_str()) || replaced.contains(name) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// The upstream's answer headers that go back to the caller, each value scrubbed of the
/// values the request carried.
#[must_use]
pub fn answer_headers(from: &HeaderMap, redactor: &Redactor) -> HeaderMap {
    let connection = connection_names(from);
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        // A name that holds a value cannot be rewritten into a valid one: it is dropped.
        if hop_by_hop(name, &connection)
            || UPSTREAM_ONLY.contains(&name.as_str())
            || !redactor.find(name.as_str().as_bytes()).is_empty()
        {
            continue;
        }
        let scrubbed = redactor.redact(value.as_bytes());
        let value = if scrubbed == value.as_bytes() {
            value.clone()
        } else {
            match HeaderValue::from_bytes(&scrubbed) {
                Ok(v) => v,
                Err(_) => continue,
            }
        };
        out.append(name.clone(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_callers_credentials_and_hop_by_hop_headers_stay_here() {
        let from = map(&[
            ("authorization", "Bearer ocv_agent"),
            ("x-api-key", "ocv_agent"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("te", "trailers"),
            ("accept-encoding", "gzip"),
            ("content-type", "application/json"),
            ("anthropic-version", "2023-06-01"),
            ("x-goog-api-key", "ocv_agent"),
        ]);
        let out = forwardable(&from, &[HeaderName::from_static("x-goog-api-key")]);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, vec!["content-type", "anthropic-version"]);
    }

    #[test]
    fn answers_lose_cookies_and_echoed_values() {
        let redactor = Redactor::new([("k", &b"sk-live-123456"[..])]).unwrap();
        let from = map(&[
            ("set-cookie", "s=1"),
            ("content-length", "10"),
            ("x-echo", "key sk-live-123456 seen"),
            ("content-type", "text/event-stream"),
            ("transfer-encoding", "chunked"),
            ("x-sk-live-123456", "1"),
        ]);
        let out = answer_headers(&from, &redactor);
        assert_eq!(out.len(), 2);
        assert_eq!(out["x-echo"], "key [REDACTED:k] seen");
    }
}
