//! What `inspect_content` tells an agent about a text before it goes somewhere (a commit, a
//! chat message, a tool call): where it holds strings shaped like credentials, and where it
//! holds values of secrets the agent may use. Findings name a kind or a path and a byte range,
//! never the text they found.

use serde::Serialize;

use crate::redact::Redactor;

/// Shortest token that counts as a high-entropy string.
const MIN_RANDOM_LEN: usize = 32;
/// Bits per character above which a long token is taken for random.
const MIN_ENTROPY_BITS: f64 = 4.0;
/// Longest text inspected; beyond it only the first part is (bounded work per call).
pub const MAX_INSPECT_BYTES: usize = 1024 * 1024;

/// One place in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it looks like (`openai_key`, `github_token`, `private_key`, `high_entropy_string`),
    /// or `secret` for a value of a secret the caller may use.
    pub kind: &'static str,
    /// For `secret`: the secret's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Byte offsets into the text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
}

/// Credential shapes by prefix: (prefix, shortest token, kind).
const PREFIXES: &[(&str, usize, &str)] = &[
    ("sk-ant-", 40, "anthropic_key"),
    ("sk-", 24, "openai_key"),
    ("github_pat_", 40, "github_token"),
    ("ghp_", 36, "github_token"),
    ("gho_", 36, "github_token"),
    ("ghu_", 36, "github_token"),
    ("ghs_", 36, "github_token"),
    ("glpat-", 26, "gitlab_token"),
    ("xoxb-", 24, "slack_token"),
    ("xoxp-", 24, "slack_token"),
    ("xapp-", 24, "slack_token"),
    ("AKIA", 20, "aws_access_key_id"),
    ("ASIA", 20, "aws_access_key_id"),
    ("1ck_", 24, "clawvault_key"),
    ("ocv_", 24, "clawvault_key"),
    ("eyJ", 30, "jwt"),
];

/// Findings reported at most: past them the scan stops (a text of repeated keys would
/// otherwise make an answer as large as itself).
pub const MAX_FINDINGS: usize = 1000;

/// Whether `findings` (sorted by start, not overlapping) has one overlapping `start..end`.
fn overlaps(findings: &[Finding], start: usize, end: usize) -> bool {
    let i = findings.partition_point(|f| f.end <= start);
    findings.get(i).is_some_and(|f| f.start < end)
}

/// Findings in `text`, by start: credential-shaped strings, and the values `known` covers; at
/// most [`MAX_FINDINGS`], the first in the text. The work is linear in the text (each check against earlier findings
/// is a binary search).
#[must_use]
pub fn inspect(text: &str, known: &Redactor) -> Vec<Finding> {
    let text = &text[..text.floor_char_boundary(MAX_INSPECT_BYTES)];
    // Leftmost, non-overlapping matches: sorted already.
    let secrets: Vec<Finding> = known
        .find(text.as_bytes())
        .into_iter()
        .take(MAX_FINDINGS)
        .map(|(path, r)| Finding { kind: "secret", path: Some(path.to_owned()), start: r.start, end: r.end })
        .collect();
    let mut shapes = Vec::new();
    for (start, token) in tokens(text) {
        if shapes.len() >= MAX_FINDINGS {
            break;
        }
        let end = start + token.len();
        if overlaps(&secrets, start, end) {
            continue;
        }
        if let Some(kind) = shaped(token) {
            shapes.push(Finding { kind, path: None, start, end });
        }
    }
    let mut findings = secrets;
    findings.append(&mut shapes);
    findings.sort_by_key(|f| f.start);
    findings.truncate(MAX_FINDINGS);
    // PEM private keys: from the BEGIN line to the END line (or the end of the text).
    let mut keys = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("-----BEGIN") {
        if keys.len() >= MAX_FINDINGS {
            break;
        }
        let start = from + at;
        // The header line only, and only its first 80 bytes: the work stays linear in the text.
        let header = &text.as_bytes()[start..(start + 80).min(text.len())];
        let header = &header[..header.iter().position(|&b| b == b'\n').unwrap_or(header.len())];
        let is_key = header.windows(11).any(|w| w == b"PRIVATE KEY");
        let end = text[start..].find("-----END").map_or(text.len(), |e| start + e);
        if is_key && !overlaps(&findings, start, end) {
            keys.push(Finding { kind: "private_key", path: None, start, end });
        }
        from = end.max(start + 1);
    }
    findings.append(&mut keys);
    findings.sort_by_key(|f| f.start);
    findings.truncate(MAX_FINDINGS);
    findings
}

