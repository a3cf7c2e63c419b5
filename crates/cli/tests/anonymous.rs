//! Every endpoint of the OpenAPI document refuses a caller without a valid token with 401,
//! whether or not what it names exists, and audits the refusal. (Per-role checks arrive with
//! agents and policies.)

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::TestServer;
use serde_json::Value;

/// Endpoints that answer without credentials.
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/v1/auth/api-key-token"),
    ("post", "/v1/auth/agent-token"),
    ("post", "/v1/agents/enroll"),
    ("get", "/v1/agents/enroll/{pairing_id}/status"),
    ("get", "/v1/health"),
    ("get", "/v1/health/ready"),
    ("get", "/.well-known/jwks.json"),
];

#[test]
fn every_endpoint_refuses_anonymous_and_forged_callers() {
    let s = TestServer::start();
    let t = s.admin_token();
    s.put_secret(&t, "default", "exists/here", "v");
    let doc: Value = s.http.get(s.url("/v1/openapi.json")).send().unwrap().json().unwrap();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if PUBLIC.contains(&(method.as_str(), template.as_str())) {
                continue;
            }
            // Each endpoint is tried on something that exists and something that does not.
            for (vault, path) in [("default", "exists/here"), ("nope", "no/such")] {
                let url = template
                    .replace("{vault_id}", vault)
                    .replace("{path_and_version}", &format!("{path}/1"))
                    .replace("{path}", path)
                    .replace("{key_id}", "00000000-0000-0000-0000-000000000000");
                for token in [None, Some("not-a-jwt"), Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyOngifQ.")] {
                    // A share link opens without credentials; a bad token is still refused.
                    if token.is_none() && (method.as_str(), template.as_str()) == ("get", "/v1/share/{share_id}") {
                        continue;
                    }
                    let mut req = s.http.request(method.to_uppercase().parse().unwrap(), s.url(&url)).body("{}");
                    if let Some(tok) = token {
                        req = req.bearer_auth(tok);
                    }
                    let r = req.send().unwrap();
                    assert_eq!(r.status(), 401, "{method} {url} with {token:?}");
                    let body: Value = r.json().unwrap();
                    assert!(!body.to_string().contains("exists"), "a refusal reveals nothing about {url}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 17 * 6, "only {checked} checks: the document lost endpoints");
    let denied: Value = s.get(&t, "/v1/audit/events?action=auth.token&limit=1").send().unwrap().json().unwrap();
    assert_eq!(denied["total"].as_u64().unwrap(), checked, "every refusal is audited");
    // Anonymous share openings get the uniform 404, never a hint.
    let r = s.http.get(s.url("/v1/share/00000000-0000-0000-0000-000000000000")).send().unwrap();
    assert_eq!(r.status(), 404);
}
