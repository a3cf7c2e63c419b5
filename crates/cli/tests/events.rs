//! `GET /v1/events` against the real server, read with the client crate's typed stream: what
//! happened to which secret (never a value), only for paths the identity may list, in commit
//! order; a stream resumed with `Last-Event-ID` misses nothing; keep-alives hold an idle stream
//! open; a deactivated agent's stream ends; two replicas on PostgreSQL number events alike.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::time::Duration;

use clawvault_client::{Client, EventStream, SecretEvent, StreamEvent};
use common::TestServer;
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn client(s: &TestServer, key: &str) -> Client {
    Client::builder(&s.base).api_key(key).build().unwrap()
}

/// The next delivery within five seconds.
fn next(rt: &tokio::runtime::Runtime, stream: &mut EventStream) -> StreamEvent {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), stream.next()).await })
        .expect("an event within 5 s")
        .expect("the stream is open")
        .unwrap()
}

fn secret(event: StreamEvent) -> SecretEvent {
    match event {
        StreamEvent::Secret(e) => e,
        other => panic!("expected a secret event, got {other:?}"),
    }
}

/// Nothing more arrives within `wait`.
fn quiet(rt: &tokio::runtime::Runtime, stream: &mut EventStream, wait: Duration) {
    let got = rt.block_on(async { tokio::time::timeout(wait, stream.next()).await });
    assert!(got.is_err(), "expected nothing, got {got:?}");
}

#[test]
fn events_say_what_happened_to_the_secrets_the_identity_may_list() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    let (agent_id, agent_key) = s.new_agent(&admin, json!({ "name": "watcher" }));
    s.grant(&admin, &v, ("agent", &agent_id), "bots/**", &["list"], json!({}));
    let rt = runtime();
    let mut stream = rt.block_on(client(&s, &agent_key).events(None, None)).unwrap();

    s.put_secret(&admin, &v, "bots/discord", "cvcanary-event-value-1");
    s.put_secret(&admin, &v, "other/db", "cvcanary-event-value-2");
    let r = s
        .post(&admin, &format!("/v1/vaults/{v}/secret-rotate/bots/discord"))
        .json(&json!({"value": "cvcanary-event-value-3"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    assert_eq!(
        s.post(&admin, &format!("/v1/vaults/{v}/secret-version-disable/bots/discord/1")).send().unwrap().status(),
        204
    );
    assert_eq!(s.delete(&admin, &format!("/v1/vaults/{v}/secrets/bots/discord")).send().unwrap().status(), 204);
    assert_eq!(s.post(&admin, &format!("/v1/vaults/{v}/secret-restore/bots/discord")).send().unwrap().status(), 200);

    let got: Vec<SecretEvent> = (0..5).map(|_| secret(next(&rt, &mut stream))).collect();
    let seen: Vec<(&str, &str, i64)> = got.iter().map(|e| (e.kind.as_str(), e.path.as_str(), e.version)).collect();
    assert_eq!(
        seen,
        [
            ("written", "bots/discord", 1),
            ("rotated", "bots/discord", 2),
            ("disabled", "bots/discord", 1),
            ("deleted", "bots/discord", 2),
            ("restored", "bots/discord", 2),
        ],
        "other/db is outside the agent's list permission"
    );
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(got.iter().all(|e| e.vault == "prod" && e.vault_id.to_string() == v));
    quiet(&rt, &mut stream, Duration::from_millis(500));

    // The admin's stream of one vault sees both paths; no value anywhere in the events.
    let mut all = rt.block_on(client(&s, &s.admin_key).events(Some("prod"), Some(0))).unwrap();
    let every: Vec<SecretEvent> = (0..6).map(|_| secret(next(&rt, &mut all))).collect();
    assert!(every.iter().any(|e| e.path == "other/db"));
    assert!(!format!("{every:?}").contains("cvcanary"), "events carry no value");

    // Who may not see the vault is refused; a bad credential too.
    let (_, stranger) = s.new_agent(&admin, json!({ "name": "stranger" }));
    assert!(rt.block_on(client(&s, &stranger).events(Some("prod"), None)).is_err());
    assert!(rt.block_on(client(&s, "ocv_not-a-key").events(None, None)).is_err());
}

#[test]
fn a_resumed_stream_misses_nothing_and_a_cut_off_agents_stream_ends() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    let (agent_id, agent_key) = s.new_agent(&admin, json!({ "name": "watcher" }));
    s.grant(&admin, &v, ("agent", &agent_id), "**", &["list"], json!({}));
    let rt = runtime();
    let watcher = client(&s, &agent_key);
    let mut stream = rt.block_on(watcher.events(None, None)).unwrap();
    s.put_secret(&admin, &v, "a", "1");
    s.put_secret(&admin, &v, "b", "1");
    let last = secret(next(&rt, &mut stream));
    assert_eq!(last.path, "a");
    drop(stream);

    // Written while the consumer was away.
    for p in ["c", "d", "e"] {
        s.put_secret(&admin, &v, p, "1");
    }
    let mut resumed = rt.block_on(watcher.events(None, Some(last.seq))).unwrap();
    let missed: Vec<String> = (0..4).map(|_| secret(next(&rt, &mut resumed)).path).collect();
    assert_eq!(missed, ["b", "c", "d", "e"]);
    s.put_secret(&admin, &v, "f", "1");
    assert_eq!(secret(next(&rt, &mut resumed)).path, "f", "then live");

    // Deactivated: the stream ends at once, saying why, and no later event reaches it.
    let r = s
        .http
        .patch(s.url(&format!("/v1/agents/{agent_id}")))
        .bearer_auth(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    match next(&rt, &mut resumed) {
        StreamEvent::End { message } => assert!(message.contains("no longer stands"), "{message}"),
        other => panic!("expected the end, got {other:?}"),
    }
    s.put_secret(&admin, &v, "g", "1");
    let after = rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), resumed.next()).await });
    assert!(matches!(after, Ok(None)), "the stream is closed: {after:?}");
}

