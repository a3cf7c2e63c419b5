//! How a secret's value leaves the CLI: as it is, one field of a JSON secret, or as env, JSON
//! or YAML that other tools read; and how a binary file travels (base64 in a `file` secret,
//! decoded again on the way out, so `--from-file` is byte for byte).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::ValueEnum;
use clawvault_client::{Secret, SecretValue};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::exit::Coded;

/// The metadata key, and its value, that mark a value stored base64-encoded.
const ENCODING_KEY: &str = "encoding";
const BASE64: &str = "base64";

/// How `secret get` prints a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The value exactly as stored (a binary file as its bytes).
    Raw,
    /// `NAME='value'` lines for a shell or a `.env` file: a JSON secret's fields, or one line
    /// named after the path's last segment.
    Env,
    /// A JSON object: a JSON secret's fields, or `{"<last segment>": "value"}`.
    Json,
    /// The same object as YAML.
    Yaml,
}

/// What to store for `bytes`: text as it is; anything else base64-encoded, as a `file` secret
/// marked `"encoding": "base64"` in its metadata.
///
/// # Errors
/// Binary bytes with a `--type` other than `file`; metadata that is not an object.
pub fn for_storage(
    bytes: Vec<u8>,
    secret_type: Option<String>,
    metadata: Option<Value>,
) -> anyhow::Result<(SecretValue, Option<String>, Option<Value>)> {
    if std::str::from_utf8(&bytes).is_ok() {
        return Ok((SecretValue::new(bytes), secret_type, metadata));
    }
    if secret_type.as_deref().is_some_and(|t| t != "file") {
        return Err(Coded::invalid(
            "the value is binary, which is stored as a `file` secret: leave out --type or give --type file",
        ));
    }
    let mut meta = match metadata {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(Coded::invalid("--metadata must be a JSON object, e.g. '{\"owner\":\"ops\"}'")),
    };
    meta.insert(ENCODING_KEY.to_owned(), Value::String(BASE64.to_owned()));
    let encoded = Zeroizing::new(STANDARD.encode(&bytes));
    drop(Zeroizing::new(bytes));
    Ok((SecretValue::from_str_value(&encoded), Some("file".to_owned()), Some(Value::Object(meta))))
}

/// The bytes a stored value stands for: a base64-marked file decoded, anything else as stored.
///
/// # Errors
/// A value marked base64 that is not.
pub fn stored_bytes(secret: &Secret) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if secret.metadata.get(ENCODING_KEY).and_then(Value::as_str) == Some(BASE64) {
        let decoded = STANDARD
            .decode(secret.value.expose())
            .map_err(|_| Coded::invalid("the secret is marked base64 but its value is not: read it with --json"))?;
        return Ok(Zeroizing::new(decoded));
    }
    Ok(Zeroizing::new(secret.value.expose().to_vec()))
}

/// The value of `secret` as `format` prints it, or only `field` of a JSON secret.
///
/// # Errors
/// A field of a secret that is not a JSON object, or that it lacks (the error names the fields
/// it has, never a value); a binary value in a text format.
pub fn render(secret: &Secret, field: Option<&str>, format: Format) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let bytes = stored_bytes(secret)?;
    if format == Format::Raw && field.is_none() {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Coded::invalid("the value is a binary file: print it without --field or --format"))?;
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let fields: Map<String, Value> = match (field, object) {
        (Some(name), Some(mut m)) => match m.remove(name) {
            Some(v) => Map::from_iter([(name.to_owned(), v)]),
            None => {
                let names: Vec<&str> = m.keys().map(String::as_str).collect();
                return Err(Coded::not_found(format!(
                    "{} has no field {name:?}; its fields: {}",
                    secret.path,
                    names.join(", ")
                )));
            }
        },
        (Some(_), None) => {
            return Err(Coded::invalid(format!(
                "{} is not a JSON object, so it has no fields: leave out --field",
                secret.path
            )));
        }
        (None, Some(m)) if format != Format::Raw => m,
        (None, _) => Map::from_iter([(last_segment(&secret.path).to_owned(), Value::String(text.to_owned()))]),
    };
    let out = match format {
        Format::Raw => {
            let v = fields.into_iter().next().map_or(Value::Null, |(_, v)| v);
            match v {
                Value::String(s) => s,
                other => other.to_string(),
            }
        }
        Format::Env => env_lines(&fields)?,
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&Value::Object(fields))?),
        Format::Yaml => crate::output::yaml(&Value::Object(fields)),
    };
    Ok(Zeroizing::new(out.into_bytes()))
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Names that change how a shell, the dynamic loader or a language runtime behaves: whoever
/// may write a JSON secret must not get code run by whoever sources its env lines.
const HOOK_NAMES: &[&str] = &[
    "PATH",
    "IFS",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PROMPT_COMMAND",
    "PS1",
    "PS2",
    "PS4",
    "CDPATH",
    "HOME",
    "NODE_OPTIONS",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "GIT_SSH_COMMAND",
    "EDITOR",
    "VISUAL",
    "PAGER",
];

