//! A secret as a Connect item, and a Connect item as a secret.
//!
//! - Item title = secret path; item id = secret id; item `version` = secret version.
//! - A secret's fields ([`crate::service::fields`]) are the item's fields: a plain secret is
//!   one concealed field `credential`, a JSON secret one field per key. A secret whose value
//!   is a file (type `file`, or not text) is a `DOCUMENT` item with one file instead.
//! - An item written here with one field `credential` becomes a plain secret, any other
//!   becomes a JSON secret of label → value, so every API sees the same versions.
//! - What Connect has and clawvault does not (category, field types and purposes, sections,
//!   tags, URLs) is kept in the secret's metadata under `connect`, never a value, and laid
//!   over the fields when the item is read again; keys added or removed through another API
//!   show as they are.

use clawvault_core::generate::{self, GenerateError};
use clawvault_core::time_util::rfc3339;
use clawvault_core::{SecretType, SecretValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ids;
use crate::service::fields::{self, CREDENTIAL};
use crate::service::secrets::SecretVersion;

/// The metadata entry that holds an item's layout.
pub const METADATA_KEY: &str = "connect";
/// Most fields, sections, tags and URLs an item may have, each.
pub const MAX_ENTRIES: usize = 256;
/// Longest label, id, tag or URL.
const MAX_TEXT: usize = 1024;

/// Categories Connect knows; `CUSTOM` and `DOCUMENT` cannot be created, as in Connect.
const CATEGORIES: &[&str] = &[
    "LOGIN",
    "PASSWORD",
    "API_CREDENTIAL",
    "SERVER",
    "DATABASE",
    "CREDIT_CARD",
    "MEMBERSHIP",
    "PASSPORT",
    "SOFTWARE_LICENSE",
    "OUTDOOR_LICENSE",
    "SECURE_NOTE",
    "WIRELESS_ROUTER",
    "BANK_ACCOUNT",
    "DRIVER_LICENSE",
    "IDENTITY",
    "REWARD_PROGRAM",
    "DOCUMENT",
    "EMAIL_ACCOUNT",
    "SOCIAL_SECURITY_NUMBER",
    "MEDICAL_RECORD",
    "SSH_KEY",
    "CUSTOM",
];

/// What is kept of an item besides its values.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Layout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    urls: Vec<Url>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    favorite: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sections: Vec<Section>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldLayout>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Url {
    #[serde(default)]
    href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Section {
    #[serde(default)]
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct FieldLayout {
    id: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    section: Option<String>,
}

fn layout_of(version: &SecretVersion) -> Layout {
    serde_json::from_str::<Value>(&version.meta.metadata)
        .ok()
        .and_then(|m| m.get(METADATA_KEY).cloned())
        .and_then(|l| serde_json::from_value(l).ok())
        .unwrap_or_default()
}

/// Whether a version reads as a file: a `file` secret, or a value that is not text.
#[must_use]
pub fn is_file(secret_type: SecretType, value: &SecretValue) -> bool {
    secret_type == SecretType::File || value.expose_str().is_none()
}

fn default_category(secret_type: SecretType) -> &'static str {
    match secret_type {
        SecretType::File => "DOCUMENT",
        SecretType::Password => "PASSWORD",
        SecretType::SshKey => "SSH_KEY",
        _ => "API_CREDENTIAL",
    }
}

/// The plain type an item of `category` with one `credential` field is stored as.
fn plain_type(category: &str) -> SecretType {
    match category {
        "PASSWORD" => SecretType::Password,
        "SSH_KEY" => SecretType::SshKey,
        "API_CREDENTIAL" => SecretType::ApiKey,
        _ => SecretType::Generic,
    }
}

/// The name of the file a file secret is shown as: its path's last segment.
#[must_use]
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Where a file's content is read (absolute: the Go SDK appends it to the host).
#[must_use]
pub fn content_path(vault_id: Uuid, item_id: Uuid) -> String {
    let (v, i) = (ids::encode(vault_id), ids::encode(item_id));
    format!("/v1/vaults/{v}/items/{i}/files/{i}/content")
}

/// A file object; its id is the item's (an item holds at most one file).
#[must_use]
pub fn file(version: &SecretVersion, size: usize, content: Option<&[u8]>) -> Value {
    use base64::Engine as _;
    let secret = &version.secret;
    let mut f = json!({
        "id": ids::encode(secret.id),
        "name": file_name(&secret.path),
        "size": size,
        "content_path": content_path(secret.vault_id, secret.id),
    });
    // Only when asked for: the Go SDK takes any `content` key, even empty, as the content.
    if let Some(bytes) = content {
        f["content"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    f
}

/// The item without fields, sections and files: what a listing shows (never a value).
#[must_use]
pub fn summary(version: &SecretVersion) -> Value {
    summary_with(version, &layout_of(version))
}

fn summary_with(version: &SecretVersion, layout: &Layout) -> Value {
    let (secret, meta) = (&version.secret, &version.meta);
    let mut item = json!({
        "id": ids::encode(secret.id),
        "title": secret.path,
        "vault": {"id": ids::encode(secret.vault_id)},
        "category": layout.category.as_deref().unwrap_or_else(|| default_category(meta.secret_type)),
        "tags": layout.tags,
        "favorite": layout.favorite,
        "version": meta.version,
        "createdAt": rfc3339(secret.created_at),
        "updatedAt": rfc3339(meta.created_at),
        "lastEditedBy": ids::encode(meta.created_by),
    });
    if !layout.urls.is_empty() {
        item["urls"] = json!(layout.urls);
    }
    item
}

/// The whole item, with `value` (the version's plaintext) as its fields or file.
#[must_use]
pub fn full(version: &SecretVersion, value: &SecretValue) -> Value {
    let layout = layout_of(version);
    let mut item = summary_with(version, &layout);
    if is_file(version.meta.secret_type, value) {
        item["category"] = json!("DOCUMENT");
        item["fields"] = json!([]);
        item["files"] = json!([file(version, value.len(), None)]);
        return item;
    }
    let mut values = fields::of(version.meta.secret_type, value);
    let mut out = Vec::with_capacity(values.len());
    // Fields in the order the layout keeps, then keys another API added.
    for f in &layout.fields {
        if let Some(v) = values.remove(&f.label) {
            out.push(field_json(&f.id, &f.label, &f.kind, &f.purpose, f.section.as_deref(), &v));
        }
    }
    for (label, v) in values {
        out.push(field_json(&label, &label, "CONCEALED", "", None, &v));
    }
    item["fields"] = Value::Array(out);
    item["sections"] = json!(layout.sections);
    item
}

fn field_json(id: &str, label: &str, kind: &str, purpose: &str, section: Option<&str>, value: &Value) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut f = json!({"id": id, "type": kind, "label": label, "value": text});
    if !purpose.is_empty() {
        f["purpose"] = json!(purpose);
    }
    if let Some(s) = section {
        f["section"] = json!({ "id": s });
    }
    f
}

/// An item as a client sends it (create or replace). Read-only keys (`createdAt`, `entropy`,
/// `totp`, ...) and unknown ones are ignored, as Connect ignores them.
#[derive(Debug, Default, Deserialize)]
pub struct ItemBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    urls: Option<Vec<Url>>,
    #[serde(default)]
    favorite: Option<bool>,
    /// The version the client read: a replace is refused if the item changed since.
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    sections: Option<Vec<Section>>,
    #[serde(default)]
    fields: Option<Vec<FieldBody>>,
    #[serde(default)]
    files: Option<Vec<Value>>,
}

#[derive(Default, Deserialize)]
struct FieldBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    value: Option<Zeroizing<String>>,
    #[serde(default)]
    section: Option<SectionRef>,
    #[serde(default)]
    generate: Option<bool>,
    #[serde(default)]
    recipe: Option<Recipe>,
}

