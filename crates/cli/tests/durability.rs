//! Nothing acknowledged is lost: restarts, SIGTERM in the middle of writes, SIGKILL.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Options, TestServer};
use serde_json::{Value, json};

#[test]
fn restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    assert!(s.stdout.iter().any(|l| l.contains("First admin API key")), "first start shows the key");
    assert!(s.stdout.iter().any(|l| l.contains(&s.admin_key)));
    let t = s.admin_token();
    let v = s.vault(&t, "keep");
    s.put_secret(&t, &v, "a/b", "one");
    s.put_secret(&t, &v, "a/b", "two");
    assert_eq!(s.stop().code(), Some(0), "SIGTERM is a clean exit");

    let s = TestServer::start_at(&data, &Options::default());
    assert!(!s.stdout.iter().any(|l| l.contains("First admin API key")), "the key is shown once: {:?}", s.stdout);
    assert_eq!(s.get(&t, "/v1/vaults").send().unwrap().status(), 200, "tokens verify across restarts");
    let t = s.admin_token();
    let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/a/b")).send().unwrap().json().unwrap();
    assert_eq!((got["value"].as_str(), got["version"].as_i64()), (Some("two"), Some(2)));
    let old: Value = s.get(&t, &format!("/v1/vaults/{v}/secret-version/a/b/1")).send().unwrap().json().unwrap();
    assert_eq!(old["value"], "one");
    let verify: Value = s.get(&t, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(verify["chain_valid"], true, "{verify}");
}

/// Writers record every 201 they receive; the server is stopped (or killed) while they write.
fn writes_survive(stop: impl FnOnce(&mut TestServer)) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    let acked: Arc<Mutex<Vec<(usize, i64, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..6 {
        let (base, t, acked) = (s.base.clone(), t.clone(), Arc::clone(&acked));
        writers.push(std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            for i in 0..100_000 {
                let value = format!("w{w}-{i}");
                let r = http
                    .put(format!("{base}/v1/vaults/default/secrets/load/w{w}"))
                    .bearer_auth(&t)
                    .json(&json!({ "value": value }))
                    .send();
                match r {
                    Ok(r) if r.status() == 201 => {
                        let version = r.json::<Value>().unwrap()["version"].as_i64().unwrap();
                        acked.lock().unwrap().push((w, version, value));
                    }
                    _ => break,
                }
            }
        }));
    }
    // Stop in the middle of the load: once the writers have made progress, however fast this
    // machine is.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 30 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(&mut s);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the writers made progress before the stop ({} writes)", acked.len());

    let s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    for w in 0..6 {
        let mine: Vec<_> = acked.iter().filter(|a| a.0 == w).collect();
        let versions: Value =
            s.get(&t, &format!("/v1/vaults/default/secret-versions/load/w{w}")).send().unwrap().json().unwrap();
        let stored: Vec<i64> = versions["versions"]
            .as_array()
            .map(|a| a.iter().map(|v| v["version"].as_i64().unwrap()).collect())
            .unwrap_or_default();
        let newest = stored.first().copied().unwrap_or(0);
        assert!(stored.iter().rev().copied().eq(1..=newest), "versions are gap-free: {stored:?}");
        for (_, version, value) in mine {
            let got: Value = s
                .get(&t, &format!("/v1/vaults/default/secret-version/load/w{w}/{version}"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            assert_eq!(got["value"].as_str(), Some(value.as_str()), "acknowledged write w{w} v{version} lost");
        }
    }
    let verify: Value = s.get(&t, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(verify["chain_valid"], true, "{verify}");
}

#[test]
fn sigterm_during_writes_loses_no_acknowledged_write() {
    writes_survive(|s| assert_eq!(s.stop().code(), Some(0)));
}

#[test]
fn sigkill_during_writes_loses_no_acknowledged_write() {
    writes_survive(TestServer::kill);
}
