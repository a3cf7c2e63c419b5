//! The threats we test (docs/security.md keeps the table): each test performs one attack that
//! worked against an earlier release, against the real binary, and checks that it no longer
//! does. The suite runs on SQLite and again with every server on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, assert_problem};
use serde_json::{Value, json};

fn in_days(d: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(d))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn share(s: &TestServer, token: &str, secret_id: &str, body: Value) -> reqwest::blocking::Response {
    s.post(token, &format!("/v1/secrets/{secret_id}/share")).json(&body).send().unwrap()
}

fn link(s: &TestServer, token: &str, secret_id: &str) -> String {
    let r = share(s, token, secret_id, json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned()
}

fn open(s: &TestServer, id: &str) -> reqwest::blocking::Response {
    s.http.get(s.url(&format!("/v1/share/{id}"))).json(&json!({})).send().unwrap()
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Part A 1: `**` matched by backtracking; twenty of them against a 60-segment path never
/// finished, pinned a worker and blocked shutdown.
#[test]
fn a_policy_of_many_double_stars_cannot_pin_a_worker() {
    let mut s = TestServer::start();
    let admin = s.admin_token();
    let (agent, key) = s.new_agent(&admin, json!({ "name": "globber" }));
    let pattern = format!("{}z", "**/".repeat(20));
    s.grant(&admin, "default", ("agent", &agent), &pattern, &["read"], json!({}));
    let token = s.agent_token(&key);
    let long = vec!["a"; 60].join("/");
    // The client gives up after 30 s: before the fix this request never ended.
    let r = s.get(&token, &format!("/v1/vaults/default/secrets/{long}")).send().unwrap();
    assert_problem(r, 403, "no policy grants read");
    assert_eq!(s.http.get(s.url("/v1/health")).send().unwrap().status(), 200);

    let body = |pattern: String| json!({ "principal_type": "agent", "principal_id": agent, "secret_path_pattern": pattern, "permissions": ["read"] });
    let r = s.post(&admin, "/v1/vaults/default/policies").json(&body(vec!["*"; 33].join("/"))).send().unwrap();
    assert_problem(r, 400, "at most 256 bytes and 32 segments");
    let r = s.post(&admin, "/v1/vaults/default/policies").json(&body("a".repeat(300))).send().unwrap();
    assert_problem(r, 400, "at most 256 bytes and 32 segments");
    assert!(s.stop().success(), "SIGTERM ends the server");
}

/// Part A 2: an agent allowed `[read, share]` on `**` but denied `read` on `prod/**` shared
/// `prod/db` by link and opened it anonymously.
#[test]
fn sharing_needs_the_right_to_read_under_the_same_conditions() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let db = s.put_secret(&admin, "default", "prod/db", "prod-db-password");
    let dev = s.put_secret(&admin, "default", "dev/db", "dev-db-password");
    let (agent, key) = s.new_agent(&admin, json!({ "name": "sharer" }));
    s.grant(&admin, "default", ("agent", &agent), "**", &["read", "share"], json!({}));
    s.grant(&admin, "default", ("agent", &agent), "prod/**", &["read"], json!({ "effect": "deny" }));
    let token = s.agent_token(&key);
    assert_problem(s.get(&token, "/v1/vaults/default/secrets/prod/db").send().unwrap(), 403, "deny policy");
    let r = share(
        &s,
        &token,
        db["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }),
    );
    assert_problem(r, 403, "deny policy refuses read");
    link(&s, &token, dev["id"].as_str().unwrap());

    // A read allowed only from elsewhere does not allow sharing from here either.
    let (fenced, fenced_key) = s.new_agent(&admin, json!({ "name": "fenced" }));
    s.grant(&admin, "default", ("agent", &fenced), "**", &["share"], json!({}));
    s.grant(
        &admin,
        "default",
        ("agent", &fenced),
        "**",
        &["read"],
        json!({ "conditions": { "ip_allowlist": ["10.0.0.0/8"] } }),
    );
    let fenced_token = s.agent_token(&fenced_key);
    let r = share(
        &s,
        &fenced_token,
        dev["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }),
    );
    assert_problem(r, 403, "no policy grants read");
}

/// Part A 3: a link made by an agent still opened after the agent was deleted, and it gave
/// the value of a later rotation.
#[test]
fn a_share_keeps_its_version_and_closes_when_its_creator_may_no_longer_read() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "app/key", "first-value");
    let sid = secret["id"].as_str().unwrap();
    let (agent, key) = s.new_agent(&admin, json!({ "name": "linker" }));
    let policy = s.grant(&admin, "default", ("agent", &agent), "app/**", &["read", "share"], json!({}));
    let token = s.agent_token(&key);
    let by_agent = link(&s, &token, sid);
    let other = link(&s, &token, sid);

    s.put_secret(&admin, "default", "app/key", "rotated-value");
    let r = open(&s, &by_agent);
    assert_eq!(r.status(), 200);
    let opened: Value = r.json().unwrap();
    assert_eq!(opened["value"], "first-value", "a share hands out the version it was made for");

    // The creator loses read: the link closes, and opens again only if read is given back.
    assert_eq!(s.delete(&admin, &format!("/v1/vaults/default/policies/{policy}")).send().unwrap().status(), 204);
    assert_problem(open(&s, &by_agent), 410, "no longer valid");
    s.grant(&admin, "default", ("agent", &agent), "app/**", &["read", "share"], json!({}));
    assert_eq!(open(&s, &by_agent).status(), 200);
    // The creator is deleted: every link it made is dead.
    assert_eq!(s.delete(&admin, &format!("/v1/agents/{agent}")).send().unwrap().status(), 204);
    assert_problem(open(&s, &by_agent), 410, "no longer valid");
    assert_problem(open(&s, &other), 410, "no longer valid");

    // The server caps a share's lifetime (30 days unless configured).
    let r = share(&s, &admin, sid, json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(31) }));
    assert_problem(r, 400, "at most 30 days");
    let mine = link(&s, &admin, sid);

    // Admins see and revoke every share; others may not list them all.
    let all: Value = s.get(&admin, "/v1/shares").send().unwrap().json().unwrap();
    let ids: Vec<&str> = all["shares"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&by_agent.as_str()) && ids.contains(&mine.as_str()), "{all}");
    let (_, member_key) = s.new_user(&admin, "mia", "member");
    let member = s.token_for(&member_key);
    assert_problem(s.get(&member, "/v1/shares").send().unwrap(), 403, "only an admin");
    assert_eq!(s.delete(&admin, &format!("/v1/share/{other}")).send().unwrap().status(), 204);
    assert_problem(open(&s, &other), 404, "no share");
}

