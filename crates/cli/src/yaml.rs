//! JSON values written as YAML for `kubectl apply -f -`: block mappings and sequences, keys
//! as written, every string double-quoted with JSON's escapes (valid YAML, so no value can be
//! read back as another type or break the document).

use serde_json::Value;

/// `value` as one YAML document.
#[must_use]
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    block(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Object(m) if m.is_empty() => "{}".to_owned(),
        Value::Array(a) if a.is_empty() => "[]".to_owned(),
        other => other.to_string(),
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Object(m) if !m.is_empty()) || matches!(value, Value::Array(a) if !a.is_empty())
}

/// A key written plain only when YAML cannot read it as anything but that string (a key of
/// user input, such as a vault name in a store's `vaults`, could be `123`, `true` or `null`).
fn key(k: &str) -> String {
    const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];
    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !RESERVED.contains(&k.to_ascii_lowercase().as_str());
    if plain { k.to_owned() } else { Value::String(k.to_owned()).to_string() }
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                if is_block(v) {
                    out.push_str(&format!("{pad}{}:\n", key(k)));
                    block(v, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(v)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    // The first line of the item's block goes after the dash.
                    let mut inner = String::new();
                    block(item, indent + 2, &mut inner);
                    let inner = inner.strip_prefix(&format!("{pad}  ")).unwrap_or(&inner).to_owned();
                    out.push_str(&format!("{pad}- {inner}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml_with_quoted_strings() {
        let doc = json!({
            "apiVersion": "external-secrets.io/v1",
            "spec": {"data": [{"secretKey": "credential", "remoteRef": {"key": "bots/discord"}}], "empty": {}},
            "count": 3,
            "odd key": "yes: no\n#",
        });
        assert_eq!(
            document(&doc),
            "apiVersion: \"external-secrets.io/v1\"\n\
             count: 3\n\
             \"odd key\": \"yes: no\\n#\"\n\
             spec:\n  data:\n    - remoteRef:\n        key: \"bots/discord\"\n      secretKey: \"credential\"\n  empty: {}\n"
        );
        let keys = json!({"123": 1, "True": 2, "null": 3, "prod": 4, "-x": 5});
        assert_eq!(document(&keys), "\"-x\": 5\n\"123\": 1\n\"True\": 2\n\"null\": 3\nprod: 4\n");
    }
}