/// The kind of credential `token` looks like, if any.
fn shaped(token: &str) -> Option<&'static str> {
    for (prefix, min, kind) in PREFIXES {
        if token.len() >= *min && token.starts_with(prefix) {
            if *kind == "jwt" && token.matches('.').count() != 2 {
                continue;
            }
            if *kind == "aws_access_key_id" && !token.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
                continue;
            }
            return Some(kind);
        }
    }
    (token.len() >= MIN_RANDOM_LEN && looks_random(token)).then_some("high_entropy_string")
}

/// Mixed letters and digits with high Shannon entropy per character.
fn looks_random(token: &str) -> bool {
    let has = |f: fn(&char) -> bool| token.chars().any(|c| f(&c));
    if !(has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase) && has(char::is_ascii_digit)) {
        return false;
    }
    let mut counts = [0u32; 256];
    for b in token.bytes() {
        counts[usize::from(b)] += 1;
    }
    #[allow(clippy::cast_precision_loss)] // lengths are far below 2^52
    let len = token.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum();
    entropy >= MIN_ENTROPY_BITS
}

/// Runs of characters credentials are made of, with their byte offsets.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=' | '.');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (part(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    // A trailing full stop ends a sentence, not a token.
    out.into_iter().map(|(s, t)| (s, t.trim_end_matches('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, known: &Redactor) -> Vec<(&'static str, Option<String>)> {
        inspect(text, known).into_iter().map(|f| (f.kind, f.path)).collect()
    }

    #[test]
    fn credential_shapes_and_known_values_are_found_and_never_repeated() {
        let known = Redactor::new([("prod/db/main", b"correct-horse-battery".as_slice())]).unwrap();
        let text = "deploy with sk-proj-abcdefghijklmnopqrstuvwxyz012345 and ghp_abcdefghijklmnopqrstuvwxyz0123456789 \
                    AKIAIOSFODNN7EXAMPLE; password correct-horse-battery. Hello world, version 1.2.3.";
        let found = inspect(text, &known);
        let shown = serde_json::to_string(&found).unwrap();
        assert!(!shown.contains("sk-proj") && !shown.contains("horse"), "findings never hold the text: {shown}");
        assert_eq!(
            kinds(text, &known),
            vec![
                ("openai_key", None),
                ("github_token", None),
                ("aws_access_key_id", None),
                ("secret", Some("prod/db/main".to_owned())),
            ]
        );
        let f = &found[3];
        assert_eq!(&text[f.start..f.end], "correct-horse-battery");
    }

    #[test]
    fn ordinary_text_is_not_a_finding() {
        let none = Redactor::new([]).unwrap();
        for text in [
            "The quick brown fox jumps over the lazy dog.",
            "see https://docs.example.com/guide/getting-started-with-the-api",
            "commit 3f2a9c1 fixes #1234; uuid 0c6f3f3e-5d7c-4f0e-9a57-8f0d3c8e2b11",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(inspect(text, &none), vec![], "{text}");
        }
        let random = "token: Zq8Lw2Xe7Rt5Yu1Io9Pa3Sd6Fg4Hj0KlMnBvCx";
        assert_eq!(kinds(random, &none), vec![("high_entropy_string", None)]);
        let pem = "key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n";
        assert_eq!(kinds(pem, &none), vec![("private_key", None)]);
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(inspect(cert, &none), vec![], "a certificate is public");
        // Many markers on one line: still one pass.
        let markers = "-----BEGIN".repeat(100_000);
        assert_eq!(inspect(&markers, &none).len(), 0);
    }

    #[test]
    fn a_text_of_repeated_keys_and_values_is_scanned_in_linear_time_and_capped() {
        let known = Redactor::new([("k", b"abcdefgh".as_slice())]).unwrap();
        // 1 MiB of keys and known values, alternating: quadratic checks would take minutes.
        let text = "AKIAAAAAAAAAAAAAAAAA abcdefgh ".repeat(40_000);
        let found = inspect(&text, &known);
        assert_eq!(found.len(), MAX_FINDINGS);
        assert!(found.windows(2).all(|w| w[0].end <= w[1].start), "sorted, not overlapping");
        assert!(found.iter().any(|f| f.kind == "secret") && found.iter().any(|f| f.kind == "aws_access_key_id"));
    }
}