/// Found by review: a share made with a user's API key kept opening after that key was
/// deleted (nothing may outlive what made it).
#[test]
fn a_share_closes_when_the_key_that_made_it_is_deleted() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "ci/token", "ci-value");
    let sid = secret["id"].as_str().unwrap();
    let r = s.post(&admin, "/v1/auth/api-keys").json(&json!({ "name": "laptop" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let (key_id, key) = (created["key"]["id"].as_str().unwrap(), created["api_key"].as_str().unwrap());
    let by_key = link(&s, key, sid);
    let by_token = link(&s, &s.token_for(key), sid);
    let by_admin = link(&s, &admin, sid);
    for id in [&by_key, &by_token, &by_admin] {
        assert_eq!(open(&s, id).status(), 200);
    }
    assert_eq!(s.delete(&admin, &format!("/v1/auth/api-keys/{key_id}")).send().unwrap().status(), 204);
    assert_problem(open(&s, &by_key), 410, "no longer valid");
    assert_problem(open(&s, &by_token), 410, "no longer valid");
    assert_eq!(open(&s, &by_admin).status(), 200, "shares made with other keys still open");
}

/// Part A 5: after an admin deleted a secret, an agent with `write` wrote a new value and
/// read the deleted version 1 back.
#[test]
fn a_write_after_a_delete_leaves_the_deleted_versions_closed() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "ops/token", "deleted-value");
    assert_eq!(s.delete(&admin, "/v1/vaults/default/secrets/ops/token").send().unwrap().status(), 204);
    let (agent, key) = s.new_agent(&admin, json!({ "name": "writer" }));
    s.grant(&admin, "default", ("agent", &agent), "ops/**", &["read", "write"], json!({}));
    let token = s.agent_token(&key);
    let written = s.put_secret(&token, "default", "ops/token", "new-value");
    assert_eq!(written["version"], 2);
    let current: Value = s.get(&token, "/v1/vaults/default/secrets/ops/token").send().unwrap().json().unwrap();
    assert_eq!(current["value"], "new-value");
    let r = s.get(&token, "/v1/vaults/default/secret-version/ops/token/1").send().unwrap();
    let body = assert_problem(r, 410, "from before the secret was deleted");
    assert!(!body.to_string().contains("deleted-value"));
    // Not for the agent's next write either, nor for an admin until they restore.
    s.put_secret(&token, "default", "ops/token", "third-value");
    assert_problem(s.get(&admin, "/v1/vaults/default/secret-version/ops/token/1").send().unwrap(), 410, "before");
    let r = s.post(&token, "/v1/vaults/default/secret-restore/ops/token").send().unwrap();
    assert_problem(r, 403, "only an admin");
    assert_eq!(s.post(&admin, "/v1/vaults/default/secret-restore/ops/token").send().unwrap().status(), 200);
    let old: Value = s.get(&admin, "/v1/vaults/default/secret-version/ops/token/1").send().unwrap().json().unwrap();
    assert_eq!(old["value"], "deleted-value");
}

/// Part A 14: axum answered `HEAD` on a share with the `GET` handler: the one allowed
/// opening was spent (and audited as a success), and `Content-Length` told the length.
#[test]
fn head_spends_no_share_and_no_read() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "once/key", "read-me-once");
    let r = share(
        &s,
        &admin,
        secret["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1), "max_access_count": 1 }),
    );
    let id = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let r = s.http.head(s.url(&format!("/v1/share/{id}"))).send().unwrap();
    assert_eq!(r.status(), 405);
    let r = s
        .put(&admin, "/v1/vaults/default/secrets/once/limited")
        .json(&json!({ "value": "limited-value", "max_access_count": 1 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s.http.head(s.url("/v1/vaults/default/secrets/once/limited")).bearer_auth(&admin).send().unwrap();
    assert_eq!(r.status(), 405);

    let opened: Value = open(&s, &id).json().unwrap();
    assert_eq!(opened["value"], "read-me-once");
    let read: Value = s.get(&admin, "/v1/vaults/default/secrets/once/limited").send().unwrap().json().unwrap();
    assert_eq!(read["value"], "limited-value");
    assert_eq!(s.http.head(s.url("/v1/health")).send().unwrap().status(), 200, "probes may use HEAD");
}

/// Part A 11: past the share-creation budget, every request with a passphrase still ran a
/// 19 MiB Argon2 hash before its 429; 256 of them grew the server to 4.7 GiB.
#[test]
fn a_flood_of_passphrase_requests_keeps_memory_flat() {
    let s = TestServer::start();
    let admin = s.admin_token();
    // An agent with no policy at all, sharing in a vault of its own.
    let (_, key) = s.new_agent(&admin, json!({ "name": "flooder" }));
    let token = s.agent_token(&key);
    s.vault(&token, "flood");
    let secret = s.put_secret(&token, "flood", "k", "flood-value");
    let sid = secret["id"].as_str().unwrap().to_owned();
    let guarded = share(
        &s,
        &admin,
        &sid,
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1), "passphrase": "correct horse battery" }),
    );
    assert_eq!(guarded.status(), 201);
    let guarded = guarded.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();

    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (s, token, sid, guarded) = (&s, &token, &sid, &guarded);
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    for _ in 0..8 {
                        let body = json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1), "passphrase": "a long passphrase" });
                        seen.push(share(s, token, sid, body).status().as_u16());
                        let r = s.http.get(s.url(&format!("/v1/share/{guarded}"))).json(&json!({ "passphrase": "wrong guess here" })).send().unwrap();
                        seen.push(r.status().as_u16());
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|c| matches!(c, 201 | 403 | 429 | 503)), "{statuses:?}");
    assert!(statuses.contains(&429), "the budget was reached");
    let peak = peak_rss_kib(s.pid());
    assert!(peak < 400 * 1024, "peak resident memory {peak} KiB: passphrase hashing is not bounded");
    assert_eq!(s.http.get(s.url("/v1/health")).send().unwrap().status(), 200);
}

