//! Exit codes (documented in `clawvault --help` and docs/cli.md).

use clawvault_client::ClientError;

/// Success.
pub const OK: u8 = 0;
/// Any other failure.
pub const ERROR: u8 = 1;
/// The server did not answer.
pub const UNREACHABLE: u8 = 3;
/// 401.
pub const UNAUTHENTICATED: u8 = 4;
/// 403.
pub const FORBIDDEN: u8 = 5;
/// 404.
pub const NOT_FOUND: u8 = 6;
/// 410.
pub const GONE: u8 = 7;
/// 409.
pub const CONFLICT: u8 = 8;
/// 400, 413 or invalid local input.
pub const INVALID: u8 = 9;
/// 429: too many attempts; the message says when to retry.
pub const RATE_LIMITED: u8 = 10;

/// A failure with an exit code of its own.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    /// Exit code.
    pub code: u8,
    /// Message.
    pub message: String,
}

impl Coded {
    /// Invalid input given to the CLI.
    #[must_use]
    pub fn invalid(message: impl Into<String>) -> anyhow::Error {
        Self { code: INVALID, message: message.into() }.into()
    }

    /// No usable credentials.
    #[must_use]
    pub fn unauthenticated(message: impl Into<String>) -> anyhow::Error {
        Self { code: UNAUTHENTICATED, message: message.into() }.into()
    }

    /// Something named on the command line does not exist.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> anyhow::Error {
        Self { code: NOT_FOUND, message: message.into() }.into()
    }
}

/// The exit code for an error chain.
#[must_use]
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return match c {
                ClientError::Unreachable { .. } => UNREACHABLE,
                ClientError::NoCredentials => UNAUTHENTICATED,
                ClientError::RateLimited { .. } => RATE_LIMITED,
                ClientError::InvalidInput(_) => INVALID,
                ClientError::Api { status, .. } => match status {
                    401 => UNAUTHENTICATED,
                    403 => FORBIDDEN,
                    404 => NOT_FOUND,
                    409 => CONFLICT,
                    410 => GONE,
                    400 | 413 | 422 => INVALID,
                    _ => ERROR,
                },
                _ => ERROR,
            };
        }
    }
    ERROR
}
