//! Templates that name secrets: `{{ cv://VAULT/PATH }}` is replaced by the secret's value and
//! `{{ cv://VAULT/PATH#FIELD }}` by one field of a JSON or env-bundle secret. Any other `{{ … }}`
//! (a Helm or Jinja expression) is left as it is, so a template of another tool passes through.

use std::fmt;

use zeroize::Zeroizing;

/// The scheme that marks a reference.
const SCHEME: &str = "cv://";

/// One reference in a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Vault name or id.
    pub vault: String,
    /// Secret path.
    pub path: String,
    /// A field of a JSON or env-bundle secret.
    pub field: Option<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.vault, self.path)?;
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        Ok(())
    }
}

/// A reference that cannot be read, by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{ cv://… }}` that is not `VAULT/PATH` with an optional `#FIELD`.
    #[error("line {line}: {reference:?} is not cv://VAULT/PATH or cv://VAULT/PATH#FIELD")]
    BadReference {
        /// 1-based line.
        line: usize,
        /// The reference as written.
        reference: String,
    },
    /// A `{{` with no `}}` after it on the same line.
    #[error("line {line}: `{{{{` is not closed with `}}}}` on the same line")]
    Unclosed {
        /// 1-based line.
        line: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Reference),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

fn reference(raw: &str, line: usize) -> Result<Reference, TemplateError> {
    let bad = || TemplateError::BadReference { line, reference: raw.chars().take(200).collect() };
    let rest = raw.strip_prefix(SCHEME).ok_or_else(bad)?;
    let (target, field) = match rest.split_once('#') {
        Some((t, f)) if !f.is_empty() && !f.contains(char::is_whitespace) => (t, Some(f.to_owned())),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let (vault, path) = target.split_once('/').ok_or_else(bad)?;
    if vault.is_empty() || crate::SecretPath::parse(path).is_err() {
        return Err(bad());
    }
    Ok(Reference { vault: vault.to_owned(), path: path.to_owned(), field })
}

impl Template {
    /// Parses `text`.
    ///
    /// # Errors
    /// The first malformed reference, by line.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut text_part = String::new();
        for (n, line) in text.split_inclusive('\n').enumerate() {
            let mut rest = line;
            while let Some(open) = rest.find("{{") {
                let Some(close) = rest[open + 2..].find("}}") else {
                    // Another tool's `{{` that spans lines is its business, unless it is ours.
                    if rest[open + 2..].trim_start().starts_with(SCHEME) {
                        return Err(TemplateError::Unclosed { line: n + 1 });
                    }
                    break;
                };
                let inner = rest[open + 2..open + 2 + close].trim();
                if inner.starts_with(SCHEME) {
                    text_part.push_str(&rest[..open]);
                    parts.push(Part::Text(std::mem::take(&mut text_part)));
                    parts.push(Part::Ref(reference(inner, n + 1)?));
                } else {
                    text_part.push_str(&rest[..open + 2 + close + 2]);
                }
                rest = &rest[open + 2 + close + 2..];
            }
            text_part.push_str(rest);
        }
        parts.push(Part::Text(text_part));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(Self { parts })
    }

    /// The references, in order, each once.
    #[must_use]
    pub fn references(&self) -> Vec<&Reference> {
        let mut out: Vec<&Reference> = Vec::new();
        for p in &self.parts {
            if let Part::Ref(r) = p
                && !out.contains(&r)
            {
                out.push(r);
            }
        }
        out
    }

    /// The template with every reference replaced by what `resolve` gives for it.
    ///
    /// # Errors
    /// The first error of `resolve`.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&Reference) -> Result<Zeroizing<String>, E>,
    ) -> Result<Zeroizing<String>, E> {
        let mut out = Zeroizing::new(String::new());
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => out.push_str(&resolve(r)?),
            }
        }
        Ok(out)
    }
}

/// One field of a secret's value: a JSON object's key (text as it is, anything else as JSON),
/// or an env bundle's variable; `None` when the secret has no such field.
#[must_use]
pub fn field(secret_type: &str, value: &str, name: &str) -> Option<Zeroizing<String>> {
    match secret_type {
        "json" => {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value).ok()?;
            Some(Zeroizing::new(match object.get(name)? {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
        }
        "env_bundle" | "env" => crate::env_bundle::parse(value).ok()?.remove(name).map(Zeroizing::new),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(r: &Reference) -> Result<Zeroizing<String>, String> {
        Ok(Zeroizing::new(format!("<{r}>")))
    }

    #[test]
    fn references_are_replaced_and_other_expressions_kept() {
        let t = Template::parse(
            "token={{ cv://prod/bots/discord }}\ndb={{cv://prod/db#password}} {{ .Values.x }}\n{{ oops\n",
        )
        .unwrap();
        assert_eq!(
            t.render(values).unwrap().as_str(),
            "token=<cv://prod/bots/discord>\ndb=<cv://prod/db#password> {{ .Values.x }}\n{{ oops\n"
        );
        let refs: Vec<String> = t.references().iter().map(ToString::to_string).collect();
        assert_eq!(refs, ["cv://prod/bots/discord", "cv://prod/db#password"]);
    }

    #[test]
    fn bad_references_are_named_by_line() {
        for (text, line) in
            [("a\n{{ cv://nopath }}", 2), ("{{ cv://p/../x }}", 1), ("{{ cv://p/x# }}", 1), ("x\ny {{ cv://p/x", 2)]
        {
            let e = Template::parse(text).unwrap_err();
            assert!(e.to_string().starts_with(&format!("line {line}:")), "{text}: {e}");
        }
    }

    #[test]
    fn fields_of_json_and_env_bundles() {
        assert_eq!(field("json", r#"{"user":"app","port":5432}"#, "port").unwrap().as_str(), "5432");
        assert_eq!(field("env_bundle", "A=1\nB=two\n", "B").unwrap().as_str(), "two");
        assert!(field("json", r#"{"user":"app"}"#, "nope").is_none());
        assert!(field("api_key", "sk-1", "x").is_none());
    }
}
