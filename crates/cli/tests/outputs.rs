//! What the CLI prints: every command's `--json` is one valid JSON document, and its tables and
//! errors read as the snapshots in `tests/snapshots/outputs__*.snap` (ids, times, keys and
//! ports masked). After a deliberate change: `INSTA_UPDATE=always cargo test -p clawvault-cli
//! --test outputs`, then read the diff.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, admin_env, run};
use serde_json::Value;

/// A CLI environment.
type Env = Vec<(String, String)>;

/// Runs `args` (with `--json` added) and returns the one JSON document it printed.
fn json_of(env: &[(String, String)], args: &[&str], stdin: Option<&[u8]>) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let (code, out, err) = run(env, &with_json, stdin);
    assert_eq!(code, 0, "{args:?}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} --json is not JSON ({e}): {out:?}"));
    assert!(v.is_object() || v.is_array(), "{args:?}: {v}");
    v
}

#[test]
fn every_command_prints_one_json_document_with_json() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());
    let j = |args: &[&str]| json_of(&env, args, None);

    j(&["status"]);
    j(&["whoami"]);
    j(&["vault", "create", "snap", "--description", "for json"]);
    j(&["vault", "list"]);
    json_of(&env, &["secret", "put", "snap/a"], Some(b"value-a"));
    j(&["secret", "get", "snap/a"]);
    j(&["secret", "list", "snap"]);
    j(&["secret", "versions", "snap/a"]);
    j(&["secret", "rotate", "snap/a"]);
    j(&["secret", "disable", "snap/a", "1"]);
    j(&["secret", "delete", "snap/a"]);
    j(&["secret", "restore", "snap/a"]);
    j(&["agent", "create", "bot", "--vault", "snap"]);
    j(&["agent", "list"]);
    j(&["agent", "show", "bot"]);
    j(&["agent", "rotate-key", "bot"]);
    j(&["agent", "deactivate", "bot"]);
    j(&["agent", "activate", "bot"]);
    j(&["agent", "pending"]);
    let policy = j(&["policy", "grant", "snap", "--agent", "bot", "--path", "**", "--permission", "read"]);
    j(&["policy", "list", "snap"]);
    j(&["policy", "revoke", "snap", policy["id"].as_str().unwrap()]);
    j(&["user", "create", "mia"]);
    j(&["user", "list"]);
    j(&["apikey", "create", "laptop"]);
    j(&["apikey", "list"]);
    j(&["apikey", "delete", "laptop", "--yes"]);
    let share = j(&["share", "create", "snap/a", "--anyone", "--max-reads", "2"]);
    let id = share["id"].as_str().unwrap();
    j(&["share", "list"]);
    j(&["share", "open", id]);
    j(&["share", "revoke", id]);
    j(&["audit", "list", "--limit", "3"]);
    j(&["audit", "verify"]);
    j(&["audit", "anchor"]);
    j(&["agent", "delete", "bot", "--yes"]);
    j(&["user", "delete", "mia", "--yes"]);
    j(&["vault", "delete", "snap", "--yes"]);
}

/// Snapshots `text` with what differs from run to run masked.
fn assert_masked(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, with) in [
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[id]"),
        (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", "[time]"),
        (r"(1ck|ocv)_[A-Za-z0-9_-]+", "[key]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"/tmp/[^\s)]+", "[tmp]"),
    ] {
        settings.add_filter(pattern, with);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn tables_and_errors_read_as_snapshotted() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = admin_env(&s, cfg.path());
    let ok = |args: &[&str], stdin: Option<&[u8]>| {
        let (code, out, err) = run(&env, args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    ok(&["vault", "create", "prod", "--description", "production"], None);
    ok(&["secret", "put", "prod/openai/api-key"], Some(b"sk-1"));
    ok(&["secret", "put", "prod/openai/api-key"], Some(b"sk-2"));
    ok(&["secret", "put", "prod/db/main", "--type", "password", "--max-reads", "5"], Some(b"{\"user\":\"app\"}"));
    ok(&["agent", "create", "discord-bot", "--vault", "prod", "--description", "posts release notes"], None);
    ok(&["policy", "grant", "prod", "--agent", "discord-bot", "--path", "openai/*", "--permission", "read,use"], None);
    ok(&["user", "create", "mia"], None);
    ok(&["policy", "grant", "prod", "--user", "mia", "--path", "db/**", "--permission", "read", "--deny"], None);
    ok(&["apikey", "create", "laptop", "--scope", "secrets:read"], None);
    ok(&["share", "create", "prod/openai/api-key", "--agent", "discord-bot", "--max-reads", "1"], None);

    let mut shown = String::new();
    for args in [
        vec!["vault", "list"],
        vec!["secret", "list", "prod"],
        vec!["secret", "versions", "prod/openai/api-key"],
        vec!["agent", "list"],
        vec!["agent", "show", "discord-bot"],
        vec!["policy", "list", "prod"],
        vec!["user", "list"],
        vec!["apikey", "list"],
        vec!["audit", "list", "--action", "secret.write"],
        vec!["share", "list"],
        vec!["agent", "pending"],
        vec!["status"],
        vec!["whoami"],
    ] {
        shown.push_str(&format!("$ clawvault {}\n{}\n", args.join(" "), ok(&args, None)));
    }
    assert_masked("tables", &shown);

    let mut errors = String::new();
    let bad_key = cfg.path().join("bad.key");
    std::fs::write(&bad_key, "1ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n").unwrap();
    let mut bad = env.clone();
    bad.retain(|(k, _)| k != "CLAWVAULT_API_KEY_FILE");
    bad.push(("CLAWVAULT_API_KEY_FILE".into(), bad_key.display().to_string()));
    let cases: Vec<(Env, Vec<&str>)> = vec![
        (env.clone(), vec!["secret", "get", "prod/missing"]),
        (env.clone(), vec!["secret", "list", "nosuch"]),
        (env.clone(), vec!["secret", "get", "no-slash"]),
        (env.clone(), vec!["secret", "get", "prod/db/main", "--field", "password"]),
        (env.clone(), vec!["policy", "grant", "prod", "--agent", "nobody", "--path", "x", "--permission", "read"]),
        (env.clone(), vec!["vault", "delete", "prod"]),
        (bad, vec!["vault", "list"]),
    ];
    for (case_env, args) in cases {
        let (code, _, err) = run(&case_env, &args, None);
        errors.push_str(&format!("$ clawvault {}\n{err}[exit {code}]\n\n", args.join(" ")));
    }
    assert_masked("errors", &errors);
}
