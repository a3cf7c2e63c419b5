//! A JSON body extractor whose failures are RFC 7807 problems that never echo input values
//! (serde's messages quote the offending value, which may be a secret).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::serve::BodyDeadline;

/// A body's deadline where the connection loop gave none (in-process tests).
pub(crate) const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// `Json<T>` with clawvault's error handling. Content-Type is not required (the `bao` CLI and
/// curl users often omit it); an empty body is read as `{}` so optional bodies may be left out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // However slowly it trickles, a body arrives within its deadline or is refused.
        let deadline = req.extensions().get::<BodyDeadline>().map_or(DEFAULT_BODY_DEADLINE, |d| d.0);
        let read = tokio::time::timeout(deadline, Bytes::from_request(req, state)).await.map_err(|_| {
            ApiError::RequestTimeout(format!("the request body did not arrive within {} s", deadline.as_secs()))
        })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(crate::config::MAX_BODY_BYTES)
            } else {
                ApiError::BadRequest("could not read the request body".to_owned())
            }
        })?;
        parse(&bytes).map(Self)
    }
}

/// Parses a JSON body, describing failures without quoting values.
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    // serde reads a struct from an array too (`[]` would pass for a body whose fields are all
    // optional); every body of this API is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest("request body must be a JSON object".to_owned()));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = deserialize(de)?;
    // Whatever follows the object is refused, not ignored: `{}garbage` is not a request.
    de.end().map_err(|e| {
        ApiError::BadRequest(format!(
            "request body is not valid JSON: characters after the object (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

fn deserialize<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = format!("line {}, column {}", inner.line(), inner.column());
        let msg = inner.to_string();
        let detail = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("request body is not valid JSON ({at})")
            }
            // "missing field `x`" and "unknown field `x`, expected ..." name fields, not values.
            _ if msg.starts_with("missing field") || msg.starts_with("unknown field") => {
                format!("invalid request body: {}", msg.split(" at line").next().unwrap_or(&msg))
            }
            _ if path == "." => format!("request body must be a JSON object ({at})"),
            _ => format!("invalid request body: field `{path}` has the wrong type or an invalid value ({at})"),
        };
        ApiError::BadRequest(detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        value: String,
        max_access_count: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Optional {
        length: Option<u32>,
    }

    #[test]
    fn only_a_whole_object_is_a_body() {
        assert!(parse::<Optional>(b" {} ").is_ok());
        assert!(parse::<Optional>(b"").is_ok(), "an absent body is an empty object");
        for bad in [&b"[]"[..], b"{}garbage", b"{} {}", b"null", b"12", b"\"x\""] {
            let err = parse::<Optional>(bad).unwrap_err().to_string();
            assert!(err.contains("JSON object") || err.contains("after the object"), "{err}");
        }
    }

    #[test]
    fn errors_never_quote_values() {
        let err = parse::<Body>(br#"{"value":"x","max_access_count":"canary-secret"}"#).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("max_access_count"), "{text}");
        let err = parse::<Body>(br#"{"value": 12345678}"#).unwrap_err().to_string();
        assert!(!err.contains("12345678"), "{err}");
        assert!(parse::<Body>(b"{").unwrap_err().to_string().contains("not valid JSON"));
        assert!(parse::<Body>(b"{}").unwrap_err().to_string().contains("missing field `value`"));
    }
}
