//! Kubernetes Secret manifests as kubectl writes them (YAML or JSON, several documents, a
//! `List` of items): one secret per key, `PREFIX/NAME/KEY`, from base64 `data` and plain
//! `stringData` (which wins for a key in both, as the API server does). Every document is
//! checked before anything is written; errors name the file and line, never a value.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine as _;
use serde::Deserialize;
use serde_saphyr::Spanned;
use zeroize::Zeroizing;

use super::Incoming;
use crate::exit::Coded;

/// A manifest larger than this is not a Secret (the API server caps one at 1 MiB).
const MAX_FILE: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    data: Option<BTreeMap<String, Spanned<String>>>,
    #[serde(default, rename = "stringData")]
    string_data: Option<BTreeMap<String, Spanned<String>>>,
    #[serde(default)]
    items: Vec<Spanned<Document>>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
}

pub(super) fn read(files: &[std::path::PathBuf], prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let mut out: Vec<Incoming> = Vec::new();
    for file in files {
        for item in read_file(file, prefix)? {
            if let Some(other) = out.iter().find(|i| i.path == item.path) {
                return Err(Coded::invalid(format!("{} and {} both give {}", other.origin, item.origin, item.path)));
            }
            out.push(item);
        }
    }
    Ok(out)
}

fn read_file(file: &Path, prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let shown = file.display().to_string();
    if std::fs::metadata(file).with_context(|| format!("reading {shown}"))?.len() > MAX_FILE {
        return Err(Coded::invalid(format!("{shown} is larger than 16 MiB, more than Secret manifests hold")));
    }
    let text = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    let text =
        Zeroizing::new(String::from_utf8(text).map_err(|_| Coded::invalid(format!("{shown} is not UTF-8 text")))?);
    parse(&shown, &text, prefix).map_err(Coded::invalid)
}

/// Parses one file's text; the error is the message to show.
fn parse(shown: &str, text: &str, prefix: Option<&str>) -> Result<Vec<Incoming>, String> {
    let mut options = serde_saphyr::Options::default();
    // The parser quotes the offending input in snippets and messages: a value must not reach
    // an error, so only the location is shown.
    options.with_snippet = false;
    let documents: Vec<Spanned<Document>> = serde_saphyr::from_str_multiple_with_options(text, options).map_err(|e| {
        let at = e.location().map_or_else(String::new, |l| format!(": line {}, column {}", l.line(), l.column()));
        format!("{shown}{at}: not YAML or JSON in the shape of a Kubernetes Secret (kubectl get secret NAME -o yaml writes one)")
    })?;
    let mut out = Vec::new();
    for doc in &documents {
        secrets_of(shown, doc, prefix, &mut out)?;
    }
    if out.is_empty() {
        return Err(format!("{shown} holds no Secret with data"));
    }
    Ok(out)
}

fn secrets_of(
    shown: &str,
    doc: &Spanned<Document>,
    prefix: Option<&str>,
    out: &mut Vec<Incoming>,
) -> Result<(), String> {
    let d = &doc.value;
    let line = |s: &Spanned<String>| s.referenced.line();
    match d.kind.as_ref().map(|k| k.value.as_str()) {
        Some("List" | "SecretList") => {
            for item in &d.items {
                secrets_of(shown, item, prefix, out)?;
            }
            return Ok(());
        }
        Some("Secret") => {}
        Some(other) => {
            let at = d.kind.as_ref().map_or(doc.referenced.line(), line);
            return Err(format!("{shown}: line {at}: a {other}, not a Secret; give Secret manifests only"));
        }
        None => {
            return Err(format!("{shown}: line {}: a document without `kind: Secret`", doc.referenced.line()));
        }
    }
    let at = d.kind.as_ref().map_or(doc.referenced.line(), line);
    let name = d
        .metadata
        .as_ref()
        .and_then(|m| m.name.clone())
        .ok_or_else(|| format!("{shown}: line {at}: a Secret without metadata.name"))?;
    let mut values: BTreeMap<&str, (Zeroizing<Vec<u8>>, u64)> = BTreeMap::new();
    for (key, encoded) in d.data.iter().flatten() {
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.value.trim()).map_err(|_| {
            format!("{shown}: line {}: data.{key} is not base64 (put plain text under stringData)", line(encoded))
        })?;
        values.insert(key, (Zeroizing::new(bytes), line(encoded)));
    }
    for (key, plain) in d.string_data.iter().flatten() {
        values.insert(key, (Zeroizing::new(plain.value.as_bytes().to_vec()), line(plain)));
    }
    for (key, (value, at)) in values {
        let origin = format!("{shown}:{at}");
        let path = super::place(prefix, &format!("{name}/{key}"), &format!("{shown}: line {at}"))
            .map_err(|e| e.to_string())?;
        out.push(Incoming::new(path, value, origin));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "k8s-canary-3141";

    fn paths(text: &str) -> Result<Vec<(String, Vec<u8>, String)>, String> {
        parse("m.yaml", text, Some("k8s"))
            .map(|v| v.into_iter().map(|i| (i.path, i.value.to_vec(), i.origin)).collect())
    }

    #[test]
    fn data_and_string_data_of_every_document_and_list_item() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bot\ntype: Opaque\ndata:\n  TOKEN: aGVsbG8=\n  BOTH: b2xk\nstringData:\n  BOTH: new\n---\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"Secret\", \"metadata\": {\"name\": \"db\"}, \"data\": {\"password\": \"cHc=\"}}]}\n";
        let got = paths(text).expect("parses");
        assert_eq!(
            got,
            vec![
                ("k8s/bot/BOTH".to_owned(), b"new".to_vec(), "m.yaml:10".to_owned()),
                ("k8s/bot/TOKEN".to_owned(), b"hello".to_vec(), "m.yaml:7".to_owned()),
                ("k8s/db/password".to_owned(), b"pw".to_vec(), "m.yaml:12".to_owned()),
            ]
        );
    }

    #[test]
    fn what_is_not_a_secret_is_named_by_line_without_its_values() {
        let err = paths(&format!("kind: Secret\nmetadata: {{name: a}}\nstringData: {{A: {CANARY}}}\n---\nkind: ConfigMap\nmetadata:\n  name: c\n"))
            .expect_err("refused");
        assert!(err.contains("line 5") && err.contains("ConfigMap"), "{err}");
        for broken in [
            format!("kind: Secret\nmetadata: {{name: a}}\ndata:\n  A: [{CANARY}]\n"),
            format!("kind: Secret\nmetadata: {{name: a}}\ndata: {{A: {CANARY}\n"),
            format!("kind: Secret\nmetadata: {{name: a}}\ndata:\n  A: {CANARY}!!\n"),
            format!("kind: Secret\n  bad: indent {CANARY}\n"),
        ] {
            let err = paths(&broken).expect_err("refused");
            assert!(err.contains("m.yaml") && err.contains("line"), "{err}");
            assert!(!err.contains(CANARY) && !err.contains("canary"), "{err}");
        }
        assert!(paths("kind: Secret\nmetadata: {name: a}\n").expect_err("empty").contains("no Secret with data"));
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        text.push_str("kind: Secret\nmetadata: {name: a}\nstringData: {A: b}\n");
        let err = paths(&text).expect_err("refused");
        assert!(err.contains("not YAML or JSON"), "stopped by the parser's budget: {err}");
    }
}
