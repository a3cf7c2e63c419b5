//! A secret as a KV v2 entry. A `json` secret (what a KV write stores) is its own object of
//! fields; any other secret is one field, `credential` (the name ClawMachine's forms and the
//! Connect mapping use), or `credential_base64` when its value is not text. A version's
//! clawvault states map onto KV's: a deleted secret's versions and disabled versions are
//! soft-deleted, an expiring version has its expiry as `deletion_time`.

use base64::Engine as _;
use clawvault_core::time_util::rfc3339;
use clawvault_core::{SecretType, SecretValue};
use clawvault_store::{SecretRecord, VersionMeta};
use serde_json::{Map, Value, json};

/// The field a secret that is not a JSON object appears as.
pub const CREDENTIAL: &str = "credential";

/// The fields of `value`, a version of type `secret_type`.
#[must_use]
pub fn of(secret_type: SecretType, value: &SecretValue) -> Value {
    if secret_type == SecretType::Json
        && let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(value.expose())
    {
        return Value::Object(fields);
    }
    match value.expose_str() {
        Some(text) => json!({ CREDENTIAL: text }),
        None => json!({ "credential_base64": base64::engine::general_purpose::STANDARD.encode(value.expose()) }),
    }
}

/// When a version counts as deleted: `""` for never, as Vault writes it.
fn deletion_time(secret: &SecretRecord, meta: &VersionMeta) -> String {
    if secret.deleted_at.is_some() && meta.version <= secret.deleted_through.max(secret.current_version) {
        return secret.deleted_at.map(rfc3339).unwrap_or_default();
    }
    if secret.deleted_through >= meta.version {
        // Deleted before a later write revived the secret: closed for good.
        return rfc3339(secret.updated_at);
    }
    if meta.is_disabled {
        // Disabling records no time of its own; the version's creation stands in.
        return rfc3339(meta.created_at);
    }
    meta.expires_at.map(rfc3339).unwrap_or_default()
}

/// A version's metadata as KV v2 reports it with its data.
#[must_use]
pub fn version_metadata(secret: &SecretRecord, meta: &VersionMeta) -> Value {
    json!({
        "created_time": rfc3339(meta.created_at),
        "custom_metadata": null,
        "deletion_time": deletion_time(secret, meta),
        "destroyed": false,
        "version": meta.version,
    })
}

/// A secret's metadata as `GET metadata/<path>` reports it, with its versions.
#[must_use]
pub fn key_metadata(secret: &SecretRecord, versions: &[VersionMeta]) -> Value {
    let map: Map<String, Value> = versions
        .iter()
        .map(|m| {
            (
                m.version.to_string(),
                json!({
                    "created_time": rfc3339(m.created_at),
                    "deletion_time": deletion_time(secret, m),
                    "destroyed": false,
                }),
            )
        })
        .collect();
    json!({
        "cas_required": false,
        "created_time": rfc3339(secret.created_at),
        "current_version": secret.current_version,
        "custom_metadata": null,
        "delete_version_after": "0s",
        "max_versions": 0,
        // OpenBao reports 0 until `max_versions` has trimmed a version; none is trimmed here.
        "oldest_version": 0,
        "updated_time": rfc3339(secret.updated_at),
        "versions": map,
    })
}

/// RFC 7396 JSON merge patch of `patch` onto `target`: `null` removes a field.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(fields) = target {
        for (key, change) in changes {
            if change.is_null() {
                fields.remove(key);
            } else {
                merge_patch(fields.entry(key.clone()).or_insert(Value::Null), change);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_secret_is_its_fields_and_any_other_one_field() {
        let json = SecretValue::from_str_value(r#"{"user":"app","port":5432}"#);
        assert_eq!(of(SecretType::Json, &json), json!({"user": "app", "port": 5432}));
        assert_eq!(of(SecretType::ApiKey, &SecretValue::from_str_value("sk-1")), json!({"credential": "sk-1"}));
        assert_eq!(of(SecretType::Json, &SecretValue::from_str_value("[1]")), json!({"credential": "[1]"}));
        assert_eq!(of(SecretType::File, &SecretValue::new(vec![0xff, 0])), json!({"credential_base64": "/wA="}));
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut target, &json!({"n": [1, 2]}));
        assert_eq!(target["n"], json!([1, 2]));
    }
}
