//! `/request/{token}`: the one-time page where a user enters a value an agent asked for
//! (`request_secret`). `GET` shows who asked for what and a form; `POST` stores the value.
//!
//! The form is protected against cross-site submission twice over: the CSRF token in it is
//! bound (by a keyed hash) to the request and to a nonce in a `SameSite=Strict`, `HttpOnly`
//! cookie set by the `GET`, so another site can neither make the browser send the cookie nor
//! produce a matching token; and a browser that says the post comes from another site
//! (`Sec-Fetch-Site: cross-site`) is refused outright.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use clawvault_core::SecretValue;
use clawvault_core::time_util::rfc3339;
use zeroize::{Zeroize as _, Zeroizing};

use super::html::{escape, page, refusal};
use crate::error::ApiError;
use crate::native::extract::ClientIp;
use crate::request_links::RequestLinks;
use crate::service::secret_requests::{self, LIFETIME, MAX_VALUE_BYTES};
use crate::state::AppState;

/// The cookie holding the browser's CSRF nonce.
const COOKIE: &str = "clawvault_request";

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/request/{token}",
        // Percent-encoding can triple a value; the form's other fields are small.
        get(show).post(submit).layer(DefaultBodyLimit::max(3 * MAX_VALUE_BYTES + 4096)),
    )
}

