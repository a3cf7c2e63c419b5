//! Errors that name the real cause, each with what to do: the scheme mixed up either way, a
//! host that does not resolve, a port where nothing listens (also while logged in elsewhere),
//! an expired or a wrong key, a certificate the CLI does not trust or that names another host;
//! and the TLS recipe of docs/operations.md (one `openssl` command) working across commands.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, env_of, run};
use serde_json::{Value, json};

/// Runs `vault list` against `address` with `key`; returns the exit code and stderr.
fn list_at(address: &str, key: &str, extra: &[&str]) -> (i32, String) {
    let cfg = tempfile::tempdir().unwrap();
    let env = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()), ("CLAWVAULT_API_KEY", key)]);
    let mut args = vec!["vault", "list", "--address", address];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&env, &args, None);
    (code, err)
}

fn assert_says(err: &str, needles: &[&str], not: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
    for n in not {
        assert!(!err.contains(n), "{n:?} in: {err}");
    }
}

#[test]
fn each_connection_failure_names_its_cause() {
    let plain = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = common::self_signed(dir.path(), "DNS:localhost,IP:127.0.0.1");
    let tls = common::tls_server(&cert, &key);
    let port = |base: &str| base.rsplit(':').next().unwrap().to_owned();

    let https_to_plain = format!("https://127.0.0.1:{}", port(&plain.base));
    let (code, err) = list_at(&https_to_plain, &plain.admin_key, &[]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["speaks plain HTTP", "http://"], &["InvalidContentType", "connection refused"]);

    let http_to_tls = format!("http://127.0.0.1:{}", port(&tls.base));
    let (code, err) = list_at(&http_to_tls, &tls.admin_key, &[]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["speaks TLS", "https://"], &["invalid HTTP version", "connection refused"]);

    let (code, err) = list_at("http://no-such-host.invalid:8420", &plain.admin_key, &[]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["\"no-such-host.invalid\" does not resolve", "--address"], &["connection refused"]);

    let (code, err) = list_at("http://127.0.0.1:9", &plain.admin_key, &[]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["nothing listens there", "clawvault server", "clawvault status"], &[]);

    let (code, err) = list_at(&tls.base, &tls.admin_key, &[]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["not signed by a CA this client trusts", "--ca-cert"], &["CaUsedAsEndEntity", "Other("]);

    // A certificate for other names than the address.
    let other = tempfile::tempdir().unwrap();
    let (ca, leaf, leaf_key) = common::ca_and_leaf(other.path(), "DNS:vault.example.com");
    let named = common::tls_server(&leaf, &leaf_key);
    let (code, err) = list_at(&named.base, &named.admin_key, &["--ca-cert", &ca]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["not valid for \"127.0.0.1\"", "subjectAltName"], &["NotValidForName"]);

    // A file that is no certificate.
    let (code, err) =
        list_at(&tls.base, &tls.admin_key, &["--ca-cert", &tls.data_dir.join("admin-key").display().to_string()]);
    assert_eq!(code, 9, "{err}");
    assert_says(&err, &["no certificate", "BEGIN CERTIFICATE"], &[&tls.admin_key]);
}

#[test]
fn a_wrong_port_while_logged_in_says_nothing_listens_not_no_credentials() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let login = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir), ("CLAWVAULT_ADDR", &s.base)]);
    assert_eq!(run(&login, &["login"], Some(s.admin_key.as_bytes())).0, 0);
    let only_config = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);
    let (code, _, err) = run(&only_config, &["secret", "list", "default", "--address", "http://127.0.0.1:9"], None);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["nothing listens there"], &["no credentials"]);
}

#[test]
fn expired_and_wrong_keys_are_told_apart_and_say_what_to_do() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = s.post(&admin, "/v1/auth/api-keys").json(&json!({"name": "short", "expires_at": soon})).send().unwrap();
    assert_eq!(r.status(), 201);
    let short: Value = r.json().unwrap();
    let short = short["api_key"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, err) = list_at(&s.base, &short, &[]);
    assert_eq!(code, 4, "{err}");
    assert_says(&err, &["has expired", "$CLAWVAULT_API_KEY", "clawvault apikey create"], &[&short, "wrong, revoked"]);

    let wrong = "1ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (code, err) = list_at(&s.base, wrong, &[]);
    assert_eq!(code, 4, "{err}");
    assert_says(&err, &["was refused", "$CLAWVAULT_API_KEY"], &["has expired", wrong]);
}

