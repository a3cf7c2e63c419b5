//! One redaction for every surface that hands an agent output a secret may have reached (MCP
//! tool results, `run`'s output, proxied answers, logs): each value a call touched, and the
//! forms it takes when something encodes it — base64 (standard and URL-safe, at all three
//! alignments inside a longer encoding), hex, percent- and JSON-escaping — is replaced by
//! `[REDACTED:PATH]`, also when a match spans two chunks of a stream.
//!
//! A [`Redactor`] holds the values in its matcher, which cannot be zeroized: make one per call
//! and drop it with the call.

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// Values shorter than this are not redacted: matching two or three bytes would mangle
/// ordinary output, and such a value protects nothing anyway.
pub const MIN_VALUE_LEN: usize = 4;
/// An encoded form shorter than this is left out (too likely to occur by chance).
const MIN_FORM_LEN: usize = 6;

/// Errors building a redactor.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// The matcher could not be built (more patterns than it can hold).
    #[error("cannot build the redaction matcher: {0}")]
    Build(String),
}

/// Replaces secret values, and their encoded forms, in output.
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    /// For each pattern, the index of the path it stands for.
    owner: Vec<usize>,
    paths: Vec<String>,
    longest: usize,
    /// The patterns by their first byte, to tell whether the end of a stream's output could
    /// be the start of one.
    by_first: Vec<Vec<Vec<u8>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for `secrets`: `(path, value)` pairs, the path being what replaces the value
    /// (`[REDACTED:prod/db/main]`).
    ///
    /// # Errors
    /// [`RedactError::Build`] when the matcher cannot hold the patterns.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Self, RedactError> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        let mut paths = Vec::new();
        for (path, value) in secrets {
            if value.len() < MIN_VALUE_LEN {
                continue;
            }
            let index = paths.len();
            paths.push(path.to_owned());
            for form in forms(value) {
                if !patterns.contains(&form) {
                    patterns.push(form);
                    owner.push(index);
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| RedactError::Build(e.to_string()))?,
            )
        };
        let mut by_first = vec![Vec::new(); 256];
        for p in &patterns {
            if let Some(&b) = p.first() {
                by_first[usize::from(b)].push(p.clone());
            }
        }
        Ok(Self { matcher, owner, paths, longest, by_first })
    }

    /// The length of the longest end of `output` that is the start of a pattern, without being
    /// one: what a stream must hold back until the next chunk says whether a value completes.
    fn partial_end(&self, output: &[u8]) -> usize {
        let most = self.longest.saturating_sub(1).min(output.len());
        (1..=most)
            .rev()
            .find(|&k| {
                let end = &output[output.len() - k..];
                self.by_first[usize::from(end[0])].iter().any(|p| p.len() > k && p.starts_with(end))
            })
            .unwrap_or(0)
    }

    /// `input` with every value and encoded form replaced.
    #[must_use]
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let done = self.replace_until(input, input.len(), &mut out);
        out.extend_from_slice(&input[done..]);
        out
    }

    /// `input` as text, redacted (invalid UTF-8 that redaction leaves is replaced by U+FFFD).
    #[must_use]
    pub fn redact_str(&self, input: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes())).into_owned()
    }

    /// Where `input` holds a value or one of its forms: the path it belongs to and the byte
    /// range (never the value).
    #[must_use]
    pub fn find<'s>(&'s self, input: &[u8]) -> Vec<(&'s str, std::ops::Range<usize>)> {
        let Some(matcher) = &self.matcher else { return Vec::new() };
        matcher.find_iter(input).map(|m| (self.paths[self.owner[m.pattern().as_usize()]].as_str(), m.range())).collect()
    }

    /// `input` redacted, where `cut` says it is the head of a longer output cut at a limit: then
    /// its last bytes, where a value could be starting, are dropped rather than shown (half a
    /// value matches no pattern).
    #[must_use]
    pub fn redact_cut(&self, input: &[u8], cut: bool) -> Vec<u8> {
        let mut stream = self.stream();
        let mut out = stream.push(input);
        if !cut {
            out.extend(stream.finish());
        }
        out
    }

    /// A redactor for one stream of chunks.
    #[must_use]
    pub fn stream(&self) -> RedactStream<&Self> {
        RedactStream { redactor: self, pending: Vec::new() }
    }

    /// A redactor for one stream of chunks that owns its share of the redactor (for a stream
    /// that outlives the call that made it: a proxied answer).
    #[must_use]
    pub fn shared_stream(self: &std::sync::Arc<Self>) -> RedactStream<std::sync::Arc<Self>> {
        RedactStream { redactor: std::sync::Arc::clone(self), pending: Vec::new() }
    }

    /// Writes `input` redacted to `out` up to the first match that starts at or after `hold`
    /// (or the end); returns how far `input` is consumed.
    fn replace_until(&self, input: &[u8], hold: usize, out: &mut Vec<u8>) -> usize {
        let Some(matcher) = &self.matcher else {
            out.extend_from_slice(&input[..hold]);
            return hold;
        };
        let mut pos = 0;
        for m in matcher.find_iter(input) {
            if m.start() >= hold {
                break;
            }
            out.extend_from_slice(&input[pos..m.start()]);
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(self.paths[self.owner[m.pattern().as_usize()]].as_bytes());
            out.push(b']');
            pos = m.end();
        }
        let safe = hold.max(pos);
        out.extend_from_slice(&input[pos..safe]);
        safe
    }
}

