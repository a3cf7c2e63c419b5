//! A secret as a KV v2 entry: its fields ([`crate::service::fields`]) and metadata. A version's
//! clawvault states map onto KV's: a deleted secret's versions and disabled versions are
//! soft-deleted, an expiring version has its expiry as `deletion_time`.

use clawvault_core::time_util::rfc3339;
use clawvault_store::{SecretRecord, VersionMeta};

use crate::service::kv::{self, Key, KvSettings};
use serde_json::{Map, Value, json};

pub use crate::service::fields::of;

/// When a version counts as deleted: `""` for never, as Vault writes it.
fn deletion_time(secret: &SecretRecord, meta: &VersionMeta) -> String {
    if let Some(at) = secret.deleted_at {
        return rfc3339(at);
    }
    if secret.deleted_through >= meta.version {
        // Deleted before a later write revived the secret: closed until an admin restores it.
        return rfc3339(secret.updated_at);
    }
    if meta.is_disabled && !meta.destroyed {
        // Versions disabled before the time was recorded: their creation stands in.
        return rfc3339(meta.disabled_at.unwrap_or(meta.created_at));
    }
    if meta.destroyed {
        // Vault leaves a destroyed version's deletion time as it was.
        return meta.disabled_at.map(rfc3339).unwrap_or_default();
    }
    meta.expires_at.map(rfc3339).unwrap_or_default()
}

fn custom(settings: &KvSettings) -> Value {
    settings.custom_metadata.as_ref().map_or(Value::Null, |m| json!(m))
}

/// A version's metadata as KV v2 reports it with its data.
#[must_use]
pub fn version_metadata(secret: &SecretRecord, meta: &VersionMeta, settings: &KvSettings) -> Value {
    json!({
        "created_time": rfc3339(meta.created_at),
        "custom_metadata": custom(settings),
        "deletion_time": deletion_time(secret, meta),
        "destroyed": meta.destroyed,
        "version": meta.version,
    })
}

/// A key's metadata as `GET metadata/<path>` reports it, with its versions.
#[must_use]
pub fn key_metadata(key: &Key) -> Value {
    let current = key.secret.as_ref().map_or(0, |s| s.current_version);
    let oldest = kv::oldest_kept(current, key.settings.max_versions);
    let map: Map<String, Value> = match &key.secret {
        Some(secret) => key
            .versions
            .iter()
            // Versions trimmed by max_versions are gone from Vault's map.
            .filter(|m| m.version >= oldest)
            .map(|m| {
                (
                    m.version.to_string(),
                    json!({
                        "created_time": rfc3339(m.created_at),
                        "deletion_time": deletion_time(secret, m),
                        "destroyed": m.destroyed,
                    }),
                )
            })
            .collect(),
        None => Map::new(),
    };
    let created = key.secret.as_ref().map(|s| s.created_at).or(key.settings_updated_at);
    let updated = key.secret.as_ref().map(|s| s.updated_at).into_iter().chain(key.settings_updated_at).max();
    json!({
        "cas_required": key.settings.cas_required,
        "created_time": created.map(rfc3339).unwrap_or_default(),
        "current_version": key.secret.as_ref().map_or(0, |s| s.current_version),
        "custom_metadata": custom(&key.settings),
        "delete_version_after": duration(key.settings.delete_version_after),
        "max_versions": key.settings.max_versions,
        // 0 until `max_versions` has trimmed a version, as OpenBao reports it.
        "oldest_version": oldest,
        "updated_time": updated.map(rfc3339).unwrap_or_default(),
        "versions": map,
    })
}

/// Seconds as Go writes a duration (`1h0m0s`, `90s` as `1m30s`, `0s`), which Vault echoes.
#[must_use]
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// A duration as Vault takes one: a number of seconds, or Go's notation (`1h`, `30m`,
/// `1h30m0s`, `45s`); `None` when it is neither.
#[must_use]
pub fn parse_duration(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(n) = text.parse::<i64>() {
                return (n >= 0).then_some(n);
            }
            let mut total: i64 = 0;
            let mut digits = String::new();
            for c in text.chars() {
                if c.is_ascii_digit() {
                    digits.push(c);
                    continue;
                }
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    's' => 1,
                    _ => return None,
                };
                let n: i64 = digits.parse().ok()?;
                total = total.checked_add(n.checked_mul(unit)?)?;
                digits.clear();
            }
            (digits.is_empty() && !text.is_empty()).then_some(total)
        }
        _ => None,
    }
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
    fn durations_read_and_write_as_go_does() {
        assert_eq!(duration(3600), "1h0m0s");
        assert_eq!(duration(90), "1m30s");
        assert_eq!(duration(0), "0s");
        assert_eq!(parse_duration(&json!("1h")), Some(3600));
        assert_eq!(parse_duration(&json!("1h30m0s")), Some(5400));
        assert_eq!(parse_duration(&json!("45s")), Some(45));
        assert_eq!(parse_duration(&json!(120)), Some(120));
        assert_eq!(parse_duration(&json!("3600")), Some(3600));
        for bad in [json!("1d"), json!("h"), json!("-5"), json!("5x"), json!(""), json!(true), json!(-1)] {
            assert_eq!(parse_duration(&bad), None, "{bad}");
        }
        assert_eq!(parse_duration(&json!("99999999999999999999h")), None, "no overflow");
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
