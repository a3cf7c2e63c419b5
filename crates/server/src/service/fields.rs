//! A secret as named fields, the form every compatible API shows it in (Vault KV entries,
//! Connect items): a `json` secret (what a KV write or a multi-field Connect item stores) is
//! its own object of fields; any other secret is one field, `credential` (the name
//! ClawMachine's forms use), or `credential_base64` when its value is not text.

use base64::Engine as _;
use clawvault_core::{SecretType, SecretValue};
use serde_json::{Map, Value, json};

/// The field a secret that is not a JSON object appears as.
pub const CREDENTIAL: &str = "credential";

/// The fields of `value`, a version of type `secret_type`.
#[must_use]
pub fn of(secret_type: SecretType, value: &SecretValue) -> Map<String, Value> {
    if secret_type == SecretType::Json
        && let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(value.expose())
    {
        return fields;
    }
    let one = match value.expose_str() {
        Some(text) => json!({ CREDENTIAL: text }),
        None => json!({ "credential_base64": base64::engine::general_purpose::STANDARD.encode(value.expose()) }),
    };
    match one {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_secret_is_its_fields_and_any_other_one_field() {
        let as_value = |t, v: &SecretValue| Value::Object(of(t, v));
        let json = SecretValue::from_str_value(r#"{"user":"app","port":5432}"#);
        assert_eq!(as_value(SecretType::Json, &json), json!({"user": "app", "port": 5432}));
        assert_eq!(as_value(SecretType::ApiKey, &SecretValue::from_str_value("sk-1")), json!({"credential": "sk-1"}));
        assert_eq!(as_value(SecretType::Json, &SecretValue::from_str_value("[1]")), json!({"credential": "[1]"}));
        assert_eq!(as_value(SecretType::File, &SecretValue::new(vec![0xff, 0])), json!({"credential_base64": "/wA="}));
    }
}