/// Redacts a stream chunk by chunk: the end of each chunk that could be the start of a value
/// is held back until the next chunk says whether it is. What it holds back is shorter than
/// the longest pattern, so its memory is bounded whatever the stream's length.
pub struct RedactStream<R: std::ops::Deref<Target = Redactor>> {
    redactor: R,
    pending: Vec<u8>,
}

impl<R: std::ops::Deref<Target = Redactor>> fmt::Debug for RedactStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactStream").field("held", &self.pending.len()).finish_non_exhaustive()
    }
}

impl<R: std::ops::Deref<Target = Redactor>> RedactStream<R> {
    /// The redacted output that `chunk` lets out now: everything but an end that could still
    /// become a value (or one of its forms) with the next chunk.
    #[must_use]
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        // Whatever starts before `hold` is no unfinished pattern: a match there is whole and
        // final; the end from `hold` on may still grow into one with the next chunk.
        let hold = self.pending.len() - self.redactor.partial_end(&self.pending);
        let mut out = Vec::with_capacity(self.pending.len());
        let done = self.redactor.replace_until(&self.pending, hold, &mut out);
        self.pending.drain(..done);
        out
    }

    /// The rest, at the end of the stream.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        self.redactor.redact(&self.pending)
    }
}

/// Every form a value takes when output encodes it, and when output trims it (a value stored
/// with its file's final newline is printed without it) or, for a hex value, changes its case.
fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let trimmed = value.trim_ascii();
    let mut out = if trimmed.len() != value.len() && trimmed.len() >= MIN_VALUE_LEN {
        let mut both = one_forms(value);
        both.extend(one_forms(trimmed));
        both
    } else {
        one_forms(value)
    };
    if value.iter().all(u8::is_ascii_hexdigit) {
        out.push(value.to_ascii_lowercase());
        out.push(value.to_ascii_uppercase());
    }
    out
}

/// The encoded forms of one value.
fn one_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![value.to_vec()];
    for alignment in 0..3 {
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            out.push(base64_core(engine, value, alignment));
        }
    }
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.to_ascii_uppercase().into_bytes());
    out.push(hex.into_bytes());
    if let Ok(text) = std::str::from_utf8(value) {
        // Percent-encoding, of everything but letters and digits or (as URLs do) of everything
        // but RFC 3986's unreserved characters; hex digits upper- or lower-case; a space as
        // `%20` or, in forms, `+`.
        for set in [NON_ALPHANUMERIC, URL_UNRESERVED] {
            let percent = utf8_percent_encode(text, set).to_string();
            for encoded in [lower_hex_escapes(&percent), percent] {
                if encoded.contains("%20") {
                    out.push(encoded.replace("%20", "+").into_bytes());
                }
                out.push(encoded.into_bytes());
            }
        }
        // JSON strings as serde, PHP (`\/`) and Go (`\u003c`, `\u003e`, `\u0026`) escape
        // them, and with everything outside ASCII as `\uXXXX` (Python's default).
        let json = serde_json::Value::String(text.to_owned()).to_string();
        let json = &json[1..json.len() - 1];
        out.push(json.replace('/', "\\/").into_bytes());
        out.push(json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").into_bytes());
        out.push(ascii_json(json).into_bytes());
        out.push(json.as_bytes().to_vec());
        // HTML text and attributes.
        out.push(
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;")
                .into_bytes(),
        );
    }
    out.retain(|f| f.len() >= MIN_FORM_LEN || f.as_slice() == value);
    out.sort();
    out.dedup();
    out
}

