//! `clawvault agent`, `user` and `policy`: keys shown once, least privilege through policies,
//! revocation on the next command, and exit codes, driving the real binary.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, admin_env, key_env, key_in, run};
use serde_json::Value;

#[test]
fn agent_lifecycle_with_policies() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = admin_env(&s, cfg.path());
    for (path, value) in [("default/bots/discord", "discord-tok"), ("default/db/password", "hunter2")] {
        let (code, _, err) = run(&admin, &["secret", "put", path], Some(value.as_bytes()));
        assert_eq!(code, 0, "{err}");
    }

    // Created: the key once, then never again.
    let (code, out, err) =
        run(&admin, &["agent", "create", "discord-bot", "--description", "posts notes", "--ttl", "300"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Created agent discord-bot ("), "{out}");
    let key = key_in(&out, "ocv_");
    assert!(err.contains("policy grant"), "the next step is suggested: {err}");

    let (code, out, _) = run(&admin, &["agent", "list"], None);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("STATUS") && lines[0].contains("KEY"), "{out}");
    assert!(lines[1].starts_with("discord-bot") && lines[1].contains("active"), "{out}");
    assert!(lines[1].contains(&key[..12]), "the display prefix is shown: {out}");
    assert!(!out.contains(&key), "lists never show keys");
    let (code, out, _) = run(&admin, &["agent", "list", "--json"], None);
    assert_eq!(code, 0);
    assert!(!out.contains(&key));
    let list: Value = serde_json::from_str(&out).unwrap();
    let agents = list.as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!((agents[0]["name"].as_str(), agents[0]["token_ttl_seconds"].as_i64()), (Some("discord-bot"), Some(300)));
    assert!(agents[0].get("api_key").is_none());
    let agent_id = agents[0]["id"].as_str().unwrap().to_owned();
    let (code, out, _) = run(&admin, &["agent", "show", &agent_id], None);
    assert_eq!(code, 0);
    assert!(out.contains("name:") && out.contains("discord-bot") && out.contains("posts notes"), "{out}");

    // The agent uses its own key with the CLI; nothing is open to it until a policy says so.
    let bot_cfg = tempfile::tempdir().unwrap();
    let bot = key_env(&s, bot_cfg.path(), &key);
    let (code, _, err) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 5, "deny by default: {err}");

    let grant = ["policy", "grant", "default", "--agent", "discord-bot", "--path", "bots/**", "--permission", "read"];
    let (code, out, err) = run(&admin, &grant, None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Granted agent discord-bot read on default/bots/** (policy "), "{out}");
    let (code, out, err) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!((code, out.as_str()), (0, "discord-tok"), "{err}");
    let (code, _, err) = run(&bot, &["secret", "get", "default/db/password"], None);
    assert_eq!(code, 5, "outside the granted paths: {err}");
    assert!(err.contains("db/password"), "{err}");
    let (code, _, err) = run(&bot, &["agent", "list"], None);
    assert_eq!(code, 5, "agents do not manage agents: {err}");

    let (code, out, _) = run(&admin, &["policy", "list", "default"], None);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("PRINCIPAL") && lines[0].contains("PERMISSIONS"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");
    for cell in ["agent:discord-bot", "bots/**", "read", "allow"] {
        assert!(lines[1].contains(cell), "{cell}: {out}");
    }
    let (_, out, _) = run(&admin, &["policy", "list", "default", "--json"], None);
    let policies: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(policies[0]["principal_id"].as_str(), Some(agent_id.as_str()));
    let policy_id = policies[0]["id"].as_str().unwrap().to_owned();
    assert!(lines[1].starts_with(&policy_id));

    // Revoking the policy closes the door on the agent's next command.
    let (code, out, err) = run(&admin, &["policy", "revoke", "default", &policy_id], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&policy_id), "{out}");
    let (code, _, _) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 5, "revoked");
    let (code, out, _) = run(&admin, &["policy", "list", "default", "--json"], None);
    assert_eq!((code, serde_json::from_str::<Value>(&out).unwrap()), (0, serde_json::json!([])));

    // A new key kills the old one at once.
    let (code, _, _) = run(&admin, &grant, None);
    assert_eq!(code, 0);
    let (code, out, err) = run(&admin, &["agent", "rotate-key", "discord-bot"], None);
    assert_eq!(code, 0, "{err}");
    let new_key = key_in(&out, "ocv_");
    assert_ne!(new_key, key);
    let (code, _, err) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 4, "the old key is dead: {err}");
    let bot = key_env(&s, bot_cfg.path(), &new_key);
    let (code, _, _) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 0);

    // Deactivated: refused on its next command; activated: back.
    let (code, out, err) = run(&admin, &["agent", "deactivate", "discord-bot"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Deactivated agent discord-bot"), "{out}");
    let (code, _, err) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("deactivated"), "{err}");
    let (code, out, _) = run(&admin, &["agent", "list"], None);
    assert!(code == 0 && out.lines().nth(1).unwrap().contains("inactive"), "{out}");
    let (code, _, _) = run(&admin, &["agent", "activate", &agent_id], None);
    assert_eq!(code, 0);
    let (code, out, _) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!((code, out.as_str()), (0, "discord-tok"));

    // Bad input: an unknown permission, a policy id that is not one.
    let (code, _, err) = run(
        &admin,
        &["policy", "grant", "default", "--agent", "discord-bot", "--path", "db/*", "--permission", "read,admin"],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("permission \"admin\""), "{err}");
    let (code, _, err) = run(&admin, &["policy", "revoke", "default", "not-an-id"], None);
    assert_eq!(code, 9, "{err}");

    // Deleting needs --yes without a terminal; afterwards the key is refused.
    let (code, _, err) = run(&admin, &["agent", "delete", "discord-bot"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = run(&admin, &["agent", "delete", "discord-bot", "--yes"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = run(&bot, &["secret", "get", "default/bots/discord"], None);
    assert_eq!(code, 4);
    let (code, _, err) = run(&admin, &["agent", "show", "discord-bot"], None);
    assert_eq!(code, 6, "{err}");
}

#[test]
fn users_members_and_grants_by_name() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = admin_env(&s, cfg.path());
    let (code, _, _) = run(&admin, &["secret", "put", "default/shared/wifi"], Some(b"correct-horse"));
    assert_eq!(code, 0);

    let (code, out, err) = run(&admin, &["user", "create", "mia", "--role", "member"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Created member mia ("), "{out}");
    let mia_key = key_in(&out, "1ck_");
    let (code, out, _) = run(&admin, &["user", "list"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME") && out.contains("ROLE"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("mia") && l.contains("member")), "{out}");
    assert!(!out.contains(&mia_key));
    let (_, out, _) = run(&admin, &["user", "list", "--json"], None);
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    let (code, _, err) = run(&admin, &["user", "create", "mia"], None);
    assert_eq!(code, 8, "names are unique: {err}");
    let (code, _, _) = run(&admin, &["user", "create", "x", "--role", "owner"], None);
    assert_eq!(code, 2, "a usage error");

    // A member may not manage users; a policy by name opens one path to her.
    let mia_cfg = tempfile::tempdir().unwrap();
    let mia = key_env(&s, mia_cfg.path(), &mia_key);
    let (code, _, err) = run(&mia, &["user", "list"], None);
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = run(&mia, &["user", "create", "eve"], None);
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = run(&mia, &["secret", "get", "default/shared/wifi"], None);
    assert_eq!(code, 5, "{err}");
    let (code, out, err) = run(
        &admin,
        &["policy", "grant", "default", "--user", "mia", "--path", "shared/*", "--permission", "read"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Granted user mia read on default/shared/*"), "{out}");
    let (code, out, _) = run(&mia, &["secret", "get", "default/shared/wifi"], None);
    assert_eq!((code, out.as_str()), (0, "correct-horse"));
    let (_, out, _) = run(&admin, &["policy", "list", "default"], None);
    assert!(out.contains("user:mia"), "{out}");
    let (code, _, err) = run(&mia, &["policy", "list", "default"], None);
    assert_eq!(code, 5, "only the owner and admins read policies: {err}");

    // A deny wins, and --json prints the policy.
    let (code, out, err) = run(
        &admin,
        &["policy", "grant", "default", "--user", "mia", "--path", "shared/wifi", "--permission", "read", "--deny"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Denied user mia read"), "{out}");
    let (code, _, _) = run(&mia, &["secret", "get", "default/shared/wifi"], None);
    assert_eq!(code, 5);

    // Her own agents are hers.
    let (code, out, err) = run(&mia, &["agent", "create", "mia-bot", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert!(created["api_key"].as_str().unwrap().starts_with("ocv_"));
    assert_eq!(created["agent"]["name"], "mia-bot");
    let (_, out, _) = run(&mia, &["agent", "list", "--json"], None);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().len(), 1);

    // Deleting her needs --yes; then her key is refused.
    let (code, _, err) = run(&admin, &["user", "delete", "mia"], None);
    assert_eq!(code, 9, "{err}");
    let (code, out, err) = run(&admin, &["user", "delete", "mia", "--yes"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Deleted mia"), "{out}");
    let (code, _, err) = run(&mia, &["vault", "list"], None);
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = run(&admin, &["user", "delete", "nobody", "--yes"], None);
    assert_eq!(code, 6, "{err}");

    // Deleting yourself is asked at a terminal, whatever --yes says.
    let (code, out, err) = run(&admin, &["user", "create", "ops", "--role", "admin"], None);
    assert_eq!(code, 0, "{err}");
    let ops_key = common::key_in(&out, "1ck_");
    let ops = common::key_env(&s, cfg.path(), &ops_key);
    let (code, _, err) = run(&ops, &["user", "delete", "ops", "--yes"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("is you") && err.contains("terminal"), "{err}");
    assert_eq!(run(&ops, &["vault", "list"], None).0, 0, "nothing was deleted");
    // At a terminal (a pseudo-terminal from script(1)), a wrong answer deletes nothing...
    let at_terminal = |answer: &str| {
        let env: Vec<(&str, &str)> = ops.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        common::shell(
            &format!("printf '{answer}\\n' | script -qec \"clawvault user delete ops --yes\" /dev/null"),
            &env,
        )
    };
    let out = at_terminal("mia");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not confirmed"), "{out:?}");
    assert_eq!(run(&ops, &["vault", "list"], None).0, 0, "nothing was deleted");
    // ...and typing your name does.
    let out = at_terminal("ops");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("is you") && shown.contains("Deleted ops"), "{shown}");
    assert_eq!(run(&ops, &["vault", "list"], None).0, 4);
}

#[test]
fn names_vault_bindings_and_usage() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = admin_env(&s, cfg.path());
    let (code, _, _) = run(&admin, &["vault", "create", "prod"], None);
    assert_eq!(code, 0);

    let (code, out, err) =
        run(&admin, &["agent", "create", "ci", "--vault", "prod", "--expires-in", "30d", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["agent"]["vault_ids"].as_array().unwrap().len(), 1, "vault names become ids");
    assert!(created["agent"]["expires_at"].is_string());
    let (_, out, _) = run(&admin, &["agent", "show", "ci"], None);
    assert!(out.lines().any(|l| l.starts_with("vaults:") && l.ends_with("prod")), "{out}");

    let (code, _, err) = run(&admin, &["agent", "create", "ci"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&admin, &["agent", "show", "ci"], None);
    assert_eq!(code, 9, "an ambiguous name: {err}");
    assert!(err.contains("give the id"), "{err}");
    let (code, _, err) = run(&admin, &["agent", "show", "nobody"], None);
    assert_eq!(code, 6, "{err}");
    let (code, _, err) = run(&admin, &["agent", "create", "x", "--vault", "nosuchvault"], None);
    assert_eq!(code, 6, "{err}");
    let (code, _, err) = run(&admin, &["agent", "create", "x", "--ttl", "100000"], None);
    assert_eq!(code, 9, "{err}");
    let (code, _, err) = run(&admin, &["agent", "create", "x", "--expires-in", "soon"], None);
    assert_eq!(code, 9, "{err}");
    let (code, _, _) = run(&admin, &["policy", "grant", "prod", "--path", "**", "--permission", "read"], None);
    assert_eq!(code, 2, "--agent or --user is required");
    let (code, _, _) = run(
        &admin,
        &["policy", "grant", "prod", "--agent", "a", "--user", "b", "--path", "**", "--permission", "read"],
        None,
    );
    assert_eq!(code, 2, "not both");
    let (code, out, _) = run(&admin, &["agent", "pending"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("No pending enrollment requests"), "says there are none, and how one asks: {out}");

    for group in [
        &["agent", "create"][..],
        &["agent", "list"],
        &["agent", "show"],
        &["agent", "rotate-key"],
        &["agent", "deactivate"],
        &["agent", "activate"],
        &["agent", "delete"],
        &["agent", "pending"],
        &["agent", "approve"],
        &["agent", "deny"],
        &["user", "create"],
        &["user", "list"],
        &["user", "delete"],
        &["policy", "grant"],
        &["policy", "list"],
        &["policy", "revoke"],
    ] {
        let mut args = group.to_vec();
        args.push("--help");
        let (code, out, _) = run(&admin, &args, None);
        assert_eq!(code, 0);
        assert!(out.contains("Examples:\n  clawvault "), "{group:?}: {out}");
    }
}
