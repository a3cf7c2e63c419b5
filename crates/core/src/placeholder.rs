//! `{{secret:PATH}}` placeholders: how a caller says where a secret's value goes in something
//! sent on its behalf (an `http_request`'s URL, headers and body; the proxy's injection rules)
//! without ever holding the value.

use crate::path::SecretPath;

const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";
/// Placeholders one text may hold.
pub const MAX_PLACEHOLDERS: usize = 16;

/// A placeholder that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// `{{secret:` without `}}`.
    #[error("a {{{{secret:PATH}}}} placeholder is not closed with }}}}")]
    Unclosed,
    /// The path breaks a rule.
    #[error("placeholder path {path:?}: {problem}")]
    BadPath {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Too many.
    #[error("more than {MAX_PLACEHOLDERS} placeholders")]
    TooMany,
}

/// A text cut at its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as written.
    Text(&'a str),
    /// Where a secret's value goes.
    Secret(SecretPath),
}

/// Cuts `text` at its placeholders.
///
/// # Errors
/// An unclosed placeholder, a path that is not a secret path, more than [`MAX_PLACEHOLDERS`].
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, PlaceholderError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut count = 0;
    while let Some(at) = rest.find(OPEN) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + OPEN.len()..];
        let end = after.find(CLOSE).ok_or(PlaceholderError::Unclosed)?;
        let raw = after[..end].trim();
        let path = SecretPath::parse(raw)
            .map_err(|e| PlaceholderError::BadPath { path: raw.to_owned(), problem: e.to_string() })?;
        count += 1;
        if count > MAX_PLACEHOLDERS {
            return Err(PlaceholderError::TooMany);
        }
        pieces.push(Piece::Secret(path));
        rest = &after[end + CLOSE.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// The paths `pieces` name, each once, in order of first appearance.
#[must_use]
pub fn paths<'p>(pieces: impl IntoIterator<Item = &'p Piece<'p>>) -> Vec<SecretPath> {
    let mut out: Vec<SecretPath> = Vec::new();
    for piece in pieces {
        if let Piece::Secret(p) = piece
            && !out.contains(p)
        {
            out.push(p.clone());
        }
    }
    out
}

/// The text with each placeholder replaced by `value(path)`, encoded by `encode` (the URL
/// percent-encodes what it puts in a query, a header refuses line breaks).
///
/// # Errors
/// What `value` or `encode` return.
pub fn fill<E>(pieces: &[Piece<'_>], mut value: impl FnMut(&SecretPath) -> Result<Vec<u8>, E>) -> Result<Vec<u8>, E> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
            Piece::Secret(p) => out.extend_from_slice(&value(p)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cuts_text_at_placeholders() {
        let pieces = parse("Bearer {{secret:providers/openai}} and {{secret: a/b }}!").unwrap();
        assert_eq!(pieces.len(), 5);
        assert_eq!(paths(&pieces).iter().map(SecretPath::as_str).collect::<Vec<_>>(), vec!["providers/openai", "a/b"]);
        let filled = fill(&pieces, |p| Ok::<_, ()>(format!("<{}>", p.as_str()).into_bytes())).unwrap();
        assert_eq!(String::from_utf8(filled).unwrap(), "Bearer <providers/openai> and <a/b>!");
        assert!(paths(&parse("no placeholder").unwrap()).is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_placeholder() {
        assert_eq!(parse("{{secret:a/b"), Err(PlaceholderError::Unclosed));
        assert!(matches!(parse("{{secret:../etc}}"), Err(PlaceholderError::BadPath { .. })));
        assert_eq!(parse(&"{{secret:a}}".repeat(17)), Err(PlaceholderError::TooMany));
    }
}
