//! `.env` files as dotenv tools read them (python-dotenv, the `dotenv` npm package, docker
//! compose): `KEY=VALUE` lines, an optional `export ` before the key, `#` comments on their own
//! line or after an unquoted value, single-quoted values taken literally, double-quoted values
//! with `\n`, `\t`, `\r`, `\"` and `\\` escapes, and quoted values that span several lines.
//! `${NAME}` in an unquoted or double-quoted value is replaced by the value of a key defined
//! earlier in the same file (the process environment is never read: importing a file must not
//! copy this machine's variables into a vault); single-quoted values are never expanded.
//!
//! The whole file is parsed before anything is used: an error names its line and what to fix,
//! and never quotes a value.

use zeroize::Zeroizing;

/// Longest file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// One variable of a file.
pub struct Variable {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: Zeroizing<String>,
    /// The line it starts on (1-based).
    pub line: usize,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable").field("key", &self.key).field("line", &self.line).finish_non_exhaustive()
    }
}

/// A line that is not what a dotenv file holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct DotenvError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

fn bad(line: usize, problem: impl Into<String>) -> DotenvError {
    DotenvError { line, problem: problem.into() }
}

/// Parses a whole file; a key defined twice keeps its last value (as dotenv tools do).
///
/// # Errors
/// The first line that cannot be read, or a file over [`MAX_FILE_BYTES`].
pub fn parse(text: &str) -> Result<Vec<Variable>, DotenvError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(bad(0, format!("the file is larger than {MAX_FILE_BYTES} bytes")));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Variable> = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let (this, next) = rest.split_once('\n').unwrap_or((rest, ""));
        let start = line;
        let trimmed = this.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            rest = next;
            line += 1;
            continue;
        }
        let body = trimmed.strip_prefix("export ").map_or(trimmed, str::trim_start);
        let (key, _) = body
            .split_once('=')
            .ok_or_else(|| bad(start, "is not KEY=VALUE (a variable needs `=`; comments start with `#`)"))?;
        let key = key.trim();
        if !valid_key(key) {
            return Err(bad(
                start,
                "has a key that is not a variable name (letters, digits, `_`, `.` and `-`, not starting with a digit)",
            ));
        }
        // The value starts after the line's first `=`; a quoted one may run on over later lines.
        let eq = this.find('=').unwrap_or(this.len());
        let after_eq = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let (value, consumed_lines, remaining) = match after_eq.chars().next() {
            Some(q @ ('\'' | '"')) => quoted(&after_eq[1..], q, start)?,
            _ => {
                let (raw, remaining) = after_eq.split_once('\n').unwrap_or((after_eq, ""));
                (unquoted(raw), 0, remaining)
            }
        };
        let expanded = match after_eq.chars().next() {
            Some('\'') => value,
            _ => expand(&value, &out, start)?,
        };
        out.retain(|v| v.key != key);
        out.push(Variable { key: key.to_owned(), value: expanded, line: start });
        line += 1 + consumed_lines;
        rest = remaining;
    }
    Ok(out)
}

fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// An unquoted value: up to a ` #` comment, trimmed.
fn unquoted(raw: &str) -> Zeroizing<String> {
    let raw = raw.trim_end_matches('\r');
    let cut = raw.find(" #").or_else(|| raw.find("\t#")).unwrap_or(raw.len());
    Zeroizing::new(raw[..cut].trim().to_owned())
}

/// A value after its opening quote `q`: up to the closing quote (escapes read in double
/// quotes), then only a comment may follow on that line. Returns the value, how many line
/// breaks it spanned, and what follows its line.
fn quoted(text: &str, q: char, start: usize) -> Result<(Zeroizing<String>, usize, &str), DotenvError> {
    let mut value = Zeroizing::new(String::new());
    let mut lines = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == q => {
                let tail = &text[i + 1..];
                let (line_rest, remaining) = tail.split_once('\n').unwrap_or((tail, ""));
                let line_rest = line_rest.trim();
                if !line_rest.is_empty() && !line_rest.starts_with('#') {
                    return Err(bad(start + lines, "has text after the closing quote (only a `#` comment may follow)"));
                }
                return Ok((value, lines, remaining));
            }
            '\\' if q == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, e @ ('"' | '\\' | '\'' | '$'))) => {
                    // `\$` stays escaped until expansion, which then leaves a literal `$`.
                    if e == '$' {
                        value.push('\\');
                    }
                    value.push(e);
                }
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            },
            '\n' => {
                lines += 1;
                value.push('\n');
            }
            '\r' => {}
            other => value.push(other),
        }
    }
    Err(bad(start, format!("opens a {} quote that is never closed", if q == '"' { "double" } else { "single" })))
}

