//! Three servers on one PostgreSQL database with one root key, as behind a load balancer:
//! concurrent writers on the same paths through different replicas, read-your-write across
//! replicas, `kill -9` of one replica in the middle of the load; then every acknowledged write
//! is readable with its exact version, no version is duplicated or missing, a read limit holds
//! across replicas, revocations and policy changes apply on every replica's next request, and
//! the audit chain is one chain that verifies.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Options, TestServer, assert_problem, new_database};
use serde_json::{Value, json};

const PATHS: usize = 3;
const WRITERS: usize = 6;
const WRITES_EACH: usize = 20;

fn options(url: &str) -> Options {
    Options {
        args: vec!["--storage".into(), "postgres".into()],
        env: vec![("CLAWVAULT_DATABASE_URL".into(), url.into())],
    }
}

/// A data directory holding a copy of the first replica's root key (as a mounted Secret).
fn replica_dir(root: &Path, name: &str, root_key: &Path) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = dir.join("root.key");
    std::fs::copy(root_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

/// What a writer was told: `path` holds `value` as `version`.
#[derive(Debug, Clone)]
struct Ack {
    path: String,
    version: i64,
    value: String,
}

#[test]
fn three_replicas_on_one_database() {
    let url = new_database();
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("r0");
    let r0 = TestServer::start_at(&first, &options(&url));
    let r1 = TestServer::start_at(&replica_dir(tmp.path(), "r1", &first.join("root.key")), &options(&url));
    // r2 reads the key from a file outside its data directory, read-only as a mounted Secret.
    let mounted = tmp.path().join("secret-root.key");
    std::fs::copy(first.join("root.key"), &mounted).unwrap();
    std::fs::set_permissions(&mounted, std::fs::Permissions::from_mode(0o400)).unwrap();
    let mut with_key = options(&url);
    with_key.args.extend(["--root-key-file".to_owned(), mounted.display().to_string()]);
    let mut r2 = TestServer::start_at(&tmp.path().join("r2"), &with_key);
    assert!(!tmp.path().join("r2/root.key").exists(), "no key is made where one was given");
    assert!(!r1.stdout.iter().any(|l| l.contains("First admin")), "only one replica bootstraps");
    let bases = [r0.base.clone(), r1.base.clone(), r2.base.clone()];

    // A token minted by one replica is accepted by the others (one signing key, in the database).
    let admin = r0.admin_token();
    let vault = r1.vault(&admin, "fleet");
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    // Writers spread over the replicas, all on the same few paths; readers check that a write
    // acknowledged by one replica is seen by the next.
    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let r2_dead = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (http, bases, acks, dead, progress) =
            (http.clone(), bases.clone(), Arc::clone(&acks), Arc::clone(&r2_dead), Arc::clone(&progress));
        let (admin, vault) = (admin.clone(), vault.clone());
        writers.push(std::thread::spawn(move || {
            let mut stale_reads = 0;
            for i in 0..WRITES_EACH {
                let path = format!("shared/p{}", (w + i) % PATHS);
                let value = format!("w{w}-{i}");
                let mut replica = (w + i) % 3;
                loop {
                    if replica == 2 && dead.load(Ordering::Acquire) {
                        replica = w % 2;
                    }
                    let sent = http
                        .put(format!("{}/v1/vaults/{vault}/secrets/{path}", bases[replica]))
                        .bearer_auth(&admin)
                        .json(&json!({ "value": value }))
                        .send();
                    match sent {
                        Ok(r) if r.status() == 201 => {
                            let version = r.json::<Value>().unwrap()["version"].as_i64().unwrap();
                            acks.lock().unwrap().push(Ack { path: path.clone(), version, value: value.clone() });
                            // Read-your-write on another replica.
                            let other = if replica == 0 { 1 } else { 0 };
                            let got: Value = http
                                .get(format!("{}/v1/vaults/{vault}/secrets/{path}", bases[other]))
                                .bearer_auth(&admin)
                                .send()
                                .unwrap()
                                .json()
                                .unwrap();
                            if got["version"].as_i64().unwrap() < version {
                                stale_reads += 1;
                            }
                            break;
                        }
                        Ok(r) if r.status() == 409 => continue,
                        Ok(r) => panic!("write answered {}: {}", r.status(), r.text().unwrap_or_default()),
                        // The killed replica: not acknowledged; try another.
                        Err(_) => replica = w % 2,
                    }
                }
                progress.fetch_add(1, Ordering::AcqRel);
            }
            stale_reads
        }));
    }
    // kill -9 of one replica in the middle of the load.
    while progress.load(Ordering::Acquire) < WRITERS * WRITES_EACH / 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    r2.kill();
    r2_dead.store(true, Ordering::Release);
    let stale: usize = writers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(stale, 0, "a replica answered with an older version than one already acknowledged");

    // Every acknowledged write, with its exact version and value; versions gap-free.
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), WRITERS * WRITES_EACH);
    let mut by_path: HashMap<String, Vec<i64>> = HashMap::new();
    for a in &acks {
        let got: Value = r1
            .get(&admin, &format!("/v1/vaults/{vault}/secret-version/{}/{}", a.path, a.version))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(got["value"], a.value.as_str(), "{a:?}");
        by_path.entry(a.path.clone()).or_default().push(a.version);
    }
    for (path, mut acked) in by_path {
        acked.sort_unstable();
        let n = acked.len();
        acked.dedup();
        assert_eq!(acked.len(), n, "{path}: one version acknowledged to two writers");
        let listed: Value =
            r0.get(&admin, &format!("/v1/vaults/{vault}/secret-versions/{path}")).send().unwrap().json().unwrap();
        let mut versions: Vec<i64> =
            listed["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
        versions.sort_unstable();
        let top = *versions.last().unwrap();
        assert_eq!(versions, (1..=top).collect::<Vec<_>>(), "{path}: versions missing or duplicated");
        // A write in flight on the killed replica may have committed without an answer.
        assert!(top >= i64::try_from(n).unwrap(), "{path}: an acknowledged version is missing");
        assert!(acked.iter().all(|v| versions.contains(v)));
    }

    // A read limit holds across replicas.
    let r = r0
        .put(&admin, &format!("/v1/vaults/{vault}/secrets/limited"))
        .json(&json!({ "value": "once-ish", "max_access_count": 5 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let opened = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..8)
        .map(|i| {
            let (http, base, admin, vault, opened) =
                (http.clone(), bases[i % 2].clone(), admin.clone(), vault.clone(), Arc::clone(&opened));
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let r = http
                        .get(format!("{base}/v1/vaults/{vault}/secrets/limited"))
                        .bearer_auth(&admin)
                        .send()
                        .unwrap();
                    match r.status().as_u16() {
                        200 => {
                            opened.fetch_add(1, Ordering::AcqRel);
                        }
                        410 => {}
                        other => panic!("read answered {other}"),
                    }
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(opened.load(Ordering::Acquire), 5, "exactly max_access_count reads over both replicas");

    // Revocation and policy changes: made on one replica, refused by the other on the next request.
    r0.put_secret(&admin, &vault, "bots/token", "t");
    let agent: Value = r0.post(&admin, "/v1/agents").json(&json!({ "name": "roamer" })).send().unwrap().json().unwrap();
    let (agent_id, agent_key) = (agent["agent"]["id"].as_str().unwrap(), agent["api_key"].as_str().unwrap());
    let policy: Value = r1
        .post(&admin, &format!("/v1/vaults/{vault}/policies"))
        .json(&json!({ "principal_type": "agent", "principal_id": agent_id, "secret_path_pattern": "bots/**", "permissions": ["read"] }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let exchange = |s: &TestServer| s.agent_token(agent_key);
    let t = exchange(&r1);
    let read =
        |s: &TestServer, token: &str| s.get(token, &format!("/v1/vaults/{vault}/secrets/bots/token")).send().unwrap();
    assert_eq!(read(&r0, &t).status(), 200);
    assert_eq!(read(&r1, &t).status(), 200);
    // Policy revoked on r0: r1 refuses at once (its policies for the agent were cached).
    let r =
        r0.delete(&admin, &format!("/v1/vaults/{vault}/policies/{}", policy["id"].as_str().unwrap())).send().unwrap();
    assert_eq!(r.status(), 204);
    assert_problem(read(&r1, &t), 403, "");
    r0.post(&admin, &format!("/v1/vaults/{vault}/policies"))
        .json(&json!({ "principal_type": "agent", "principal_id": agent_id, "secret_path_pattern": "bots/**", "permissions": ["read"] }))
        .send()
        .unwrap();
    assert_eq!(read(&r1, &t).status(), 200, "a new policy applies on the other replica at once");
    // Deactivated on r1: r0 refuses the token it had cached.
    let r = r1
        .http
        .patch(r1.url(&format!("/v1/agents/{agent_id}")))
        .bearer_auth(&admin)
        .json(&json!({ "is_active": false }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_problem(read(&r0, &t), 401, "revoked");
    // A token revoked on r0 is refused by r1 at once.
    let admin2 = r1.token_for(&r0.admin_key);
    assert_eq!(r1.get(&admin2, "/v1/vaults").send().unwrap().status(), 200);
    assert_eq!(r0.delete(&admin2, "/v1/auth/token").send().unwrap().status(), 204);
    assert_problem(r1.get(&admin2, "/v1/vaults").send().unwrap(), 401, "revoked");
    // A user deleted on r0: the token of an agent they created, cached on r1, is refused there.
    let (user_id, user_key) = r0.new_user(&admin, "leaver", "member");
    let (_, minted_key) = r0.new_agent(&r0.token_for(&user_key), json!({ "name": "left-behind" }));
    let minted = r1.agent_token(&minted_key);
    assert_eq!(r1.get(&minted, "/v1/vaults").send().unwrap().status(), 200);
    assert_eq!(r0.delete(&admin, &format!("/v1/users/{user_id}")).send().unwrap().status(), 200);
    assert_problem(r1.get(&minted, "/v1/vaults").send().unwrap(), 401, "");
    // A signing key rotated on r1: r0 verifies the new tokens at once.
    let r = r1.post(&admin, "/v1/auth/signing-keys/rotate").send().unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    let fresh = r1.token_for(&r0.admin_key);
    assert_eq!(r0.get(&fresh, "/v1/vaults").send().unwrap().status(), 200);

    // One chain, events from every replica, verified.
    let verify: Value = r1.get(&admin, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!((verify["chain_valid"].as_bool(), verify["complete"].as_bool()), (Some(true), Some(true)), "{verify}");
    assert!(verify["events_verified"].as_u64().unwrap() > u64::try_from(acks.len()).unwrap(), "{verify}");
    let events: Value = r0.get(&admin, "/v1/audit/events?action=secret.write&limit=1").send().unwrap().json().unwrap();
    assert!(events["total"].as_u64().unwrap() >= u64::try_from(acks.len()).unwrap(), "{events}");

    // The killed replica comes back and serves everything.
    let r2 = TestServer::start_at(&tmp.path().join("r2"), &with_key);
    let got: Value = r2.get(&admin, &format!("/v1/vaults/{vault}/secrets/bots/token")).send().unwrap().json().unwrap();
    assert_eq!(got["value"], "t");
}

#[test]
fn readiness_follows_the_database() {
    let url = new_database();
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_at(&tmp.path().join("r"), &options(&url));
    let ready = |s: &TestServer| s.http.get(s.url("/v1/health/ready")).send().unwrap().status().as_u16();
    assert_eq!(ready(&s), 200);
    // The database goes away: not ready (503), yet alive (200), so it is not restarted.
    common::drop_database(&url);
    assert_eq!(ready(&s), 503);
    assert_eq!(s.http.get(s.url("/v1/health")).send().unwrap().status(), 200);
}

#[test]
fn replicas_starting_together_on_an_empty_database() {
    let url = new_database();
    let tmp = tempfile::tempdir().unwrap();
    // A root key made by a server of its own (as an operator would before the first rollout).
    let seed = TestServer::start_at(&tmp.path().join("seed"), &Options::default());
    drop(seed);
    let key = tmp.path().join("seed/root.key");
    let starting: Vec<_> = (0..3)
        .map(|i| {
            let dir = replica_dir(tmp.path(), &format!("r{i}"), &key);
            let opts = options(&url);
            std::thread::spawn(move || TestServer::start_at(&dir, &opts))
        })
        .collect();
    let replicas: Vec<TestServer> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    // The schema was applied once (advisory lock), and exactly one replica made the first admin.
    let admins: Vec<&TestServer> = replicas.iter().filter(|r| !r.admin_key.is_empty()).collect();
    assert_eq!(admins.len(), 1, "exactly one replica bootstraps");
    let admin_key = admins[0].admin_key.clone();
    for r in &replicas {
        let t = r.token_for(&admin_key);
        let vaults: Value = r.get(&t, "/v1/vaults").send().unwrap().json().unwrap();
        assert_eq!(vaults["vaults"].as_array().unwrap().len(), 1, "one default vault");
        // Tokens minted anywhere verify everywhere, whichever replica's signing key won.
        for other in &replicas {
            assert_eq!(other.get(&t, "/v1/vaults").send().unwrap().status(), 200);
        }
    }
    let out = std::process::Command::new("psql")
        .arg(&url)
        .args(["-Atc", "SELECT count(*), count(DISTINCT version) FROM schema_migrations"])
        .output()
        .unwrap();
    let (rows, versions) =
        String::from_utf8_lossy(&out.stdout).trim().split_once('|').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    assert_eq!(rows, versions, "each migration applied exactly once");
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = std::process::Command::new(common::BIN)
        .args(["server", "--storage", "postgres", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("d"))
        .env("CLAWVAULT_DATABASE_URL", format!("postgres://clawvault:hunter2-canary@127.0.0.1:{port}/cv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to PostgreSQL") && stderr.contains("refused"), "{stderr}");
    assert_eq!(stderr.matches("cannot connect").count(), 1, "said once: {stderr}");
    assert!(!stderr.contains("hunter2-canary") && !String::from_utf8_lossy(&out.stdout).contains("hunter2-canary"));
}

#[test]
fn a_token_minted_from_the_row_before_a_cut_off_committed_is_refused() {
    let url = new_database();
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_at(&tmp.path().join("r0"), &options(&url));
    let admin = s.admin_token();
    let r = s.post(&admin, "/v1/agents").json(&json!({ "name": "racer" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned();
    let exchange = || s.agent_token(&key);
    let minted_before = exchange();
    // Another replica cuts the agent off (a re-bind, say) and commits after this token was
    // minted from the old row, with a clock behind this one's: its `not_before` is earlier
    // than the token's issue time, so only the token generation tells the token is stale.
    let out = std::process::Command::new("psql")
        .arg(&url)
        .args(["-qc", "UPDATE agents SET token_generation = token_generation + 1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_problem(s.get(&minted_before, "/v1/vaults").send().unwrap(), 401, "revoked");
    let minted_after = exchange();
    assert_eq!(s.get(&minted_after, "/v1/vaults").send().unwrap().status(), 200);
}
