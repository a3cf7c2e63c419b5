//! Where the CLI finds its server and key: saved profiles (`login`, `logout`, `--profile`,
//! `CLAWVAULT_PROFILE`), the local server found from any directory, one precedence rule, and
//! `status` / `whoami`, which say what the CLI found.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{TestServer, env_of, run};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

#[test]
fn login_saves_a_profile_used_from_anywhere_and_logout_forgets_it() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let with_addr = env_of(&[("CLAWVAULT_ADDR", &s.base), ("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);
    let only_config = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);

    let (code, out, err) = run(&with_addr, &["login", "--json"], Some(s.admin_key.as_bytes()));
    assert_eq!(code, 0, "{err}");
    let saved = json(&out);
    assert_eq!(saved["profile"], "default");
    assert_eq!(saved["address"], s.base.as_str());
    assert_eq!(saved["principal"], "user:admin");
    assert!(!out.contains(&s.admin_key), "login never prints the key: {out}");
    let file = cfg.path().join("profiles.toml");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    let (code, out, err) = run(&only_config, &["vault", "list"], None);
    assert_eq!(code, 0, "the saved address and key are used: {err}");
    assert!(out.contains("default"), "{out}");
    let (code, out, err) = run(&only_config, &["whoami", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let me = json(&out);
    assert_eq!(me["principal"], "user:admin");
    assert_eq!(me["role"], "admin");
    assert!(me["credential_from"].as_str().unwrap().starts_with("profile default"), "{me}");

    // A wrong key is refused and saves nothing over the good one.
    let (code, _, err) = run(&with_addr, &["login"], Some(b"1ck_wrong"));
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = run(&only_config, &["vault", "list"], None);
    assert_eq!(code, 0, "the earlier login still stands: {err}");

    // The profile is not sent to another server: the key stays home, and the error says so.
    let other = TestServer::start();
    let mut elsewhere = only_config.clone();
    elsewhere.push(("CLAWVAULT_ADDR".into(), other.base.clone()));
    let (code, _, err) = run(&elsewhere, &["vault", "list"], None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains(&format!("profile default is saved for {}", s.base)), "{err}");
    assert!(err.contains("clawvault login"), "{err}");

    // logout forgets it; the next command says how to log in again.
    let (code, out, err) = run(&only_config, &["logout", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["removed"], true);
    let (code, _, err) = run(&only_config, &["vault", "list"], None);
    assert_eq!(code, 3, "the default address, where nothing listens here: {err}");
    assert!(err.contains("nothing listens") && err.contains("clawvault login --address URL"), "{err}");
    let (code, out, _) = run(&only_config, &["logout"], None);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to remove"), "{out}");
}

#[test]
fn named_profiles_by_flag_and_environment() {
    let prod = TestServer::start();
    let staging = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let only_config = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);

    let mut login_prod = only_config.clone();
    login_prod.push(("CLAWVAULT_ADDR".into(), prod.base.clone()));
    assert_eq!(run(&login_prod, &["login"], Some(prod.admin_key.as_bytes())).0, 0);
    let (code, _, err) = run(
        &only_config,
        &["login", "--profile", "staging", "--address", &staging.base],
        Some(staging.admin_key.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(run(&only_config, &["vault", "create", "only-on-staging", "--profile", "staging"], None).0, 0);

    let (_, out, _) = run(&only_config, &["vault", "list", "--json"], None);
    assert!(!out.contains("only-on-staging"), "the default profile is prod: {out}");
    let (_, out, _) = run(&only_config, &["vault", "list", "--json", "--profile", "staging"], None);
    assert!(out.contains("only-on-staging"), "{out}");
    let mut by_env = only_config.clone();
    by_env.push(("CLAWVAULT_PROFILE".into(), "staging".into()));
    let (_, out, _) = run(&by_env, &["vault", "list", "--json"], None);
    assert!(out.contains("only-on-staging"), "CLAWVAULT_PROFILE picks it: {out}");
    let (_, out, _) = run(&by_env, &["vault", "list", "--json", "--profile", "default"], None);
    assert!(!out.contains("only-on-staging"), "the flag wins over the environment: {out}");

    let (code, _, err) = run(&only_config, &["vault", "list", "--profile", "nope"], None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no profile \"nope\"") && err.contains("default, staging"), "{err}");
    let (code, _, err) = run(&only_config, &["vault", "list", "--profile", "../etc"], None);
    assert_eq!(code, 9, "{err}");

    let (code, _, err) = run(&only_config, &["logout", "--profile", "staging"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = run(&only_config, &["vault", "list"], None);
    assert_eq!(code, 0, "the default profile is untouched by logging out of staging");
}

#[test]
fn the_local_server_is_found_from_any_directory_and_only_for_its_own_address() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let data = s.data_dir.display().to_string();
    // Nothing but where the local server keeps its data (as the default data directory would).
    let local = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir), ("CLAWVAULT_DATA_DIR", &data)]);
    let (code, out, err) = run(&local, &["secret", "list", "default", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out), Value::Array(vec![]));
    let (code, out, err) = run(&local, &["whoami"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("user:admin") && out.contains("local server's data directory"), "{out}");

    // Pointed at another server, the local admin key is not sent.
    let other = TestServer::start();
    let mut elsewhere = local.clone();
    elsewhere.push(("CLAWVAULT_ADDR".into(), other.base.clone()));
    let (code, _, err) = run(&elsewhere, &["vault", "list"], None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains(&format!("no key is saved for {}", other.base)), "{err}");

    // A data directory whose address file points away from this machine is not trusted.
    let planted = tempfile::tempdir().unwrap();
    std::fs::write(planted.path().join("address"), "http://attacker.example:80\n").unwrap();
    std::fs::copy(s.data_dir.join("admin-key"), planted.path().join("admin-key")).unwrap();
    let planted_env =
        env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir), ("CLAWVAULT_DATA_DIR", &planted.path().display().to_string())]);
    let (code, out, _) = run(&planted_env, &["status", "--json"], None);
    assert_eq!(code, 3, "the default address answers nothing here: {out}");
    assert_eq!(json(&out)["address"], "http://127.0.0.1:8420");
    // So is one left by a server that no longer runs (killed before it could remove it).
    std::fs::write(planted.path().join("address"), format!("{}\n4294967295\n", s.base)).unwrap();
    let (code, out, _) = run(&planted_env, &["status", "--json"], None);
    assert_eq!((code, json(&out)["address"].as_str()), (3, Some("http://127.0.0.1:8420")), "{out}");
}