fn in_seconds(s: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(s))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn parse_time(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(v.as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
}

fn exchange_status(s: &TestServer, path: &str, key: &str) -> u16 {
    s.http.post(s.url(path)).json(&json!({ "api_key": key })).send().unwrap().status().as_u16()
}

/// Part A 4: after `DELETE /v1/users/{id}`, an agent that user created still exchanged its
/// key and read secrets.
#[test]
fn deleting_a_user_deactivates_the_agents_they_created() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "bots/token", "bot-token-value");
    let (mia, mia_key) = s.new_user(&admin, "mia", "member");
    let mia_token = s.token_for(&mia_key);
    let (bot, bot_key) = s.new_agent(&mia_token, json!({ "name": "mias-bot" }));
    s.grant(&admin, "default", ("agent", &bot), "bots/**", &["read"], json!({}));
    let bot_token = s.agent_token(&bot_key);
    assert_eq!(s.get(&bot_token, "/v1/vaults/default/secrets/bots/token").send().unwrap().status(), 200);

    let r = s.delete(&admin, &format!("/v1/users/{mia}")).send().unwrap();
    assert_eq!(r.status(), 200);
    let deleted: Value = r.json().unwrap();
    assert_eq!(deleted["deactivated_agents"], json!([{ "id": bot, "name": "mias-bot" }]));
    assert_eq!(s.get(&bot_token, "/v1/vaults/default/secrets/bots/token").send().unwrap().status(), 401);
    assert_eq!(exchange_status(&s, "/v1/auth/agent-token", &bot_key), 401);
    let agent: Value = s.get(&admin, &format!("/v1/agents/{bot}")).send().unwrap().json().unwrap();
    assert_eq!(agent["is_active"], false);
    let audit: Value = s
        .get(&admin, &format!("/v1/audit/events?action=agent.deactivate&resource_id={bot}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["total"], 1, "{audit}");

    // The CLI says which agents went down with the user.
    let cfg = tempfile::tempdir().unwrap();
    let env = common::admin_env(&s, cfg.path());
    let (_, ana_key) = s.new_user(&admin, "ana", "member");
    let (_, _) = s.new_agent(&s.token_for(&ana_key), json!({ "name": "anas-bot" }));
    let (code, out, err) = common::run(&env, &["user", "delete", "ana", "--yes"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Deactivated the 1 agent(s) they created:") && out.contains("anas-bot"), "{out}");
}

/// Part A 10: scopes were stored on API keys but nothing checked them.
#[test]
fn an_api_key_does_only_what_its_scopes_name() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "ci/token", "ci-token-value");
    let r =
        s.post(&admin, "/v1/auth/api-keys").json(&json!({ "name": "ci", "scopes": ["secrets:admin"] })).send().unwrap();
    assert_problem(r, 400, "the scopes are secrets:read, secrets:use, secrets:write");
    let r = s
        .post(&admin, "/v1/auth/api-keys")
        .json(&json!({ "name": "ci", "scopes": ["secrets:read", "vaults:read", "keys:write"] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned();
    let ci = s.token_for(&key);
    let read: Value = s.get(&ci, "/v1/vaults/default/secrets/ci/token").send().unwrap().json().unwrap();
    assert_eq!(read["value"], "ci-token-value");
    assert_eq!(s.get(&ci, "/v1/vaults").send().unwrap().status(), 200);
    let r = s.put(&ci, "/v1/vaults/default/secrets/ci/token").json(&json!({ "value": "overwritten" })).send().unwrap();
    assert_problem(r, 403, "do not include secrets:write");
    assert_problem(s.delete(&ci, "/v1/vaults/default/secrets/ci/token").send().unwrap(), 403, "secrets:write");
    assert_problem(s.post(&ci, "/v1/vaults").json(&json!({ "name": "new" })).send().unwrap(), 403, "vaults:write");
    assert_problem(s.get(&ci, "/v1/audit/events").send().unwrap(), 403, "audit:read");
    assert_problem(
        s.post(&ci, "/v1/users").json(&json!({ "name": "x", "role": "admin" })).send().unwrap(),
        403,
        "users:write",
    );
    // A limited key cannot mint an unlimited (or wider) one.
    assert_problem(
        s.post(&ci, "/v1/auth/api-keys").json(&json!({ "name": "wider" })).send().unwrap(),
        403,
        "must name scopes",
    );
    let r = s.post(&ci, "/v1/auth/api-keys").json(&json!({ "name": "w", "scopes": ["secrets:write"] })).send().unwrap();
    assert_problem(r, 403, "do not include secrets:write");
    let r = s
        .post(&ci, "/v1/auth/api-keys")
        .json(&json!({ "name": "narrower", "scopes": ["secrets:read"] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let current: Value = s.get(&admin, "/v1/vaults/default/secrets/ci/token").send().unwrap().json().unwrap();
    assert_eq!(current["version"], 1, "nothing was written");
}

/// Part A 13: a key valid for 6 s created another key and an agent; both still worked after
/// it expired.
#[test]
fn nothing_minted_outlives_the_key_that_minted_it() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let r = s
        .post(&admin, "/v1/auth/api-keys")
        .json(&json!({ "name": "short", "expires_at": in_seconds(4) }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let limit = parse_time(&created["key"]["expires_at"]);
    let short = s.token_for(created["api_key"].as_str().unwrap());

    let r = s.post(&short, "/v1/auth/api-keys").json(&json!({ "name": "child" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let child: Value = r.json().unwrap();
    assert!(parse_time(&child["key"]["expires_at"]) <= limit, "{child}");
    let r =
        s.post(&short, "/v1/agents").json(&json!({ "name": "child-bot", "expires_at": in_days(30) })).send().unwrap();
    assert_eq!(r.status(), 201);
    let agent: Value = r.json().unwrap();
    assert!(parse_time(&agent["agent"]["expires_at"]) <= limit, "{agent}");
    let (_, user_key) = {
        let r = s.post(&short, "/v1/users").json(&json!({ "name": "child-user", "role": "member" })).send().unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().unwrap();
        (v["user"]["id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned())
    };
    let secret = s.put_secret(&admin, "default", "short/lived", "short-lived-value");
    let r = share(
        &s,
        &short,
        secret["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(7) }),
    );
    assert_eq!(r.status(), 201);
    let link: Value = r.json().unwrap();
    assert!(parse_time(&link["expires_at"]) <= limit, "{link}");

    while time::OffsetDateTime::now_utc() <= limit + time::Duration::seconds(1) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(exchange_status(&s, "/v1/auth/api-key-token", child["api_key"].as_str().unwrap()), 401);
    assert_eq!(exchange_status(&s, "/v1/auth/agent-token", agent["api_key"].as_str().unwrap()), 401);
    assert_eq!(exchange_status(&s, "/v1/auth/api-key-token", &user_key), 401);
    assert_eq!(open(&s, link["id"].as_str().unwrap()).status(), 410);
}

/// Part A 15: two admins deleting each other at the same moment both got 204, leaving none.
#[test]
fn the_last_admin_cannot_be_raced_away() {
    let s = TestServer::start();
    let mut survivor = s.admin_token();
    for round in 0..8 {
        let (id_new, key_new) = s.new_user(&survivor, &format!("admin-{round}"), "admin");
        let token_new = s.token_for(&key_new);
        let me: Value = s.get(&survivor, "/v1/users").send().unwrap().json().unwrap();
        let id_old = me["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["role"] == "admin" && u["id"] != id_new.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let barrier = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| {
                barrier.wait();
                s.delete(&survivor, &format!("/v1/users/{id_new}")).send().unwrap().status().as_u16()
            });
            let b = scope.spawn(|| {
                barrier.wait();
                s.delete(&token_new, &format!("/v1/users/{id_old}")).send().unwrap().status().as_u16()
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let outcome = [a, b];
        assert_eq!(
            outcome.iter().filter(|c| **c == 200).count(),
            1,
            "round {round}: exactly one deletion: {outcome:?}"
        );
        assert!(outcome.iter().all(|c| matches!(c, 200 | 401 | 409)), "round {round}: {outcome:?}");
        if b == 200 {
            survivor = token_new;
        }
        let users: Value = s.get(&survivor, "/v1/users").send().unwrap().json().unwrap();
        let admins = users["users"].as_array().unwrap().iter().filter(|u| u["role"] == "admin").count();
        assert_eq!(admins, 1, "round {round}: {users}");
    }
}

/// Part A 16: anonymous enrollment took a description with ESC, BEL, CR, LF and NUL, and
/// `clawvault agent pending` printed a forged row and an OSC 52 clipboard write.
#[test]
fn free_text_refuses_what_a_terminal_would_obey() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let enroll = |body: Value| s.http.post(s.url("/v1/agents/enroll")).json(&body).send().unwrap();
    let forged = "ok\r\n00000000-0000-0000-0000-000000000000  admin-bot  approved\u{1b}]52;c;cHduZWQ=\u{7}\0";
    assert_problem(enroll(json!({ "name": "bot", "description": forged })), 400, "description contains U+000D");
    assert_problem(enroll(json!({ "name": "bot\u{1b}[2J" })), 400, "name contains U+001B");
    assert_problem(enroll(json!({ "name": "bot\u{202e}toor" })), 400, "name contains U+202E");
    assert_problem(s.post(&admin, "/v1/agents").json(&json!({ "name": "a\u{7}" })).send().unwrap(), 400, "U+0007");
    let r = s.post(&admin, "/v1/agents").json(&json!({ "name": "fine", "description": "line\nbreak" })).send().unwrap();
    assert_problem(r, 400, "description contains U+000A");
    let r = s
        .post(&admin, "/v1/vaults")
        .json(&json!({ "name": "linked", "description": "x\u{1b}]8;;http://evil\u{7}" }))
        .send()
        .unwrap();
    assert_problem(r, 400, "description contains U+001B");
    let r = s.post(&admin, "/v1/users").json(&json!({ "name": "eve\u{0}", "role": "member" })).send().unwrap();
    assert_problem(r, 400, "name contains U+0000");
    let r = s.post(&admin, "/v1/auth/api-keys").json(&json!({ "name": "k\u{9b}31m" })).send().unwrap();
    assert_problem(r, 400, "name contains U+009B");
    let r = s
        .put(&admin, "/v1/vaults/default/secrets/meta/x")
        .json(&json!({ "value": "v", "metadata": { "owner": "ops\r\nforged" } }))
        .send()
        .unwrap();
    assert_problem(r, 400, "metadata contains U+000D");
    // Printable text of any script is fine.
    assert_eq!(enroll(json!({ "name": "Bot de déploiement 🤖", "description": "für — 配備" })).status(), 201);
    let pending: Value = s.get(&admin, "/v1/agents/enroll").send().unwrap().json().unwrap();
    assert_eq!(pending["enrollments"].as_array().map(Vec::len), Some(1), "{pending}");
}

/// Part A 6: 300 unauthenticated requests wrote 301 durable audit rows, none throttled; each
/// cost an fsync that real reads waited behind.
#[test]
fn anonymous_failures_are_throttled_and_summarised_not_each_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &common::Options::default());
    let admin = s.admin_token();
    let before: Value = s.get(&admin, "/v1/audit/events?limit=1").send().unwrap().json().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..300 {
        let r = s.get("not-a-token", "/v1/vaults").send().unwrap();
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some(), "429 says when to retry");
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.iter().all(|c| matches!(c, 401 | 429)), "{statuses:?}");
    assert!(statuses.contains(&429), "the address is throttled");
    let after: Value = s.get(&admin, "/v1/audit/events?limit=1").send().unwrap().json().unwrap();
    let written = after["total"].as_u64().unwrap() - before["total"].as_u64().unwrap();
    // The first failure, and the two authenticated listings above.
    assert!(written <= 3, "{written} events for 300 failures");
    // The admin is not slowed down by others' failures.
    assert_eq!(s.get(&admin, "/v1/vaults").send().unwrap().status(), 200);

    // The rest is one summary event, written when its window ends (here: at shutdown).
    assert!(s.stop().success());
    let s = TestServer::start_at(&data, &common::Options::default());
    let admin = s.admin_token();
    let summary: Value = s.get(&admin, "/v1/audit/events?action=auth.failures").send().unwrap().json().unwrap();
    assert_eq!(summary["total"], 1, "{summary}");
    let details = &summary["events"][0]["details"];
    assert_eq!(details["count"], 299, "{summary}");
    assert_eq!(details["by_action"]["auth.token"], 299);
    let verified: Value = s.get(&admin, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(verified["chain_valid"], true);
}

/// Part A 7: 96 wrong share passphrases from one address made the admin's valid key exchange
/// answer 429 for 12 minutes (behind an ingress, for the whole team).
#[test]
fn guessing_a_share_passphrase_locks_the_share_not_the_address() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "guarded/key", "guarded-value");
    let r = share(
        &s,
        &admin,
        secret["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1), "passphrase": "correct horse battery" }),
    );
    let guarded = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let other = link(&s, &admin, secret["id"].as_str().unwrap());
    let mut locked = false;
    for _ in 0..96 {
        let r = s
            .http
            .get(s.url(&format!("/v1/share/{guarded}")))
            .json(&json!({ "passphrase": "wrong guess here" }))
            .send()
            .unwrap();
        locked |= r.status() == 429;
    }
    assert!(locked, "the share is locked after repeated wrong passphrases");
    // Throttling an address lasts seconds; then everything else from it works.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(exchange_status(&s, "/v1/auth/api-key-token", &s.admin_key), 200, "a valid key is never locked out");
    assert_eq!(open(&s, &other).status(), 200, "other shares open");
    let r = s
        .http
        .get(s.url(&format!("/v1/share/{guarded}")))
        .json(&json!({ "passphrase": "correct horse battery" }))
        .send()
        .unwrap();
    assert_problem(r, 429, "wrong passphrases for this share");
}

/// Part A 12: twenty wrong agent-token exchanges with a victim's `api_key_prefix` (shown in
/// listings and audit) plus random text locked the real key out for 15 minutes.
#[test]
fn a_key_that_verifies_is_never_locked_out_by_its_prefix() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let (_, key) = s.new_agent(&admin, json!({ "name": "victim" }));
    let prefix: String = key.chars().take(12).collect();
    let mut quieted = false;
    for n in 0..40 {
        let guess = format!("{prefix}{}", "x".repeat(30 + n % 7));
        let status = exchange_status(&s, "/v1/auth/agent-token", &guess);
        assert!(matches!(status, 401 | 429), "{status}");
        quieted |= status == 429;
    }
    assert!(quieted, "failing guesses are throttled");
    assert_eq!(exchange_status(&s, "/v1/auth/agent-token", &key), 200, "the real key still works");
    let token = s.agent_token(&key);
    assert_eq!(s.get(&token, "/v1/agents/me").send().unwrap().status(), 200);
}

/// Runs SQL against a stopped server's database, SQLite or PostgreSQL.
fn tamper(data: &std::path::Path, statements: &[&str]) {
    match common::database_of(data) {
        Some(url) => {
            for sql in statements {
                let out = std::process::Command::new("psql").arg(&url).args(["-qc", sql]).output().unwrap();
                assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        None => {
            let conn = rusqlite::Connection::open(data.join("clawvault.sqlite")).unwrap();
            for sql in statements {
                conn.execute_batch(sql).unwrap();
            }
        }
    }
}

/// Part A 8: removing the newest audit events together with the chain head verified as a
/// valid chain.
#[test]
fn the_audit_trail_cannot_be_cut_short_unnoticed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &common::Options::default());
    let admin = s.admin_token();
    for i in 0..4 {
        s.put_secret(&admin, "default", &format!("a{i}"), "value");
    }
    let anchored: Value = s.get(&admin, "/v1/audit/anchor").send().unwrap().json().unwrap();
    let anchor = anchored["anchor"].as_str().unwrap().to_owned();
    let seq = anchored["seq"].as_i64().unwrap();
    assert!(anchor.starts_with(&format!("cva1:{seq}:")), "{anchor}");
    s.put_secret(&admin, "default", "after", "value");
    let env = common::admin_env(&s, dir.path());
    let (code, out, err) = common::run(&env, &["audit", "verify", "--anchor", &anchor], None);
    assert_eq!(code, 0, "a chain that grew extends its anchor: {out}{err}");
    let (code, out, _) = common::run(&env, &["audit", "anchor"], None);
    assert_eq!(code, 0);
    assert!(out.trim().starts_with("cva1:"), "{out}");
    let last = if anchor.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &anchor[..anchor.len() - 1]);
    let (code, _, err) = common::run(&env, &["audit", "verify", "--anchor", &forged], None);
    assert_ne!(code, 0);
    assert!(err.contains("not made by this server's audit key"), "{err}");
    assert!(s.stop().success());

    // The newest events removed: the server refuses to start on it, and says why.
    if common::database_of(&data).is_some() {
        tamper(&data, &[&format!("DELETE FROM audit_events WHERE seq > {}", seq - 2), "DELETE FROM audit_head"]);
        let refused = TestServer::try_start_at(&data, &common::Options::default()).err().expect("refused");
        assert!(refused.contains("events but no chain head"), "{refused}");
        // Everything removed: an empty chain starts again and verifies, but not against the anchor.
        tamper(
            &data,
            &[
                "DELETE FROM audit_events",
                "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, '\\x'::bytea, '\\x'::bytea)",
            ],
        );
    } else {
        // On SQLite the log holds the trail and the database its index: a log that lost its
        // newest events no longer holds what the index does.
        let mut records = common::audit_log::records(&data);
        records.truncate(usize::try_from(seq - 2).unwrap());
        common::audit_log::rewrite(&data, &records);
        let refused = TestServer::try_start_at(&data, &common::Options::default()).err().expect("refused");
        assert!(refused.contains("the log was cut"), "{refused}");
        let out = common::cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()], &[], None);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("removed"));
        // Everything removed, log and index, and the database's record of having made a log: an
        // empty chain starts again and verifies, but not against the anchor.
        std::fs::remove_dir_all(data.join("clawvault.sqlite-audit")).unwrap();
        tamper(
            &data,
            &[
                "DELETE FROM audit_events",
                "DELETE FROM audit_lookup",
                "DELETE FROM audit_head",
                "UPDATE audit_indexed SET seq = 0",
                "UPDATE audit_applied SET seq = 0, log_made = 0",
            ],
        );
    }
    let s = TestServer::start_at(&data, &common::Options::default());
    let admin = s.admin_token();
    let plain: Value = s.get(&admin, "/v1/audit/verify").send().unwrap().json().unwrap();
    assert_eq!(plain["chain_valid"], true, "without the anchor nothing tells: {plain}");
    let url = format!("/v1/audit/verify?anchor={anchor}");
    let anchored: Value = s.get(&admin, &url).send().unwrap().json().unwrap();
    assert_eq!(anchored["chain_valid"], false, "{anchored}");
    let reason = anchored["broken_reason"].as_str().unwrap();
    assert!(reason.contains("anchored event") || reason.contains("the anchor recorded"), "{reason}");
    let env = common::admin_env(&s, dir.path());
    let (code, _, err) = common::run(&env, &["audit", "verify", "--anchor", &anchor], None);
    assert_eq!(code, 1, "{err}");
}

/// Part A 9: anyone could enroll with someone else's public key, show the same fingerprint to
/// the approving user, and collect the agent's key with the poll token alone.
#[test]
fn an_enrollment_key_goes_only_to_whoever_holds_the_private_key() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let victim = common::EnrollmentKey::generate();
    // The attacker sends the victim's public key: the fingerprint is the victim's.
    let r = s
        .http
        .post(s.url("/v1/agents/enroll"))
        .json(&json!({ "name": "trusted-bot", "public_key": victim.ssh_line }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let asked: Value = r.json().unwrap();
    let pairing = asked["pairing_id"].as_str().unwrap().to_owned();
    let token = asked["poll_token"].as_str().unwrap().to_owned();
    let r = s.post(&admin, &format!("/v1/agents/enroll/{pairing}/approve")).json(&json!({})).send().unwrap();
    assert_eq!(r.status(), 200);

    let poll = |signature: Option<&str>| {
        // The poll token in a header, as 1Claw's clients may send it.
        let mut req = s.http.get(s.url(&format!("/v1/agents/enroll/{pairing}/status"))).header("X-Poll-Token", &token);
        if let Some(sig) = signature {
            req = req.header("X-Enrollment-Signature", sig);
        }
        req.send().unwrap()
    };
    assert_problem(poll(None), 401, "sign `clawvault-enrollment:v1:");
    let impostor = common::EnrollmentKey::generate();
    assert_problem(poll(Some(&impostor.sign(&pairing))), 401, "public key");
    assert_problem(poll(Some("bm90IGEgc2lnbmF0dXJl")), 401, "public key");
    // Failed proofs leave the key in place for its holder.
    let r = poll(Some(&victim.sign(&pairing)));
    assert_eq!(r.status(), 200);
    let got: Value = r.json().unwrap();
    assert!(got["api_key"].as_str().unwrap().starts_with("ocv_"), "{got}");
    // Keys that are not Ed25519 are refused when enrolling.
    let r = s
        .http
        .post(s.url("/v1/agents/enroll"))
        .json(&json!({ "name": "rsa-bot", "public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x" }))
        .send()
        .unwrap();
    assert_problem(r, 400, "must be an Ed25519 key");
}

/// Every byte the server keeps: the data directory's files, and on PostgreSQL a dump.
fn stored_bytes(data: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap_or_default())
        })
        .collect();
    if let Some(url) = common::database_of(data) {
        let dump = std::process::Command::new("pg_dump").arg(&url).output().unwrap();
        assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
        out.push(("pg_dump".into(), dump.stdout));
    }
    out
}

/// The share id in every form a store could keep it: text, and the 16 bytes.
fn holds_id(bytes: &[u8], id: &uuid::Uuid) -> bool {
    let text = id.to_string();
    let simple = id.simple().to_string();
    [text.as_bytes(), simple.as_bytes(), id.as_bytes().as_slice()]
        .iter()
        .any(|n| bytes.windows(n.len()).any(|w| w == *n))
}

/// Part A 17: on a data directory that already existed with mode 0755, the database and its
/// WAL were 0644; another local user copied them, read share ids (stored in the clear) and
/// opened a share with no credentials.
#[test]
fn the_database_is_private_and_holds_no_usable_share_id() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = TestServer::start_at(&data, &common::Options::default());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "an open data directory is made private");
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "linked/key", "linked-value");
    let sid = secret["id"].as_str().unwrap().to_owned();
    let id: uuid::Uuid = link(&s, &admin, &sid).parse().unwrap();
    assert_eq!(open(&s, &id.to_string()).status(), 200);
    if common::database_of(&data).is_none() {
        for f in ["clawvault.sqlite", "clawvault.sqlite-wal", "clawvault.sqlite-shm"] {
            let path = data.join(f);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{f}");
            }
        }
    }
    // The owner and admins still list it by its id; the audit trail names only its row.
    let listed: Value = s.get(&admin, "/v1/shares/outbound").send().unwrap().json().unwrap();
    assert_eq!(listed["shares"][0]["id"], id.to_string());
    let audit = s.get(&admin, "/v1/audit/events?limit=1000").send().unwrap().text().unwrap();
    assert!(!audit.contains(&id.to_string()), "the audit trail holds the share id");
    assert!(s.stop().success());
    for (file, bytes) in stored_bytes(&data) {
        assert!(!holds_id(&bytes, &id), "{file} holds the share id");
    }

    // A share written before ids were hashed (its id in the clear) is moved at start.
    let legacy = uuid::Uuid::new_v4();
    let rewrite = match common::database_of(&data) {
        Some(_) => format!("UPDATE shares SET id = '{legacy}', sealed_id = NULL"),
        None => format!("UPDATE shares SET id = X'{}', sealed_id = NULL", legacy.simple()),
    };
    tamper(&data, &[&rewrite]);
    let mut s = TestServer::start_at(&data, &common::Options::default());
    assert_eq!(open(&s, &legacy.to_string()).status(), 200, "an older share keeps working");
    assert!(s.stop().success());
    for (file, bytes) in stored_bytes(&data) {
        if !file.ends_with("-wal") {
            assert!(!holds_id(&bytes, &legacy), "{file} still holds the older share's id");
        }
    }
}

