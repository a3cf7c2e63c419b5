//! Sharing one secret: link shares, targeted shares that must be accepted, passphrases,
//! read limits, expiry, address allowlists, revocation, and the audit of every opening.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, assert_problem};
use serde_json::{Value, json};

fn in_hours(h: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(h))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn share(s: &TestServer, token: &str, secret_id: &str, body: Value) -> reqwest::blocking::Response {
    s.post(token, &format!("/v1/secrets/{secret_id}/share")).json(&body).send().unwrap()
}

fn open(s: &TestServer, token: Option<&str>, id: &str, body: Value) -> reqwest::blocking::Response {
    let mut req = s.http.get(s.url(&format!("/v1/share/{id}"))).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().unwrap()
}

#[test]
fn link_share_with_limit_passphrase_and_revocation() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "handover/db", "pg-password-1");
    let id = secret["id"].as_str().unwrap();

    let r = share(
        &s,
        &admin,
        id,
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "max_access_count": 2, "passphrase": "open sesame please" }),
    );
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let sid = created["id"].as_str().unwrap().to_owned();
    assert!(created["share_url"].as_str().unwrap().ends_with(&format!("/v1/share/{sid}")));
    assert_eq!(created["max_access_count"], 2);
    assert!(!created.to_string().contains("open sesame"), "the passphrase never comes back");

    assert_problem(open(&s, None, &sid, json!({})), 403, "needs its passphrase");
    assert_problem(open(&s, None, &sid, json!({ "passphrase": "wrong wrong wrong" })), 403, "wrong passphrase");
    for n in 1..=2 {
        let r = open(&s, None, &sid, json!({ "passphrase": "open sesame please" }));
        assert_eq!(r.status(), 200);
        let v: Value = r.json().unwrap();
        assert_eq!(
            (v["value"].as_str(), v["path"].as_str(), v["access_count"].as_i64()),
            (Some("pg-password-1"), Some("handover/db"), Some(n))
        );
    }
    assert_problem(open(&s, None, &sid, json!({ "passphrase": "open sesame please" })), 410, "allowed times");

    let out: Value = s.get(&admin, "/v1/shares/outbound").send().unwrap().json().unwrap();
    assert_eq!(out["shares"][0]["access_count"], 2);
    assert_eq!(out["shares"][0]["secret_path"], "handover/db");

    let r = share(&s, &admin, id, json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) }));
    let sid2 = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(open(&s, None, &sid2, json!({})).status(), 200);
    assert_eq!(s.delete(&admin, &format!("/v1/share/{sid2}")).send().unwrap().status(), 204);
    assert_problem(open(&s, None, &sid2, json!({})), 404, "no share");
    assert_problem(s.delete(&admin, &format!("/v1/share/{sid2}")).send().unwrap(), 404, "no share");

    // Every successful opening is in the audit trail, and the first anonymous failure (later
    // ones are counted into a summary per address); no value is.
    let audit = s.get(&admin, "/v1/audit/events?action=share.access&limit=100").send().unwrap().text().unwrap();
    let events: Value = serde_json::from_str(&audit).unwrap();
    assert!(events["total"].as_u64().unwrap() >= 4, "{events}");
    assert!(!audit.contains("pg-password-1") && !audit.contains("open sesame"));
}

