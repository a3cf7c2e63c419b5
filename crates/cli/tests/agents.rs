//! Agents, users and policies: least privilege end to end, revocation on the next request.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, assert_problem};
use serde_json::{Value, json};

struct Agent {
    id: String,
    key: String,
}

fn agent(s: &TestServer, admin: &str, body: Value) -> Agent {
    let r = s.post(admin, "/v1/agents").json(&body).send().unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    let v: Value = r.json().unwrap();
    assert!(v["api_key"].as_str().unwrap().starts_with("ocv_"));
    assert_eq!(v["agent"]["auth_method"], "api_key");
    Agent { id: v["agent"]["id"].as_str().unwrap().to_owned(), key: v["api_key"].as_str().unwrap().to_owned() }
}

fn agent_token(s: &TestServer, key: &str, id: Option<&str>) -> reqwest::blocking::Response {
    let mut body = json!({ "api_key": key });
    if let Some(id) = id {
        body["agent_id"] = json!(id);
    }
    s.http.post(s.url("/v1/auth/agent-token")).json(&body).send().unwrap()
}

fn token_of(s: &TestServer, a: &Agent) -> String {
    let r = agent_token(s, &a.key, None);
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn agent_token_exchange_and_claims() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let a = agent(
        &s,
        &admin,
        json!({ "name": "discord-bot", "description": "", "auth_method": "api_key", "intents_api_enabled": false, "shroud_enabled": false, "token_ttl_seconds": 300 }),
    );
    let r = agent_token(&s, &a.key, None);
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(
        (v["agent_id"].as_str(), v["expires_in"].as_i64(), v["token_type"].as_str()),
        (Some(a.id.as_str()), Some(300), Some("Bearer"))
    );
    assert!(v["vault_ids"].as_array().unwrap().is_empty());
    assert_eq!(agent_token(&s, &a.key, Some(&a.id)).status(), 200, "agent_id given and right");
    assert_problem(agent_token(&s, &a.key, Some("00000000-0000-0000-0000-000000000001")), 401, "invalid agent key");
    assert_problem(agent_token(&s, "ocv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None), 401, "invalid agent key");
    assert_problem(agent_token(&s, &s.admin_key, None), 401, "api-key-token");

    let t = v["access_token"].as_str().unwrap();
    let me: Value = s.get(t, "/v1/agents/me").send().unwrap().json().unwrap();
    assert_eq!((me["id"].as_str(), me["name"].as_str()), (Some(a.id.as_str()), Some("discord-bot")));
    assert_problem(s.get(&admin, "/v1/agents/me").send().unwrap(), 403, "only agents");
    assert_problem(s.get(t, "/v1/agents").send().unwrap(), 403, "agents may not");
    assert_problem(s.post(t, "/v1/agents").json(&json!({ "name": "child" })).send().unwrap(), 403, "agents may not");
    assert_problem(s.post(t, "/v1/users").json(&json!({ "name": "x" })).send().unwrap(), 403, "only an admin");
    assert_problem(
        s.post(&admin, "/v1/agents").json(&json!({ "name": "m", "auth_method": "mtls" })).send().unwrap(),
        400,
        "not supported",
    );
    assert_problem(
        s.post(&admin, "/v1/agents").json(&json!({ "name": "t", "token_ttl_seconds": 4 })).send().unwrap(),
        400,
        "token_ttl_seconds",
    );
}

#[test]
fn least_privilege_with_policies() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "api-keys/openai", "sk-openai");
    s.put_secret(&admin, "default", "api-keys/anthropic", "sk-ant");
    s.put_secret(&admin, "default", "db/password", "hunter2");
    let a = agent(&s, &admin, json!({ "name": "bot" }));
    let t = token_of(&s, &a);

    // Deny by default, and no oracle: the same refusal for what exists and what does not.
    let listed: Value = s.get(&t, "/v1/vaults").send().unwrap().json().unwrap();
    assert!(listed["vaults"].as_array().unwrap().is_empty(), "no policy, no vault");
    let exists = s.get(&t, "/v1/vaults/default/secrets/db/password").send().unwrap();
    let missing = s.get(&t, "/v1/vaults/default/secrets/db/nothing").send().unwrap();
    let no_vault = s.get(&t, "/v1/vaults/nosuchvault/secrets/db/password").send().unwrap();
    let (a1, a2, a3): (Value, Value, Value) =
        (exists.json().unwrap(), missing.json().unwrap(), no_vault.json().unwrap());
    assert_eq!(
        (a1["status"].as_u64(), a2["status"].as_u64(), a3["status"].as_u64()),
        (Some(403), Some(403), Some(403))
    );
    assert_eq!(
        a1["detail"].as_str().unwrap().replace("default", "X"),
        a3["detail"].as_str().unwrap().replace("nosuchvault", "X"),
        "an unknown vault looks like a forbidden one"
    );

    let read = s.grant(&admin, "default", ("agent", &a.id), "api-keys/**", &["read"], json!({}));
    let got: Value = s.get(&t, "/v1/vaults/default/secrets/api-keys/openai").send().unwrap().json().unwrap();
    assert_eq!(got["value"], "sk-openai", "policies apply to already-issued tokens");
    let denied = s.get(&t, "/v1/vaults/default/secrets/db/password").send().unwrap();
    let unknown = s.get(&t, "/v1/vaults/default/secrets/db/unknown").send().unwrap();
    assert_problem(denied, 403, "no policy grants read on \"db/password\"");
    assert_problem(unknown, 403, "no policy grants read on \"db/unknown\"");
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/api-keys/none").send().unwrap(), 404, "no secret");
    let list: Value = s.get(&t, "/v1/vaults/default/secrets").send().unwrap().json().unwrap();
    let paths: Vec<&str> = list["secrets"].as_array().unwrap().iter().map(|x| x["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["api-keys/anthropic", "api-keys/openai"], "lists show only what the caller may list");
    let vaults: Value = s.get(&t, "/v1/vaults").send().unwrap().json().unwrap();
    assert_eq!(vaults["vaults"].as_array().unwrap().len(), 1, "a policy makes the vault visible");
    assert_problem(
        s.put(&t, "/v1/vaults/default/secrets/api-keys/openai").json(&json!({ "value": "x" })).send().unwrap(),
        403,
        "no policy grants write",
    );
    assert_problem(s.delete(&t, "/v1/vaults/default").send().unwrap(), 403, "only the owner");
    assert_problem(s.get(&t, "/v1/vaults/default/policies").send().unwrap(), 403, "only the owner");
    assert_problem(s.get(&t, "/v1/audit/events").send().unwrap(), 403, "only an admin");

    // A deny policy wins; deleting it restores access on the next request.
    let deny =
        s.grant(&admin, "default", ("agent", &a.id), "api-keys/anthropic", &["read"], json!({ "effect": "deny" }));
    assert_problem(
        s.get(&t, "/v1/vaults/default/secrets/api-keys/anthropic").send().unwrap(),
        403,
        "a deny policy refuses",
    );
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/api-keys/openai").send().unwrap().status(), 200);
    assert_eq!(s.delete(&admin, &format!("/v1/vaults/default/policies/{deny}")).send().unwrap().status(), 204);
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/api-keys/anthropic").send().unwrap().status(), 200);

    // Changing a policy applies to the next request: use never reveals.
    let r = s
        .put(&admin, &format!("/v1/vaults/default/policies/{read}"))
        .json(&json!({ "permissions": ["use"] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["permissions"], json!(["use"]));
    assert_problem(
        s.get(&t, "/v1/vaults/default/secrets/api-keys/openai").send().unwrap(),
        403,
        "no policy grants read",
    );

    // Write covers delete and rotate.
    s.grant(&admin, "default", ("agent", &a.id), "scratch/*", &["write"], json!({}));
    assert_eq!(
        s.put(&t, "/v1/vaults/default/secrets/scratch/tmp").json(&json!({ "value": "x" })).send().unwrap().status(),
        201
    );
    assert_eq!(s.post(&t, "/v1/vaults/default/secret-rotate/scratch/tmp").send().unwrap().status(), 201);
    assert_eq!(s.delete(&t, "/v1/vaults/default/secrets/scratch/tmp").send().unwrap().status(), 204);
    assert_problem(
        s.put(&t, "/v1/vaults/default/secrets/scratch/a/b").json(&json!({ "value": "x" })).send().unwrap(),
        403,
        "no policy grants write",
    );
}

#[test]
fn conditions_and_expiry() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "k/one", "v1");
    let a = agent(&s, &admin, json!({ "name": "conditional" }));
    let t = token_of(&s, &a);
    let p = s.grant(
        &admin,
        "default",
        ("agent", &a.id),
        "k/*",
        &["read"],
        json!({ "conditions": { "ip_allowlist": ["10.0.0.0/8"] } }),
    );
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/k/one").send().unwrap(), 403, "no policy grants read");
    let r = s
        .put(&admin, &format!("/v1/vaults/default/policies/{p}"))
        .json(&json!({ "conditions": { "ip_allowlist": ["127.0.0.0/8", "::1/128"] } }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/k/one").send().unwrap().status(), 200);
    // A time window that never contains now: one minute, yesterday's weekday only.
    let now = time::OffsetDateTime::now_utc();
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [usize::from(now.weekday().previous().number_days_from_monday())];
    let window = json!({ "time_window": { "start": "00:00", "end": "00:01", "days": [day], "tz": "UTC" } });
    s.put(&admin, &format!("/v1/vaults/default/policies/{p}")).json(&json!({ "conditions": window })).send().unwrap();
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/k/one").send().unwrap(), 403, "no policy grants read");
    assert_problem(
        s.put(&admin, &format!("/v1/vaults/default/policies/{p}"))
            .json(&json!({ "conditions": { "geo": "eu" } }))
            .send()
            .unwrap(),
        400,
        "unknown key(s) \"geo\"",
    );
    // An expired policy grants nothing.
    // Two seconds of margin, so that a slow machine still grants and reads before the expiry.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    s.grant(&admin, "default", ("agent", &a.id), "k/**", &["read"], json!({ "expires_at": soon }));
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/k/one").send().unwrap().status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/k/one").send().unwrap(), 403, "no policy grants read");
    for (body, needle) in [
        (json!({ "principal_type": "robot", "principal_id": a.id }), "principal_type"),
        (
            json!({ "principal_type": "agent", "principal_id": "00000000-0000-0000-0000-000000000009" }),
            "there is no agent",
        ),
        (json!({ "principal_type": "agent", "principal_id": a.id, "permissions": [] }), "at least one"),
        (json!({ "principal_type": "agent", "principal_id": a.id, "permissions": ["admin"] }), "permission \"admin\""),
        (
            json!({ "principal_type": "agent", "principal_id": a.id, "secret_path_pattern": "a/../b" }),
            "secret_path_pattern",
        ),
        (json!({ "principal_type": "agent", "principal_id": a.id, "effect": "maybe" }), "effect"),
    ] {
        assert_problem(s.post(&admin, "/v1/vaults/default/policies").json(&body).send().unwrap(), 400, needle);
    }
}

#[test]
fn revocation_takes_effect_on_the_next_request() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "bot/token", "t");
    let a = agent(&s, &admin, json!({ "name": "revocable" }));
    s.grant(&admin, "default", ("agent", &a.id), "**", &["read"], json!({}));
    let t = token_of(&s, &a);
    assert_eq!(s.get(&t, "/v1/vaults/default/secrets/bot/token").send().unwrap().status(), 200);

    // Deactivate: refused at once; reactivating does not revive old tokens.
    let r = s
        .http
        .patch(s.url(&format!("/v1/agents/{}", a.id)))
        .bearer_auth(&admin)
        .json(&json!({ "is_active": false }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 401, "revoked");
    assert_problem(agent_token(&s, &a.key, None), 401, "deactivated");
    s.http
        .patch(s.url(&format!("/v1/agents/{}", a.id)))
        .bearer_auth(&admin)
        .json(&json!({ "is_active": true }))
        .send()
        .unwrap();
    assert_problem(s.get(&t, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 401, "revoked");
    let t2 = token_of(&s, &a);
    assert_eq!(s.get(&t2, "/v1/vaults/default/secrets/bot/token").send().unwrap().status(), 200);

    // Re-key: the old key and token are dead at once.
    let r = s.post(&admin, &format!("/v1/agents/{}/rotate-key", a.id)).send().unwrap();
    assert_eq!(r.status(), 200);
    let new_key = r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned();
    assert_problem(s.get(&t2, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 401, "revoked");
    assert_problem(agent_token(&s, &a.key, None), 401, "invalid agent key");
    let t3 = token_of(&s, &Agent { id: a.id.clone(), key: new_key });
    assert_eq!(s.get(&t3, "/v1/vaults/default/secrets/bot/token").send().unwrap().status(), 200);

    // Vault binding: bound elsewhere, refused here.
    s.vault(&admin, "other");
    let other_id =
        s.get(&admin, "/v1/vaults/other").send().unwrap().json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let r = s
        .http
        .patch(s.url(&format!("/v1/agents/{}", a.id)))
        .bearer_auth(&admin)
        .json(&json!({ "vault_ids": [other_id] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_problem(s.get(&t3, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 401, "revoked");
    let r = s.post(&admin, &format!("/v1/agents/{}/rotate-key", a.id)).send().unwrap();
    let rekeyed = Agent { id: a.id.clone(), key: r.json::<Value>().unwrap()["api_key"].as_str().unwrap().to_owned() };
    let bound = token_of(&s, &rekeyed);
    assert_problem(s.get(&bound, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 403, "no access to vault");

    // Delete: refused at once.
    assert_eq!(s.delete(&admin, &format!("/v1/agents/{}", a.id)).send().unwrap().status(), 204);
    assert_problem(s.get(&bound, "/v1/vaults/default/secrets/bot/token").send().unwrap(), 401, "revoked");
    assert_problem(s.get(&admin, &format!("/v1/agents/{}", a.id)).send().unwrap(), 404, "no agent");
}

#[test]
fn members_see_their_own_vaults_and_grants() {
    let s = TestServer::start();
    let admin = s.admin_token();
    s.put_secret(&admin, "default", "shared/a", "a");
    let r = s.post(&admin, "/v1/users").json(&json!({ "name": "mia", "role": "member" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let mia_id = created["user"]["id"].as_str().unwrap().to_owned();
    let mia = s.token_for(created["api_key"].as_str().unwrap());
    assert_problem(s.post(&admin, "/v1/users").json(&json!({ "name": "mia" })).send().unwrap(), 409, "exists");
    assert_problem(
        s.post(&admin, "/v1/users").json(&json!({ "name": "x", "role": "owner" })).send().unwrap(),
        400,
        "role",
    );

    assert!(
        s.get(&mia, "/v1/vaults").send().unwrap().json::<Value>().unwrap()["vaults"].as_array().unwrap().is_empty()
    );
    assert_problem(s.get(&mia, "/v1/vaults/default/secrets/shared/a").send().unwrap(), 403, "no access");
    assert_problem(s.get(&mia, "/v1/users").send().unwrap(), 403, "only an admin");
    // Her own vault is hers; the admin's stays closed until granted.
    s.vault(&mia, "mia-vault");
    s.put_secret(&mia, "mia-vault", "x", "mine");
    let granted = s.grant(&admin, "default", ("user", &mia_id), "shared/**", &["read"], json!({}));
    assert!(!granted.is_empty());
    assert_eq!(s.get(&mia, "/v1/vaults/default/secrets/shared/a").send().unwrap().status(), 200);
    let names: Vec<String> = s.get(&mia, "/v1/vaults").send().unwrap().json::<Value>().unwrap()["vaults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["default", "mia-vault"]);
    // Her agents are hers.
    let a = agent(&s, &mia, json!({ "name": "mia-bot" }));
    let listed: Value = s.get(&mia, "/v1/agents").send().unwrap().json().unwrap();
    assert_eq!(listed["agents"].as_array().unwrap().len(), 1);
    let other = agent(&s, &admin, json!({ "name": "admin-bot" }));
    assert_problem(s.get(&mia, &format!("/v1/agents/{}", other.id)).send().unwrap(), 404, "no agent");
    assert_eq!(s.get(&admin, &format!("/v1/agents/{}", a.id)).send().unwrap().status(), 200, "admins see every agent");

    // Deleting her cuts her off at once; the last admin cannot be deleted.
    let r = s.delete(&admin, &format!("/v1/users/{mia_id}")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().unwrap()["deactivated_agents"][0]["id"],
        a.id.as_str(),
        "her agent goes down with her"
    );
    assert_problem(s.get(&mia, "/v1/vaults").send().unwrap(), 401, "revoked");
    let users: Value = s.get(&admin, "/v1/users").send().unwrap().json().unwrap();
    let admin_id = users["users"][0]["id"].as_str().unwrap().to_owned();
    assert_problem(s.delete(&admin, &format!("/v1/users/{admin_id}")).send().unwrap(), 409, "last admin");
}

#[test]
fn signing_key_rotation_keeps_old_tokens_valid() {
    let s = TestServer::start();
    let old = s.admin_token();
    let r = s.post(&old, "/v1/auth/signing-keys/rotate").send().unwrap();
    assert_eq!(r.status(), 200);
    let kid = r.json::<Value>().unwrap()["kid"].as_str().unwrap().to_owned();
    let new = s.admin_token();
    assert_eq!(s.get(&old, "/v1/vaults").send().unwrap().status(), 200, "old tokens verify until they expire");
    assert_eq!(s.get(&new, "/v1/vaults").send().unwrap().status(), 200);
    let jwks: Value = s.http.get(s.url("/.well-known/jwks.json")).send().unwrap().json().unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1], kid, "the new key signs");
}