/// Part A 18: any byte reset the idle timer, so 50 connections trickling one header byte
/// every 11 s stayed open; on a server limited to 256 open files, 300 of them made
/// `/v1/health` time out.
#[test]
fn trickling_and_piling_connections_cannot_starve_the_server() {
    use std::io::{Read, Write};
    let s = TestServer::start_with_config(
        "idle_timeout_seconds = 5\nheader_timeout_seconds = 2\nbody_timeout_seconds = 2\nmax_connections = 120\nmax_connections_per_address = 40\n",
    );
    let addr = s.base.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let closed_within = |mut conn: std::net::TcpStream, limit: u64| -> String {
        conn.set_read_timeout(Some(std::time::Duration::from_secs(limit))).unwrap();
        let mut got = Vec::new();
        match conn.read_to_end(&mut got) {
            Ok(_) => String::from_utf8_lossy(&got).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => String::from_utf8_lossy(&got).into_owned(),
            Err(e) => panic!("the server kept a trickling connection open for {limit} s: {e}"),
        }
    };

    // Headers trickled a byte a second (inside the idle period): closed at the header deadline.
    let mut trickler = std::net::TcpStream::connect(&addr).unwrap();
    trickler.write_all(b"GET /v1/health HTTP/1.1\r\n").unwrap();
    let keep = trickler.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut keep = keep;
        for _ in 0..30 {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if keep.write_all(b"X").is_err() {
                return true;
            }
        }
        false
    });
    closed_within(trickler, 20);
    assert!(feeder.join().unwrap(), "the server stopped taking the trickle");

    // A body trickled a byte a second: 408 at the body deadline.
    let mut slow_body = std::net::TcpStream::connect(&addr).unwrap();
    let admin = s.admin_token();
    slow_body
        .write_all(
            format!("PUT /v1/vaults/default/secrets/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Length: 100\r\n\r\n{{")
                .as_bytes(),
        )
        .unwrap();
    let keep = slow_body.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut keep = keep;
        for _ in 0..30 {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if keep.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let answer = closed_within(slow_body, 20);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // 300 connections from one address: only 40 are held; others still get in.
    let piled: Vec<std::net::TcpStream> = (0..300).filter_map(|_| std::net::TcpStream::connect(&addr).ok()).collect();
    let elsewhere = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let r = elsewhere.get(s.url("/v1/health")).send().unwrap();
    assert_eq!(r.status(), 200, "a client from another address is served");
    let mut refused = 0;
    for mut c in piled {
        c.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
        let mut buf = [0u8; 1];
        if matches!(c.read(&mut buf), Ok(0)) || c.write_all(b"GET /v1/health HTTP/1.1\r\n\r\n").is_err() {
            refused += 1;
        }
    }
    assert!(refused >= 250, "only {refused} of 300 connections from one address were refused");
}