impl std::fmt::Debug for FieldBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldBody")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("value", &self.value.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
struct SectionRef {
    #[serde(default)]
    id: Option<String>,
}

/// How a value is generated: Connect's recipe.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipe {
    #[serde(default)]
    length: Option<usize>,
    #[serde(default)]
    character_sets: Option<Vec<String>>,
    #[serde(default)]
    exclude_characters: Option<String>,
}

/// Default and greatest length of a generated value, as in Connect (the least is clawvault's
/// own, [`generate::MIN_LENGTH`]).
const RECIPE_DEFAULT_LENGTH: usize = 32;
const RECIPE_MAX_LENGTH: usize = 64;
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Character sets a recipe may name, and their characters.
const CHARACTER_SETS: [(&str, &str); 3] = [
    ("LETTERS", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    ("DIGITS", "0123456789"),
    ("SYMBOLS", SYMBOLS),
];
/// Longest `excludeCharacters` (there are fewer characters to exclude than this).
const MAX_EXCLUDED: usize = 256;

impl Recipe {
    /// A value drawn as the recipe says; the work is bounded whatever the recipe holds.
    fn generate(&self) -> Result<SecretValue, String> {
        let length = self.length.unwrap_or(RECIPE_DEFAULT_LENGTH);
        if !(generate::MIN_LENGTH..=RECIPE_MAX_LENGTH).contains(&length) {
            return Err(format!(
                "recipe.length {length} is out of range: use {} to {RECIPE_MAX_LENGTH}",
                generate::MIN_LENGTH
            ));
        }
        let mut wanted = [false; CHARACTER_SETS.len()];
        match &self.character_sets {
            None => wanted[..2].fill(true),
            Some(sets) if sets.len() > CHARACTER_SETS.len() * 4 => {
                return Err(
                    "recipe.characterSets names more sets than there are: use LETTERS, DIGITS and SYMBOLS".into()
                );
            }
            Some(sets) => {
                for set in sets {
                    let i = CHARACTER_SETS.iter().position(|(name, _)| name == set).ok_or_else(|| {
                        format!(
                            "recipe.characterSets: unknown set {:?}: use LETTERS, DIGITS and SYMBOLS",
                            set.chars().take(40).collect::<String>()
                        )
                    })?;
                    wanted[i] = true;
                }
            }
        }
        let exclude = self.exclude_characters.as_deref().unwrap_or("");
        if exclude.len() > MAX_EXCLUDED {
            return Err(format!("recipe.excludeCharacters is longer than {MAX_EXCLUDED} bytes"));
        }
        let mut excluded = [false; 256];
        for b in exclude.bytes() {
            excluded[usize::from(b)] = true;
        }
        let alphabet: Vec<u8> = CHARACTER_SETS
            .iter()
            .zip(wanted)
            .filter(|(_, on)| *on)
            .flat_map(|((_, chars), _)| chars.bytes())
            .filter(|b| !excluded[usize::from(*b)])
            .collect();
        generate::generate_from(length, &alphabet).map_err(|e| match e {
            GenerateError::Alphabet => {
                "recipe: no character is left to draw from once excludeCharacters is taken out".to_owned()
            }
            other => format!("recipe: {other}"),
        })
    }
}

/// An item turned into a secret's content.
#[derive(Debug)]
pub struct Parsed {
    /// The value to store.
    pub value: SecretValue,
    /// Its type.
    pub secret_type: SecretType,
    /// A single `credential` field: a plain secret, whose live type is kept.
    pub plain: bool,
    /// The layout to keep in the metadata.
    pub layout: Value,
    /// Fields whose value the server generated (the answer shows them only to a caller who
    /// may read the secret).
    pub generated: Vec<String>,
}

fn text(what: &str, value: &str) -> Result<(), String> {
    clawvault_core::text::check("item", value, MAX_TEXT, false)
        .map_err(|_| format!("{what} is longer than {MAX_TEXT} bytes or holds control characters"))
}

fn bounded<T>(what: &str, list: Option<Vec<T>>) -> Result<Vec<T>, String> {
    let list = list.unwrap_or_default();
    if list.len() > MAX_ENTRIES {
        return Err(format!("an item may have at most {MAX_ENTRIES} {what}"));
    }
    Ok(list)
}

/// Checks `body` (a new item when `creating`) and turns it into what is stored.
///
/// # Errors
/// A message for a 400 naming what to change.
pub fn parse(body: ItemBody, creating: bool) -> Result<Parsed, String> {
    if body.files.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(
            "files cannot be written through the Connect API: store a file with `clawvault secret put VAULT/PATH --from-file FILE --type file`, \
             and send an item without its files to replace it with fields"
                .into(),
        );
    }
    let category = body.category.unwrap_or_else(|| "API_CREDENTIAL".to_owned());
    if !CATEGORIES.contains(&category.as_str()) {
        return Err("Invalid item category".into());
    }
    if category == "DOCUMENT" {
        return Err("Invalid item category: DOCUMENT items hold a file, which the Connect API does not write: \
             store a file with `clawvault secret put VAULT/PATH --from-file FILE --type file`"
            .into());
    }
    if creating && category == "CUSTOM" {
        return Err("Invalid item category: CUSTOM items cannot be created through Connect".into());
    }
    let tags = bounded("tags", body.tags)?;
    for t in &tags {
        text("a tag", t)?;
    }
    let urls = bounded("urls", body.urls)?;
    for u in &urls {
        text("a url", &u.href)?;
        text("a url's label", u.label.as_deref().unwrap_or(""))?;
    }
    // An empty section (`{}`, what Go writes for one never set) is no section.
    let sections: Vec<Section> = bounded("sections", body.sections)?
        .into_iter()
        .filter(|s| !s.id.is_empty() || s.label.as_deref().is_some_and(|l| !l.is_empty()))
        .collect();
    for s in &sections {
        text("a section id", &s.id)?;
        text("a section label", s.label.as_deref().unwrap_or(""))?;
    }
    let mut values = Map::new();
    let mut layouts: Vec<FieldLayout> = Vec::new();
    let mut generated = Vec::new();
    for f in bounded("fields", body.fields)? {
        let kind = f.kind.unwrap_or_else(|| "STRING".to_owned());
        if kind == "OTP" || kind == "TOTP" {
            return Err("one-time password (OTP) fields are not offered by clawvault".into());
        }
        let label = f.label.unwrap_or_default();
        if label.is_empty() {
            return Err("every field needs a label: it is the field's name in the secret".into());
        }
        text("a field label", &label)?;
        text("a field type", &kind)?;
        let purpose = f.purpose.unwrap_or_default();
        text("a field purpose", &purpose)?;
        if values.contains_key(&label) {
            return Err(format!(
                "two fields are labelled {label:?}: labels name the secret's fields, give each its own"
            ));
        }
        let value = if f.generate == Some(true) {
            generated.push(label.clone());
            let recipe = f.recipe.unwrap_or_default();
            let value = recipe.generate()?;
            value.expose_str().map(str::to_owned).unwrap_or_default()
        } else {
            f.value.as_ref().map_or_else(String::new, |v| v.as_str().to_owned())
        };
        // A client's field id is kept; a missing or repeated one is replaced by a fresh id.
        let id =
            f.id.filter(|id| !id.is_empty() && id.len() <= MAX_TEXT && !layouts.iter().any(|l| &l.id == id))
                .unwrap_or_else(|| ids::encode(Uuid::new_v4()));
        let section = f.section.and_then(|s| s.id).filter(|s| !s.is_empty());
        if let Some(s) = &section {
            text("a field's section id", s)?;
        }
        layouts.push(FieldLayout { id, label: label.clone(), kind, purpose, section });
        values.insert(label, Value::String(value));
    }
    let plain = values.len() == 1 && values.contains_key(CREDENTIAL) && sections.is_empty();
    let (value, secret_type) = if plain {
        let text = values.remove(CREDENTIAL).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        (SecretValue::from_str_value(&text), plain_type(&category))
    } else {
        let bytes = serde_json::to_vec(&values).map_err(|e| e.to_string())?;
        (SecretValue::new(bytes), SecretType::Json)
    };
    let layout = Layout {
        category: Some(category),
        tags,
        urls,
        favorite: body.favorite.unwrap_or(false),
        sections,
        fields: layouts,
    };
    let layout = serde_json::to_value(&layout).map_err(|e| e.to_string())?;
    Ok(Parsed { value, secret_type, plain, layout, generated })
}