#[test]
fn flags_win_over_environment_over_files() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let (_, agent_key) = s.new_agent(&s.admin_token(), serde_json::json!({"name": "ci"}));
    let key_file = cfg.path().join("agent.key");
    std::fs::write(&key_file, &agent_key).unwrap();
    let key_file = key_file.display().to_string();
    let mut env = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir), ("CLAWVAULT_ADDR", &s.base)]);
    assert_eq!(run(&env, &["login"], Some(s.admin_key.as_bytes())).0, 0);

    let who = |env: &[(String, String)], extra: &[&str]| {
        let mut args = vec!["whoami", "--json"];
        args.extend_from_slice(extra);
        let (code, out, err) = run(env, &args, None);
        assert_eq!(code, 0, "{err}");
        let me = json(&out);
        (me["principal"].as_str().unwrap().to_owned(), me["credential_from"].as_str().unwrap().to_owned())
    };
    assert_eq!(who(&env, &[]).0, "user:admin", "the profile");
    env.push(("CLAWVAULT_API_KEY".into(), agent_key.clone()));
    assert_eq!(who(&env, &[]), ("agent:ci".into(), "$CLAWVAULT_API_KEY".into()), "environment over the profile");
    env.pop();
    env.push(("CLAWVAULT_API_KEY_FILE".into(), key_file.clone()));
    let (principal, from) = who(&env, &[]);
    assert_eq!(principal, "agent:ci");
    assert!(from.starts_with("$CLAWVAULT_API_KEY_FILE"), "{from}");
    let admin_key = s.data_dir.join("admin-key").display().to_string();
    let (principal, from) = who(&env, &["--api-key-file", &admin_key]);
    assert_eq!(principal, "user:admin", "the flag over the environment");
    assert!(from.starts_with("--api-key-file"), "{from}");

    let (code, out, _) = run(&env, &["whoami", "--json", "--address", "http://127.0.0.1:9"], None);
    assert_eq!(code, 3, "--address over the environment: {out}");
}