/// API keys as bearer credentials (1Claw documents them): accepted on any endpoint, revoked
/// on the next request when the key is deleted or its agent deactivated, and audited with the
/// method.
#[test]
fn api_keys_work_as_bearer_credentials_and_are_revoked_at_once() {
    let s = TestServer::start();
    let admin_key = s.admin_key.clone();
    s.put_secret(&admin_key, "default", "direct/key", "direct-value");
    let read: Value = s.get(&admin_key, "/v1/vaults/default/secrets/direct/key").send().unwrap().json().unwrap();
    assert_eq!(read["value"], "direct-value");

    let r = s.post(&admin_key, "/v1/auth/api-keys").json(&json!({ "name": "temp" })).send().unwrap();
    let created: Value = r.json().unwrap();
    let temp = created["api_key"].as_str().unwrap().to_owned();
    let temp_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.get(&temp, "/v1/vaults").send().unwrap().status(), 200);
    assert_eq!(s.delete(&temp, &format!("/v1/auth/api-keys/{temp_id}")).send().unwrap().status(), 204);
    assert_eq!(s.get(&temp, "/v1/vaults").send().unwrap().status(), 401, "a deleted key is refused at once");

    let (agent, key) = s.new_agent(&admin_key, json!({ "name": "direct-bot" }));
    s.grant(&admin_key, "default", ("agent", &agent), "direct/**", &["read"], json!({}));
    assert_eq!(s.get(&key, "/v1/vaults/default/secrets/direct/key").send().unwrap().status(), 200);
    let r = s
        .http
        .patch(s.url(&format!("/v1/agents/{agent}")))
        .bearer_auth(&admin_key)
        .json(&json!({ "is_active": false }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.get(&key, "/v1/vaults/default/secrets/direct/key").send().unwrap().status(),
        401,
        "deactivated at once"
    );
    let r = s
        .http
        .patch(s.url(&format!("/v1/agents/{agent}")))
        .bearer_auth(&admin_key)
        .json(&json!({ "is_active": true }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get(&key, "/v1/vaults/default/secrets/direct/key").send().unwrap().status(), 200, "and back");
    assert_problem(
        s.get(&format!("{}x", &key[..key.len() - 1]), "/v1/vaults").send().unwrap(),
        401,
        "invalid agent key",
    );
    assert_problem(s.delete(&key, "/v1/auth/token").send().unwrap(), 400, "made with an API key");

    let events: Value = s
        .get(&admin_key, &format!("/v1/audit/events?action=secret.read&actor_id={agent}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(events["events"].as_array().unwrap().iter().all(|e| e["details"]["credential"] == "api_key"), "{events}");
    let audit = s.get(&admin_key, "/v1/audit/events?limit=1000").send().unwrap().text().unwrap();
    assert!(!audit.contains(&key) && !audit.contains(&admin_key), "no key in the audit trail");
}

/// Part A 19: smaller holes.
#[test]
fn answers_reveal_no_identities_and_links_name_the_real_server() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let (mia, mia_key) = s.new_user(&admin, "mia", "member");
    let member = s.token_for(&mia_key);
    s.vault(&member, "mias");
    let policy = |principal: &str| json!({ "principal_type": "user", "principal_id": principal, "secret_path_pattern": "**", "permissions": ["read"] });
    let (other, _) = s.new_user(&admin, "ola", "member");
    let nobody = uuid::Uuid::new_v4().to_string();
    // A member cannot tell an id that exists from one that does not.
    for id in [&other, &nobody] {
        let r = s.post(&member, "/v1/vaults/mias/policies").json(&policy(id)).send().unwrap();
        assert_eq!(r.status(), 201, "{id}");
    }
    let r = s.post(&admin, "/v1/vaults/mias/policies").json(&policy(&nobody)).send().unwrap();
    assert_problem(r, 400, "there is no user");
    let secret = s.put_secret(&member, "mias", "k", "mias-value");
    for id in [&other, &nobody] {
        let r = share(
            &s,
            &member,
            secret["id"].as_str().unwrap(),
            json!({ "recipient_type": "user", "recipient_id": id, "expires_at": in_days(1) }),
        );
        assert_eq!(r.status(), 201, "{id}");
    }
    let _ = mia;

    // A link names this server, whatever Host the request claimed.
    let r = s
        .post(&admin, &format!("/v1/secrets/{}/share", secret["id"].as_str().unwrap()))
        .header("Host", "evil.example")
        .json(&json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }))
        .send()
        .unwrap();
    let url = r.json::<Value>().unwrap()["share_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&s.base), "{url} is not under {}", s.base);
    let public = TestServer::start_with_config("public_url = \"https://vault.example.com/\"\n");
    let t = public.admin_token();
    let sec = public.put_secret(&t, "default", "k", "v");
    let r = share(
        &public,
        &t,
        sec["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }),
    );
    assert!(
        r.json::<Value>().unwrap()["share_url"].as_str().unwrap().starts_with("https://vault.example.com/v1/share/")
    );
}

#[test]
fn plain_http_on_a_public_address_needs_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let out = common::cli(&["server", "--data-dir", data.to_str().unwrap(), "--listen", "0.0.0.0:0"], &[], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS is off") && err.contains("--insecure-http"), "{err}");
    // With --insecure-http it starts (config.rs unit test: the same rule, both ways).
}

#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let run = |config: &str, want_with_header: u16| {
        let s = TestServer::start_with_config(config);
        let admin = s.admin_token();
        s.put_secret(&admin, "default", "fenced/k", "fenced-value");
        let (agent, key) = s.new_agent(&admin, json!({ "name": "remote" }));
        s.grant(
            &admin,
            "default",
            ("agent", &agent),
            "fenced/**",
            &["read"],
            json!({ "conditions": { "ip_allowlist": ["203.0.113.0/24"] } }),
        );
        let token = s.agent_token(&key);
        let path = "/v1/vaults/default/secrets/fenced/k";
        assert_eq!(s.get(&token, path).send().unwrap().status(), 403, "from 127.0.0.1 itself");
        // Only the one header the proxy writes counts; the other is the client's own.
        let (want_xff, want_forwarded) =
            if config.contains("\"forwarded\"") { (403, want_with_header) } else { (want_with_header, 403) };
        let r = s.get(&token, path).header("X-Forwarded-For", "203.0.113.7").send().unwrap();
        assert_eq!(r.status(), want_xff, "{config}");
        let r = s.get(&token, path).header("Forwarded", "for=203.0.113.8;proto=https").send().unwrap();
        assert_eq!(r.status(), want_forwarded, "{config}");
    };
    run("", 403);
    run("trusted_proxies = [\"127.0.0.0/8\"]\n", 200);
    run("trusted_proxies = [\"127.0.0.0/8\"]\nforwarded_header = \"forwarded\"\n", 200);
}

