//! Where an agent's SDK put the agent's own credential: in the place the route puts the real
//! one (the header, query parameter or first path segment of an injection), else as
//! `Authorization: Bearer|Bot|token <credential>` or `x-api-key`. It never goes upstream: the
//! header is dropped, the parameter and the segment replaced.

use axum::http::HeaderMap;
use clawvault_core::route::Injection;
use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use crate::caches::routes::LoadedRoute;

/// The credential found, and what of the request is left without it.
pub struct Found {
    /// The agent's key or token.
    pub credential: Zeroizing<String>,
    /// The path after the route, without the segment the credential was in (when it was in one).
    pub path: String,
    /// A query parameter that held it, dropped from what is forwarded.
    pub query_param: Option<String>,
}

/// Finds the credential of a call to `route` (`None`: an unknown route, looked for in the
/// usual places only) with `headers`, the `path` after the route and the raw `query`.
pub fn find(route: Option<&LoadedRoute>, headers: &HeaderMap, path: &str, query: Option<&str>) -> Option<Found> {
    let injections: &[Injection] = route.map_or(&[], |r| &r.spec.inject);
    let found = |credential: &str, path: String, query_param: Option<String>| {
        Some(Found { credential: Zeroizing::new(unwrap_bot_token(credential).to_owned()), path, query_param })
    };
    for injection in injections {
        match injection {
            Injection::Path { .. } => {
                let (segment, rest) = first_segment(path);
                // A segment is a credential only when it looks like one of ours: the first
                // segment of any other path (`/bots/...`) is the caller's path.
                if let Ok(decoded) = percent_decode_str(segment).decode_utf8()
                    && let Some(c) = injection.credential_in(&decoded)
                    && ours(unwrap_bot_token(c))
                {
                    return found(c, rest.to_owned(), None);
                }
            }
            Injection::Header { name, .. } => {
                if let Some(c) =
                    headers.get(name.as_str()).and_then(|v| v.to_str().ok()).and_then(|v| injection.credential_in(v))
                {
                    return found(c, path.to_owned(), None);
                }
            }
            Injection::Query { name, .. } => {
                let sent =
                    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find(|(k, _)| k == name.as_str());
                if let Some((_, v)) = sent
                    && let Some(c) = injection.credential_in(&v)
                {
                    return found(c, path.to_owned(), Some(name.clone()));
                }
            }
        }
    }
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some((scheme, c)) = v.split_once(' ')
        && ["bearer", "bot", "token"].iter().any(|s| scheme.eq_ignore_ascii_case(s))
        && !c.trim().is_empty()
    {
        return found(c.trim(), path.to_owned(), None);
    }
    if let Some(c) = headers.get("x-api-key").and_then(|v| v.to_str().ok()).filter(|c| !c.trim().is_empty()) {
        return found(c.trim(), path.to_owned(), None);
    }
    if route.is_none() {
        let (segment, rest) = first_segment(path);
        if let Some(c) = segment.strip_prefix("bot").filter(|c| !c.is_empty())
            && let Ok(decoded) = percent_decode_str(c).decode_utf8()
            && ours(unwrap_bot_token(&decoded))
        {
            return found(&decoded, rest.to_owned(), None);
        }
    }
    None
}

/// `/seg/rest` → (`seg`, `/rest`); `/seg` → (`seg`, `/`).
fn first_segment(path: &str) -> (&str, &str) {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    match trimmed.find('/') {
        Some(at) => (&trimmed[..at], &trimmed[at..]),
        None => (trimmed, "/"),
    }
}

/// Prefixes of what clawvault issues: agent keys, user keys, access tokens (JWTs).
const OURS: [&str; 3] = ["ocv_", "1ck_", "eyJ"];

fn ours(credential: &str) -> bool {
    OURS.iter().any(|p| credential.starts_with(p))
}

/// Telegram libraries that check a token's shape (`<digits>:<text>`) accept `0:ocv_…`: the
/// digits and colon are dropped before an agent's key or a token.
fn unwrap_bot_token(credential: &str) -> &str {
    match credential.split_once(':') {
        Some((digits, rest)) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && ours(rest) => rest,
        _ => credential,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_usual_places_are_searched_for_an_unknown_route() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bot ocv_a".parse().unwrap());
        let f = find(None, &h, "/x", None).unwrap();
        assert_eq!((f.credential.as_str(), f.path.as_str()), ("ocv_a", "/x"));
        let f = find(None, &HeaderMap::new(), "/bot0:ocv_b/getMe", None).unwrap();
        assert_eq!((f.credential.as_str(), f.path.as_str()), ("ocv_b", "/getMe"));
        assert!(find(None, &HeaderMap::new(), "/getMe", None).is_none());
        assert!(find(None, &HeaderMap::new(), "/bots/list", None).is_none(), "not a credential of ours");
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert!(find(None, &h, "/", None).is_none());
    }

    #[test]
    fn bot_tokens_keep_their_shape_only_around_our_credentials() {
        assert_eq!(unwrap_bot_token("123:ocv_x"), "ocv_x");
        assert_eq!(unwrap_bot_token("123:ABC"), "123:ABC");
        assert_eq!(unwrap_bot_token("ocv_x"), "ocv_x");
    }
}