/// RFC 3986's unreserved characters stay as they are: what a URL builder encodes.
const URL_UNRESERVED: &percent_encoding::AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `%2F` as `%2f`, leaving everything else as it is.
fn lower_hex_escapes(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut escape = 0;
    for c in percent.chars() {
        if c == '%' {
            escape = 2;
            out.push(c);
        } else if escape > 0 {
            escape -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON string body with every character outside ASCII written as `\uXXXX` (UTF-16).
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The base64 characters that depend on `value` alone when it sits `alignment` bytes into a
/// longer encoded run: those touched by the bytes before or after it are left off.
fn base64_core(engine: &base64::engine::GeneralPurpose, value: &[u8], alignment: usize) -> Vec<u8> {
    let mut padded = vec![0u8; alignment];
    padded.extend_from_slice(value);
    let encoded = engine.encode(&padded).into_bytes();
    let start = (alignment * 8).div_ceil(6);
    let end = ((alignment + value.len()) * 8 / 6).min(encoded.len());
    encoded.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALUE: &[u8] = b"sk-live-canary-4f9a";

    fn redactor() -> Redactor {
        Redactor::new([("prod/openai/api-key", VALUE)]).unwrap()
    }

    fn leaks(out: &[u8]) -> bool {
        forms(VALUE).iter().any(|f| out.windows(f.len()).any(|w| w == f.as_slice()))
    }

    #[test]
    fn every_encoded_form_is_replaced_by_its_path() {
        let r = redactor();
        let text = String::from_utf8_lossy(VALUE).into_owned();
        let encodings = [
            text.clone(),
            base64::engine::general_purpose::STANDARD.encode(VALUE),
            base64::engine::general_purpose::URL_SAFE.encode(VALUE),
            base64::engine::general_purpose::STANDARD.encode([b"x".as_slice(), VALUE].concat()),
            base64::engine::general_purpose::STANDARD.encode([b"xy".as_slice(), VALUE, b"z"].concat()),
            VALUE.iter().map(|b| format!("{b:02x}")).collect(),
            VALUE.iter().map(|b| format!("{b:02X}")).collect(),
            utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string(),
            serde_json::json!({ "key": text }).to_string(),
        ];
        for encoded in encodings {
            let out = r.redact(format!("before {encoded} after").as_bytes());
            assert!(!leaks(&out), "{encoded} leaked: {}", String::from_utf8_lossy(&out));
            assert!(String::from_utf8_lossy(&out).contains("prod/openai/api-key"), "{encoded}");
        }
        // A value with characters JSON escapes, inside a JSON document.
        let quoted = Redactor::new([("x/pw", br#"pa"ss\word-1"#.as_slice())]).unwrap();
        let out = quoted.redact_str(&serde_json::json!({ "password": "pa\"ss\\word-1" }).to_string());
        assert_eq!(out, r#"{"password":"[REDACTED:x/pw]"}"#);
    }

    #[test]
    fn a_trimmed_value_and_a_hex_value_in_the_other_case_are_masked() {
        let r = Redactor::new([("x/pem", b"trailingsecret123\n".as_slice()), ("x/hex", b"deadbeef0123".as_slice())])
            .unwrap();
        assert_eq!(r.redact_str("token=trailingsecret123;"), "token=[REDACTED:x/pem];");
        assert_eq!(r.redact_str("id DEADBEEF0123"), "id [REDACTED:x/hex]");
    }

    #[test]
    fn a_stream_holds_back_only_an_end_that_could_become_a_value() {
        let r = Redactor::new([("x/key", b"sk-live-0123456789".as_slice())]).unwrap();
        let mut stream = r.stream();
        assert_eq!(stream.push(b"Enter the code: "), b"Enter the code: ", "a prompt is shown at once");
        assert_eq!(stream.push(b"sk-li"), b"", "the start of the value waits");
        assert_eq!(stream.push(b"ve-0123456789 ok\n"), b"[REDACTED:x/key] ok\n");
        assert_eq!(stream.push(b"sk-lx"), b"sk-lx", "released once it cannot be the value");
    }

    #[test]
    fn short_values_and_empty_sets_leave_output_alone() {
        let r = Redactor::new([("x/pin", b"123".as_slice())]).unwrap();
        assert_eq!(r.redact(b"123 456"), b"123 456");
        assert_eq!(r.stream().push(b"abc"), b"abc");
        assert!(!format!("{r:?}").contains("123"));
        assert!(!format!("{:?}", redactor()).contains("canary"), "Debug names paths, never values");
    }

    proptest! {
        /// No chunking of an output hides a value from the stream, and the stream says what
        /// redacting the whole output at once says.
        #[test]
        fn no_chunking_hides_a_value(
            before in "[a-zA-Z0-9+/= \n]{0,40}",
            after in "[a-zA-Z0-9+/= \n]{0,40}",
            form in 0usize..8,
            cuts in proptest::collection::vec(0usize..200, 0..12),
        ) {
            let r = redactor();
            let value = String::from_utf8_lossy(VALUE).into_owned();
            let encoded = match form {
                0 => value,
                1 => base64::engine::general_purpose::STANDARD.encode(VALUE),
                2 => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([b"q".as_slice(), VALUE].concat()),
                3 => base64::engine::general_purpose::STANDARD.encode([b"qq".as_slice(), VALUE].concat()),
                4 => VALUE.iter().map(|b| format!("{b:02x}")).collect(),
                5 => utf8_percent_encode(&value, NON_ALPHANUMERIC).to_string(),
                6 => format!("{value}{value}"),
                _ => serde_json::Value::String(value).to_string(),
            };
            let whole = format!("{before}{encoded}{after}").into_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (whole.len() + 1)).collect();
            cuts.sort_unstable();
            let mut stream = r.stream();
            let mut out = Vec::new();
            let mut last = 0;
            for c in cuts {
                out.extend(stream.push(&whole[last..c]));
                last = c;
            }
            out.extend(stream.push(&whole[last..]));
            out.extend(stream.finish());
            prop_assert!(!leaks(&out), "leaked: {}", String::from_utf8_lossy(&out));
            prop_assert_eq!(out, r.redact(&whole));
        }
    }
}
