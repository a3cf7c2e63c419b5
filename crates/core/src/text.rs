//! Free text that users and agents give (names, descriptions) and that tables, logs and
//! approval prompts later show. A terminal obeys what it prints: an ESC starts a command (OSC 52
//! writes the clipboard), CR and LF forge rows, bidirectional overrides reorder what is read.
//! So free text may hold no control character and no invisible formatting character, and a
//! field says which one it met.

/// Why free text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Empty (or white space only) where a value is required.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// Longer than allowed.
    #[error("{field} is longer than {max} bytes")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// A character a terminal would obey rather than show.
    #[error("{field} contains U+{code:04X}, a control or invisible formatting character: use printable text")]
    Unprintable {
        /// The field.
        field: &'static str,
        /// The character.
        code: u32,
    },
}

/// Whether `c` would be obeyed or hidden by a terminal rather than shown: C0 and C1 controls,
/// DEL, and the invisible formatting characters that reorder or hide text (bidirectional
/// marks, embeddings, overrides and isolates; zero-width characters; the BOM).
#[must_use]
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// Checks a free-text field of at most `max` bytes; `required` refuses empty text.
///
/// # Errors
/// [`TextError`] naming the field and the rule.
pub fn check(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), TextError> {
    if required && value.trim().is_empty() {
        return Err(TextError::Empty(field));
    }
    if value.len() > max {
        return Err(TextError::TooLong { field, max });
    }
    match value.chars().find(|c| is_unprintable(*c)) {
        Some(c) => Err(TextError::Unprintable { field, code: u32::from(c) }),
        None => Ok(()),
    }
}

/// `s` with every unprintable character written as a `\u{..}` escape, for display.
#[must_use]
pub fn escaped(s: &str) -> String {
    if !s.chars().any(is_unprintable) {
        return s.to_owned();
    }
    s.chars().map(|c| if is_unprintable(c) { format!("\\u{{{:04x}}}", u32::from(c)) } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_commands_and_forged_rows_are_refused_by_name() {
        for (bad, code) in [
            ("bot\u{1b}]52;c;aGk=\u{7}", 0x1b),
            ("bot\r\nfake-row", 0x0d),
            ("nul\0", 0),
            ("del\u{7f}", 0x7f),
            ("csi\u{9b}", 0x9b),
            ("rtl\u{202e}txt", 0x202e),
            ("zero\u{200b}width", 0x200b),
        ] {
            assert_eq!(check("name", bad, 128, true), Err(TextError::Unprintable { field: "name", code }), "{bad:?}");
        }
        assert_eq!(check("name", "  ", 128, true), Err(TextError::Empty("name")));
        assert!(check("description", "", 128, false).is_ok());
        assert_eq!(check("name", &"x".repeat(129), 128, true), Err(TextError::TooLong { field: "name", max: 128 }));
        assert!(check("name", "Déploiement — bot 🤖", 128, true).is_ok());
        assert!(
            TextError::Unprintable { field: "description", code: 0x1b }
                .to_string()
                .contains("description contains U+001B")
        );
    }

    #[test]
    fn escaping_shows_what_was_hidden() {
        assert_eq!(escaped("a\u{1b}[2Jb\n"), "a\\u{001b}[2Jb\\u{000a}");
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped("x\u{202e}y"), "x\\u{202e}y");
    }
}
