//! `kill -9` under mixed load never leaves an answered read or write without its audit event:
//! the server is killed at random points of its batches, again and again, and after each
//! restart the trail is checked against what the clients were told. More rounds:
//! `CLAWVAULT_CRASH_ROUNDS=50 cargo test -p clawvault-cli --test crash`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Options, TestServer};
use serde_json::{Value, json};

const READERS: usize = 6;

fn rounds() -> usize {
    std::env::var("CLAWVAULT_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

/// A small deterministic generator (the seed is printed, so a failing round can be replayed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

/// Matching events in the trail.
fn events(s: &TestServer, token: &str, action: &str, resource: &str) -> u64 {
    let url = format!("/v1/audit/events?action={action}&resource_id={resource}&limit=1");
    let body: Value = s.get(token, &url).send().unwrap().json().unwrap();
    body["total"].as_u64().unwrap()
}

#[test]
fn every_answered_read_and_write_has_its_event_after_kill_9() {
    let seed = std::env::var("CLAWVAULT_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("CLAWVAULT_CRASH_SEED={seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    let admin = s.admin_token();
    let vault_id = s.vault(&admin, "crash");
    for k in 0..READERS {
        s.put_secret(&admin, "crash", &format!("r{k}"), "read me");
    }
    s.put_secret(&admin, "crash", "w", "v0");
    let answered_reads: Arc<Vec<AtomicU64>> = Arc::new((0..READERS).map(|_| AtomicU64::new(0)).collect());
    let answered_writes = Arc::new(AtomicU64::new(1));
    for round in 0..rounds() {
        let token = s.admin_token();
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for k in 0..READERS {
            let (base, token, stop, counts) = (s.base.clone(), token.clone(), stop.clone(), answered_reads.clone());
            workers.push(std::thread::spawn(move || {
                let c = client();
                while !stop.load(Ordering::Relaxed) {
                    let r = c.get(format!("{base}/v1/vaults/crash/secrets/r{k}")).bearer_auth(&token).send();
                    match r {
                        Ok(r) if r.status() == 200 => {
                            assert_eq!(r.json::<Value>().unwrap()["value"], "read me");
                            counts[k].fetch_add(1, Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
            }));
        }
        let (base, writer_token, writer_stop, writes) =
            (s.base.clone(), token.clone(), stop.clone(), answered_writes.clone());
        workers.push(std::thread::spawn(move || {
            let c = client();
            while !writer_stop.load(Ordering::Relaxed) {
                let n = writes.load(Ordering::SeqCst);
                let r = c
                    .put(format!("{base}/v1/vaults/crash/secrets/w"))
                    .bearer_auth(&writer_token)
                    .json(&json!({ "value": format!("v{n}"), "type": "password" }))
                    .send();
                match r {
                    Ok(r) if r.status().is_success() => {
                        writes.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
        }));
        std::thread::sleep(Duration::from_millis(150 + rng.below(600)));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        s = TestServer::start_at(&data, &Options::default());
        let admin = s.admin_token();
        for (k, count) in answered_reads.iter().enumerate() {
            let told = count.load(Ordering::SeqCst);
            let logged = events(&s, &admin, "secret.read", &format!("{vault_id}/r{k}"));
            assert!(logged >= told, "round {round}: r{k} was read {told} times, {logged} events");
        }
        let told = answered_writes.load(Ordering::SeqCst);
        let latest: Value = s.get(&admin, "/v1/vaults/crash/secrets/w").send().unwrap().json().unwrap();
        let version = latest["version"].as_u64().unwrap();
        assert!(version >= told, "round {round}: {told} writes answered, the secret is at version {version}");
        assert_eq!(latest["value"], format!("v{}", version - 1), "the newest write is the value");
        let logged = events(&s, &admin, "secret.write", &format!("{vault_id}/w"));
        assert!(logged >= version, "round {round}: {version} versions written, {logged} events");
        // A write the server committed but could not answer before it died counts from here on.
        answered_writes.store(version, Ordering::SeqCst);
        let verify: Value = s.get(&admin, "/v1/audit/verify").send().unwrap().json().unwrap();
        assert_eq!(verify["chain_valid"], true, "round {round}: {verify}");
        eprintln!(
            "round {round}: {} reads and {told} writes answered so far, chain of {} events intact",
            answered_reads.iter().map(|c| c.load(Ordering::SeqCst)).sum::<u64>(),
            verify["events_checked"]
        );
    }
}
