//! What a tool call answers: a JSON document as text (what models read best), or a tool error
//! (`isError`) worded for the model and the human behind it. Refusals, missing paths, expired
//! secrets and rate limits are tool errors, never protocol errors: clients show a protocol
//! error as an opaque failure, and the model could not tell what to do next.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value;

use crate::error::{ApiError, Hint};

/// A successful call's answer.
pub(super) fn success(value: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(value.to_string())])
}

/// A failed call's answer. Service errors never hold a value, so neither does this.
pub(super) fn failure(e: &ApiError) -> CallToolResult {
    let (error, hint) = e.unhinted();
    let what = match error {
        ApiError::BadRequest(_) | ApiError::Invalid { .. } | ApiError::PayloadTooLarge(_) => "invalid request",
        ApiError::Unauthorized(_) => "not authenticated",
        ApiError::Forbidden(_) => "denied",
        ApiError::NotFound(_) => "not found",
        ApiError::Conflict(_) => "conflict",
        ApiError::Gone(_) => "no longer available",
        ApiError::TooManyRequests { .. } => "rate limited",
        ApiError::Unavailable(_) | ApiError::RequestTimeout(_) => "temporarily unavailable",
        ApiError::BadGateway(_) => "upstream refused",
        ApiError::Integrity(_) => "stored data failed its integrity check",
        ApiError::Internal(_) | ApiError::MethodNotAllowed | ApiError::Hinted { .. } => "server error",
    };
    let detail = match error {
        // The cause is in the server's log; it is not for the model.
        ApiError::Internal(_) => "the server could not complete this call; its log has the cause".to_owned(),
        other => other.to_string(),
    };
    let next = match (error, hint) {
        (_, Some(Hint::ListVaults)) => " Call list_vaults to see the vaults this identity can use.",
        (_, Some(Hint::RestoreSecret)) => " A human admin can restore it.",
        (_, Some(Hint::AllowHost)) => {
            " A human who may write the secret can name the host in its metadata allowed_hosts."
        }
        (ApiError::TooManyRequests { .. }, _) => " Wait before calling again.",
        _ => "",
    };
    let stop = if detail.ends_with('.') { "" } else { "." };
    CallToolResult::error(vec![ContentBlock::text(format!("{what}: {detail}{stop}{next}"))])
}