/// `NAME='value'` per field, names made into environment variable names. Refused: a value with
/// a line break or NUL (a line-based `.env` reader would take what follows as a variable of its
/// own), a name that hooks into a shell or loader, two fields that become one name.
///
/// # Errors
/// Invalid input naming the field (never its value).
fn env_lines(fields: &Map<String, Value>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in fields {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = env_name(key);
        if text.contains(['\n', '\r', '\0']) {
            return Err(Coded::invalid(format!(
                "{key:?} holds a line break, which an env line cannot carry safely: use --format json or yaml"
            )));
        }
        if HOOK_NAMES.contains(&name.as_str()) || name.starts_with("LD_") || name.starts_with("DYLD_") {
            return Err(Coded::invalid(format!(
                "{key:?} would set {name}, which changes how programs run: read it with --field instead"
            )));
        }
        if !seen.insert(name.clone()) {
            return Err(Coded::invalid(format!("two fields become {name}: read them with --field or --format json")));
        }
        out.push_str(&name);
        out.push('=');
        out.push_str(&shell_quote(&text));
        out.push('\n');
    }
    Ok(out)
}

/// `openai/api-key` → `API_KEY`: letters and digits upper-cased, anything else `_`, and a
/// leading `_` before a digit.
pub fn env_name(key: &str) -> String {
    let mut name: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// Single quotes, which a POSIX shell and dotenv readers take literally.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(path: &str, value: &str, metadata: Value) -> Secret {
        serde_json::from_value(serde_json::json!({
            "id": "0c6f3f3e-5d7c-4f0e-9a57-8f0d3c8e2b11", "path": path, "type": "generic", "value": value,
            "version": 1, "metadata": metadata, "created_at": "2026-12-06T00:00:00Z", "expires_at": null
        }))
        .unwrap()
    }

    fn text(b: &Zeroizing<Vec<u8>>) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn plain_values_in_every_format() {
        let s = secret("openai/api-key", "sk-it's", Value::Null);
        assert_eq!(text(&render(&s, None, Format::Raw).unwrap()), "sk-it's");
        assert_eq!(text(&render(&s, None, Format::Env).unwrap()), "API_KEY='sk-it'\\''s'\n");
        assert_eq!(text(&render(&s, None, Format::Json).unwrap()), "{\n  \"api-key\": \"sk-it's\"\n}\n");
        assert_eq!(text(&render(&s, None, Format::Yaml).unwrap()), "api-key: \"sk-it's\"\n");
    }

    #[test]
    fn json_secrets_by_field() {
        let s = secret("db/main", r#"{"user":"app","password":"p@ss","port":5432}"#, Value::Null);
        assert_eq!(text(&render(&s, Some("password"), Format::Raw).unwrap()), "p@ss");
        assert_eq!(text(&render(&s, Some("port"), Format::Raw).unwrap()), "5432");
        assert_eq!(text(&render(&s, None, Format::Env).unwrap()), "PASSWORD='p@ss'\nPORT='5432'\nUSER='app'\n");
        let err = render(&s, Some("nope"), Format::Raw).unwrap_err().to_string();
        assert!(err.contains("password, port, user") && !err.contains("p@ss"), "{err}");
        let plain = secret("x/y", "v", Value::Null);
        assert!(render(&plain, Some("a"), Format::Raw).unwrap_err().to_string().contains("not a JSON object"));
    }

    #[test]
    fn binary_files_round_trip_byte_for_byte() {
        let bytes = vec![0u8, 159, 146, 150, 255, b'\n'];
        let (value, kind, meta) = for_storage(bytes.clone(), None, None).unwrap();
        assert_eq!(kind.as_deref(), Some("file"));
        let stored = secret("tls/p12", value.expose_str().unwrap(), meta.unwrap());
        assert_eq!(stored_bytes(&stored).unwrap().to_vec(), bytes);
        assert_eq!(render(&stored, None, Format::Raw).unwrap().to_vec(), bytes);
        assert!(render(&stored, None, Format::Env).is_err(), "binary in a text format is refused");
        assert!(for_storage(bytes, Some("password".into()), None).is_err());
        let (same, kind, meta) = for_storage(b"text".to_vec(), None, None).unwrap();
        assert_eq!((same.expose(), kind, meta), (&b"text"[..], None, None), "text is stored as it is");
    }

    #[test]
    fn env_lines_cannot_smuggle_a_variable_or_a_hook() {
        let forged = secret("x/token", "x\nLD_PRELOAD=/tmp/e.so\nZ=", Value::Null);
        let err = render(&forged, None, Format::Env).unwrap_err().to_string();
        assert!(err.contains("line break") && !err.contains("LD_PRELOAD=/tmp"), "{err}");
        for key in ["PATH", "ld_preload", "PROMPT_COMMAND", "bash-env"] {
            let hook = secret("x/j", &format!("{{\"{key}\":\"v\"}}"), Value::Null);
            assert!(render(&hook, None, Format::Env).is_err(), "{key}");
        }
        let twins = secret("x/j", r#"{"a-b":"1","a_b":"2"}"#, Value::Null);
        assert!(render(&twins, None, Format::Env).unwrap_err().to_string().contains("two fields become A_B"));
        assert_eq!(
            text(&render(&forged, None, Format::Json).unwrap()),
            "{\n  \"token\": \"x\\nLD_PRELOAD=/tmp/e.so\\nZ=\"\n}\n"
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("api-key"), "API_KEY");
        assert_eq!(env_name("2fa.seed"), "_2FA_SEED");
    }
}