#[test]
fn keep_alives_hold_an_idle_stream_open() {
    let s = TestServer::start_with_config("idle_timeout_seconds = 3\nevents_heartbeat_seconds = 1\n");
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    let rt = runtime();
    let mut stream = rt.block_on(client(&s, &s.admin_key).events(None, None)).unwrap();
    // Idle for twice the connection's idle timeout: the keep-alives hold it.
    quiet(&rt, &mut stream, Duration::from_secs(6));
    s.put_secret(&admin, &v, "late", "1");
    assert_eq!(secret(next(&rt, &mut stream)).path, "late");

    let r = s.get(&admin, "/v1/events").header("last-event-id", "soon").send().unwrap();
    assert_eq!(r.status(), 400, "a Last-Event-ID that is not a number");
}

#[test]
fn two_replicas_number_events_alike_and_each_hears_the_others_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, r0, r1) = common::two_replicas(tmp.path());
    let admin = r0.admin_token();
    let v = r0.vault(&admin, "prod");
    let rt = runtime();
    let mut on_r1 = rt.block_on(client(&r1, &r0.admin_key).events(None, None)).unwrap();
    for i in 0..5 {
        let writer = if i % 2 == 0 { &r0 } else { &r1 };
        writer.put_secret(&admin, &v, &format!("k{i}"), "1");
    }
    let heard: Vec<SecretEvent> = (0..5).map(|_| secret(next(&rt, &mut on_r1))).collect();
    assert_eq!(heard.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["k0", "k1", "k2", "k3", "k4"]);
    let mut on_r0 = rt.block_on(client(&r0, &r0.admin_key).events(None, Some(heard[0].seq))).unwrap();
    let replayed: Vec<SecretEvent> = (0..4).map(|_| secret(next(&rt, &mut on_r0))).collect();
    assert_eq!(replayed, heard[1..], "one numbering on both replicas");
    drop((on_r0, on_r1, r0, r1));
    common::drop_database(&url);
}

#[test]
fn one_identity_holds_no_more_streams_than_its_cap() {
    // Keep-alives every second: a stream whose client left is noticed at the next one.
    let s = TestServer::start_with_config("events_max_streams_per_identity = 2\nevents_heartbeat_seconds = 1\n");
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    let (agent_id, agent_key) = s.new_agent(&admin, json!({ "name": "looper" }));
    s.grant(&admin, &v, ("agent", &agent_id), "**", &["list"], json!({}));
    let (other_id, other_key) = s.new_agent(&admin, json!({ "name": "other" }));
    s.grant(&admin, &v, ("agent", &other_id), "**", &["list"], json!({}));
    let rt = runtime();
    let first = rt.block_on(client(&s, &agent_key).events(None, None)).unwrap();
    let _second = rt.block_on(client(&s, &agent_key).events(None, None)).unwrap();
    let third = rt.block_on(client(&s, &agent_key).events(None, None));
    let Err(err) = third else { panic!("a third stream is refused") };
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(err.to_string().contains("event streams open"), "{err}");
    let _others = rt.block_on(client(&s, &other_key).events(None, None)).expect("another identity has its own");
    drop(first);
    common::wait_for("the closed stream's place is free", 10, || {
        rt.block_on(client(&s, &agent_key).events(None, None)).is_ok()
    });
}
