//! A whole KV v2 mount of a Vault or OpenBao server, read over its HTTP API with a token:
//! every key found by listing `metadata/` (folders followed), each one secret of type `json`
//! holding the key's object of fields — what clawvault's Vault-compatible API stores for a
//! KV write, so that ESO and `bao kv get` read the same after the move. `--all-versions`
//! brings each readable version, oldest first; deleted and destroyed versions are skipped.
//! Everything is read before anything is written.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use super::Incoming;
use crate::exit::Coded;

/// Past these, a mount is not one this command should walk in one go.
const MAX_KEYS: usize = 100_000;
const MAX_DEPTH: usize = 64;
/// Folders listed at most (a server that answers every folder with more folders ends here).
const MAX_FOLDERS: usize = 10_000;
/// Longest answer read from the server.
const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// Where to read from.
#[derive(Debug, clap::Args)]
pub struct Source {
    /// The Vault or OpenBao server (https://vault.example.com:8200).
    #[arg(long = "vault-addr", value_name = "URL")]
    addr: String,
    /// A file holding a token that may list and read the mount.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// The KV v2 mount to import (e.g. secret).
    #[arg(long, value_name = "MOUNT")]
    mount: String,
    /// Bring every readable version, oldest first, not only the current one.
    #[arg(long)]
    all_versions: bool,
    /// A PEM file of the CA that signed the server's certificate.
    #[arg(long = "vault-ca-cert", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

struct Kv {
    http: reqwest::Client,
    base: String,
    token: Zeroizing<String>,
    mount: String,
}

pub(super) async fn read(source: &Source, prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let shown = source.token_file.display();
    let text = Zeroizing::new(
        std::fs::read_to_string(&source.token_file).with_context(|| format!("reading the token {shown}"))?,
    );
    let token = Zeroizing::new(text.trim().to_owned());
    if token.is_empty() {
        return Err(Coded::invalid(format!("{shown} is empty: it should hold a Vault token")));
    }
    let mut builder =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &source.ca_cert {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|_| Coded::invalid(format!("{} is not a PEM certificate", ca.display())))?;
        builder = builder.add_root_certificate(cert);
    }
    let kv = Kv {
        http: builder.build().context("making the HTTP client")?,
        base: source.addr.trim_end_matches('/').to_owned(),
        token,
        mount: source.mount.trim_matches('/').to_owned(),
    };
    let keys = kv.walk().await?;
    let mut out = Vec::with_capacity(keys.len());
    let reading = super::progress(keys.len() as u64, "reading from Vault");
    for key in keys {
        reading.inc(1);
        let origin = format!("{}/{key}", kv.mount);
        let path = super::place(prefix, &key, &origin)?;
        // The current version decides: a key deleted in the source stays deleted here, even
        // with older versions still readable.
        let Some(current) = kv.data(&key, None).await? else {
            out.push(Incoming::skipped(path, origin, "its current version is deleted"));
            continue;
        };
        let mut values = Vec::new();
        if source.all_versions {
            let (latest, earlier) = kv.readable_versions(&key).await?;
            for v in earlier.into_iter().filter(|v| latest.is_some_and(|l| *v < l)) {
                if let Some(value) = kv.data(&key, Some(v)).await? {
                    values.push(value);
                }
            }
        }
        let mut item = Incoming::new(path, current, origin);
        item.secret_type = Some("json");
        item.earlier = values;
        out.push(item);
    }
    reading.finish_and_clear();
    Ok(out)
}

impl Kv {
    async fn call(&self, method: Method, path: &str) -> Result<(u16, Value)> {
        let url = format!("{}/v1/{}/{path}", self.base, self.mount);
        let resp = self
            .http
            .request(method, &url)
            .header("X-Vault-Token", self.token.as_str())
            .send()
            .await
            .map_err(|e| Coded::invalid(format!("cannot reach {}: {}", self.base, e.without_url())))?;
        let status = resp.status().as_u16();
        let mut resp = resp;
        let mut raw = Zeroizing::new(Vec::new());
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| Coded::invalid(format!("reading {}: {}", self.base, e.without_url())))?
        {
            if raw.len() + chunk.len() > MAX_ANSWER {
                return Err(Coded::invalid(format!(
                    "{} answered more than {} MiB for one request",
                    self.base,
                    MAX_ANSWER >> 20
                )));
            }
            raw.extend_from_slice(&chunk);
        }
        let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        match status {
            200 | 404 => Ok((status, body)),
            _ => {
                let errors = body["errors"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
                Err(Coded::invalid(format!(
                    "{} answered {status} for {}/{}: {}",
                    self.base,
                    self.mount,
                    path.split('?').next().unwrap_or(path),
                    errors.filter(|e| !e.is_empty()).unwrap_or_else(|| "no reason given".to_owned())
                )))
            }
        }
    }

    /// Every key of the mount, folders followed, in the order listed.
    async fn walk(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut folders = vec![(String::new(), 0usize)];
        let mut listed = 0usize;
        while let Some((folder, depth)) = folders.pop() {
            listed += 1;
            if listed > MAX_FOLDERS {
                return Err(Coded::invalid(format!(
                    "{} holds more than {MAX_FOLDERS} folders; import it in parts",
                    self.mount
                )));
            }
            let (status, body) = self.call(Method::GET, &format!("metadata/{folder}?list=true")).await?;
            if status == 404 {
                continue;
            }
            let listed = body["data"]["keys"].as_array().cloned().unwrap_or_default();
            for name in listed.iter().filter_map(Value::as_str) {
                let full = format!("{folder}{name}");
                if name.ends_with('/') {
                    if depth + 1 > MAX_DEPTH {
                        return Err(Coded::invalid(format!(
                            "{}/{full} is nested deeper than {MAX_DEPTH} folders",
                            self.mount
                        )));
                    }
                    folders.push((full, depth + 1));
                } else {
                    keys.push(full);
                }
                if keys.len() + folders.len() > MAX_KEYS {
                    return Err(Coded::invalid(format!(
                        "{} holds more than {MAX_KEYS} keys; import it in parts",
                        self.mount
                    )));
                }
            }
        }
        if keys.is_empty() {
            return Err(Coded::not_found(format!(
                "{} lists no key under {}: is it a KV v2 mount this token may list?",
                self.base, self.mount
            )));
        }
        keys.sort();
        Ok(keys)
    }

    /// The current version, and the versions that still hold data, oldest first.
    async fn readable_versions(&self, key: &str) -> Result<(Option<u64>, Vec<u64>)> {
        let (_, body) = self.call(Method::GET, &format!("metadata/{key}")).await?;
        let current = body["data"]["current_version"].as_u64();
        let mut versions: Vec<u64> = body["data"]["versions"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| {
                        v["destroyed"] != Value::Bool(true) && v["deletion_time"].as_str().unwrap_or("").is_empty()
                    })
                    .filter_map(|(k, _)| k.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_unstable();
        Ok((current, versions))
    }

    /// A version's fields as one JSON object (None: deleted or destroyed).
    async fn data(&self, key: &str, version: Option<u64>) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let query = version.map_or_else(String::new, |v| format!("?version={v}"));
        let (status, body) = self.call(Method::GET, &format!("data/{key}{query}")).await?;
        let fields = &body["data"]["data"];
        if status == 404 || !fields.is_object() {
            return Ok(None);
        }
        Ok(Some(Zeroizing::new(serde_json::to_vec(fields).context("reading the fields")?)))
    }
}
