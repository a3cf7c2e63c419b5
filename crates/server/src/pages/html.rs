//! HTML answers: escaping, one layout, and the headers every page carries.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// No script at all, styles only inline, forms only to this server, no framing, no base
/// tag: an injected fragment could do nothing even if escaping failed.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}\
dt{font-weight:600;margin-top:.6rem}dd{margin:0}code{background:#f2f2f2;padding:0 .2rem}\
textarea{width:100%;min-height:6rem;font-family:monospace}button{margin-top:1rem;padding:.5rem 1.2rem}\
.note{color:#555;font-size:.9rem}.warn{color:#8a1c00}";

/// `text` with HTML's special characters escaped, for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: `title` (text, escaped here) above `body` (HTML, escaped by the caller).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title} · clawvault</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page's address is a capability: no link on it may hand it to another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A refusal as a page: the service's message, never an internal cause.
pub fn refusal(error: &ApiError) -> Response {
    let status = error.status();
    let message = match error.unhinted().0 {
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "page request failed");
            "Something went wrong on the server; its log has the cause. Try again in a moment.".to_owned()
        }
        ApiError::Integrity(detail) => {
            tracing::error!(%detail, "integrity check failed");
            "The server found stored data it cannot trust; its log has the details.".to_owned()
        }
        other => other.to_string(),
    };
    let title = if status.is_client_error() { "This did not work" } else { "Server error" };
    let mut response = page(status, title, &format!("<p>{}</p>", escape(&message)));
    if let ApiError::TooManyRequests { retry_after, .. } = error.unhinted().0
        && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }
}
