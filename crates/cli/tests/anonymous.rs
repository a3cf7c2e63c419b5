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
    // Hundreds of refusals from one address: lift the throttle, which would answer 429 (the
    // threats suite tests it), to see each endpoint's own 401.
    let mut s = TestServer::start_with_config("auth_rate_burst = 100000\n");
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
    // Anonymous share openings get the uniform 404, never a hint.
    let r = s.http.get(s.url("/v1/share/00000000-0000-0000-0000-000000000000")).send().unwrap();
    assert_eq!(r.status(), 404);

    // Every refusal is audited: the first as it happens, the rest counted into the address's
    // summary, written when its window ends (here: at shutdown).
    let data = s.data_dir.clone();
    assert!(s.stop().success());
    let again = TestServer::start_at(&data, &common::Options { args: s_config_args(&data), env: vec![] });
    let t = again.admin_token();
    let denied: Value = again.get(&t, "/v1/audit/events?action=auth.token&limit=1").send().unwrap().json().unwrap();
    let summaries: Value = again.get(&t, "/v1/audit/events?action=auth.failures").send().unwrap().json().unwrap();
    let counted: u64 = summaries["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["by_action"]["auth.token"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(denied["total"].as_u64().unwrap() + counted, checked, "every refusal is audited: {summaries}");
}

/// The configuration file `start_with_config` wrote beside `data`.
fn s_config_args(data: &std::path::Path) -> Vec<String> {
    vec!["--config".into(), data.with_file_name("clawvault.toml").display().to_string()]
}