/// Takes the values of `generated` fields out of an answer.
pub fn hide(item: &mut Value, generated: &[String]) {
    if let Some(Value::Array(fields)) = item.get_mut("fields") {
        for f in fields {
            if f.get("label").and_then(Value::as_str).is_some_and(|l| generated.iter().any(|g| g == l))
                && let Some(obj) = f.as_object_mut()
            {
                obj.remove("value");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawvault_store::{SecretRecord, VersionMeta};
    use time::OffsetDateTime;

    fn version(secret_type: SecretType, metadata: Value) -> SecretVersion {
        let at = OffsetDateTime::UNIX_EPOCH;
        SecretVersion {
            secret: SecretRecord {
                id: Uuid::new_v4(),
                vault_id: Uuid::new_v4(),
                path: "bots/discord".into(),
                current_version: 3,
                created_by: Uuid::nil(),
                created_at: at,
                updated_at: at,
                deleted_at: None,
                deleted_through: 0,
            },
            meta: VersionMeta {
                version: 3,
                secret_type,
                metadata: metadata.to_string(),
                created_by: Uuid::nil(),
                created_at: at,
                expires_at: None,
                max_access_count: None,
                access_count: 0,
                is_disabled: false,
                disabled_at: None,
                destroyed: false,
            },
        }
    }

    fn body(v: Value) -> ItemBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_plain_secret_is_one_concealed_credential_field() {
        let v = version(SecretType::ApiKey, json!({}));
        let item = full(&v, &SecretValue::from_str_value("sk-1"));
        assert_eq!(item["title"], "bots/discord");
        assert_eq!(item["version"], 3);
        assert_eq!(item["category"], "API_CREDENTIAL");
        assert_eq!(
            item["fields"],
            json!([{"id": "credential", "type": "CONCEALED", "label": "credential", "value": "sk-1"}])
        );
        assert!(ids::is_id(item["id"].as_str().unwrap()) && ids::is_id(item["vault"]["id"].as_str().unwrap()));
        let s = summary(&v);
        assert!(s.get("fields").is_none() && s.get("files").is_none(), "a summary holds no value: {s}");
    }

    #[test]
    fn an_item_round_trips_through_a_json_secret_and_its_layout() {
        let sent = json!({
            "title": "db", "category": "DATABASE", "tags": ["prod"],
            "sections": [{"id": "Section_1", "label": "Conn"}, {}],
            "fields": [
                {"id": "", "type": "STRING", "purpose": "USERNAME", "label": "username", "value": "app"},
                {"type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "pw", "section": {"id": "Section_1"}},
            ],
            "createdAt": "0001-01-01T00:00:00Z", "id": "", "vault": {"id": "prod"},
        });
        let parsed = parse(body(sent), true).unwrap();
        assert_eq!(parsed.secret_type, SecretType::Json);
        assert!(!parsed.plain);
        assert_eq!(
            serde_json::from_slice::<Value>(parsed.value.expose()).unwrap(),
            json!({"username": "app", "password": "pw"})
        );
        let stored = version(SecretType::Json, json!({ METADATA_KEY: parsed.layout }));
        let item = full(&stored, &parsed.value);
        assert_eq!(item["category"], "DATABASE");
        assert_eq!(item["tags"], json!(["prod"]));
        assert_eq!(item["sections"], json!([{"id": "Section_1", "label": "Conn"}]), "the empty section is dropped");
        assert_eq!(item["fields"][0]["label"], "username");
        assert_eq!(item["fields"][0]["purpose"], "USERNAME");
        assert_eq!(item["fields"][1]["section"], json!({"id": "Section_1"}));
        assert_eq!(item["fields"][1]["value"], "pw");
        assert!(!layout_of(&stored).fields.iter().any(|f| f.id.is_empty()), "empty ids are replaced");
        assert!(!stored.meta.metadata.contains("\"pw\""), "the layout holds no value");
    }

    #[test]
    fn one_credential_field_is_a_plain_secret_and_other_labels_a_json_one() {
        let one = parse(body(json!({"title": "t", "fields": [{"label": "credential", "value": "v"}]})), true).unwrap();
        assert!(one.plain);
        assert_eq!(one.value.expose(), b"v");
        assert_eq!(one.secret_type, SecretType::ApiKey);
        let eso = parse(body(json!({"title": "t", "category": "SERVER", "fields": [{"type": "CONCEALED", "label": "password", "value": "v"}]})), true).unwrap();
        assert_eq!(eso.secret_type, SecretType::Json);
    }

    #[test]
    fn keys_added_by_another_api_show_and_removed_ones_do_not() {
        let parsed = parse(
            body(json!({"title": "t", "fields": [{"label": "a", "value": "1"}, {"label": "b", "value": "2"}]})),
            true,
        )
        .unwrap();
        let stored = version(SecretType::Json, json!({ METADATA_KEY: parsed.layout }));
        let item = full(&stored, &SecretValue::from_str_value(r#"{"b":"2","c":5}"#));
        let labels: Vec<&str> =
            item["fields"].as_array().unwrap().iter().map(|f| f["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["b", "c"]);
        assert_eq!(item["fields"][1]["value"], "5", "values are text");
    }

    #[test]
    fn bad_items_are_refused_with_what_to_change() {
        for (sent, needle) in [
            (json!({"fields": [{"type": "OTP", "label": "otp", "value": "otpauth://x"}]}), "OTP"),
            (json!({"fields": [{"label": "a"}, {"label": "a"}]}), "two fields"),
            (json!({"fields": [{"value": "x"}]}), "label"),
            (json!({"category": "NOPE"}), "Invalid item category"),
            (json!({"category": "CUSTOM"}), "cannot be created"),
            (json!({"category": "DOCUMENT"}), "hold a file"),
            (
                json!({"fields": [{"label": "p", "generate": true, "recipe": {"characterSets": ["LETTERS", "NOPE"]}}]}),
                "unknown set",
            ),
            (
                json!({"fields": [{"label": "p", "generate": true, "recipe": {"characterSets": vec!["DIGITS"; 100]}}]}),
                "more sets",
            ),
            (
                json!({"fields": [{"label": "p", "generate": true, "recipe": {"excludeCharacters": "x".repeat(300)}}]}),
                "excludeCharacters",
            ),
            (json!({"files": [{"id": "x"}]}), "files cannot be written"),
            (json!({"fields": [{"label": "p", "generate": true, "recipe": {"length": 4}}]}), "recipe.length"),
            (
                json!({"fields": [{"label": "p", "generate": true, "recipe": {"characterSets": ["DIGITS"], "excludeCharacters": "0123456789"}}]}),
                "no character",
            ),
            (json!({"fields": [{"label": "a\u{0}b", "value": "x"}]}), "control"),
        ] {
            let e = parse(body(sent.clone()), true).unwrap_err();
            assert!(e.contains(needle), "{sent}: {e}");
        }
        let many: Vec<Value> = (0..=MAX_ENTRIES).map(|i| json!({"label": i.to_string()})).collect();
        assert!(parse(body(json!({"fields": many})), true).unwrap_err().contains("at most"));
    }

    #[test]
    fn generated_values_follow_the_recipe_and_can_be_hidden() {
        let sent = json!({"fields": [{"label": "pin", "generate": true, "recipe": {"length": 12, "characterSets": ["DIGITS"]}}]});
        let parsed = parse(body(sent), true).unwrap();
        let values: Value = serde_json::from_slice(parsed.value.expose()).unwrap();
        let pin = values["pin"].as_str().unwrap();
        assert!(pin.len() == 12 && pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
        assert_eq!(parsed.generated, ["pin"]);
        let stored = version(SecretType::Json, json!({ METADATA_KEY: parsed.layout }));
        let mut item = full(&stored, &parsed.value);
        hide(&mut item, &parsed.generated);
        assert!(item["fields"][0].get("value").is_none());
    }

    #[test]
    fn a_fields_value_never_reaches_debug_output() {
        let parsed: ItemBody = body(json!({"fields": [{"label": "p", "value": "cvcanary-debug-1"}]}));
        assert!(!format!("{parsed:?}").contains("cvcanary-debug-1"));
    }

    #[test]
    fn a_file_secret_is_a_document_with_one_file() {
        let v = version(SecretType::File, json!({}));
        let item = full(&v, &SecretValue::new(vec![0xff, 0, 1]));
        assert_eq!(item["category"], "DOCUMENT");
        assert_eq!(item["files"][0]["name"], "discord");
        assert_eq!(item["files"][0]["size"], 3);
        assert!(item["files"][0].get("content").is_none(), "content only when asked for");
        assert!(item["files"][0]["content_path"].as_str().unwrap().starts_with("/v1/vaults/"));
    }
}
