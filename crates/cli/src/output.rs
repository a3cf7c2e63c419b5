//! Output for users (aligned tables) and for scripts (`--json`).

use std::io::Write;

use serde::Serialize;

/// A table with a header row; columns are padded to their widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    #[must_use]
    pub fn new(header: Vec<&'static str>) -> Self {
        Self { header, rows: Vec::new() }
    }

    /// Adds a row; anything a terminal would obey rather than show is escaped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    /// Renders to text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: Vec<&str>| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(cell);
                } else {
                    s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = line(self.header.clone());
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
            out.push('\n');
        }
        out
    }
}

/// Renders `label: value` lines with the values aligned (one record, for `show` commands);
/// values are escaped as table cells are.
#[must_use]
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$}  {}\n", format!("{label}:"), printable(value), width = width))
        .collect()
}

/// Text from the server (names, descriptions) made safe to print: control and invisible
/// formatting characters (an ESC that would start a terminal command, a newline that would
/// forge a row) are shown as `\u{..}` escapes. The server refuses them in new text; this
/// guards against older rows and other servers.
#[must_use]
pub fn printable(s: &str) -> String {
    clawvault_core::text::escaped(s)
}

/// Prints a key the server shows once, after `heading`, with the warning that goes with it.
/// The key is the only secret any command prints without being asked for one.
///
/// # Errors
/// I/O failures.
pub fn key_once(heading: &str, key: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{heading}")?;
    writeln!(out, "Store this key now; it is never shown again:")?;
    writeln!(out, "  {key}")?;
    out.flush()?;
    Ok(())
}

/// Prints `value` as pretty JSON.
///
/// # Errors
/// Serialization or I/O failures.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Reports a finished action: `{"<what>": subject}` with `--json`, `text` otherwise.
///
/// # Errors
/// I/O failures.
pub fn done(json: bool, what: &str, subject: impl Serialize, text: &str) -> anyhow::Result<()> {
    if json {
        self::json(&serde_json::json!({ what: subject }))
    } else {
        println!("{text}");
        Ok(())
    }
}

/// Shortens an RFC 3339 timestamp to seconds (`2026-11-26 06:22:24`).
#[must_use]
pub fn short_time(t: &str) -> String {
    t.get(..19).map_or_else(|| t.to_owned(), |s| s.replace('T', " "))
}

/// `value` as YAML: block mappings and sequences, every string double-quoted with JSON's
/// escapes (which YAML's double-quoted style reads the same), so that no value is read back as
/// another type (`no`, `1e3`, `~`) and no character a YAML reader refuses is left bare.
#[must_use]
pub fn yaml(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let nested =
        |v: &Value| matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty());
    match value {
        v if !nested(v) => format!("{}\n", yaml_scalar(v)),
        v => yaml_block(v, 0),
    }
}

fn yaml_block(value: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value;
    let nested =
        |v: &Value| matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty());
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                if nested(v) {
                    out.push_str(&format!("{pad}{}:\n{}", yaml_key(k), yaml_block(v, indent + 2)));
                } else {
                    out.push_str(&format!("{pad}{}: {}\n", yaml_key(k), yaml_scalar(v)));
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                if nested(v) {
                    let inner = yaml_block(v, indent + 2);
                    out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                } else {
                    out.push_str(&format!("{pad}- {}\n", yaml_scalar(v)));
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", yaml_scalar(scalar))),
    }
    out
}

fn yaml_scalar(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => yaml_quoted(s),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// A key as it is when plainly a name, quoted otherwise (and always for YAML's own words).
fn yaml_key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { k.to_owned() } else { yaml_quoted(k) }
}

fn yaml_quoted(s: &str) -> String {
    let json = serde_json::Value::String(s.to_owned()).to_string();
    json.chars()
        .map(|c| {
            // YAML 1.1 readers take U+2028 and U+2029 for line breaks.
            if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quotes_what_a_reader_would_take_for_another_type() {
        let v = serde_json::json!({
            "name": "no", "count": 3, "on": true, "list": [{"a": "1e3"}, "~"], "empty": {}, "c1": "x\u{85}y"
        });
        assert_eq!(
            yaml(&v),
            "c1: \"x\\u0085y\"\ncount: 3\nempty: {}\nlist:\n  - a: \"1e3\"\n  - \"~\"\nname: \"no\"\n\"on\": true\n"
        );
        assert_eq!(yaml(&serde_json::json!("plain")), "\"plain\"\n");
        assert_eq!(yaml(&serde_json::json!("a\u{2028}b")), "\"a\\u2028b\"\n");
    }

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(vec!["PATH", "VERSION"]);
        t.row(vec!["a/long/path".into(), "1".into()]);
        t.row(vec!["b".into(), "12".into()]);
        assert_eq!(t.render(), "PATH         VERSION\na/long/path  1\nb            12\n");
    }

    #[test]
    fn cells_and_fields_cannot_command_the_terminal() {
        let mut t = Table::new(vec!["NAME", "DESCRIPTION"]);
        t.row(vec!["bot\r\nforged-row  approved".into(), "\u{1b}]52;c;aGk=\u{7}".into()]);
        let out = t.render();
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert_eq!(out.lines().count(), 2, "no forged row: {out:?}");
        assert!(out.contains("\\u{001b}]52;c;aGk=\\u{0007}"), "{out:?}");
        assert!(!fields(&[("name", "x\u{202e}y".into())]).contains('\u{202e}'));
    }

    #[test]
    fn aligns_fields() {
        assert_eq!(
            fields(&[("name", "bot".into()), ("last active", "never".into())]),
            "name:         bot\nlast active:  never\n"
        );
    }
}
