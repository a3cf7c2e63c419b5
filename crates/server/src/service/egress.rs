//! Using secrets in a request sent on the caller's behalf (MCP's `http_request`): the caller
//! writes `{{secret:PATH}}` where a value goes and never holds it. A value goes only to a host
//! its secret's `allowed_hosts` names; a request that uses no secret is refused (the server sits
//! inside the team's network and is no open relay); plain `http` goes only to addresses named
//! literally; the host is resolved once and the connection pinned to the checked address;
//! redirects are not followed; the answer comes back with every value it used redacted in
//! every encoding. Nothing is opened (no read is counted) and nothing is sent before every
//! check has passed, and a refused destination is audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clawvault_core::SecretPath;
use clawvault_core::egress::{ALLOWED_HOSTS, AllowedHosts, is_public, reserved_header};
use clawvault_core::placeholder::{self, Piece};
use clawvault_core::policy::Permission;
use clawvault_core::redact::Redactor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::outbound::{self, Outbound, Reach};
use crate::service::reveal::{self, Purpose};
use crate::service::{access, secrets, vaults};
use crate::state::AppState;

/// Headers a request may carry at most.
pub const MAX_HEADERS: usize = 32;
/// Longest answer body handed back; the rest is cut (`truncated`).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Deadline of the whole exchange.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of the name lookup.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Characters of a value put in a URL that stay as they are: RFC 3986's unreserved ones.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Headers the caller may not set besides [`reserved_header`]'s: what would re-route the
/// request at a gateway, and a charset that would re-encode an echoed value.
const GATEWAY_HEADERS: &[&str] = &[
    "accept-charset",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-original-url",
    "x-rewrite-url",
];

/// A request as the caller writes it, placeholders and all.
#[derive(Debug)]
pub struct HttpCall {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`.
    pub method: String,
    /// `http(s)://host[:port]/...`; placeholders only after the host.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

/// What came back, with every value used redacted.
#[derive(Debug)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// `content-type` and `location`, when sent.
    pub headers: Vec<(&'static str, String)>,
    /// Body (at most [`MAX_ANSWER_BYTES`]).
    pub body: Vec<u8>,
    /// Whether the body was cut.
    pub truncated: bool,
    /// The paths whose values were used.
    pub used: Vec<String>,
}

/// Sends `call` with its placeholders filled from secrets of `vault_ref` the caller may use.
///
/// # Errors
/// 400 for a malformed request or one without placeholders; 403 for a secret the caller may
/// not use or a destination a secret does not allow; 404, 410 as for opening a secret; 502 or
/// 504 (as `Unavailable`) when the upstream fails.
pub async fn http_request(state: &AppState, caller: &Caller, vault_ref: &str, call: HttpCall) -> ApiResult<HttpAnswer> {
    let mut op = Op::new(state, caller, Purpose::Use.action());
    op.resource(vault_ref.to_owned());
    op.detail("purpose", "http_request");
    let result = send(state, &mut op, caller, vault_ref, call).await;
    op.finish(result).await
}

/// The parsed request: templates of URL, headers and body.
struct Parsed<'a> {
    method: reqwest::Method,
    scheme: String,
    host: String,
    port: u16,
    url: Vec<Piece<'a>>,
    headers: Vec<(HeaderName, Vec<Piece<'a>>)>,
    body: Vec<Piece<'a>>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid { field, problem: problem.into() }
}

fn parse<'a>(call: &'a HttpCall) -> ApiResult<Parsed<'a>> {
    let method = match call.method.to_ascii_uppercase().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => {
            reqwest::Method::from_bytes(m.as_bytes()).map_err(|_| invalid("method", "is not a method"))?
        }
        _ => return Err(invalid("method", "must be GET, POST, PUT, PATCH, DELETE or HEAD")),
    };
    // The destination must be known before any value is opened: no placeholder before the path.
    let rest = call.url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let head_len = call.url.len() - rest.len() + authority_len;
    if call.url[..head_len].contains("{{") {
        return Err(invalid("url", "may hold placeholders only after the host (in the path or query)"));
    }
    let url = reqwest::Url::parse(&call.url[..head_len])
        .map_err(|_| invalid("url", "is not an absolute http:// or https:// URL"))?;
    let scheme = url.scheme().to_owned();
    if scheme != "http" && scheme != "https" {
        return Err(invalid("url", "must be http:// or https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "may not hold a user name or password: put credentials in a header"));
    }
    let host = url.host_str().ok_or_else(|| invalid("url", "names no host"))?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let template =
        |field: &'static str, text: &'a str| placeholder::parse(text).map_err(|e| invalid(field, e.to_string()));
    if call.headers.len() > MAX_HEADERS {
        return Err(invalid("headers", format!("are more than {MAX_HEADERS}")));
    }
    let mut headers = Vec::new();
    for (name, value) in &call.headers {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid("headers", format!("{name:?} is not a header name")))?;
        if reserved_header(name.as_str()) || GATEWAY_HEADERS.contains(&name.as_str()) {
            return Err(invalid("headers", format!("{name} is set by the connection, not the caller")));
        }
        headers.push((name, template("headers", value)?));
    }
    Ok(Parsed {
        method,
        scheme,
        host,
        port,
        url: template("url", &call.url)?,
        headers,
        body: template("body", &call.body)?,
    })
}

