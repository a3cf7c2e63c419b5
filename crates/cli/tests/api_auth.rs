//! Authentication and tokens: exchange, refusals, revocation that really revokes, API keys.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use base64::Engine as _;
use common::{Options, TestServer, assert_problem};
use serde_json::{Value, json};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[test]
fn token_exchange_and_refusals() {
    let s = TestServer::start();
    let r = s.http.post(s.url("/v1/auth/api-key-token")).json(&json!({ "api_key": s.admin_key })).send().unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let bad = |key: &str| s.http.post(s.url("/v1/auth/api-key-token")).json(&json!({ "api_key": key })).send().unwrap();
    assert_problem(bad("1ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401, "invalid API key");
    assert_problem(bad("hello"), 401, "start with 1ck_");
    assert_problem(bad("ocv_abc"), 401, "agent-token");
    assert_problem(
        s.http.post(s.url("/v1/auth/api-key-token")).body("{}").send().unwrap(),
        400,
        "missing field `api_key`",
    );

    assert_problem(s.http.get(s.url("/v1/vaults")).send().unwrap(), 401, "missing Authorization header");
    assert_problem(s.http.get(s.url("/v1/vaults")).header("authorization", "Basic abc").send().unwrap(), 401, "Bearer");
    assert_problem(s.get("garbage", "/v1/vaults").send().unwrap(), 401, "invalid");
    // An API key is accepted as the bearer itself (threats.rs tests its revocation).
    assert_eq!(s.get(&s.admin_key, "/v1/vaults").send().unwrap().status(), 200);

    // A tampered payload (role flipped) and an unsigned token (`alg: none`) are refused.
    let parts: Vec<&str> = token.split('.').collect();
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut forged = payload.clone();
    forged["sub"] = json!("user:00000000-0000-0000-0000-000000000001");
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged.to_string()), parts[2]);
    assert_problem(s.get(&tampered, "/v1/vaults").send().unwrap(), 401, "invalid");
    let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    assert_problem(s.get(&none, "/v1/vaults").send().unwrap(), 401, "invalid");
    // A token signed by another server's key is refused.
    let other = TestServer::start();
    assert_problem(s.get(&other.admin_token(), "/v1/vaults").send().unwrap(), 401, "invalid");
    // The key the tokens are verified with is published.
    let jwks: Value = s.http.get(s.url("/.well-known/jwks.json")).send().unwrap().json().unwrap();
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");

    // Refusals are audited: the first of each kind from an address as it happens, the rest
    // counted into one summary per address and minute (threats.rs checks the summary).
    let events: Value = s.get(&token, "/v1/audit/events?action=auth.token&limit=100").send().unwrap().json().unwrap();
    assert!(events["total"].as_u64().unwrap() >= 1, "{events}");
    assert!(events["events"].as_array().unwrap().iter().all(|e| e["outcome"] == "denied"));
    let exchanges: Value =
        s.get(&token, "/v1/audit/events?action=auth.api_key_token&limit=100").send().unwrap().json().unwrap();
    let outcomes: Vec<&str> =
        exchanges["events"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"denied"), "{outcomes:?}");
}

#[test]
fn revoked_token_is_refused_at_once() {
    let s = TestServer::start();
    let t = s.admin_token();
    let other = s.admin_token();
    assert_eq!(s.get(&t, "/v1/vaults").send().unwrap().status(), 200);
    assert_eq!(s.delete(&t, "/v1/auth/token").send().unwrap().status(), 204);
    assert_problem(s.get(&t, "/v1/vaults").send().unwrap(), 401, "revoked");
    assert_eq!(s.get(&other, "/v1/vaults").send().unwrap().status(), 200, "only that token");
}

#[test]
fn revocations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_at(&data, &Options::default());
    let t = s.admin_token();
    let keep = s.admin_token();
    assert_eq!(s.delete(&t, "/v1/auth/token").send().unwrap().status(), 204);
    // A second key whose tokens must die with it, even after a restart.
    let r = s.post(&keep, "/v1/auth/api-keys").json(&json!({ "name": "ci" })).send().unwrap();
    let created: Value = r.json().unwrap();
    let ci_token = s.token_for(created["api_key"].as_str().unwrap());
    assert_eq!(s.get(&ci_token, "/v1/vaults").send().unwrap().status(), 200);
    assert_eq!(
        s.delete(&keep, &format!("/v1/auth/api-keys/{}", created["key"]["id"].as_str().unwrap()))
            .send()
            .unwrap()
            .status(),
        204
    );
    assert_problem(s.get(&ci_token, "/v1/vaults").send().unwrap(), 401, "revoked");
    s.stop();

    let s = TestServer::start_at(&data, &Options::default());
    assert_problem(s.get(&t, "/v1/vaults").send().unwrap(), 401, "revoked");
    assert_problem(s.get(&ci_token, "/v1/vaults").send().unwrap(), 401, "revoked");
    assert_eq!(s.get(&keep, "/v1/vaults").send().unwrap().status(), 200, "unrevoked tokens survive a restart");
}

#[test]
fn api_keys_round_trip() {
    let s = TestServer::start();
    let t = s.admin_token();
    let r =
        s.post(&t, "/v1/auth/api-keys").json(&json!({ "name": "laptop", "scopes": ["vaults:read"] })).send().unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("1ck_"));
    assert_eq!(created["key"]["key_prefix"], key[..12]);
    assert_eq!(created["key"]["prefix"], key[..12], "both names the clients read");
    assert_eq!(created["key"]["scopes"], json!(["vaults:read"]));

    let listed: Value = s.get(&t, "/v1/auth/api-keys").send().unwrap().json().unwrap();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the bootstrap key and the new one");
    assert!(!listed.to_string().contains(&key), "keys are never listed in full");

    let with_key = s.token_for(&key);
    assert_eq!(s.get(&with_key, "/v1/vaults").send().unwrap().status(), 200);
    let listed: Value = s.get(&t, "/v1/auth/api-keys").send().unwrap().json().unwrap();
    let used = listed["keys"].as_array().unwrap().iter().find(|k| k["name"] == "laptop").unwrap();
    assert!(!used["last_used_at"].is_null());

    let id = created["key"]["id"].as_str().unwrap();
    assert_eq!(s.delete(&t, &format!("/v1/auth/api-keys/{id}")).send().unwrap().status(), 204);
    assert_problem(s.delete(&t, &format!("/v1/auth/api-keys/{id}")).send().unwrap(), 404, "no API key");
    assert_problem(s.delete(&t, "/v1/auth/api-keys/not-a-uuid").send().unwrap(), 400, "UUID");
    assert_problem(
        s.http.post(s.url("/v1/auth/api-key-token")).json(&json!({ "api_key": key })).send().unwrap(),
        401,
        "invalid API key",
    );

    assert_problem(s.post(&t, "/v1/auth/api-keys").json(&json!({ "name": "" })).send().unwrap(), 400, "name");
    assert_problem(
        s.post(&t, "/v1/auth/api-keys")
            .json(&json!({ "name": "old", "expires_at": "2000-01-01T00:00:00Z" }))
            .send()
            .unwrap(),
        400,
        "in the past",
    );
}