#[test]
fn status_says_where_and_what_without_credentials() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()), ("CLAWVAULT_ADDR", &s.base)]);
    let (code, out, err) = run(&env, &["status", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let st = json(&out);
    assert_eq!(st["reachable"], true);
    assert_eq!(st["address"], s.base.as_str());
    assert_eq!(st["address_from"], "$CLAWVAULT_ADDR");
    assert_eq!(st["sealed"], false);
    let storage = if common::on_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(st["storage"], storage);
    assert_eq!(st["version"], env!("CARGO_PKG_VERSION"));

    let (code, out, _) = run(&env, &["status"], None);
    assert_eq!(code, 0);
    assert!(out.contains("reachable") && out.contains("yes") && out.contains(storage), "{out}");

    let (code, out, err) = run(&env, &["status", "--address", "http://127.0.0.1:9"], None);
    assert_eq!(code, 3, "{err}");
    assert!(out.contains("reachable") && out.contains("no"), "{out}");
}

/// A shell loop of 100 reads: the CLI sends its key itself (no token exchange per command), so
/// none of them meets the key-exchange rate limit (before, 33 of 100 failed with 429).
#[test]
fn a_loop_of_a_hundred_reads_never_meets_a_rate_limit() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = s.admin_token();
    let (agent_id, agent_key) = s.new_agent(&admin, serde_json::json!({"name": "looper"}));
    s.put_secret(&admin, "default", "loop/value", "v1");
    s.grant(&admin, "default", ("agent", &agent_id), "loop/**", &["read"], serde_json::json!({}));
    let script = "for i in $(seq 100); do clawvault secret get default/loop/value >/dev/null || exit $?; done";
    let out = common::shell(
        script,
        &[
            ("CLAWVAULT_ADDR", &s.base),
            ("CLAWVAULT_API_KEY", &agent_key),
            ("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()),
        ],
    );
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}

/// A 429 that still happens (here: a wrong key from an address that already failed too often)
/// has its own exit code and says when to retry.
#[test]
fn too_many_requests_has_its_own_exit_code_and_says_when_to_retry() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let mut throttled = false;
    for _ in 0..300 {
        if s.get("1ck_not-a-key", "/v1/vaults").send().unwrap().status() == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the address is throttled");
    let env = env_of(&[
        ("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()),
        ("CLAWVAULT_ADDR", &s.base),
        ("CLAWVAULT_API_KEY", "1ck_not-a-key"),
    ]);
    let (code, _, err) = run(&env, &["vault", "list"], None);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("retry in") && err.contains(" s"), "{err}");
    // The right key is never refused for others' failures.
    let admin = env_of(&[
        ("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()),
        ("CLAWVAULT_ADDR", &s.base),
        ("CLAWVAULT_API_KEY", &s.admin_key),
    ]);
    assert_eq!(run(&admin, &["vault", "list"], None).0, 0);
}

#[test]
fn a_profiles_file_others_may_read_is_refused() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let env = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg.path().display().to_string()), ("CLAWVAULT_ADDR", &s.base)]);
    assert_eq!(run(&env, &["login"], Some(s.admin_key.as_bytes())).0, 0);
    let file = cfg.path().join("profiles.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&env, &["vault", "list"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    // A file that is not TOML says how to start over.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&file, "not = [toml").unwrap();
    let (code, _, err) = run(&env, &["vault", "list"], None);
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("not a valid profiles file") && err.contains("clawvault login"), "{err}");
}

#[test]
fn a_new_profile_names_its_server_and_parallel_logins_lose_nothing() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().display().to_string();
    let only_config = env_of(&[("CLAWVAULT_CONFIG_DIR", &cfg_dir)]);
    // A prod key typed for a new profile is not sent to whatever answers on the default address.
    let (code, _, err) = run(&only_config, &["login", "--profile", "prod"], Some(s.admin_key.as_bytes()));
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("--address URL"), "{err}");

    let logins: Vec<_> = (0..8)
        .map(|i| {
            let env = only_config.clone();
            let (base, key) = (s.base.clone(), s.admin_key.clone());
            std::thread::spawn(move || {
                let name = format!("p{i}");
                run(&env, &["login", "--profile", &name, "--address", &base], Some(key.as_bytes()))
            })
        })
        .collect();
    for login in logins {
        let (code, _, err) = login.join().unwrap();
        assert_eq!(code, 0, "{err}");
    }
    let text = std::fs::read_to_string(cfg.path().join("profiles.toml")).unwrap();
    for i in 0..8 {
        assert!(text.contains(&format!("[p{i}]")), "profile p{i} kept: {text}");
    }
}

#[test]
fn a_stopped_server_leaves_no_address_for_the_cli_to_follow() {
    let mut s = TestServer::start();
    assert!(s.data_dir.join("address").exists());
    s.stop();
    assert!(!s.data_dir.join("address").exists(), "whoever takes the port next gets no admin key");
}
