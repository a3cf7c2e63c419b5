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
use zeroize::Zeroizing;

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

async fn show(State(state): State<AppState>, ClientIp(ip): ClientIp, Path(token): Path<String>) -> Response {
    let pending = match secret_requests::show(&state, ip, &token).await {
        Ok(p) => p,
        Err(e) => return refusal(&e),
    };
    let nonce = match RequestLinks::token() {
        Ok(n) => n,
        Err(e) => return refusal(&e),
    };
    let csrf = state.request_links.csrf(state.request_links.row(&token), &nonce);
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
        "<p>The {kind} <strong>{asker}</strong> asks you to enter a secret. It goes straight into clawvault; \
         the {kind} never sees it.</p>\
         <dl><dt>Vault</dt><dd><code>{vault}</code></dd><dt>Path</dt><dd><code>{path}</code></dd>{description}\
         <dt>This page works</dt><dd>once, until {expires}</dd></dl>{replaces}\
         <form method=\"post\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
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

/// The form's fields: the CSRF token and the value (kept in memory that is wiped).
struct Form {
    csrf: String,
    value: Zeroizing<String>,
}

fn parse_form(body: &[u8]) -> Form {
    let mut form = Form { csrf: String::new(), value: Zeroizing::new(String::new()) };
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "csrf" => form.csrf = value.into_owned(),
            "value" => form.value = Zeroizing::new(value.into_owned()),
            _ => {}
        }
    }
    form
}

/// The value as the user typed it: a form sends a textarea's line breaks as CRLF, and a
/// pasted key usually drags one trailing line break along, which nobody means to store.
fn as_typed(raw: &str) -> SecretValue {
    let text = Zeroizing::new(raw.replace("\r\n", "\n"));
    let text = text.strip_suffix('\n').unwrap_or(&text);
    SecretValue::from_str_value(text)
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
    if !state.request_links.csrf_matches(state.request_links.row(&token), &nonce, &form.csrf) {
        return stale();
    }
    match secret_requests::fulfil(&state, ip, &token, as_typed(&form.value)).await {
        Ok(stored) => {
            let body = format!(
                "<p>Stored as version {} of <code>{}</code>. You can close this page; this link no longer works.</p>",
                stored.meta.version,
                escape(&stored.secret.path),
            );
            let mut response = page(StatusCode::OK, "Stored", &body);
            let expired = format!("{COOKIE}=; Path=/request/; Max-Age=0; HttpOnly; SameSite=Strict");
            if let Ok(v) = HeaderValue::from_str(&expired) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => refusal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_lose_form_line_breaks_only() {
        assert_eq!(as_typed("sk-abc\r\n").expose(), b"sk-abc");
        assert_eq!(as_typed("-----BEGIN\r\nxyz\r\n-----END\r\n").expose(), b"-----BEGIN\nxyz\n-----END");
        assert_eq!(as_typed("  spaced  ").expose(), b"  spaced  ", "spaces are the user's");
        assert_eq!(as_typed("two\n\n").expose(), b"two\n", "only one trailing break goes");
    }

    #[test]
    fn the_form_and_its_cookie_are_read() {
        let form = parse_form(b"csrf=abc&value=sk%2Dx%26y&other=1");
        assert_eq!(form.csrf, "abc");
        assert_eq!(form.value.as_str(), "sk-x&y");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; clawvault_request=n0nce; b=2"));
        assert_eq!(cookie_nonce(&headers).as_deref(), Some("n0nce"));
        assert_eq!(cookie_nonce(&HeaderMap::new()), None);
    }
}
