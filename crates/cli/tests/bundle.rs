//! `clawvault bundle` against the real server and the real `age`, `zstd` and `tar` commands: a
//! bundle made for a host opens with `age -d` and lists with `tar`, installs with strict modes,
//! and starts `clawvault sync` from the installed directory alone; an archive made by hand and
//! encrypted by `age -r` installs; a wrong identity, a damaged bundle or a hostile entry installs
//! nothing.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::{TestServer, admin_env, env_of, run, shell};

const CANARY: &str = "bundle-canary-77c1";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sh(script: &str, dir: &Path) -> String {
    let out = shell(&format!("cd '{}' && {script}", dir.display()), &[]);
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The recipient of `host.key` in `at`.
fn recipient(at: &Path) -> String {
    sh("age-keygen -y host.key", at).trim().to_owned()
}

/// Every file and directory under `dir`, with no access for group or others.
fn assert_private(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path) & 0o077, 0, "{} is {:o}", path.display(), mode(&path));
        if path.is_dir() {
            assert_private(&path);
        }
    }
}

#[test]
fn a_host_bundle_opens_with_age_installs_privately_and_starts_sync() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let env = admin_env(&s, &home.path().join("cfg"));
    let at = home.path();
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    run(&env, &["secret", "put", "prod/hosts/web-1/discord"], Some(CANARY.as_bytes()));
    run(&env, &["secret", "put", "prod/hosts/web-1/db/password"], Some(b"db-pass"));
    run(&env, &["secret", "put", "prod/hosts/web-10/other"], Some(b"not below the prefix"));
    run(&env, &["secret", "put", "prod/hosts/web-1"], Some(b"at the prefix itself"));
    let (code, _, err) = run(&env, &["secret", "put", "prod/hosts/web-1/once", "--max-reads", "1"], Some(b"read once"));
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(
        &env,
        &[
            "bundle",
            "export",
            "--vault",
            "prod",
            "--prefix",
            "hosts/web-1",
            "--identity-out",
            &at.join("host.key").display().to_string(),
            "--agent",
            "web-1",
            "-o",
            &at.join("web-1.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Wrote 2 secrets") && out.contains("Agent web-1"), "{out}");
    assert!(out.contains("Left out (read-limited") && out.contains("hosts/web-1/once"), "{out}");
    assert!(!out.contains(CANARY) && !err.contains(CANARY));
    assert_eq!(mode(&at.join("host.key")), 0o600);
    assert_eq!(mode(&at.join("web-1.bundle")), 0o600);
    let sealed = std::fs::read(at.join("web-1.bundle")).unwrap();
    assert!(!sealed.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "encrypted");

    // The age, zstd and tar commands open it as well.
    let listed = sh("age -d -i host.key web-1.bundle | zstd -dc | tar -t", at);
    for name in ["manifest.json", "secrets/discord", "secrets/db/password", "agent.key"] {
        assert!(listed.lines().any(|l| l == name), "{name} in {listed}");
    }
    assert_eq!(sh("age -d -i host.key web-1.bundle | zstd -dc | tar -xO secrets/discord", at), CANARY);

    // An identity is never replaced.
    let (code, _, err) = run(
        &env,
        &[
            "bundle",
            "export",
            "--vault",
            "prod",
            "--identity-out",
            &at.join("host.key").display().to_string(),
            "-o",
            &at.join("again.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("never replaced"), "{err}");

    let (code, out, err) = run(
        &env,
        &[
            "bundle",
            "inspect",
            "--identity",
            &at.join("host.key").display().to_string(),
            &at.join("web-1.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("secrets/db/password") && out.contains("prod/hosts/web-1/discord") && out.contains("web-1"),
        "{out}"
    );
    assert!(!out.contains(CANARY) && !out.contains("ocv_"), "no value, no key: {out}");

    // The host: no admin key, only the identity and the bundle.
    let host = at.join("host");
    let host_env = env_of(&[("CLAWVAULT_CONFIG_DIR", &at.join("host-cfg").display().to_string())]);
    let (code, out, err) = run(
        &host_env,
        &[
            "bundle",
            "install",
            "--identity",
            &at.join("host.key").display().to_string(),
            "--dir",
            &host.display().to_string(),
            &at.join("web-1.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("clawvault sync --config"), "{out}");
    assert_eq!(std::fs::read_to_string(host.join("secrets/discord")).unwrap(), CANARY);
    assert!(std::fs::read_to_string(host.join("agent.key")).unwrap().starts_with("ocv_"));
    assert_eq!(mode(&host), 0o700);
    assert_private(&host);

    // The daemon starts from the directory alone and follows a rotation.
    run(&env, &["secret", "put", "prod/hosts/web-1/discord"], Some(b"rotated-value"));
    let config = host.join("sync.toml").display().to_string();
    let (code, _, err) = run(&host_env, &["sync", "--config", &config, "--once"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(host.join("secrets/discord")).unwrap(), "rotated-value");
    assert_eq!(std::fs::read_to_string(host.join("secrets/db/password")).unwrap(), "db-pass");
    assert_private(&host);

    // The agent may use what the bundle holds, and nothing else.
    let key = std::fs::read_to_string(host.join("agent.key")).unwrap();
    let agent_env = common::key_env(&s, &at.join("agent-cfg"), key.trim());
    for outside in ["prod/hosts/web-10/other", "prod/hosts/web-1"] {
        let (code, _, _) = run(&agent_env, &["run", "--env", &format!("X={outside}"), "--", "true"], None);
        assert_ne!(code, 0, "{outside}: nothing but what the bundle holds");
    }
    assert_eq!(run(&env, &["secret", "get", "prod/hosts/web-1/once"], None).1, "read once", "no reading spent");

    // A second export for the same host name would leave two agents of one name.
    let (code, _, err) = run(
        &env,
        &[
            "bundle",
            "export",
            "--vault",
            "prod",
            "--prefix",
            "hosts/web-1",
            "--recipient",
            &recipient(at),
            "--agent",
            "web-1",
            "-o",
            &at.join("again.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("an agent named \"web-1\" exists"), "{err}");

    // Installing again (the same files, written by clawvault) is allowed.
    let (code, _, err) = run(
        &host_env,
        &[
            "bundle",
            "install",
            "--identity",
            &at.join("host.key").display().to_string(),
            "--dir",
            &host.display().to_string(),
            &at.join("web-1.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn archives_encrypted_by_the_age_command_install() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path();
    let env = env_of(&[("CLAWVAULT_CONFIG_DIR", &at.join("cfg").display().to_string())]);
    sh(
        "age-keygen -o k 2>/dev/null && mkdir -p src/secrets/bots && printf discord-hand > src/secrets/bots/discord && printf db > src/secrets/db",
        at,
    );
    for (name, make) in [
        ("zstd", "tar --zstd -cf - -C src . | age -r \"$(age-keygen -y k)\" > b.zstd"),
        ("plain", "tar -cf - -C src secrets | age -r \"$(age-keygen -y k)\" > b.plain"),
        ("armored", "tar --zstd -cf - -C src secrets | age -a -r \"$(age-keygen -y k)\" > b.armored"),
    ] {
        sh(make, at);
        let target = at.join(format!("out-{name}"));
        let (code, _, err) = run(
            &env,
            &[
                "bundle",
                "install",
                "-i",
                &at.join("k").display().to_string(),
                "--dir",
                &target.display().to_string(),
                &at.join(format!("b.{name}")).display().to_string(),
            ],
            None,
        );
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(std::fs::read_to_string(target.join("secrets/bots/discord")).unwrap(), "discord-hand", "{name}");
        assert_eq!(std::fs::read_to_string(target.join("secrets/db")).unwrap(), "db", "{name}");
        assert!(!target.join("sync.toml").exists(), "no agent, no daemon configuration");
        assert_private(&target);
    }
}

#[test]
fn wrong_keys_damage_and_hostile_entries_install_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path();
    let env = env_of(&[("CLAWVAULT_CONFIG_DIR", &at.join("cfg").display().to_string())]);
    sh(
        "age-keygen -o k 2>/dev/null && age-keygen -o other 2>/dev/null && R=$(age-keygen -y k) \
         && mkdir -p src/secrets src/sub && printf v > src/secrets/a && printf x > src/x \
         && tar --zstd -cf - -C src secrets | age -r $R > good && head -c 200 good > cut \
         && ln -s /etc/passwd src/secrets/link && tar --zstd -cf - -C src secrets | age -r $R > linked \
         && tar -P -cf - -C src/sub ../x | age -r $R > escaping",
        at,
    );
    for (bundle, key, needle) in [
        ("good", "other", "none of the given age identities opens it"),
        ("cut", "k", "damaged or truncated"),
        ("linked", "k", "a link"),
        ("escaping", "k", "`..`"),
        ("k", "k", "not an age-encrypted file"),
    ] {
        let target = at.join(format!("out-{bundle}"));
        let (code, _, err) = run(
            &env,
            &[
                "bundle",
                "install",
                "-i",
                &at.join(key).display().to_string(),
                "--dir",
                &target.display().to_string(),
                &at.join(bundle).display().to_string(),
            ],
            None,
        );
        assert_eq!(code, 9, "{bundle}: {err}");
        assert!(err.contains(needle) && err.contains(bundle), "{bundle}: {err}");
        assert!(!target.exists(), "{bundle}: nothing written");
    }
    // A secret that is also the folder of another cannot be two files: refused at export.
    let s = TestServer::start();
    let admin = admin_env(&s, &at.join("cfg-admin"));
    run(&admin, &["secret", "put", "default/h/a"], Some(b"a"));
    run(&admin, &["secret", "put", "default/h/a/b"], Some(b"b"));
    let (code, _, err) = run(
        &admin,
        &[
            "bundle",
            "export",
            "--vault",
            "default",
            "--prefix",
            "h",
            "--identity-out",
            &at.join("h.key").display().to_string(),
            "-o",
            &at.join("h.bundle").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("also the directory"), "{err}");
    assert!(!at.join("h.bundle").exists() && !at.join("h.key").exists(), "nothing written");

    // A directory others may write into is refused (they could swap files under it).
    let shared = at.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = run(
        &env,
        &[
            "bundle",
            "install",
            "-i",
            &at.join("k").display().to_string(),
            "--dir",
            &shared.display().to_string(),
            &at.join("good").display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("writable by no one else"), "{err}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}
