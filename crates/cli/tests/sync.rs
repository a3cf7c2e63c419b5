//! `clawvault sync` with real processes against the real server, as an agent that may only
//! `use` its secrets: a hundred files written with their mode; a rotation rewrites only its
//! file and runs only its `on_change`, and the fleet view shows the new version held; the
//! server killed and started again, the files stay and the daemon catches up; the daemon
//! started while the server is down renders from its encrypted offline cache; `--once`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Options, TestServer, cli_command, wait_for};
use serde_json::json;

const FILES: usize = 100;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn value(i: usize, round: usize) -> String {
    format!("cvcanary-sync-{i:03}-round-{round}")
}

fn changes(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).map(|t| t.lines().map(str::to_owned).collect()).unwrap_or_default()
}

struct Host {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Host {
    fn out(&self, i: usize) -> PathBuf {
        self.dir.path().join("out").join(format!("s{i:03}"))
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("changes.log")
    }

    fn daemon(&self, extra: &[&str]) -> Child {
        let config = self.config.to_str().unwrap().to_owned();
        let mut args = vec!["sync", "--config", &config];
        args.extend_from_slice(extra);
        cli_command(&args, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }
}

fn stop(child: &mut Child) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let _ = child.wait();
}

fn host(s: &TestServer, key: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("agent.key");
    std::fs::write(&key_file, key).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = format!(
        "address = \"{}\"\nkey_file = \"{}\"\ncache_dir = \"{}\"\n",
        s.base,
        key_file.display(),
        dir.path().join("cache").display()
    );
    let log = dir.path().join("changes.log");
    for i in 0..FILES {
        config.push_str(&format!(
            "[[file]]\npath = \"{}\"\nsecret = \"prod/files/s{i:03}\"\nmode = \"0400\"\non_change = \"echo s{i:03} >> {}\"\n",
            dir.path().join("out").join(format!("s{i:03}")).display(),
            log.display()
        ));
    }
    let path = dir.path().join("sync.toml");
    std::fs::write(&path, config).unwrap();
    Host { dir, config: path }
}

#[test]
fn sync_keeps_files_rewrites_only_what_changed_and_survives_the_server_going_away() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let opts = Options { args: vec!["--listen".into(), format!("127.0.0.1:{port}")], env: vec![] };
    let mut s = TestServer::start_at(&data, &opts);
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    for i in 0..FILES {
        s.put_secret(&admin, &v, &format!("files/s{i:03}"), &value(i, 1));
    }
    let (agent_id, key) = s.new_agent(&admin, json!({ "name": "web-host" }));
    s.grant(&admin, &v, ("agent", &agent_id), "files/**", &["use"], json!({}));
    let h = host(&s, &key);

    // --once renders everything and exits.
    let status = h.daemon(&["--once"]).wait().unwrap();
    assert!(status.success());
    assert_eq!(changes(&h.log()).len(), FILES, "each new file runs its on_change once");
    for i in 0..FILES {
        assert_eq!(std::fs::read_to_string(h.out(i)).unwrap(), value(i, 1));
        assert_eq!(std::fs::metadata(h.out(i)).unwrap().permissions().mode() & 0o777, 0o400);
    }

    // The daemon: nothing changed, so nothing is rewritten and no on_change runs.
    let mut daemon = h.daemon(&[]);
    let untouched = std::fs::metadata(h.out(7)).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(changes(&h.log()).len(), FILES);