async fn send(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    call: HttpCall,
) -> ApiResult<HttpAnswer> {
    access::require_scope(caller, Purpose::Use.scope())?;
    let parsed = parse(&call)?;
    let paths = placeholder::paths(
        parsed.url.iter().chain(parsed.headers.iter().flat_map(|(_, p)| p)).chain(parsed.body.iter()),
    );
    if paths.is_empty() {
        return Err(invalid(
            "url",
            "and headers and body use no {{secret:PATH}}: http_request only sends requests that use a secret",
        ));
    }
    op.detail("paths", paths.iter().map(SecretPath::as_str).collect::<Vec<_>>());
    op.detail("destination", format!("{}:{}", parsed.host, parsed.port));
    let vault = vaults::open(state, op, caller, vault_ref).await?;
    op.resource(vault.record.id.to_string());

    // Every check before anything is opened or sent.
    let mut rows = Vec::with_capacity(paths.len());
    let mut rules = Vec::with_capacity(paths.len());
    for path in &paths {
        access::check_path(state, caller, &vault.record, path, Permission::Use).await?;
        let row = secrets::current(state, &vault, path)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no secret at {path:?} in vault {:?}", vault.record.name)))?;
        reveal::ensure_openable(&row.0, &row.1.meta, path)?;
        if row.1.meta.secret_type == clawvault_core::secret::SecretType::GithubApp {
            secrets::only_readers_open_app_keys(state, caller, &vault, path).await?;
        }
        let metadata: serde_json::Value = serde_json::from_str(&row.1.meta.metadata).unwrap_or_default();
        let hosts = AllowedHosts::from_metadata(&metadata)
            .map_err(|e| ApiError::Forbidden(format!("{path:?} cannot be sent anywhere: {e}")).hint(Hint::AllowHost))?;
        if hosts.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "{path:?} has no {ALLOWED_HOSTS} in its metadata, so it may be sent nowhere"
            ))
            .hint(Hint::AllowHost));
        }
        rows.push(row);
        rules.push((path, hosts));
    }
    // No lookup for a host no entry names: the lookup itself would tell the caller which inside
    // names exist, or send a query to an attacker's name server.
    if let Some((path, _)) = rules.iter().find(|(_, hosts)| !hosts.may_allow(&parsed.host, parsed.port)) {
        return Err(ApiError::Forbidden(format!(
            "{path:?} may not be sent to {}:{}: its {ALLOWED_HOSTS} do not name it",
            parsed.host, parsed.port
        ))
        .hint(Hint::AllowHost));
    }
    // The filled URL must still name the checked destination (placeholders sit after the
    // host, and values are percent-encoded): checked with stand-ins before anything is opened.
    let stand_in = placeholder::fill(&parsed.url, |_| Ok::<_, ApiError>(b"x".to_vec()))?;
    let filled = reqwest::Url::parse(&String::from_utf8_lossy(&stand_in))
        .map_err(|_| invalid("url", "is not a URL once its placeholders are filled"))?;
    if filled.host_str() != Some(parsed.host.as_str()) || filled.port_or_known_default() != Some(parsed.port) {
        return Err(invalid("url", "names another host once its placeholders are filled"));
    }
    let literal = parsed.host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    if parsed.scheme == "http" && literal.is_none() {
        return Err(ApiError::Forbidden(format!(
            "plain http to {} would carry the secret in the clear: use https (plain http goes only to an address named literally in {ALLOWED_HOSTS})",
            parsed.host
        )));
    }
    let candidates: Vec<IpAddr> = match literal {
        Some(ip) => vec![ip],
        None => lookup(&parsed.host, parsed.port).await?,
    };
    let address = candidates
        .iter()
        .copied()
        .find(|ip| rules.iter().all(|(_, hosts)| hosts.allows(&parsed.host, parsed.port, *ip)))
        .ok_or_else(|| {
            let (path, _) = rules
                .iter()
                .find(|(_, hosts)| !candidates.iter().any(|ip| hosts.allows(&parsed.host, parsed.port, *ip)))
                .unwrap_or(&rules[0]);
            let inside = literal.is_none() && candidates.iter().any(|ip| !is_public(*ip));
            let why = if inside {
                format!(
                    " ({} resolves inside the network, which only an address named literally in {ALLOWED_HOSTS} reaches)",
                    parsed.host
                )
            } else {
                String::new()
            };
            ApiError::Forbidden(format!(
                "{path:?} may not be sent to {}:{}{why}: its {ALLOWED_HOSTS} do not name it",
                parsed.host, parsed.port
            ))
            .hint(Hint::AllowHost)
        })?;
    op.detail("address", address.to_string());

    // Open (and count) each value, fill the request in, send it.
    let mut values: Vec<(String, clawvault_core::SecretValue)> = Vec::with_capacity(paths.len());
    for (path, row) in paths.iter().zip(&rows) {
        let (_, value) = reveal::open(state, op, &vault, &row.0, &row.1, path).await?;
        values.push((path.as_str().to_owned(), value));
    }
    let value_of = |path: &SecretPath| -> &[u8] {
        values.iter().find(|(p, _)| p == path.as_str()).map_or(&[][..], |(_, v)| v.expose())
    };
    let url = placeholder::fill(&parsed.url, |p| {
        Ok::<_, ApiError>(
            utf8_percent_encode(&String::from_utf8_lossy(value_of(p)), URL_VALUE).to_string().into_bytes(),
        )
    })?;
    let mut headers = HeaderMap::new();
    for (name, pieces) in &parsed.headers {
        let value = Zeroizing::new(placeholder::fill(pieces, |p| Ok::<_, ApiError>(value_of(p).to_vec()))?);
        let value = HeaderValue::from_bytes(&value).map_err(|_| {
            invalid(
                "headers",
                format!("{name} cannot carry its value: a header holds no line break or control character"),
            )
        })?;
        headers.append(name.clone(), value);
    }
    headers.insert(reqwest::header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let body = placeholder::fill(&parsed.body, |p| Ok::<_, ApiError>(value_of(p).to_vec()))?;
    let redactor = Arc::new(
        Redactor::new(values.iter().map(|(p, v)| (p.as_str(), v.expose())))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    let out = Outbound {
        method: parsed.method,
        url: Zeroizing::new(String::from_utf8_lossy(&url).into_owned()),
        headers,
        body: Zeroizing::new(body),
        timeout: TIMEOUT,
        host: parsed.host.clone(),
    };
    let reach = Reach::Pinned { host: parsed.host.clone(), address: SocketAddr::new(address, parsed.port) };
    let failed = |e: outbound::OutboundError| ApiError::Unavailable(redactor.redact_str(&e.to_string()));
    let client = state.outbound.client(&reach, CONNECT_TIMEOUT).map_err(failed)?;
    let mut answer = outbound::send(&client, out, Arc::clone(&redactor), MAX_ANSWER_BYTES).await.map_err(failed)?;
    op.detail("status", answer.status);
    let body = text_body(std::mem::take(&mut answer.body), answer.status, answer.truncated)?;
    let headers = ["content-type", "location"]
        .into_iter()
        .filter_map(|name| {
            let v = answer.headers.get(name)?;
            Some((name, redactor.redact_str(&String::from_utf8_lossy(v.as_bytes()))))
        })
        .collect();
    Ok(HttpAnswer {
        status: answer.status,
        headers,
        body,
        truncated: answer.truncated,
        used: values.iter().map(|(p, _)| p.clone()).collect(),
    })
}

/// The (scrubbed) answer body as text: UTF-8 without control bytes other than tab and line
/// breaks. A non-text body is not returned at all: a value in it could not be found.
fn text_body(mut body: Vec<u8>, status: u16, truncated: bool) -> ApiResult<Vec<u8>> {
    // Control bytes are not text either: UTF-16 is valid UTF-8 when it is ASCII with a NUL
    // after each character, and would carry a value past every pattern.
    if body.iter().any(|b| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) {
        return Err(not_text(status, body.len()));
    }
    match std::str::from_utf8(&body) {
        Ok(_) => Ok(body),
        // A character cut at the limit.
        Err(e) if truncated && e.error_len().is_none() => {
            body.truncate(e.valid_up_to());
            Ok(body)
        }
        Err(_) => Err(not_text(status, body.len())),
    }
}

fn not_text(status: u16, len: usize) -> ApiError {
    ApiError::Unavailable(format!(
        "the upstream answered {status} with {len} bytes that are not text, which cannot be checked for the values it may echo, so they are not returned"
    ))
}

/// The addresses `host` resolves to, looked up once.
async fn lookup(host: &str, port: u16) -> ApiResult<Vec<IpAddr>> {
    let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            ApiError::Unavailable(format!("looking up {host} took longer than {} s", LOOKUP_TIMEOUT.as_secs()))
        })?
        .map_err(|_| invalid("url", format!("names a host that does not resolve: {host}")))?;
    Ok(found.map(|a| a.ip()).take(16).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn call(url: &str) -> HttpCall {
        HttpCall { method: "get".into(), url: url.into(), headers: vec![], body: String::new() }
    }

    #[test]
    fn the_destination_is_fixed_before_any_value() {
        let good = call("https://api.example.com/models/{{secret:a}}?k={{secret:b}}");
        let p = parse(&good).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("api.example.com", 443));
        for bad in [
            "https://{{secret:a}}/x",
            "https://api.example.com:{{secret:a}}/",
            "https://{{secret:a}}@api.example.com/",
            "https://user:pw@api.example.com/{{secret:a}}",
            "ftp://api.example.com/{{secret:a}}",
            "api.example.com/{{secret:a}}",
        ] {
            assert!(parse(&call(bad)).is_err(), "{bad}");
        }
        let mut c = call("https://a.example/{{secret:a}}");
        c.headers = vec![("Host".into(), "evil.example".into())];
        assert!(parse(&c).is_err(), "Host is the connection's");
    }
}
