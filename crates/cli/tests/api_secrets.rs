//! Round trips of the vault and secret endpoints against the real server binary.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, assert_problem};
use serde_json::{Value, json};

#[test]
fn vault_lifecycle() {
    let s = TestServer::start();
    let t = s.admin_token();
    let r = s.post(&t, "/v1/vaults").json(&json!({ "name": "prod", "description": "" })).send().unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["name"], "prod");
    for key in ["created_by", "created_by_type", "created_at", "org_id"] {
        assert!(!v[key].is_null(), "{key}");
    }
    assert_problem(s.post(&t, "/v1/vaults").json(&json!({ "name": "prod" })).send().unwrap(), 409, "already exists");
    assert_problem(s.post(&t, "/v1/vaults").json(&json!({ "name": "sys" })).send().unwrap(), 400, "reserved");
    assert_problem(s.post(&t, "/v1/vaults").json(&json!({ "name": "a b" })).send().unwrap(), 400, "letters, digits");
    assert_problem(s.post(&t, "/v1/vaults").json(&json!({})).send().unwrap(), 400, "missing field `name`");

    let list: Value = s.get(&t, "/v1/vaults").send().unwrap().json().unwrap();
    let names: Vec<&str> = list["vaults"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["default", "prod"], "a new server starts with the default vault");
    let by_id: Value = s.get(&t, &format!("/v1/vaults/{id}")).send().unwrap().json().unwrap();
    let by_name: Value = s.get(&t, "/v1/vaults/prod").send().unwrap().json().unwrap();
    assert_eq!(by_id, by_name);

    s.put_secret(&t, &id, "a/b", "v");
    assert_eq!(s.delete(&t, &format!("/v1/vaults/{id}")).send().unwrap().status(), 204);
    assert_problem(s.get(&t, &format!("/v1/vaults/{id}")).send().unwrap(), 404, "no vault");
    assert_problem(s.get(&t, &format!("/v1/vaults/{id}/secrets/a/b")).send().unwrap(), 404, "no vault");
    assert_problem(s.delete(&t, &format!("/v1/vaults/{id}")).send().unwrap(), 404, "no vault");
}

