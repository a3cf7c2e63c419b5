//! `clawvault import agenix` and `import k8s-secret` against the real server: files written by
//! the real `age` command (binary and armored) and kubectl-shaped manifests (YAML documents and
//! a JSON List) imported, every value read back, a re-run that changes nothing; a wrong identity
//! or a document that is not a Secret stops the import before anything is written, named.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, admin_env, run, shell};

fn get(env: &[(String, String)], reference: &str) -> String {
    let (code, out, err) = run(env, &["secret", "get", reference], None);
    assert_eq!(code, 0, "{reference}: {err}");
    out
}

#[test]
fn agenix_files_are_imported_and_imported_again_without_change() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let at = home.path();
    let env = admin_env(&s, &at.join("cfg"));
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    let made = shell(
        &format!(
            "cd '{}' && age-keygen -o host.key 2>/dev/null && age-keygen -o other.key 2>/dev/null && R=$(age-keygen -y host.key) \
             && mkdir secrets && printf 'agenix-canary-51d0' | age -r $R > secrets/discord-token.age \
             && printf 'line one\\nline two\\n' | age -a -r $R > secrets/bot.env.age",
            at.display()
        ),
        &[],
    );
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let key = at.join("host.key").display().to_string();
    let files = [
        at.join("secrets/discord-token.age").display().to_string(),
        at.join("secrets/bot.env.age").display().to_string(),
    ];
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["import", "agenix", "--identity", &key].iter().map(|s| (*s).to_owned()).collect();
        a.extend(files.iter().cloned());
        a.extend(["--vault", "prod", "--prefix", "hosts/web-1"].iter().map(|s| (*s).to_owned()));
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let call = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&env, &refs, None)
    };

    let (code, out, err) = call(&["--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Dry run: 2 to create, 0 to change, 0 unchanged"), "{out}");
    assert!(out.contains("prod/hosts/web-1/discord-token") && out.contains("prod/hosts/web-1/bot.env"), "{out}");
    assert!(!out.contains("agenix-canary"), "{out}");
    assert_eq!(run(&env, &["secret", "get", "prod/hosts/web-1/discord-token"], None).0, 6, "nothing written");

    let (code, out, err) = call(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Imported: 2 created"), "{out}");
    assert_eq!(get(&env, "prod/hosts/web-1/discord-token"), "agenix-canary-51d0");
    assert_eq!(get(&env, "prod/hosts/web-1/bot.env"), "line one\nline two\n");
    let (code, out, _) = call(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("Imported: 0 created, 0 changed, 2 unchanged."), "{out}");

    // A key that opens neither file: named, nothing written.
    let (code, _, err) = run(
        &env,
        &[
            "import",
            "agenix",
            "--identity",
            &at.join("other.key").display().to_string(),
            &files[0],
            "--vault",
            "prod",
            "--prefix",
            "elsewhere",
        ],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("discord-token.age") && err.contains("none of the given age identities"), "{err}");
    assert_eq!(run(&env, &["secret", "list", "prod", "--prefix", "elsewhere", "--json"], None).1.trim(), "[]");
}

const MANIFESTS: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: bot-tokens
  namespace: bots
type: Opaque
data:
  DISCORD_TOKEN: azhzLWNhbmFyeS0wYjQy
  MULTI: bGluZSAxCmxpbmUgMgo=
stringData:
  PLAIN: plain text value
---
apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: cEBzcw==
";

const LIST: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry"},
   "data": {"token": "cmVnLXRva2Vu"}}
]}"#;

#[test]
fn kubernetes_secrets_are_imported_and_imported_again_without_change() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let at = home.path();
    let env = admin_env(&s, &at.join("cfg"));
    assert_eq!(run(&env, &["vault", "create", "prod"], None).0, 0);
    std::fs::write(at.join("secrets.yaml"), MANIFESTS).unwrap();
    std::fs::write(at.join("list.json"), LIST).unwrap();
    let yaml = at.join("secrets.yaml").display().to_string();
    let json = at.join("list.json").display().to_string();

    let (code, out, err) =
        run(&env, &["import", "k8s-secret", &yaml, &json, "--vault", "prod", "--prefix", "k8s", "--dry-run"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Dry run: 5 to create"), "{out}");
    assert!(out.contains("prod/k8s/bot-tokens/DISCORD_TOKEN") && out.contains("secrets.yaml:8"), "{out}");
    assert!(!out.contains("k8s-canary"), "{out}");

    let (code, out, err) =
        run(&env, &["import", "k8s-secret", &yaml, &json, "--vault", "prod", "--prefix", "k8s"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Imported: 5 created"), "{out}");
    assert_eq!(get(&env, "prod/k8s/bot-tokens/DISCORD_TOKEN"), "k8s-canary-0b42");
    assert_eq!(get(&env, "prod/k8s/bot-tokens/MULTI"), "line 1\nline 2\n");
    assert_eq!(get(&env, "prod/k8s/bot-tokens/PLAIN"), "plain text value");
    assert_eq!(get(&env, "prod/k8s/db/password"), "p@ss");
    assert_eq!(get(&env, "prod/k8s/registry/token"), "reg-token");
    let (_, out, _) = run(&env, &["import", "k8s-secret", &yaml, &json, "--vault", "prod", "--prefix", "k8s"], None);
    assert!(out.contains("Imported: 0 created, 0 changed, 5 unchanged."), "{out}");

    // A ConfigMap among the Secrets: named with its line, nothing written.
    std::fs::write(
        at.join("mixed.yaml"),
        format!("{MANIFESTS}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"),
    )
    .unwrap();
    let (code, _, err) = run(
        &env,
        &["import", "k8s-secret", &at.join("mixed.yaml").display().to_string(), "--vault", "prod", "--prefix", "mixed"],
        None,
    );
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("mixed.yaml: line 21") && err.contains("ConfigMap"), "{err}");
    assert_eq!(run(&env, &["secret", "list", "prod", "--prefix", "mixed", "--json"], None).1.trim(), "[]");
}
