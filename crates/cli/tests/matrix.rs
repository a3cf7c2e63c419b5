//! The authorization matrix of docs/security.md, cell by cell, against a running server.
//! The table is the specification: this test parses it and checks every cell.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::cell::Cell;
use std::collections::HashMap;

use base64::Engine as _;
use common::TestServer;
use serde_json::{Value, json};

/// The table rows: endpoint (method and path template), then the expected status per column.
fn table() -> (Vec<String>, Vec<(String, Vec<u16>)>) {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md")).unwrap();
    let body = doc.split("<!-- matrix:start -->").nth(1).unwrap().split("<!-- matrix:end -->").next().unwrap();
    let mut lines = body.lines().map(str::trim).filter(|l| l.starts_with('|'));
    let cells = |l: &str| l.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect::<Vec<_>>();
    let header = cells(lines.next().unwrap());
    let rows = lines
        .skip(1)
        .map(|l| {
            let c = cells(l);
            (c[0].trim_matches('`').to_owned(), c[1..].iter().map(|s| s.parse().unwrap()).collect())
        })
        .collect();
    (header[1..].to_vec(), rows)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

struct World {
    s: TestServer,
    admin: String,
    owner: String,
    /// Named by the policies the matrix creates; none of the principals.
    policy_target: String,
    tokens: HashMap<String, String>,
    bad_tokens: Vec<(&'static str, String)>,
    counter: Cell<u32>,
    shared: HashMap<&'static str, String>,
}

fn json_of(r: reqwest::blocking::Response) -> Value {
    let status = r.status();
    let text = r.text().unwrap();
    assert!(status.is_success(), "setup failed: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn in_hours(h: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(h))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

impl World {
    fn agent(&self, by: &str, body: Value) -> (String, String) {
        let v = json_of(self.s.post(by, "/v1/agents").json(&body).send().unwrap());
        (v["agent"]["id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned())
    }

    fn agent_token(&self, key: &str) -> String {
        self.s.agent_token(key)
    }

    fn grant(&self, agent: &str, extra: Value) {
        let mut body = json!({ "principal_type": "agent", "principal_id": agent, "secret_path_pattern": "api-keys/**",
            "permissions": ["read", "write", "delete", "rotate", "list", "share"] });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json_of(self.s.post(&self.owner, "/v1/vaults/owned/policies").json(&body).send().unwrap());
    }

    fn next(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        self.counter.get()
    }

    fn build() -> Self {
        // Hundreds of refusals from one address: lift the throttle of failures, which would
        // answer 429 (threats.rs tests it), to see each cell's own answer.
        let s = TestServer::start_with_config("auth_rate_burst = 100000\n");
        let admin = s.admin_token();
        let m =
            json_of(s.post(&admin, "/v1/users").json(&json!({ "name": "owner", "role": "member" })).send().unwrap());
        let owner = s.token_for(m["api_key"].as_str().unwrap());
        let n = json_of(
            s.post(&admin, "/v1/users").json(&json!({ "name": "bystander", "role": "member" })).send().unwrap(),
        );
        let member = s.token_for(n["api_key"].as_str().unwrap());
        json_of(s.post(&owner, "/v1/vaults").json(&json!({ "name": "owned" })).send().unwrap());
        let elsewhere = json_of(s.post(&owner, "/v1/vaults").json(&json!({ "name": "elsewhere" })).send().unwrap());
        let mut w = World {
            s,
            admin: admin.clone(),
            owner: owner.clone(),
            policy_target: String::new(),
            tokens: HashMap::new(),
            bad_tokens: Vec::new(),
            counter: Cell::new(0),
            shared: HashMap::new(),
        };
        let (g, gk) = w.agent(&owner, json!({ "name": "granted" }));
        w.grant(&g, json!({}));
        let (_, ok) = w.agent(&owner, json!({ "name": "other" }));
        w.policy_target = w.agent(&owner, json!({ "name": "policy-target" })).0;
        let (b, bk) = w.agent(&owner, json!({ "name": "bound", "vault_ids": [elsewhere["id"]] }));
        w.grant(&b, json!({}));
        let (e, ek) = w.agent(&owner, json!({ "name": "expired" }));
        let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(3))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        w.grant(&e, json!({ "expires_at": soon }));
        let (d, dk) = w.agent(&owner, json!({ "name": "denied" }));
        w.grant(&d, json!({}));
        w.grant(&d, json!({ "effect": "deny" }));
        let (i, ik) = w.agent(&owner, json!({ "name": "wrong-ip" }));
        w.grant(&i, json!({ "conditions": { "ip_allowlist": ["10.0.0.0/8"] } }));
        for (name, token) in [
            ("admin", admin.clone()),
            ("owner", owner.clone()),
            ("agent", w.agent_token(&gk)),
            ("other agent", w.agent_token(&ok)),
            ("bound agent", w.agent_token(&bk)),
            ("expired", w.agent_token(&ek)),
            ("denied", w.agent_token(&dk)),
            ("wrong IP", w.agent_token(&ik)),
            ("member", member),
        ] {
            w.tokens.insert(name.to_owned(), token);
        }

        // Bad tokens, each refused for its own reason.
        let (x, xk) = w.agent(&owner, json!({ "name": "deactivated" }));
        let deactivated = w.agent_token(&xk);
        json_of(
            w.s.http
                .patch(w.s.url(&format!("/v1/agents/{x}")))
                .bearer_auth(&owner)
                .json(&json!({ "is_active": false }))
                .send()
                .unwrap(),
        );
        let (r, rk) = w.agent(&owner, json!({ "name": "rekeyed" }));
        let rekeyed = w.agent_token(&rk);
        json_of(w.s.post(&owner, &format!("/v1/agents/{r}/rotate-key")).send().unwrap());
        let revoked = w.s.admin_token();
        assert_eq!(w.s.delete(&revoked, "/v1/auth/token").send().unwrap().status(), 204);
        let (_, tk) = w.agent(&owner, json!({ "name": "short-lived", "token_ttl_seconds": 5 }));
        let expiring = w.agent_token(&tk);
        let foreign = TestServer::start().admin_token();
        let parts: Vec<String> = admin.split('.').map(str::to_owned).collect();
        let mut claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
                .unwrap();
        claims["role"] = json!("admin");
        claims["sub"] = json!("user:00000000-0000-0000-0000-000000000001");
        let tampered = format!("{}.{}.{}", parts[0], b64(&claims.to_string()), parts[2]);
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        std::thread::sleep(std::time::Duration::from_millis(5_500)); // the policy and the short token expire
        w.bad_tokens = vec![
            ("deactivated agent", deactivated),
            ("re-keyed agent", rekeyed),
            ("revoked token", revoked),
            ("expired token", expiring),
            ("unknown key", foreign),
            ("alg none", unsigned),
            ("tampered payload", tampered),
        ];

        // Resources the refused cells point at (never changed by a refusal).
        let shared_secret = w.s.put_secret(&w.admin, "owned", "api-keys/shared", "v");
        w.shared.insert("path", "api-keys/shared".into());
        w.shared.insert("secret_id", shared_secret["id"].as_str().unwrap().to_owned());
        w.shared.insert("deleted", w.fresh("deleted"));
        w.shared.insert("scratch_vault", w.fresh("scratch_vault"));
        w.shared.insert("policy", w.fresh("policy"));
        w.shared.insert("owned_agent", w.fresh("owned_agent"));
        w.shared.insert("pairing", w.fresh("pairing"));
        w.shared.insert("scratch_user", w.fresh("scratch_user"));
        w.shared.insert("route", w.fresh("route"));
        w
    }

    /// A fresh resource for a placeholder.
    fn fresh(&self, what: &str) -> String {
        let n = self.next();
        match what {
            "path" => {
                self.s.put_secret(&self.admin, "owned", &format!("api-keys/c{n}"), "v");
                format!("api-keys/c{n}")
            }
            "deleted" => {
                let p = self.fresh("path");
                assert_eq!(
                    self.s.delete(&self.admin, &format!("/v1/vaults/owned/secrets/{p}")).send().unwrap().status(),
                    204
                );
                p
            }
            "secret_id" => self.s.put_secret(&self.admin, "owned", &format!("api-keys/s{n}"), "v")["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            "scratch_vault" => {
                let v = json_of(
                    self.s
                        .post(&self.admin, "/v1/vaults")
                        .json(&json!({ "name": format!("scratch-{n}") }))
                        .send()
                        .unwrap(),
                );
                v["id"].as_str().unwrap().to_owned()
            }
            "policy" => {
                let body = json!({ "principal_type": "agent", "principal_id": self.policy_target, "secret_path_pattern": format!("p{n}/**"), "permissions": ["read"] });
                json_of(self.s.post(&self.owner, "/v1/vaults/owned/policies").json(&body).send().unwrap())["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            "owned_agent" => self.agent(&self.owner, json!({ "name": format!("owned-{n}") })).0,
            "pairing" => {
                let v = json_of(
                    self.s
                        .http
                        .post(self.s.url("/v1/agents/enroll"))
                        .json(&json!({ "name": format!("pairing-{n}") }))
                        .send()
                        .unwrap(),
                );
                v["pairing_id"].as_str().unwrap().to_owned()
            }
            "scratch_user" => {
                let v = json_of(
                    self.s
                        .post(&self.admin, "/v1/users")
                        .json(&json!({ "name": format!("scratch-{n}"), "role": "member" }))
                        .send()
                        .unwrap(),
                );
                v["user"]["id"].as_str().unwrap().to_owned()
            }
            "missing" => format!("api-keys/missing-{n}"),
            // A route whose upstream listens nowhere: an admitted call is a 502, a refused one
            // never gets that far.
            "route" => {
                let body = self.route_body(n);
                json_of(self.s.post(&self.admin, "/v1/proxy/routes").json(&body).send().unwrap())["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            other => panic!("unknown placeholder {other}"),
        }
    }

    fn route_body(&self, n: u32) -> Value {
        json!({ "name": format!("route-{n}"), "vault": "owned", "upstream": "http://127.0.0.1:9",
                "inject": [{ "in": "header", "name": "Authorization", "value": "Bearer {{secret:api-keys/shared}}" }] })
    }

    fn body(&self, endpoint: &str) -> Value {
        let n = self.next();
        match endpoint {
            e if e.starts_with("PUT /v1/vaults/{vault}/secrets/") => json!({ "value": "v" }),
            "POST /v1/vaults/{vault}/policies" => {
                json!({ "principal_type": "agent", "principal_id": self.policy_target, "secret_path_pattern": format!("q{n}/**"), "permissions": ["read"] })
            }
            "PUT /v1/vaults/{vault}/policies/{policy}" => json!({ "permissions": ["read", "list"] }),
            "POST /v1/secrets/{secret_id}/share" => {
                json!({ "recipient_type": "anyone_with_link", "expires_at": in_hours(1) })
            }
            "POST /v1/agents" => json!({ "name": format!("new-agent-{n}") }),
            "PATCH /v1/agents/{owned_agent}" => json!({ "description": "changed" }),
            "POST /v1/users" => json!({ "name": format!("new-user-{n}"), "role": "member" }),
            "POST /v1/auth/api-keys" => json!({ "name": format!("key-{n}") }),
            "POST /v1/proxy/routes" => self.route_body(n),
            _ => json!({}),
        }
    }

    /// The endpoint with its placeholders filled: fresh resources for cells expected to
    /// succeed (they may change them), shared ones otherwise.
    fn url(&self, template: &str, expect_success: bool) -> String {
        let mut out = template.replace("{vault}", "owned");
        for key in [
            "path",
            "missing",
            "deleted",
            "secret_id",
            "scratch_vault",
            "policy",
            "owned_agent",
            "pairing",
            "scratch_user",
            "route",
        ] {
            let placeholder = format!("{{{key}}}");
            if out.contains(&placeholder) {
                let value = if expect_success || key == "missing" { self.fresh(key) } else { self.shared[key].clone() };
                out = out.replace(&placeholder, &value);
            }
        }
        out
    }

    fn call(&self, endpoint: &str, token: &str, expect_success: bool) -> u16 {
        let (method, template) = endpoint.split_once(' ').unwrap();
        let url = self.url(template, expect_success);
        let body = self.body(endpoint);
        let r = self
            .s
            .http
            .request(method.parse().unwrap(), self.s.url(&url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap();
        r.status().as_u16()
    }
}

#[test]
fn every_cell_of_the_matrix_holds() {
    let (columns, rows) = table();
    assert_eq!(columns.last().map(String::as_str), Some("bad token"));
    assert!(rows.len() >= 30, "the table lost rows");
    let w = World::build();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (endpoint, expected) in &rows {
        for (column, want) in columns.iter().zip(expected) {
            let tokens: Vec<(&str, &str)> = if column == "bad token" {
                w.bad_tokens.iter().map(|(n, t)| (*n, t.as_str())).collect()
            } else {
                vec![(column.as_str(), w.tokens[column.as_str()].as_str())]
            };
            for (who, token) in tokens {
                let got = w.call(endpoint, token, (200..300).contains(want));
                checked += 1;
                if got != *want {
                    failures.push(format!("{endpoint} as {who}: expected {want}, got {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cells failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 500, "only {checked} cells checked");
}
