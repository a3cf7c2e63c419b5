//! `clawvault share`: link shares with a passphrase and a read limit, shares addressed to an
//! agent or a user, revocation, and credentials never sent to a link's foreign server.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use common::{TestServer, admin_env, key_env, key_in, run};
use serde_json::Value;

const VALUE: &str = "pg-password-canary-7f3a";

/// Someone with no key at all (and no local admin key to fall back on).
fn anonymous_env(s: &TestServer, dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("CLAWVAULT_ADDR".into(), s.base.clone()),
        ("CLAWVAULT_CONFIG_DIR".into(), dir.display().to_string()),
        ("CLAWVAULT_DATA_DIR".into(), dir.display().to_string()),
    ]
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap()
}

#[test]
fn link_share_with_passphrase_and_read_limit() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = admin_env(&s, cfg.path());
    let (code, _, err) = run(&admin, &["secret", "put", "default/db/password"], Some(VALUE.as_bytes()));
    assert_eq!(code, 0, "{err}");
    let pass = cfg.path().join("pass");
    std::fs::write(&pass, "correct horse battery\n").unwrap();
    let pass = pass.display().to_string();

    let (code, out, err) = run(
        &admin,
        &["share", "create", "default/db/password", "--anyone", "--max-reads", "2", "--passphrase-file", &pass],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Shared default/db/password with anyone with the link.\n"), "{out}");
    assert!(out.contains("passphrase:  required") && out.contains("reads:       at most 2"), "{out}");
    let link = out.lines().find_map(|l| l.strip_prefix("link:")).unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("{}/v1/share/", s.base)), "{link}");
    let id = link.rsplit('/').next().unwrap().to_owned();
    assert!(!out.contains(VALUE) && !err.contains(VALUE));

    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger = anonymous_env(&s, stranger_dir.path());
    let (code, out, err) = run(&stranger, &["share", "open", &link], None);
    assert_eq!((code, out.as_str()), (5, ""), "no passphrase: {err}");
    assert!(err.contains("passphrase"), "{err}");
    let (code, _, err) = run(&stranger, &["share", "open", &link, "--passphrase"], Some(b"wrong guess\n"));
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("wrong passphrase"), "{err}");

    // The passphrase from stdin, then from a file; the trailing newlines are not part of it.
    let (code, out, err) = run(&stranger, &["share", "open", &link, "--passphrase"], Some(b"correct horse battery\n"));
    assert_eq!((code, out.as_str()), (0, VALUE), "{err}");
    assert!(err.contains("opened 1 of 2 allowed times"), "{err}");
    let (code, out, err) = run(&stranger, &["share", "open", &id, "--passphrase-file", &pass, "--json"], None);
    assert_eq!(code, 0, "{err}");
    let opened = json(&out);
    assert_eq!((opened["value"].as_str(), opened["access_count"].as_i64()), (Some(VALUE), Some(2)));
    let (code, out, err) = run(&stranger, &["share", "open", &id, "--passphrase-file", &pass], None);
    assert_eq!((code, out.as_str()), (7, ""), "used up: {err}");
    assert!(err.contains("opened its 2 allowed times"), "{err}");

    let (code, out, err) = run(&admin, &["share", "list"], None);
    assert_eq!(code, 0, "{err}");
    let row = out.lines().find(|l| l.starts_with(&id)).unwrap();
    for cell in ["db/password", "anyone with the link", "2/2", "used up"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }

    // Refused before anything is sent.
    let (code, _, err) = run(&admin, &["share", "create", "default/db/password", "--anyone", "--max-reads", "0"], None);
    assert_eq!(code, 9, "{err}");
    let (code, _, err) = run(&admin, &["share", "create", "default/db/password", "--anyone", "--agent", "x"], None);
    assert_eq!(code, 2, "one recipient only: {err}");
    let (code, _, err) = run(&admin, &["share", "create", "default/nope", "--anyone"], None);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("clawvault secret list default"), "{err}");
    let (code, _, err) = run(&stranger, &["share", "open", "not-a-share"], None);
    assert_eq!(code, 9, "{err}");
    let (code, out, _) = run(&admin, &["share", "list", "--json"], None);
    assert_eq!((code, json(&out).as_array().unwrap().len()), (0, 1), "no partial share was created");
}

