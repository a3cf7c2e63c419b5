//! Self-enrollment: request, human approval or denial, the key delivered exactly once,
//! uniform answers for unknown pairing ids and wrong poll tokens.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, assert_problem};
use serde_json::{Value, json};

fn request(s: &TestServer, body: Value) -> Value {
    let r = s.http.post(s.url("/v1/agents/enroll")).json(&body).send().unwrap();
    assert_eq!(r.status(), 201);
    r.json().unwrap()
}

fn poll(s: &TestServer, pairing: &str, token: &str) -> reqwest::blocking::Response {
    s.http.get(s.url(&format!("/v1/agents/enroll/{pairing}/status?poll={token}"))).send().unwrap()
}

#[test]
fn approved_key_is_delivered_exactly_once() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let bot_key = common::EnrollmentKey::generate();
    let r = request(
        &s,
        json!({ "name": "self-made-bot", "description": "asks nicely", "human_email": "ops@example.com", "public_key": bot_key.ssh_line }),
    );
    assert_eq!(r["agent_id"], "00000000-0000-0000-0000-000000000000");
    let (pairing, token) = (r["pairing_id"].as_str().unwrap().to_owned(), r["poll_token"].as_str().unwrap().to_owned());
    assert!(r["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    assert_eq!(poll(&s, &pairing, &token).json::<Value>().unwrap()["status"], "pending");

    // Unknown ids and wrong tokens look alike.
    let wrong = poll(&s, &pairing, "cvp_wrong");
    let unknown = poll(&s, "00000000-0000-0000-0000-000000000001", &token);
    let garbage = poll(&s, "not-a-uuid", &token);
    let (w, u, g): (Value, Value, Value) = (wrong.json().unwrap(), unknown.json().unwrap(), garbage.json().unwrap());
    assert_eq!((w["status"].as_u64(), u["status"].as_u64(), g["status"].as_u64()), (Some(404), Some(404), Some(404)));
    assert_eq!(w["detail"], u["detail"]);
    assert_eq!(w["detail"], g["detail"]);

    let pending: Value = s.get(&admin, "/v1/agents/enroll").send().unwrap().json().unwrap();
    assert_eq!(pending["enrollments"][0]["pairing_id"], pairing.as_str());
    assert_eq!(pending["enrollments"][0]["fingerprint"], r["fingerprint"]);
    let approved = s
        .post(&admin, &format!("/v1/agents/enroll/{pairing}/approve"))
        .json(&json!({ "token_ttl_seconds": 600 }))
        .send()
        .unwrap();
    assert_eq!(approved.status(), 200);
    let agent: Value = approved.json().unwrap();
    assert_eq!(agent["agent"]["name"], "self-made-bot");
    assert_problem(
        s.post(&admin, &format!("/v1/agents/enroll/{pairing}/approve")).send().unwrap(),
        409,
        "no longer pending",
    );

    let signature = bot_key.sign(&pairing);
    let signed = |s: &TestServer| {
        s.http
            .get(s.url(&format!("/v1/agents/enroll/{pairing}/status?poll={token}")))
            .header("X-Enrollment-Signature", &signature)
            .send()
            .unwrap()
    };
    let first: Value = signed(&s).json().unwrap();
    assert_eq!(first["status"], "approved");
    let key = first["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ocv_"));
    assert!(!agent.to_string().contains(&key), "the approver never sees the agent's key");
    let second: Value = signed(&s).json().unwrap();
    assert_eq!(second["status"], "approved");
    assert!(second.get("api_key").is_none(), "delivered exactly once");
    let t = s.http.post(s.url("/v1/auth/agent-token")).json(&json!({ "api_key": key })).send().unwrap();
    assert_eq!(t.status(), 200);
    assert_eq!(t.json::<Value>().unwrap()["expires_in"], 600);
}

#[test]
fn denial_and_who_may_decide() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let r = request(&s, json!({ "name": "unwanted" }));
    let (pairing, token) = (r["pairing_id"].as_str().unwrap().to_owned(), r["poll_token"].as_str().unwrap().to_owned());
    let member = s
        .post(&admin, "/v1/users")
        .json(&json!({ "name": "m", "role": "member" }))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let m = s.token_for(member["api_key"].as_str().unwrap());
    assert_problem(s.post(&m, &format!("/v1/agents/enroll/{pairing}/approve")).send().unwrap(), 403, "only an admin");
    assert_problem(s.get(&m, "/v1/agents/enroll").send().unwrap(), 403, "only an admin");
    assert_eq!(s.post(&admin, &format!("/v1/agents/enroll/{pairing}/deny")).send().unwrap().status(), 204);
    let denied: Value = poll(&s, &pairing, &token).json().unwrap();
    assert_eq!(denied["status"], "denied");
    assert!(denied.get("api_key").is_none());
    assert_problem(
        s.post(&admin, &format!("/v1/agents/enroll/{pairing}/approve")).send().unwrap(),
        409,
        "no longer pending",
    );
    assert_problem(
        s.post(&admin, "/v1/agents/enroll/00000000-0000-0000-0000-000000000001/deny").send().unwrap(),
        404,
        "no enrollment",
    );
    let bad = s.http.post(s.url("/v1/agents/enroll")).json(&json!({ "name": "" })).send().unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn enrollment_is_rate_limited() {
    let s = TestServer::start();
    let mut statuses = Vec::new();
    for i in 0..14 {
        let r = s.http.post(s.url("/v1/agents/enroll")).json(&json!({ "name": format!("flood-{i}") })).send().unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(&statuses[..10], &[201; 10]);
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
}
