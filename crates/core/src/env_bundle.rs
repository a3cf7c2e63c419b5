//! The content of an `env_bundle` secret: `KEY=VALUE` lines, as a `.env` file holds them, so
//! one secret can carry a bot's whole environment. Blank lines and `#` comments are skipped,
//! an `export ` prefix is allowed, and a value in matching single or double quotes loses them
//! (nothing inside is interpreted: a bundle is data, never shell).

use std::collections::BTreeMap;

/// A line that is no `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the env bundle is not KEY=VALUE with a name of letters, digits and _")]
pub struct EnvBundleError {
    /// 1-based line number (never the line: it may hold a value).
    pub line: usize,
}

/// The variables of a bundle, by name; a later line wins over an earlier one.
///
/// # Errors
/// The first line that is not `KEY=VALUE`.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, EnvBundleError> {
    let mut vars = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (name, value) = line.split_once('=').ok_or(EnvBundleError { line: n + 1 })?;
        let name = name.trim();
        if !is_name(name) {
            return Err(EnvBundleError { line: n + 1 });
        }
        vars.insert(name.to_owned(), unquote(value.trim()).to_owned());
    }
    Ok(vars)
}

/// An environment variable name a shell accepts: letters, digits and `_`, not starting with a
/// digit.
#[must_use]
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_lines_comments_exports_and_quotes() {
        let vars = parse("# bot\nDISCORD_TOKEN=abc=def\n\nexport  OPENAI_KEY = \"sk x\"\nQ='it''s'\nE=\n").unwrap();
        assert_eq!(vars["DISCORD_TOKEN"], "abc=def");
        assert_eq!(vars["OPENAI_KEY"], "sk x");
        assert_eq!(vars["Q"], "it''s");
        assert_eq!(vars["E"], "");
        assert_eq!(vars.len(), 4);
    }

    #[test]
    fn refuses_a_bad_line_by_number_without_its_text() {
        let e = parse("A=1\nsecret-value-without-equals\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("secret-value"));
        assert_eq!(parse("1A=x").unwrap_err().line, 1);
        assert_eq!(parse("A B=x").unwrap_err().line, 1);
    }
}
