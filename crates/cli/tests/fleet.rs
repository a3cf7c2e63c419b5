//! The fleet view against the real server: consumers acknowledge the versions they hold as
//! their identity, only for secrets it may use, read or list; who may list a secret sees who
//! holds what of it, stale holders marked; `clawvault run --watch` acknowledges what it
//! started with and each version it moves to; `clawvault fleet` shows it.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestServer, admin_env, cli_command, key_env, run};
use serde_json::{Value, json};

fn fleet(s: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let r = s.get(token, &format!("/v1/consumers{query}")).send().unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["consumers"].as_array().unwrap().clone()
}

#[test]
fn acknowledgements_show_who_holds_what_to_who_may_list_it() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", "v1");
    s.put_secret(&admin, &v, "db/password", "pw");
    let (bot_id, bot_key) = s.new_agent(&admin, json!({ "name": "bot" }));
    s.grant(&admin, &v, ("agent", &bot_id), "bots/**", &["use"], json!({}));
    let bot = s.agent_token(&bot_key);

    let ack = |token: &str, path: &str, version: i64| {
        s.post(token, "/v1/consumers/ack")
            .json(&json!({"consumer": "sync", "host": "web-1", "secrets": [{"vault": "prod", "path": path, "version": version}]}))
            .send()
            .unwrap()
    };
    assert_eq!(ack(&bot, "bots/discord", 1).status(), 200);
    // Only secrets the identity may use, read or list; a version is a version.
    assert_eq!(ack(&bot, "db/password", 1).status(), 403);
    assert_eq!(ack(&bot, "bots/discord", 0).status(), 400);
    // Not a version it could hold: beyond the latest (which would hide a stale consumer), or
    // of a secret that does not exist.
    assert_eq!(ack(&bot, "bots/discord", 99_999).status(), 400);
    assert_eq!(ack(&bot, "bots/missing", 1).status(), 404);
    let (_, stranger_key) = s.new_agent(&admin, json!({ "name": "stranger" }));
    assert_eq!(ack(&s.agent_token(&stranger_key), "bots/discord", 1).status(), 403);

    s.put_secret(&admin, &v, "bots/discord", "v2");
    let rows = fleet(&s, &admin, "?vault=prod&path=bots/discord");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row["consumer"].as_str(), row["host"].as_str(), row["version"].as_i64()),
        (Some("sync"), Some("web-1"), Some(1))
    );
    assert_eq!(row["latest_version"], 2);
    assert_eq!(row["stale"], true, "it still holds version 1");
    assert_eq!(row["principal_id"], bot_id);
    // The bot may not list: it sees no row.
    assert!(fleet(&s, &bot, "").is_empty());
    assert_eq!(ack(&bot, "bots/discord", 2).status(), 200);
    assert_eq!(fleet(&s, &admin, "")[0]["stale"], false);

    // Every acknowledgement is on the audit trail.
    let events: Value = s.get(&admin, "/v1/audit/events?action=consumer.ack&limit=50").send().unwrap().json().unwrap();
    assert!(events["events"].as_array().unwrap().iter().any(|e| e["outcome"] == "success"));
    assert!(events["events"].as_array().unwrap().iter().any(|e| e["outcome"] == "denied"));
}

#[test]
fn run_watch_acknowledges_what_it_holds_and_fleet_shows_it() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", "cvcanary-fleet-1");
    let (bot_id, bot_key) = s.new_agent(&admin, json!({ "name": "bot" }));
    s.grant(&admin, &v, ("agent", &bot_id), "bots/**", &["use"], json!({}));
    let dir = tempfile::tempdir().unwrap();
    let mut child = cli_command(
        &[
            "run",
            "--watch",
            "--consumer",
            "discord-bot",
            "--env",
            "T=prod/bots/discord",
            "--",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.05; done",
        ],
        &key_env(&s, dir.path(), &bot_key),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let held = |want: i64| {
        let start = Instant::now();
        loop {
            let rows = fleet(&s, &admin, "");
            if rows.iter().any(|r| r["consumer"] == "discord-bot" && r["version"] == want) {
                return rows;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no acknowledgement of version {want}: {rows:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    held(1);
    s.put_secret(&admin, &v, "bots/discord", "cvcanary-fleet-2");
    let rows = held(2);
    assert_eq!(rows[0]["stale"], false);

    let config = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&admin_env(&s, config.path()), &["fleet"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("prod/bots/discord") && out.contains("discord-bot") && out.contains("current"), "{out}");
    assert!(!out.contains("cvcanary"), "{out}");

    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(child.wait().unwrap().success());
}