#[test]
fn targeted_shares_need_the_recipient_and_acceptance() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "handover/api", "sk-for-bot");
    let id = secret["id"].as_str().unwrap();
    let r = s.post(&admin, "/v1/agents").json(&json!({ "name": "recipient-bot" })).send().unwrap();
    let created: Value = r.json().unwrap();
    let agent_id = created["agent"]["id"].as_str().unwrap().to_owned();
    let t = s.agent_token(created["api_key"].as_str().unwrap());
    let other =
        s.post(&admin, "/v1/agents").json(&json!({ "name": "other-bot" })).send().unwrap().json::<Value>().unwrap();
    let t_other = s.agent_token(other["api_key"].as_str().unwrap());

    let r = share(
        &s,
        &admin,
        id,
        json!({ "recipient_type": "agent", "recipient_id": agent_id, "expires_at": in_hours(1) }),
    );
    assert_eq!(r.status(), 201);
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let inbound: Value = s.get(&t, "/v1/shares/inbound").send().unwrap().json().unwrap();
    assert_eq!(inbound["shares"][0]["id"], sid.as_str());
    assert_eq!(inbound["shares"][0]["is_accepted"], false);

    assert_problem(open(&s, None, &sid, json!({})), 404, "no share");
    assert_problem(open(&s, Some(&t_other), &sid, json!({})), 404, "no share");
    assert_problem(open(&s, Some(&t), &sid, json!({})), 403, "accept the share first");
    assert_problem(s.post(&t_other, &format!("/v1/shares/{sid}/accept")).send().unwrap(), 404, "no share");
    assert_eq!(s.post(&t, &format!("/v1/shares/{sid}/accept")).send().unwrap().status(), 204);
    let v: Value = open(&s, Some(&t), &sid, json!({})).json().unwrap();
    assert_eq!(v["value"], "sk-for-bot");
    assert_eq!(s.post(&t, &format!("/v1/shares/{sid}/decline")).send().unwrap().status(), 204);
    assert_problem(open(&s, Some(&t), &sid, json!({})), 410, "you declined this share");
    // Declining is final: the share is not accepted (nor opened) again.
    assert_problem(s.post(&t, &format!("/v1/shares/{sid}/accept")).send().unwrap(), 410, "stays closed");
    assert_problem(open(&s, Some(&t), &sid, json!({})), 410, "you declined this share");
    let inbound: Value = s.get(&t, "/v1/shares/inbound").send().unwrap().json().unwrap();
    assert_eq!(
        (inbound["shares"][0]["is_declined"].as_bool(), inbound["shares"][0]["is_accepted"].as_bool()),
        (Some(true), Some(false))
    );

    // The agent shares back with its creator.
    let policy = json!({ "principal_type": "agent", "principal_id": agent_id, "secret_path_pattern": "handover/*", "permissions": ["read", "share"] });
    assert_eq!(s.post(&admin, "/v1/vaults/default/policies").json(&policy).send().unwrap().status(), 201);
    let r = share(&s, &t, id, json!({ "recipient_type": "creator", "expires_at": in_hours(1), "max_access_count": 1 }));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    let back = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(s.post(&admin, &format!("/v1/shares/{back}/accept")).send().unwrap().status(), 204);
    assert_eq!(open(&s, Some(&admin), &back, json!({})).json::<Value>().unwrap()["value"], "sk-for-bot");
    assert_problem(
        share(&s, &t_other, id, json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) })),
        404,
        "no secret",
    );
}

#[test]
fn a_share_obeys_the_secrets_own_read_limit_and_disabling() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let r = s
        .put(&admin, "/v1/vaults/default/secrets/once/token")
        .json(&json!({ "value": "read-me-twice", "max_access_count": 2 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let r = share(&s, &admin, &id, json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) }));
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();

    // One direct read and one through the share use up the secret's two reads.
    assert_eq!(s.get(&admin, "/v1/vaults/default/secrets/once/token").send().unwrap().status(), 200);
    let v: Value = open(&s, None, &sid, json!({})).json().unwrap();
    assert_eq!((v["value"].as_str(), v["access_count"].as_i64()), (Some("read-me-twice"), Some(1)));
    assert_problem(open(&s, None, &sid, json!({})), 410, "read limit of 2");
    assert_problem(s.get(&admin, "/v1/vaults/default/secrets/once/token").send().unwrap(), 410, "read limit of 2");
    let out: Value = s.get(&admin, "/v1/shares/outbound").send().unwrap().json().unwrap();
    assert_eq!(out["shares"][0]["access_count"], 1, "a refused opening does not count against the share");

    // A disabled version stays closed through a share.
    let other = s.put_secret(&admin, "default", "paused/token", "not-now");
    let r = share(
        &s,
        &admin,
        other["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) }),
    );
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    let r = s.post(&admin, "/v1/vaults/default/secret-version-disable/paused/token/1").send().unwrap();
    assert_eq!(r.status(), 204);
    let r = open(&s, None, &sid, json!({}));
    assert_eq!(r.status(), 410);
    assert!(!r.text().unwrap().contains("not-now"));
}

