//! The `filter` query of Connect's list endpoints: one condition, `title eq "…"` (the only
//! one ESO and the SDKs send), `title co "…"` (contains), and `name eq "…"` for vaults.
//! Neither SDK escapes a `"` inside the title, so the value runs from the first quote to the
//! last.

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The title (a vault's name, an item's path) is exactly this.
    Is(String),
    /// The title contains this, ignoring case.
    Contains(String),
}

impl Filter {
    /// Parses a filter; the message of an error says what is understood.
    ///
    /// # Errors
    /// A message naming the supported forms.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let unsupported = || {
            format!(
                "unsupported filter {:?}: use title eq \"NAME\" or title co \"PART\"",
                raw.chars().take(120).collect::<String>()
            )
        };
        let raw = raw.trim();
        let (attribute, rest) = raw.split_once(char::is_whitespace).ok_or_else(unsupported)?;
        let (operator, rest) = rest.trim_start().split_once(char::is_whitespace).ok_or_else(unsupported)?;
        let rest = rest.trim();
        let value = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')).ok_or_else(unsupported)?;
        if !(attribute.eq_ignore_ascii_case("title") || attribute.eq_ignore_ascii_case("name")) {
            return Err(unsupported());
        }
        match operator.to_ascii_lowercase().as_str() {
            "eq" => Ok(Self::Is(value.to_owned())),
            "co" => Ok(Self::Contains(value.to_owned())),
            _ => Err(unsupported()),
        }
    }

    /// Whether `title` passes.
    #[must_use]
    pub fn admits(&self, title: &str) -> bool {
        match self {
            Self::Is(v) => title == v,
            Self::Contains(v) => title.to_lowercase().contains(&v.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_clients_send_parses() {
        assert_eq!(Filter::parse(r#"title eq "bots/discord""#), Ok(Filter::Is("bots/discord".into())));
        assert_eq!(Filter::parse(r#"title co "disc""#), Ok(Filter::Contains("disc".into())));
        assert_eq!(Filter::parse(r#"name eq "prod""#), Ok(Filter::Is("prod".into())));
        assert_eq!(Filter::parse(r#"title eq "say "hi"""#), Ok(Filter::Is(r#"say "hi""#.into())), "unescaped quotes");
        assert_eq!(Filter::parse(r#"title eq """#), Ok(Filter::Is(String::new())));
        for bad in [r#"tag eq "x""#, r#"title ne "x""#, "title eq x", "title", "", r#"title eq "x"#] {
            let e = Filter::parse(bad).unwrap_err();
            assert!(e.contains("title eq"), "{bad}: {e}");
        }
    }

    #[test]
    fn eq_is_exact_and_co_ignores_case() {
        assert!(Filter::Is("a/b".into()).admits("a/b"));
        assert!(!Filter::Is("a/b".into()).admits("a/b/c"));
        assert!(Filter::Contains("DISC".into()).admits("bots/discord"));
    }
}