/// Found by review: a key without `secrets:read` shared a secret by link and opened it
/// anonymously; a `users:write` key made an admin whose first key had no limits; a failed
/// bearer on a share's URL wrote the share's id (a working link) into the audit trail.
#[test]
fn scopes_hold_through_shares_and_new_users_and_share_ids_stay_out_of_the_trail() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "scoped/k", "scoped-value");
    let sid = secret["id"].as_str().unwrap().to_owned();
    let key_with = |scopes: &[&str]| {
        let r =
            s.post(&admin, "/v1/auth/api-keys").json(&json!({ "name": "limited", "scopes": scopes })).send().unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned()
    };
    let sharer = key_with(&["shares:write", "shares:read"]);
    let r = share(&s, &sharer, &sid, json!({ "recipient_type": "anyone_with_link", "expires_at": in_days(1) }));
    assert_problem(r, 403, "secrets:read");
    assert_problem(s.get(&sharer, "/v1/shares").send().unwrap(), 403, "secrets:read");

    let users = key_with(&["users:write"]);
    let r = s.post(&users, "/v1/users").json(&json!({ "name": "helper", "role": "admin" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let first = r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned();
    assert_problem(s.get(&first, "/v1/vaults/default/secrets/scoped/k").send().unwrap(), 403, "users:write");

    let id = link(&s, &admin, &sid);
    let r = s
        .http
        .get(s.url(&format!("/v1/share/{id}")))
        .bearer_auth("1ck_not-a-real-key")
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s.http.get(s.url(&format!("/v1/share/{id}"))).bearer_auth("not-a-token").json(&json!({})).send().unwrap();
    assert_eq!(r.status(), 401);
    let audit = s.get(&admin, "/v1/audit/events?limit=1000").send().unwrap().text().unwrap();
    assert!(!audit.contains(&id), "the audit trail holds a share id: {audit}");
}

/// A crash of the server must not write its memory (root key, vault keys, values in freed
/// buffers) to a core file: the running server's core size limit is 0, soft and hard.
#[test]
fn the_server_cannot_dump_its_memory_to_a_core_file() {
    let s = TestServer::start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", s.pid())).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}