    // A rotation rewrites its file only and runs its on_change only.
    let r = s
        .post(&admin, &format!("/v1/vaults/{v}/secret-rotate/files/s042"))
        .json(&json!({"value": value(42, 2)}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_for("s042 rewritten", 10, || std::fs::read_to_string(h.out(42)).unwrap_or_default() == value(42, 2));
    wait_for("its on_change", 10, || changes(&h.log()).len() == FILES + 1);
    assert_eq!(changes(&h.log()).last().unwrap(), "s042");
    let again = std::fs::metadata(h.out(7)).unwrap();
    assert_eq!((again.ino(), again.mtime_nsec()), (untouched.ino(), untouched.mtime_nsec()), "s007 untouched");

    // The fleet view shows the new version held.
    wait_for("the acknowledgement", 10, || {
        let rows: serde_json::Value =
            s.get(&admin, "/v1/consumers?vault=prod&path=files/s042").send().unwrap().json().unwrap();
        rows["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["consumer"] == "sync" && r["version"] == 2 && r["stale"] == false)
    });

    // The server is killed and comes back: files stay, the daemon catches up.
    s.kill();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read_to_string(h.out(3)).unwrap(), value(3, 1), "files stay while the server is down");
    let s = TestServer::start_at(&data, &opts);
    let admin = s.admin_token();
    s.put_secret(&admin, &v, "files/s007", &value(7, 2));
    wait_for("the daemon to catch up after the restart", 60, || {
        std::fs::read_to_string(h.out(7)).unwrap_or_default() == value(7, 2)
    });
    stop(&mut daemon);

    // Started while the server is down: the outputs come from the offline cache.
    let mut s = s;
    s.stop();
    std::fs::remove_file(h.out(1)).unwrap();
    let mut cached = h.daemon(&[]);
    wait_for("the file from the cache", 10, || std::fs::read_to_string(h.out(1)).unwrap_or_default() == value(1, 1));
    assert_eq!(std::fs::read_to_string(h.out(7)).unwrap(), value(7, 2));
    stop(&mut cached);
    let sealed = std::fs::read(h.dir.path().join("cache/sync-cache.sealed")).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("cvcanary"), "the cache is encrypted");
}

/// Connects to `socket` as systemd's `LoadCredential=` does: from an abstract socket named
/// `<random>/unit/<UNIT>/<ID>`; returns what the daemon sends before it closes.
fn load_credential(socket: &Path, unit: &str, id: &str) -> Vec<u8> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
    use std::io::Read as _;
    let fd = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    let name = format!("{:016x}/unit/{unit}/{id}", rand_u64());
    rustix::net::bind(&fd, &SocketAddrUnix::new_abstract_name(name.as_bytes()).unwrap()).unwrap();
    rustix::net::connect(&fd, &SocketAddrUnix::new(socket).unwrap()).unwrap();
    let mut stream = std::os::unix::net::UnixStream::from(fd);
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    got
}

fn rand_u64() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        ^ u64::from(std::process::id())
}

#[test]
fn the_credential_socket_answers_only_the_unit_a_credential_is_mapped_to() {
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", "cvcanary-credential-1");
    let (agent_id, key) = s.new_agent(&admin, json!({ "name": "host" }));
    s.grant(&admin, &v, ("agent", &agent_id), "bots/**", &["use"], json!({}));
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("agent.key");
    std::fs::write(&key_file, &key).unwrap();
    let socket = dir.path().join("run/credentials.sock");
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        format!(
            "address = \"{}\"\nkey_file = \"{}\"\ncache_dir = \"{}\"\ncredential_socket = \"{}\"\n\
             [[credential]]\nunit = \"discord-bot.service\"\nid = \"discord-token\"\nsecret = \"prod/bots/discord\"\n",
            s.base,
            key_file.display(),
            dir.path().join("cache").display(),
            socket.display()
        ),
    )
    .unwrap();
    let mut daemon = cli_command(&["sync", "--config", config.to_str().unwrap()], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the socket", 10, || socket.exists());
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    wait_for("the credential", 10, || {
        load_credential(&socket, "discord-bot.service", "discord-token") == b"cvcanary-credential-1"
    });
    assert!(load_credential(&socket, "other.service", "discord-token").is_empty(), "another unit gets nothing");
    assert!(load_credential(&socket, "discord-bot.service", "other-id").is_empty(), "another id gets nothing");
    // A rotation reaches the next unit start.
    s.put_secret(&admin, &v, "bots/discord", "cvcanary-credential-2");
    wait_for("the rotated credential", 10, || {
        load_credential(&socket, "discord-bot.service", "discord-token") == b"cvcanary-credential-2"
    });
    assert!(
        !dir.path().join("run").read_dir().unwrap().any(|e| e.unwrap().file_name() != "credentials.sock"),
        "no file on disk"
    );
    stop(&mut daemon);
}

#[test]
/// Needs root (only root may give a file away), as the daemon on a host and CI run.
fn files_get_the_owner_and_group_they_name() {
    assert_eq!(rustix::process::getuid().as_raw(), 0, "run as root: only root may give a file to another user");
    let s = TestServer::start();
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "bots/discord", "cvcanary-owned");
    let (agent_id, key) = s.new_agent(&admin, json!({ "name": "host" }));
    s.grant(&admin, &v, ("agent", &agent_id), "bots/**", &["use"], json!({}));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.key"), &key).unwrap();
    let out = dir.path().join("out/token");
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        format!(
            "address = \"{}\"\nkey_file = \"{}\"\ncache_dir = \"{}\"\n[[file]]\npath = \"{}\"\nsecret = \"prod/bots/discord\"\nowner = \"nobody\"\ngroup = \"nogroup\"\nmode = \"0440\"\n",
            s.base,
            dir.path().join("agent.key").display(),
            dir.path().join("cache").display(),
            out.display()
        ),
    )
    .unwrap();
    let status = cli_command(&["sync", "--config", config.to_str().unwrap(), "--once"], &[]).status().unwrap();
    assert!(status.success());
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o777), (65534, 65534, 0o440));
}
