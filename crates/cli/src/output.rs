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

#[cfg(test)]
mod tests {
    use super::*;

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