async fn show(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let pending = match secret_requests::show(&state, ip, &token).await {
        Ok(p) => p,
        Err(e) => return refusal(&e),
    };
    // The browser's nonce is kept across links: a user with two links open can submit both.
    let nonce = match cookie_nonce(&headers).filter(|n| RequestLinks::is_token(n)) {
        Some(n) => n,
        None => match RequestLinks::token() {
            Ok(n) => n,
            Err(e) => return refusal(&e),
        },
    };
    let csrf = state.request_links.csrf(state.request_links.row(&token), &nonce, pending.version);
    let fate = if pending.may_read {
        format!(
            "<p class=\"warn\"><strong>The {} may read this secret</strong>: it will be able to see the value you enter.</p>",
            pending.asked_by_kind
        )
    } else if pending.may_use {
        let hosts = if pending.allowed_hosts.is_empty() {
            "nowhere yet (the secret names no allowed host)".to_owned()
        } else {
            pending.allowed_hosts.iter().map(|h| format!("<code>{}</code>", escape(h))).collect::<Vec<_>>().join(", ")
        };
        format!(
            "<p>The {} cannot read the value. It may have clawvault send it on its behalf to: {hosts}.</p>",
            pending.asked_by_kind
        )
    } else {
        format!("<p>The {} can neither read the value nor have it sent anywhere.</p>", pending.asked_by_kind)
    };
    let description = if pending.description.is_empty() {
        String::new()
    } else {
        format!("<dt>What it is</dt><dd>{}</dd>", escape(&pending.description))
    };
    let replaces = if pending.replaces {
        "<p class=\"note\">A value is stored there already: yours becomes its new version, and the old one stays in its history.</p>"
    } else {
        ""
    };
    let body = format!(
        "<p>The {kind} <strong>{asker}</strong> asks you to enter a secret. It goes straight into clawvault, \
         not through the {kind}'s conversation.</p>{fate}\
         <dl><dt>Vault</dt><dd><code>{vault}</code></dd><dt>Path</dt><dd><code>{path}</code></dd>{description}\
         <dt>This page works</dt><dd>once, until {expires}</dd></dl>{replaces}\
         <form method=\"post\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <label for=\"value\">Value</label>\
         <textarea id=\"value\" name=\"value\" required spellcheck=\"false\" autocapitalize=\"off\"></textarea>\
         <button type=\"submit\">Store it</button></form>\
         <p class=\"note\">Did you not expect this? Close the page: nothing is stored unless you submit the form.</p>",
        kind = pending.asked_by_kind,
        asker = escape(&pending.asked_by),
        vault = escape(&pending.vault_name),
        path = escape(&pending.path),
        expires = escape(&rfc3339(pending.expires_at)),
        csrf = escape(&csrf),
        version = pending.version,
    );
    let mut response = page(StatusCode::OK, "Enter a secret", &body);
    let secure =
        if state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={nonce}; Path=/request/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        LIFETIME.whole_seconds()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The form's fields: the CSRF token, the version the page showed, and the value (kept in
/// memory that is wiped).
struct Form {
    csrf: String,
    version: Option<i64>,
    value: Zeroizing<Vec<u8>>,
}

/// One `application/x-www-form-urlencoded` field's bytes, decoded.
fn decode(raw: &[u8]) -> Zeroizing<Vec<u8>> {
    let spaced = Zeroizing::new(raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect::<Vec<u8>>());
    Zeroizing::new(percent_encoding::percent_decode(&spaced).collect())
}

fn parse_form(body: &[u8]) -> Form {
    let mut form = Form { csrf: String::new(), version: None, value: Zeroizing::new(Vec::new()) };
    for field in body.split(|&b| b == b'&') {
        let (name, raw) = match field.iter().position(|&b| b == b'=') {
            Some(at) => (&field[..at], &field[at + 1..]),
            None => (field, &[][..]),
        };
        match name {
            b"csrf" => form.csrf = String::from_utf8_lossy(&decode(raw)).into_owned(),
            b"version" => form.version = std::str::from_utf8(&decode(raw)).ok().and_then(|v| v.parse().ok()),
            b"value" => form.value = decode(raw),
            _ => {}
        }
    }
    form
}

/// The value as typed: a form sends a textarea's line breaks as CRLF. Bytes that are not
/// UTF-8 never come from a browser's text field, and would be stored altered if replaced:
/// refused.
fn as_typed(raw: &[u8]) -> Result<SecretValue, ApiError> {
    let text = std::str::from_utf8(raw).map_err(|_| ApiError::Invalid {
        field: "value",
        problem: "is not UTF-8 text: enter text, or store binary values with the CLI".into(),
    })?;
    Ok(SecretValue::from_str_value(&Zeroizing::new(text.replace("\r\n", "\n"))))
}

fn cookie_nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    // The raw body holds the value too: wiped once parsed, when this is its only holder.
    if let Ok(mut raw) = body.try_into_mut() {
        raw.as_mut().zeroize();
    }
    let stale = || {
        refusal(&ApiError::Forbidden(
            "this form was not sent from the page that showed it (or cookies are blocked): open the link again and enter the value there"
                .into(),
        ))
    };
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return stale();
    }
    let Some(nonce) = cookie_nonce(&headers) else { return stale() };
    let Some(version) = form.version else { return stale() };
    if !state.request_links.csrf_matches(state.request_links.row(&token), &nonce, version, &form.csrf) {
        return stale();
    }
    let value = match as_typed(&form.value) {
        Ok(v) => v,
        Err(e) => return refusal(&e),
    };
    match secret_requests::fulfil(&state, ip, &token, value, version).await {
        Ok(stored) => {
            let body = format!(
                "<p>Stored as version {} of <code>{}</code>. You can close this page; this link no longer works.</p>",
                stored.meta.version,
                escape(&stored.secret.path),
            );
            page(StatusCode::OK, "Stored", &body)
        }
        Err(e) => refusal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_lose_form_line_breaks_and_nothing_else() {
        assert_eq!(as_typed(b"sk-abc\r\n").unwrap().expose(), b"sk-abc\n");
        assert_eq!(as_typed(b"-----BEGIN\r\nxyz\r\n-----END").unwrap().expose(), b"-----BEGIN\nxyz\n-----END");
        assert_eq!(as_typed(b"  spaced  ").unwrap().expose(), b"  spaced  ", "spaces are the user's");
        assert!(as_typed(b"\xff\xfe").is_err(), "never stored altered");
    }

    #[test]
    fn the_form_and_its_cookie_are_read() {
        let form = parse_form(b"csrf=abc&version=3&value=sk%2Dx%26y+z&other=1");
        assert_eq!((form.csrf.as_str(), form.version), ("abc", Some(3)));
        assert_eq!(form.value.as_slice(), b"sk-x&y z");
        assert_eq!(parse_form(b"value=%FF").value.as_slice(), b"\xff", "decoded byte for byte");
        assert_eq!(parse_form(b"version=x").version, None);
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; clawvault_request=n0nce; b=2"));
        assert_eq!(cookie_nonce(&headers).as_deref(), Some("n0nce"));
        assert_eq!(cookie_nonce(&HeaderMap::new()), None);
    }
}