#[test]
fn cli_errors_speak_cli_not_api_paths() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = common::admin_env(&s, cfg.path());
    let (code, _, err) = run(&env, &["secret", "list", "nosuch"], None);
    assert_eq!(code, 6, "{err}");
    assert_says(&err, &["no vault \"nosuch\"", "clawvault vault list"], &["/v1/", "GET "]);
    // The native API keeps its own wording, and names the step for clients that word it.
    let r = s.get(&s.admin_token(), "/v1/vaults/nosuch/secrets").send().unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["hint"], "list_vaults");
    assert_eq!(body["message"], "no vault \"nosuch\"");
    assert!(body["detail"].as_str().unwrap().contains("GET /v1/vaults"), "{body}");

    // A wrong request field is named by the flag that sets it.
    assert_eq!(run(&env, &["secret", "put", "default/x"], Some(b"v")).0, 0);
    let (code, _, err) = run(&env, &["share", "create", "default/x", "--anyone", "--expires-in", "90d"], None);
    assert_eq!(code, 9, "{err}");
    assert_says(&err, &["--expires-in is too far ahead", "30 days"], &["expires_at"]);
    let (code, _, err) = run(&env, &["agent", "create", "bot", "--ttl", "1"], None);
    assert_eq!(code, 9, "{err}");
    assert_says(&err, &["--ttl must be between 5 and 86400 seconds"], &["token_ttl_seconds"]);
    let (code, _, err) = run(&env, &["secret", "put", "default/y", "--expires-at", "2001-01-01T00:00:00Z"], Some(b"v"));
    assert_eq!(code, 9, "{err}");
    assert_says(&err, &["--expires-at 2001-01-01T00:00:00Z is in the past"], &["expires_at"]);
    let (code, _, err) = run(&env, &["secret", "put", "default/y", "--expires-in", "0s"], Some(b"v"));
    assert_eq!(code, 9, "{err}");
    assert_says(&err, &["--expires-in", "is in the past"], &["expires_at"]);
    // The native API names the field as its requests do.
    let r =
        s.post(&s.admin_token(), "/v1/agents").json(&json!({"name": "bot", "token_ttl_seconds": 1})).send().unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!((body["status"].as_u64(), body["field"].as_str()), (Some(400), Some("token_ttl_seconds")), "{body}");
    assert_eq!(body["detail"], "token_ttl_seconds must be between 5 and 86400 seconds");
    assert_eq!(body["message"], "must be between 5 and 86400 seconds");
}

/// docs/operations.md, "TLS": one `openssl req -x509` command, the server started with it, and
/// the CLI logged in with `--ca-cert` once; every later command trusts it through the profile.
#[test]
fn the_tls_recipe_works_with_a_pinned_self_signed_certificate_across_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = common::self_signed(dir.path(), "DNS:localhost,IP:127.0.0.1");
    let s = common::tls_server(&cert, &key);
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let only_config = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);
    let (code, _, err) =
        run(&only_config, &["login", "--address", &s.base, "--ca-cert", &cert], Some(s.admin_key.as_bytes()));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&only_config, &["secret", "put", "default/over-tls"], Some(b"pinned"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&only_config, &["secret", "get", "default/over-tls"], None);
    assert_eq!((code, out.as_str()), (0, "pinned"), "{err}");
    let (code, out, err) = run(&only_config, &["whoami", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["principal"], "user:admin");
    let (code, out, err) = run(&only_config, &["status"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("yes"), "{out}");
    // By name too, as the certificate lists localhost.
    let by_name = s.base.replace("127.0.0.1", "localhost");
    let (code, err) = list_at(&by_name, &s.admin_key, &["--ca-cert", &cert]);
    assert_eq!(code, 0, "{err}");

    // Another server's self-signed certificate is not this one: refused.
    let other_dir = tempfile::tempdir().unwrap();
    let (other_cert, _) = common::self_signed(other_dir.path(), "DNS:localhost,IP:127.0.0.1");
    let (code, err) = list_at(&s.base, &s.admin_key, &["--ca-cert", &other_cert]);
    assert_eq!(code, 3, "{err}");
    assert_says(&err, &["not signed by a CA this client trusts"], &[]);
}