/// Replaces `${NAME}` by the value of `NAME` defined before; `\$` is a literal `$`.
fn expand(value: &str, defined: &[Variable], line: usize) -> Result<Zeroizing<String>, DotenvError> {
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        if rest[..at].ends_with('\\') {
            out.push_str(&rest[..at - 1]);
            out.push('$');
            rest = &rest[at + 1..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.strip_prefix('{').and_then(|a| a.split_once('}')) {
            Some((name, tail)) => {
                let found = defined
                    .iter()
                    .find(|v| v.key == name)
                    .ok_or_else(|| {
                        // The name is not echoed: in a value meant literally it is part of it.
                        bad(
                            line,
                            "uses a ${...} reference to a name no earlier line of the file defines (single quotes keep a value as written)"
                                .to_owned(),
                        )
                    })?;
                out.push_str(&found.value);
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A value that cannot be written so that dotenv tools read it back the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct RenderError {
    /// The variable.
    pub key: String,
    /// Why.
    pub problem: &'static str,
}

/// `KEY=VALUE` lines that dotenv tools (and [`parse`]) read back as `variables`: plain when
/// nothing in the value needs quoting, single-quoted (literal, never expanded) otherwise, and
/// double-quoted with escapes when the value holds a single quote.
///
/// # Errors
/// A key that is no variable name, or a value holding both a single quote and `${` (neither
/// quoting keeps it as it is in every tool).
pub fn render<'a>(variables: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Zeroizing<String>, RenderError> {
    let mut out = Zeroizing::new(String::new());
    for (key, value) in variables {
        let fail = |problem| RenderError { key: key.to_owned(), problem };
        if !valid_key(key) {
            return Err(fail("is not a variable name (letters, digits, `_`, `.` and `-`, not starting with a digit)"));
        }
        out.push_str(key);
        out.push('=');
        let plain = value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:@+,-=".contains(&b));
        if plain {
            out.push_str(value);
        } else if !value.contains('\'') {
            out.push('\'');
            out.push_str(value);
            out.push('\'');
        } else if value.contains("${") {
            return Err(fail("holds both a single quote and `${`, which no dotenv quoting keeps as it is"));
        } else {
            out.push('"');
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().map(|v| (v.key, v.value.to_string())).collect()
    }

    #[test]
    fn reads_what_dotenv_tools_read() {
        let text = "\u{feff}# a comment\n\nA=plain\nexport B = spaced value # comment\nC='single $A # kept'\nD=\"esc\\n\\t\\\"q\\\" \\\\ \\$A\"\nE=\"line one\nline two\"\nF='multi\n  line'  # after\nG=${A}/x\nH=\"${A}-${B}\"\nI=\nJ=a#b\nA=again\n";
        assert_eq!(
            pairs(text),
            vec![
                ("B".into(), "spaced value".into()),
                ("C".into(), "single $A # kept".into()),
                ("D".into(), "esc\n\t\"q\" \\ $A".into()),
                ("E".into(), "line one\nline two".into()),
                ("F".into(), "multi\n  line".into()),
                ("G".into(), "plain/x".into()),
                ("H".into(), "plain-spaced value".into()),
                ("I".into(), String::new()),
                ("J".into(), "a#b".into()),
                ("A".into(), "again".into()),
            ]
        );
        let lines: Vec<usize> = parse(text).unwrap().iter().map(|v| v.line).collect();
        assert_eq!(lines, vec![4, 5, 6, 7, 9, 11, 12, 13, 14, 15]);
    }

    #[test]
    fn rendered_files_read_back_the_same() {
        let values = [
            ("PLAIN", "sk-live_123/abc:def@x.y+z=,"),
            ("SPACED", " lead and trail "),
            ("HASH", "a # not a comment"),
            ("DOLLAR", "${NOT_EXPANDED} and $x"),
            ("QUOTE", "it's \"quoted\" \\ back\nslash\ttab"),
            ("MULTI", "-----BEGIN-----\nabc\n-----END-----"),
            ("EMPTY", ""),
        ];
        let text = render(values.iter().map(|(k, v)| (*k, *v))).unwrap();
        let back: Vec<(String, String)> = pairs(&text);
        let want: Vec<(String, String)> = values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(back, want);
        assert!(render([("1BAD", "x")]).is_err());
        assert!(render([("K", "it's ${X}")]).is_err());
    }

    #[test]
    fn errors_name_the_line_and_never_a_value() {
        let err = |text: &str| parse(text).unwrap_err();
        assert_eq!(err("A=1\nnot a variable\n").line, 2);
        assert_eq!(err("A=1\n1BAD=x\n").line, 2);
        assert_eq!(err("A=1\nB=\"open secret-value\nC=2\n").line, 2);
        let e = err("A=\"secret-value\" trailing\n");
        assert!(!e.to_string().contains("secret-value"), "{e}");
        assert_eq!(err("A=${UNDEFINED}\n").line, 1);
        assert!(parse(&"x".repeat(MAX_FILE_BYTES + 1)).is_err());
    }
}
