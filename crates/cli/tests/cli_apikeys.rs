//! `clawvault apikey`: a user makes, lists and deletes their own keys; a deleted key stops
//! working at once; agents have no API keys of this kind.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, key_env, key_in, run};
use serde_json::Value;

#[test]
fn a_user_makes_lists_and_deletes_their_own_keys() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = common::admin_env(&s, cfg.path());

    let (code, out, err) = run(&admin, &["apikey", "create", "laptop", "--expires-in", "30d"], None);
    assert_eq!(code, 0, "{err}");
    let laptop = key_in(&out, "1ck_");
    let (code, out, err) = run(
        &admin,
        &["apikey", "create", "reader", "--scope", "secrets:read", "--scope", "vaults:read", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let reader: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reader["key"]["scopes"], serde_json::json!(["secrets:read", "vaults:read"]));
    let reader_key = reader["api_key"].as_str().unwrap().to_owned();

    let (code, out, _) = run(&admin, &["apikey", "list"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME") && out.contains("laptop") && out.contains("secrets:read,vaults:read"), "{out}");
    assert!(!out.contains(&laptop) && !out.contains(&reader_key), "lists never show keys: {out}");
    let (_, out, _) = run(&admin, &["apikey", "list", "--json"], None);
    let keys: Value = serde_json::from_str(&out).unwrap();
    assert!(keys.as_array().unwrap().iter().any(|k| k["name"] == "laptop" && k["expires_at"].is_string()), "{keys}");

    // The scoped key reads but does not write.
    let as_reader = key_env(&s, cfg.path(), &reader_key);
    assert_eq!(run(&as_reader, &["secret", "list", "default"], None).0, 0);
    let (code, _, err) = run(&as_reader, &["vault", "create", "nope"], None);
    assert_eq!(code, 5, "{err}");

    let (code, _, err) = run(&admin, &["apikey", "delete", "laptop"], None);
    assert_eq!(code, 9, "no --yes and no terminal: {err}");
    let as_laptop = key_env(&s, cfg.path(), &laptop);
    assert_eq!(run(&as_laptop, &["vault", "list"], None).0, 0);
    let (code, out, err) = run(&admin, &["apikey", "delete", "laptop", "--yes"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Deleted API key laptop"), "{out}");
    let (code, _, err) = run(&as_laptop, &["vault", "list"], None);
    assert_eq!(code, 4, "a deleted key stops working at once: {err}");

    let (code, _, err) = run(&admin, &["apikey", "create", "bad", "--scope", "everything"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("secrets:read"), "the error lists the scopes there are: {err}");
    let (code, _, err) = run(&admin, &["apikey", "delete", "no-such-key", "--yes"], None);
    assert_eq!(code, 6, "{err}");
}

#[test]
fn agents_have_no_user_api_keys() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let (_, agent_key) = s.new_agent(&s.admin_token(), serde_json::json!({"name": "bot"}));
    let as_agent = key_env(&s, cfg.path(), &agent_key);
    let (code, _, err) = run(&as_agent, &["apikey", "create", "mine"], None);
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = run(&as_agent, &["apikey", "list"], None);
    assert_eq!(code, 5, "{err}");
}