#[test]
fn shares_for_agents_and_their_creator() {
    let s = TestServer::start();
    let cfg = tempfile::tempdir().unwrap();
    let admin = admin_env(&s, cfg.path());
    let (code, _, err) = run(&admin, &["secret", "put", "default/release/token"], Some(VALUE.as_bytes()));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&admin, &["agent", "create", "release-bot"], None);
    let bot = key_env(&s, cfg.path(), &key_in(&out, "ocv_"));
    let (_, out, _) = run(&admin, &["agent", "create", "other-bot"], None);
    let other = key_env(&s, cfg.path(), &key_in(&out, "ocv_"));

    let (code, out, err) =
        run(&admin, &["share", "create", "default/release/token", "--agent", "release-bot", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let created = json(&out);
    let id = created["id"].as_str().unwrap().to_owned();
    let link = created["share_url"].as_str().unwrap().to_owned();

    let (code, out, err) = run(&bot, &["share", "list", "--inbound"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with(&id) && l.ends_with("pending")), "{out}");
    let (code, out, err) = run(&other, &["share", "open", &id], None);
    assert_eq!((code, out.as_str()), (6, ""), "not addressed to other-bot: {err}");

    // A link naming another server is opened without the configured key: it reaches the same
    // server under another name here, which then sees no recipient and refuses.
    let foreign = link.replace("127.0.0.1", "localhost");
    assert_ne!(foreign, link);
    let (code, out, err) = run(&bot, &["share", "open", &foreign], None);
    assert_eq!((code, out.as_str()), (6, ""), "sent anonymously: {err}");

    // Opening is consent: the share is accepted on the way.
    let (code, out, err) = run(&bot, &["share", "open", &link], None);
    assert_eq!((code, out.as_str()), (0, VALUE), "{err}");
    assert!(err.contains(&format!("Accepted share {id}")), "{err}");
    let (code, out, _) = run(&bot, &["share", "open", &id], None);
    assert_eq!((code, out.as_str()), (0, VALUE));

    let (code, out, err) = run(&other, &["share", "revoke", &id], None);
    assert_eq!((code, out.as_str()), (6, ""), "only its creator revokes it: {err}");
    let (code, out, err) = run(&admin, &["share", "revoke", &id], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("Revoked share {id}: it no longer opens.\n"));
    let (code, _, err) = run(&bot, &["share", "open", &id], None);
    assert_eq!(code, 6, "revoked: {err}");

    // An agent hands a value to the user who created it, once it may share.
    let (code, _, err) = run(&bot, &["share", "create", "default/release/token", "--creator"], None);
    assert_eq!(code, 5, "no permission yet: {err}");
    let (code, _, err) = run(
        &admin,
        &["policy", "grant", "default", "--agent", "release-bot", "--path", "release/*", "--permission", "list"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&bot, &["share", "create", "default/release/token", "--creator"], None);
    assert_eq!(code, 5, "list alone does not allow sharing: {err}");
    let (code, _, err) = run(
        &admin,
        &["policy", "grant", "default", "--agent", "release-bot", "--path", "release/*", "--permission", "share"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&bot, &["share", "create", "default/release/token", "--creator"], None);
    assert_eq!(code, 5, "sharing reveals, so it needs read as well: {err}");
    let (code, _, err) = run(
        &admin,
        &["policy", "grant", "default", "--agent", "release-bot", "--path", "release/*", "--permission", "read"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&bot, &["share", "create", "default/release/token", "--creator", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let back = json(&out)["id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(&admin, &["share", "accept", &back, "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["accepted"].as_str(), Some(back.as_str()));
    let (code, out, err) = run(&admin, &["share", "open", &back], None);
    assert_eq!((code, out.as_str()), (0, VALUE), "{err}");
    assert!(!err.contains("Accepted"), "already accepted: {err}");

    // A declined share stays closed: neither `accept` nor `open` (which accepts on the way)
    // brings it back.
    let (code, out, err) = run(&bot, &["share", "create", "default/release/token", "--creator", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let declined = json(&out)["id"].as_str().unwrap().to_owned();
    let (code, out, err) = run(&admin, &["share", "decline", &declined], None);
    assert_eq!((code, out), (0, format!("Declined share {declined}.\n")), "{err}");
    let (code, _, err) = run(&admin, &["share", "open", &declined], None);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("you declined this share"), "{err}");
    let (code, _, err) = run(&admin, &["share", "accept", &declined], None);
    assert_eq!(code, 7, "{err}");
    let (_, out, _) = run(&admin, &["share", "list", "--inbound"], None);
    assert!(out.lines().any(|l| l.starts_with(&declined) && l.ends_with("declined")), "{out}");
}