#[test]
fn share_rules_and_refusals() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "x/y", "v");
    let id = secret["id"].as_str().unwrap();
    for (body, status, needle) in [
        (json!({ "recipient_type": "anyone_with_link", "expires_at": "2001-01-01T00:00:00Z" }), 400, "in the past"),
        (json!({ "recipient_type": "anyone_with_link" }), 400, "missing field `expires_at`"),
        (json!({ "recipient_type": "user", "expires_at": in_hours(1) }), 400, "recipient_id is required"),
        (
            json!({ "recipient_type": "agent", "recipient_id": "00000000-0000-0000-0000-000000000001", "expires_at": in_hours(1) }),
            400,
            "there is no agent",
        ),
        (json!({ "recipient_type": "external_email", "expires_at": in_hours(1) }), 400, "sends no email"),
        (json!({ "recipient_type": "creator", "expires_at": in_hours(1) }), 400, "for agents"),
        (
            json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "max_access_count": 0 }),
            400,
            "max_access_count",
        ),
        (
            json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "passphrase": "short" }),
            400,
            "at least 8",
        ),
        (
            json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "ip_allowlist": ["nope"] }),
            400,
            "ip_allowlist",
        ),
    ] {
        assert_problem(share(&s, &admin, id, body), status, needle);
    }
    assert_problem(
        share(
            &s,
            &admin,
            "00000000-0000-0000-0000-000000000001",
            json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) }),
        ),
        404,
        "no secret",
    );

    let r = share(
        &s,
        &admin,
        id,
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "ip_allowlist": ["10.0.0.0/8"] }),
    );
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    assert_problem(open(&s, None, &sid, json!({})), 403, "from this address");

    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = share(&s, &admin, id, json!({ "recipient_type": "anyone_with_link", "expires_at": soon }));
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_problem(open(&s, None, &sid, json!({})), 410, "expired");
}

#[test]
fn passphrase_guessing_is_locked_out_and_exchanges_are_rate_limited() {
    let s = TestServer::start_with_config("auth_rate_burst = 8\nauth_rate_per_second = 0.5\nlockout_failures = 3\n");
    let admin = s.admin_token();
    let secret = s.put_secret(&admin, "default", "guarded", "v");
    let r = share(
        &s,
        &admin,
        secret["id"].as_str().unwrap(),
        json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1), "passphrase": "the right phrase" }),
    );
    let sid = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_problem(open(&s, None, &sid, json!({ "passphrase": "a wrong guess!" })), 403, "wrong passphrase");
    }
    let r = open(&s, None, &sid, json!({ "passphrase": "the right phrase" }));
    assert_eq!(r.status(), 429, "locked out even with the right passphrase");
    assert!(r.headers().get("retry-after").is_some());

    // Key exchanges: the burst, then 429 with Retry-After.
    let wrong_exchange = || {
        s.http
            .post(s.url("/v1/auth/api-key-token"))
            .json(&json!({ "api_key": "1ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }))
            .send()
            .unwrap()
    };
    let statuses: Vec<u16> = (0..10).map(|_| wrong_exchange().status().as_u16()).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let r = wrong_exchange();
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Others' failures never refuse a valid key (threats.rs: guessing_a_share_passphrase_*).
    let r = s.http.post(s.url("/v1/auth/api-key-token")).json(&json!({ "api_key": s.admin_key })).send().unwrap();
    assert_eq!(r.status(), 200, "a valid key is never locked out");
}