#[test]
fn secret_versions_round_trip() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "main");
    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/api-keys/openai"))
        .json(&json!({ "value": "sk-one", "type": "api_key", "metadata": { "env": "prod" } }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    assert_eq!(created["version"], 1);
    assert_eq!(created["type"], "api_key");
    assert!(created.get("value").is_none(), "a write answer never carries the value");
    let id = created["id"].clone();

    let second = s.put_secret(&t, &v, "api-keys/openai", "sk-two");
    assert_eq!(second["version"], 2);
    assert_eq!(second["id"], id, "the secret id is stable across versions");
    assert_eq!(second["type"], "generic", "the SDK's default type");

    let cur: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/api-keys/openai")).send().unwrap().json().unwrap();
    assert_eq!((cur["value"].as_str(), cur["version"].as_i64()), (Some("sk-two"), Some(2)));
    assert_eq!(cur["cmek_encrypted"], false);
    let old: Value =
        s.get(&t, &format!("/v1/vaults/{v}/secret-version/api-keys/openai/1")).send().unwrap().json().unwrap();
    assert_eq!((old["value"].as_str(), old["metadata"]["env"].as_str()), (Some("sk-one"), Some("prod")));
    assert_problem(
        s.get(&t, &format!("/v1/vaults/{v}/secret-version/api-keys/openai/9")).send().unwrap(),
        404,
        "no version 9",
    );
    assert_problem(
        s.get(&t, &format!("/v1/vaults/{v}/secret-version/api-keys/openai/x")).send().unwrap(),
        400,
        "version",
    );

    let versions: Value =
        s.get(&t, &format!("/v1/vaults/{v}/secret-versions/api-keys/openai")).send().unwrap().json().unwrap();
    let nums: Vec<i64> =
        versions["versions"].as_array().unwrap().iter().map(|x| x["version"].as_i64().unwrap()).collect();
    assert_eq!(nums, vec![2, 1]);

    s.put_secret(&t, &v, "api-keys/anthropic", "sk-ant");
    s.put_secret(&t, &v, "db/password", "pw");
    // The SDK sends the prefix percent-encoded.
    let listed: Value =
        s.get(&t, &format!("/v1/vaults/{v}/secrets?prefix=api-keys%2F")).send().unwrap().json().unwrap();
    let paths: Vec<&str> = listed["secrets"].as_array().unwrap().iter().map(|x| x["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["api-keys/anthropic", "api-keys/openai"]);
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("sk-"), "lists never carry values");
    assert_eq!(listed["secrets"][1]["version"], 2);
    let all: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets")).send().unwrap().json().unwrap();
    assert_eq!(all["secrets"].as_array().unwrap().len(), 3);

    // Percent-encoded segments are decoded; the vault may be named instead of given by id.
    let enc: Value = s.get(&t, "/v1/vaults/main/secrets/api%2Dkeys/openai").send().unwrap().json().unwrap();
    assert_eq!(enc["value"], "sk-two");
    assert_problem(s.get(&t, &format!("/v1/vaults/{v}/secrets/nope")).send().unwrap(), 404, "no secret at \"nope\"");
}

#[test]
fn every_path_rule_is_named() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "rules");
    let long = "a".repeat(513);
    let cases: Vec<(String, &str)> = vec![
        ("a//b".into(), "empty segment"),
        ("a/".into(), "must not end with `/`"),
        ("%2Fa".into(), "must not start with `/`"),
        ("a%0Ab".into(), "control character (U+000A)"),
        ("a%00b".into(), "control character (U+0000)"),
        ("a%20b".into(), "contains ' '"),
        (long, "the limit is 512"),
    ];
    for (path, rule) in cases {
        let r = s.put(&t, &format!("/v1/vaults/{v}/secrets/{path}")).json(&json!({ "value": "x" })).send().unwrap();
        assert_problem(r, 400, rule);
        let r = s.get(&t, &format!("/v1/vaults/{v}/secrets/{path}")).send().unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
    // Dot segments, sent raw (HTTP clients would normalise them away before sending).
    for path in ["a/../b", "a/./b", "..", "a/%2E%2E/b"] {
        let (status, body) =
            common::raw_request(&s.base, "PUT", &format!("/v1/vaults/{v}/secrets/{path}"), &t, r#"{"value":"x"}"#);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("`.` and `..` are not allowed"), "{path}: {body}");
    }
    let listed: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets")).send().unwrap().json().unwrap();
    assert!(listed["secrets"].as_array().unwrap().is_empty(), "no partial writes");
}

#[test]
fn bad_bodies_are_clear_4xx() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "bodies");
    let url = format!("/v1/vaults/{v}/secrets/x");
    assert_problem(s.put(&t, &url).body("{").send().unwrap(), 400, "not valid JSON");
    assert_problem(s.put(&t, &url).json(&json!({ "type": "api_key" })).send().unwrap(), 400, "missing field `value`");
    assert_problem(s.put(&t, &url).json(&json!({ "value": 5 })).send().unwrap(), 400, "field `value`");
    assert_problem(
        s.put(&t, &url).json(&json!({ "value": "x", "type": "bogus" })).send().unwrap(),
        400,
        "unknown secret type",
    );
    assert_problem(
        s.put(&t, &url).json(&json!({ "value": "x", "metadata": [1] })).send().unwrap(),
        400,
        "metadata must be a JSON object",
    );
    assert_problem(
        s.put(&t, &url).json(&json!({ "value": "x", "max_access_count": -1 })).send().unwrap(),
        400,
        "max_access_count",
    );
    assert_problem(
        s.put(&t, &url).json(&json!({ "value": "x", "expires_at": "yesterday" })).send().unwrap(),
        400,
        "expires_at",
    );
    assert_problem(
        s.put(&t, &url).json(&json!({ "value": "x", "expires_at": "2001-01-01T00:00:00Z" })).send().unwrap(),
        400,
        "in the past",
    );
    // Just over the 5 MiB limit: the server answers once the limit is passed and closes the
    // connection, so what it never reads must fit in the socket's buffer, or a loaded machine
    // can cut the client off mid-send before it reads the answer.
    let big = "x".repeat(5 * 1024 * 1024 + 1024);
    assert_problem(s.put(&t, &url).json(&json!({ "value": big })).send().unwrap(), 413, "larger than the limit");
    assert_problem(s.http.patch(s.url(&url)).bearer_auth(&t).send().unwrap(), 405, "not supported");
    assert_problem(s.get(&t, "/v1/nothing-here").send().unwrap(), 404, "no such endpoint");
    // The SDK's always-sent extras are accepted.
    let ok = s
        .put(&t, &url)
        .json(
            &json!({ "value": "x", "type": "generic", "rotation_policy": {}, "max_access_count": 0, "metadata": null }),
        )
        .send()
        .unwrap();
    assert_eq!(ok.status(), 201);
    assert_eq!(
        s.get(&t, &format!("/v1/vaults/{v}/secret-versions/x")).send().unwrap().json::<Value>().unwrap()["versions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "rejected writes left nothing"
    );
}

#[test]
fn expired_exhausted_and_disabled_are_gone() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "gone");

    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/limited"))
        .json(&json!({ "value": "once", "max_access_count": 2 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    for n in 1..=2 {
        let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/limited")).send().unwrap().json().unwrap();
        assert_eq!((got["value"].as_str(), got["access_count"].as_i64()), (Some("once"), Some(n)));
    }
    assert_problem(s.get(&t, &format!("/v1/vaults/{v}/secrets/limited")).send().unwrap(), 410, "read limit of 2");

    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/short"))
        .json(&json!({ "value": "brief", "expires_at": soon }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    assert_problem(s.get(&t, &format!("/v1/vaults/{v}/secrets/short")).send().unwrap(), 410, "expired at");

    s.put_secret(&t, &v, "multi", "first");
    s.put_secret(&t, &v, "multi", "second");
    assert_eq!(s.post(&t, &format!("/v1/vaults/{v}/secret-version-disable/multi/1")).send().unwrap().status(), 204);
    assert_problem(
        s.get(&t, &format!("/v1/vaults/{v}/secret-version/multi/1")).send().unwrap(),
        410,
        "version 1 of \"multi\" is disabled",
    );
    let cur: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/multi")).send().unwrap().json().unwrap();
    assert_eq!(cur["value"], "second");
    let versions: Value = s.get(&t, &format!("/v1/vaults/{v}/secret-versions/multi")).send().unwrap().json().unwrap();
    assert_eq!(versions["versions"][1]["is_disabled"], true);
    assert_problem(
        s.post(&t, &format!("/v1/vaults/{v}/secret-version-disable/multi/7")).send().unwrap(),
        404,
        "no version 7",
    );
}

#[test]
fn soft_delete_and_admin_restore() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "del");
    s.put_secret(&t, &v, "svc/token", "t1");
    assert_eq!(s.delete(&t, &format!("/v1/vaults/{v}/secrets/svc/token")).send().unwrap().status(), 204);
    assert_problem(s.get(&t, &format!("/v1/vaults/{v}/secrets/svc/token")).send().unwrap(), 410, "was deleted");
    let listed: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets")).send().unwrap().json().unwrap();
    assert!(listed["secrets"].as_array().unwrap().is_empty());
    assert_problem(s.delete(&t, &format!("/v1/vaults/{v}/secrets/svc/token")).send().unwrap(), 404, "no secret");

    let r = s.post(&t, &format!("/v1/vaults/{v}/secret-restore/svc/token")).send().unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/svc/token")).send().unwrap().json().unwrap();
    assert_eq!((got["value"].as_str(), got["version"].as_i64()), (Some("t1"), Some(1)));
    assert_problem(
        s.post(&t, &format!("/v1/vaults/{v}/secret-restore/svc/token")).send().unwrap(),
        409,
        "is not deleted",
    );
    assert_problem(s.post(&t, &format!("/v1/vaults/{v}/secret-restore/svc/none")).send().unwrap(), 404, "no secret");
}

#[test]
fn server_side_rotation() {
    let s = TestServer::start();
    let t = s.admin_token();
    let v = s.vault(&t, "rot");
    let r = s
        .put(&t, &format!("/v1/vaults/{v}/secrets/hook"))
        .json(&json!({ "value": "old", "type": "password", "metadata": { "owner": "ops" } }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .post(&t, &format!("/v1/vaults/{v}/secret-rotate/hook"))
        .json(&json!({ "length": 48, "charset": "alphanumeric" }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let rotated: Value = r.json().unwrap();
    assert_eq!((rotated["version"].as_i64(), rotated["type"].as_str()), (Some(2), Some("password")));
    assert!(rotated.get("value").is_none());
    let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/hook")).send().unwrap().json().unwrap();
    let value = got["value"].as_str().unwrap();
    assert_eq!(value.len(), 48);
    assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(got["metadata"]["owner"], "ops", "metadata carries over");

    // Defaults: 32 hex characters; an empty body is fine.
    assert_eq!(s.post(&t, &format!("/v1/vaults/{v}/secret-rotate/hook")).send().unwrap().status(), 201);
    let got: Value = s.get(&t, &format!("/v1/vaults/{v}/secrets/hook")).send().unwrap().json().unwrap();
    let value = got["value"].as_str().unwrap();
    assert!(value.len() == 32 && value.chars().all(|c| c.is_ascii_hexdigit()));

    assert_problem(
        s.post(&t, &format!("/v1/vaults/{v}/secret-rotate/hook")).json(&json!({ "length": 4 })).send().unwrap(),
        400,
        "between 8 and 1024",
    );
    assert_problem(
        s.post(&t, &format!("/v1/vaults/{v}/secret-rotate/hook")).json(&json!({ "charset": "emoji" })).send().unwrap(),
        400,
        "unknown charset",
    );
    assert_problem(s.post(&t, &format!("/v1/vaults/{v}/secret-rotate/none")).send().unwrap(), 404, "no secret");
}

#[test]
fn openapi_document_lists_every_endpoint() {
    let s = TestServer::start();
    let doc: Value = s.http.get(s.url("/v1/openapi.json")).send().unwrap().json().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/auth/api-key-token",
        "/v1/auth/token",
        "/v1/auth/api-keys",
        "/v1/auth/api-keys/{key_id}",
        "/v1/vaults",
        "/v1/vaults/{vault_id}",
        "/v1/vaults/{vault_id}/secrets",
        "/v1/vaults/{vault_id}/secrets/{path}",
        "/v1/vaults/{vault_id}/secret-versions/{path}",
        "/v1/vaults/{vault_id}/secret-version/{path_and_version}",
        "/v1/vaults/{vault_id}/secret-version-disable/{path_and_version}",
        "/v1/vaults/{vault_id}/secret-rotate/{path}",
        "/v1/vaults/{vault_id}/secret-restore/{path}",
        "/v1/audit/events",
        "/v1/audit/verify",
        "/v1/health",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(paths["/v1/vaults/{vault_id}/secrets/{path}"].get("put").is_some());
    assert!(!doc.to_string().contains("{*"), "axum wildcard syntax leaked into the document");
    // Every parameter said to be in the path is in the path; the rest are query parameters.
    for (template, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                let in_template = template.contains(&format!("{{{name}}}"));
                assert_eq!(param["in"] == "path", in_template, "{method} {template}: parameter {name} is misplaced");
            }
        }
    }
    let events = &paths["/v1/audit/events"]["get"]["parameters"];
    assert!(events.as_array().unwrap().iter().any(|p| p["name"] == "limit" && p["in"] == "query"), "{events}");
    let health: Value = s.http.get(s.url("/v1/health")).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok");
}

#[test]
fn malformed_path_segments_and_query_strings_get_problem_documents() {
    let s = TestServer::start();
    let t = s.admin_token();
    for (path, needle) in [
        ("/v1/agents/%FF", "UTF-8"),
        ("/v1/audit/events?limit=-1", "query string"),
        ("/v1/audit/events?limit=99999999999999999999", "query string"),
    ] {
        let r = s.get(&t, path).send().unwrap();
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{path} answered in plain text"
        );
        assert_problem(r, 400, needle);
    }
}
