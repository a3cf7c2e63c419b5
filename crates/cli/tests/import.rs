//! `clawvault import` against the real server: a `.env` file read as dotenv tools read it,
//! shown first by a dry run that writes nothing, imported, every value read back, and a re-run
//! that changes nothing; a line that cannot be read stops the import before anything is
//! written, named with its file and line.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, admin_env, run};
use serde_json::Value;

const ENV: &str = "# the bot's settings\nexport DISCORD_TOKEN=discord-canary-9f3a # the token\nDB_PASSWORD='p@ss $word'\nMOTD=\"hello\\nworld\"\nPEM=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nDB_URL=postgres://bot:${DB_PASSWORD}@db/bot\n";

fn get(env: &[(String, String)], reference: &str) -> String {
    let (code, out, err) = run(env, &["secret", "get", reference], None);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn a_dotenv_file_is_shown_imported_and_imported_again_without_change() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let env = admin_env(&s, home.path());
    let file = home.path().join("bot.env");
    std::fs::write(&file, ENV).unwrap();
    let file = file.display().to_string();
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    run(&env, &["secret", "put", "prod/bots/discord/MOTD"], Some(b"old"));

    let (code, out, err) =
        run(&env, &["import", "dotenv", &file, "--vault", "prod", "--prefix", "bots/discord", "--dry-run"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Dry run: 4 to create, 1 to change, 0 unchanged; nothing was written."), "{out}");
    assert!(out.contains("prod/bots/discord/DB_URL") && out.contains("bot.env:8"), "{out}");
    assert!(!out.contains("discord-canary-9f3a") && !out.contains("p@ss"), "no value is printed: {out}");
    assert_eq!(run(&env, &["secret", "get", "prod/bots/discord/DISCORD_TOKEN"], None).0, 6, "nothing written");

    let (code, out, err) = run(&env, &["import", "dotenv", &file, "--vault", "prod", "--prefix", "bots/discord"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Imported: 4 created, 1 changed, 0 unchanged."), "{out}");
    assert_eq!(get(&env, "prod/bots/discord/DISCORD_TOKEN"), "discord-canary-9f3a");
    assert_eq!(get(&env, "prod/bots/discord/DB_PASSWORD"), "p@ss $word");
    assert_eq!(get(&env, "prod/bots/discord/MOTD"), "hello\nworld");
    assert_eq!(get(&env, "prod/bots/discord/PEM"), "-----BEGIN KEY-----\nabc\n-----END KEY-----");
    assert_eq!(get(&env, "prod/bots/discord/DB_URL"), "postgres://bot:p@ss $word@db/bot");

    let (code, out, _) =
        run(&env, &["import", "dotenv", &file, "--vault", "prod", "--prefix", "bots/discord", "--json"], None);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> =
        report["secrets"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["unchanged"; 5], "a re-run changes nothing");
    let (_, versions, _) = run(&env, &["secret", "versions", "prod/bots/discord/DISCORD_TOKEN", "--json"], None);
    assert_eq!(serde_json::from_str::<Value>(&versions).unwrap().as_array().unwrap().len(), 1);

    // The way back: exported, the file imports as unchanged, and JSON holds the same values.
    let back = home.path().join("back.env");
    let back = back.display().to_string();
    let (code, out, err) =
        run(&env, &["export", "dotenv", "--vault", "prod", "--prefix", "bots/discord", "-o", &back], None);
    assert!(code == 0 && out.contains("Wrote 5 secrets"), "{out}{err}");
    assert!(!out.contains("discord-canary-9f3a"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&back).unwrap().permissions().mode() & 0o777, 0o600);
    let (code, out, _) =
        run(&env, &["import", "dotenv", &back, "--vault", "prod", "--prefix", "bots/discord", "--dry-run"], None);
    assert!(code == 0 && out.contains("0 to create, 0 to change, 5 unchanged"), "{out}");
    let json = home.path().join("back.json");
    let (code, _, err) = run(
        &env,
        &["export", "json", "--vault", "prod", "--prefix", "bots/discord", "-o", &json.display().to_string()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(exported["DB_URL"], "postgres://bot:p@ss $word@db/bot");
    assert_eq!(exported["PEM"], "-----BEGIN KEY-----\nabc\n-----END KEY-----");
    std::fs::write(&json, "{}").unwrap();
    let (code, _, err) = run(
        &env,
        &["export", "json", "--vault", "prod", "--prefix", "bots/discord", "-o", &json.display().to_string()],
        None,
    );
    assert!(code == 9 && err.contains("--force"), "a file changed since is not replaced without --force: {err}");
}

#[test]
fn a_line_that_cannot_be_read_stops_everything_before_a_write() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let env = admin_env(&s, home.path());
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    for (text, needle) in [
        ("GOOD=1\nthis line is not a variable\n", "bad.env: line 2"),
        ("GOOD=1\nOPEN=\"never closed-canary\n", "bad.env: line 2"),
        ("GOOD=1\nURL=${MISSING}\n", "bad.env: line 2"),
    ] {
        let file = home.path().join("bad.env");
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(&env, &["import", "dotenv", &file.display().to_string(), "--vault", "prod"], None);
        assert_eq!(code, 9, "{err}");
        assert!(err.contains(needle) && !err.contains("canary"), "{err}");
        assert_eq!(run(&env, &["secret", "get", "prod/GOOD"], None).0, 6, "nothing half-imported");
    }
}

#[test]
fn read_limited_secrets_are_not_spent_and_bad_values_write_nothing() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let env = admin_env(&s, home.path());
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    let (code, _, err) = run(&env, &["secret", "put", "prod/lim/K", "--max-reads", "1"], Some(b"once"));
    assert_eq!(code, 0, "{err}");
    let file = home.path().join("lim.env");
    std::fs::write(&file, "K=once\nNEW=x\n").unwrap();
    let file = file.display().to_string();
    for _ in 0..3 {
        let (code, out, err) =
            run(&env, &["import", "dotenv", &file, "--vault", "prod", "--prefix", "lim", "--dry-run"], None);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("skipped (it has a read limit"), "{out}");
    }
    assert_eq!(get(&env, "prod/lim/K"), "once", "no reading was spent");

    // A value that is not a JSON object for --type json: named before anything is written.
    let json = home.path().join("json.env");
    std::fs::write(&json, "A1={\"ok\":1}\nA2=not-json-canary\nA3={\"ok\":3}\n").unwrap();
    let (code, _, err) = run(
        &env,
        &["import", "dotenv", &json.display().to_string(), "--vault", "prod", "--prefix", "pj", "--type", "json"],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("json.env:2") && err.contains("nothing was written") && !err.contains("canary"), "{err}");
    assert_eq!(run(&env, &["secret", "get", "prod/pj/A1"], None).0, 6, "nothing half-imported");
}
