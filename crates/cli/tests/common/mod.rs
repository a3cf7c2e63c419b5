//! The integration harness: starts the real `clawvault` binary on a free loopback port with a
//! temporary data directory, and talks HTTP to it.

#![allow(dead_code, clippy::unwrap_used)]

pub mod audit_log;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_clawvault");

/// A running server.
pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub stdout: Vec<String>,
    pub admin_key: String,
    _dir: Option<tempfile::TempDir>,
    pub http: Client,
}

/// Options for starting a server.
#[derive(Default, Clone)]
pub struct Options {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl TestServer {
    /// A fresh server in a new temporary directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut s = Self::start_at(&data, &Options::default());
        s._dir = Some(dir);
        s
    }

    /// A fresh server with options.
    pub fn start_with(opts: &Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut s = Self::start_at(&data, opts);
        s._dir = Some(dir);
        s
    }

    /// A fresh server reading `toml` as its configuration file.
    pub fn start_with_config(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("clawvault.toml");
        std::fs::write(&config, toml).unwrap();
        let opts = Options { args: vec!["--config".into(), config.display().to_string()], env: vec![] };
        let mut s = Self::start_at(&dir.path().join("data"), &opts);
        s._dir = Some(dir);
        s
    }

    /// A server on an existing (or new) data directory; the caller keeps the directory.
    pub fn start_at(data_dir: &Path, opts: &Options) -> Self {
        Self::try_start_at(data_dir, opts).unwrap_or_else(|e| panic!("server did not start: {e}"))
    }

    /// Like [`start_at`], returning the failure text instead of panicking.
    pub fn try_start_at(data_dir: &Path, opts: &Options) -> Result<Self, String> {
        let opts = &on_storage_under_test(data_dir, opts);
        let log_file = data_dir.with_extension(format!("log.{}", std::process::id()));
        let log_file = unique(&log_file);
        let log = std::fs::File::create(&log_file).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("server").arg("--data-dir").arg(data_dir);
        // A port of its own unless the test fixes one (a server restarted where clients look).
        if !opts.args.iter().any(|a| a == "--listen") {
            cmd.arg("--listen").arg("127.0.0.1:0");
        }
        cmd.args(&opts.args);
        cmd.env_remove("CLAWVAULT_CONFIG").env_remove("CLAWVAULT_LOG").env("NO_COLOR", "1");
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(log)).stdin(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let found = line.split("listening on ").nth(1).map(str::to_owned);
                    lines.push(line);
                    if let Some(url) = found {
                        break url;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
                    return Err(format!("exit {status:?}; stdout {lines:?}; log:\n{log}"));
                }
            }
        };
        // Collect the rest of the banner (the admin key lines, on first start).
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
        let admin_key = std::fs::read_to_string(data_dir.join("admin-key")).unwrap_or_default().trim().to_owned();
        let http =
            Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(30)).build().unwrap();
        Ok(Self {
            child: Some(child),
            base,
            data_dir: data_dir.to_path_buf(),
            log_file,
            stdout: lines,
            admin_key,
            _dir: None,
            http,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Exchanges an API key for a token.
    pub fn token_for(&self, key: &str) -> String {
        let r = self.http.post(self.url("/v1/auth/api-key-token")).json(&json!({ "api_key": key })).send().unwrap();
        assert_eq!(r.status(), 200, "token exchange failed");
        r.json::<Value>().unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    /// An admin token.
    pub fn admin_token(&self) -> String {
        self.token_for(&self.admin_key)
    }

    pub fn get(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    pub fn put(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.put(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(token)
    }

    /// Creates a vault and returns its id.
    pub fn vault(&self, token: &str, name: &str) -> String {
        let r = self.post(token, "/v1/vaults").json(&json!({ "name": name })).send().unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// Writes a secret value.
    pub fn put_secret(&self, token: &str, vault: &str, path: &str, value: &str) -> Value {
        let r = self
            .put(token, &format!("/v1/vaults/{vault}/secrets/{path}"))
            .json(&json!({ "value": value }))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
        r.json().unwrap()
    }

    /// Creates an agent as `by`; returns its id and `ocv_` key.
    pub fn new_agent(&self, by: &str, body: Value) -> (String, String) {
        let r = self.post(by, "/v1/agents").json(&body).send().unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
        let v: Value = r.json().unwrap();
        (v["agent"]["id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned())
    }

    /// Exchanges an agent key for its token.
    pub fn agent_token(&self, key: &str) -> String {
        let r = self.http.post(self.url("/v1/auth/agent-token")).json(&json!({ "api_key": key })).send().unwrap();
        assert_eq!(r.status(), 200, "agent token exchange failed: {}", r.text().unwrap_or_default());
        r.json::<Value>().unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    /// Creates a user (as an admin); returns their id and `1ck_` key.
    pub fn new_user(&self, admin: &str, name: &str, role: &str) -> (String, String) {
        let r = self.post(admin, "/v1/users").json(&json!({ "name": name, "role": role })).send().unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
        let v: Value = r.json().unwrap();
        (v["user"]["id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned())
    }

    /// Creates a policy in `vault` for `(principal_type, principal_id)`; `extra` adds fields
    /// (effect, conditions, expires_at). Returns its id.
    pub fn grant(
        &self,
        by: &str,
        vault: &str,
        who: (&str, &str),
        pattern: &str,
        perms: &[&str],
        extra: Value,
    ) -> String {
        let mut body = json!({ "principal_type": who.0, "principal_id": who.1, "secret_path_pattern": pattern, "permissions": perms });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post(by, &format!("/v1/vaults/{vault}/policies")).json(&body).send().unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
        r.json::<Value>().unwrap()["id"].as_str().unwrap().to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let status = wait_timeout(&mut child, Duration::from_secs(30));
        status.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("server did not stop within 30 s of SIGTERM")
        })
    }

    /// Kills the server at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

/// Whether `CLAWVAULT_TEST_STORAGE=postgres` asks for every server on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("CLAWVAULT_TEST_STORAGE").is_ok_and(|s| s == "postgres")
}

/// A fresh PostgreSQL database that outlives this process, by URL.
pub fn new_database() -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(clawvault_store_postgres::testing::TestDatabase::create()).keep()
}

/// Two servers on one fresh PostgreSQL database, in `dir/r0` and `dir/r1` (the second with
/// the first's root key): the database's URL (for [`drop_database`]) and the two servers.
pub fn two_replicas(dir: &Path) -> (String, TestServer, TestServer) {
    let url = new_database();
    let opts = Options {
        args: vec!["--storage".into(), "postgres".into()],
        env: vec![("CLAWVAULT_DATABASE_URL".into(), url.clone())],
    };
    let r0 = TestServer::start_at(&dir.join("r0"), &opts);
    let r1_dir = dir.join("r1");
    std::fs::create_dir(&r1_dir).unwrap();
    std::fs::copy(dir.join("r0/root.key"), r1_dir.join("root.key")).unwrap();
    let r1 = TestServer::start_at(&r1_dir, &opts);
    (url, r0, r1)
}

/// Drops a database made by [`new_database`], cutting off its connections.
pub fn drop_database(url: &str) {
    let (admin_base, name) = url.rsplit_once('/').unwrap();
    let admin = std::env::var("CLAWVAULT_TEST_PG_URL").unwrap_or_else(|_| format!("{admin_base}/postgres"));
    let out =
        Command::new("psql").arg(&admin).arg("-qc").arg(format!("DROP DATABASE {name} WITH (FORCE)")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The PostgreSQL database a test server on `data_dir` uses, if any.
pub fn database_of(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.with_extension("database-url")).ok()
}

/// On PostgreSQL: one database per data directory (a restart on the same directory finds its
/// data), remembered in a file beside the directory, unless the caller named one.
fn on_storage_under_test(data_dir: &Path, opts: &Options) -> Options {
    let named = opts.env.iter().any(|(k, _)| k == "CLAWVAULT_DATABASE_URL");
    if !on_postgres() || named {
        return opts.clone();
    }
    let marker = data_dir.with_extension("database-url");
    let url = std::fs::read_to_string(&marker).unwrap_or_else(|_| {
        let url = new_database();
        std::fs::write(&marker, &url).unwrap();
        url
    });
    let mut opts = opts.clone();
    opts.args.extend(["--storage".to_owned(), "postgres".to_owned()]);
    opts.env.push(("CLAWVAULT_DATABASE_URL".to_owned(), url));
    opts
}

fn unique(p: &Path) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = PathBuf::from(format!("{}.{n}", p.display()));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log_file);
    }
}

/// Asserts an RFC 7807 problem with `status` whose detail contains `needle`.
pub fn assert_problem(r: Response, status: u16, needle: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "wrong status");
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], "about:blank");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(needle), "detail {detail:?} lacks {needle:?}");
    body
}

/// Where the CLI finds settings of the machine running the tests; [`cli`] hides them all.
const CLIENT_SETTINGS: [&str; 9] = [
    "CLAWVAULT_ADDR",
    "CLAWVAULT_API_KEY",
    "CLAWVAULT_API_KEY_FILE",
    "CLAWVAULT_CACERT",
    "CLAWVAULT_PROFILE",
    "CLAWVAULT_DATA_DIR",
    "CLAWVAULT_CONFIG_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
];

/// A home directory of its own for every CLI the tests run, so that neither a profile nor a
/// local server of the machine running them is ever found.
fn empty_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The CLI with `args`, the given environment, and none of the machine's client settings.
pub fn cli_command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    hermetic(&mut cmd, env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// An empty home, none of the machine's client settings, then `env`.
fn hermetic<'a>(cmd: &mut Command, env: impl IntoIterator<Item = (&'a str, &'a str)>) {
    cmd.env("HOME", empty_home());
    for name in CLIENT_SETTINGS {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
}

/// Runs the CLI with the given environment, and none of the machine's client settings.
pub fn cli(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> std::process::Output {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mut cmd = cli_command(args, &env);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs a `sh -c` script with the built `clawvault` first on its PATH, the given environment,
/// and none of the machine's client settings.
pub fn shell(script: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).env("PATH", path);
    hermetic(&mut cmd, env.iter().copied());
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// The CLI environment of an admin using the key the server wrote.
pub fn admin_env(s: &TestServer, config_dir: &Path) -> Vec<(String, String)> {
    vec![
        ("CLAWVAULT_ADDR".into(), s.base.clone()),
        ("CLAWVAULT_API_KEY_FILE".into(), s.data_dir.join("admin-key").display().to_string()),
        ("CLAWVAULT_CONFIG_DIR".into(), config_dir.display().to_string()),
    ]
}

/// The CLI environment of whoever holds `key` (an agent's `ocv_` or a user's `1ck_`).
pub fn key_env(s: &TestServer, config_dir: &Path, key: &str) -> Vec<(String, String)> {
    vec![
        ("CLAWVAULT_ADDR".into(), s.base.clone()),
        ("CLAWVAULT_API_KEY".into(), key.to_owned()),
        ("CLAWVAULT_CONFIG_DIR".into(), config_dir.display().to_string()),
    ]
}

/// A CLI environment from `(name, value)` pairs.
pub fn env_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Runs the CLI: exit code, stdout, stderr.
pub fn run(env: &[(String, String)], args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = cli(args, &env, stdin);
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// The one key in a command's output, checking the warning that comes with it.
pub fn key_in(out: &str, prefix: &str) -> String {
    assert!(out.contains("Store this key now; it is never shown again"), "{out}");
    let keys: Vec<&str> = out.split_whitespace().filter(|w| w.starts_with(prefix)).collect();
    assert_eq!(keys.len(), 1, "the key is printed exactly once: {out}");
    keys[0].to_owned()
}

/// Sends one HTTP/1.1 request over a plain socket, byte for byte (HTTP clients normalise
/// `..` segments away; attackers do not). Returns the status and body.
pub fn raw_request(base: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// An agent's Ed25519 key pair for enrollment, with its public key as an `ssh-ed25519` line.
pub struct EnrollmentKey {
    pair: aws_lc_rs::signature::Ed25519KeyPair,
    pub ssh_line: String,
}

impl EnrollmentKey {
    pub fn generate() -> Self {
        use aws_lc_rs::signature::KeyPair;
        use base64::Engine as _;
        let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
        let mut blob = Vec::new();
        for part in [b"ssh-ed25519".as_slice(), pair.public_key().as_ref()] {
            blob.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            blob.extend_from_slice(part);
        }
        let ssh_line = format!("ssh-ed25519 {} bot@host", base64::engine::general_purpose::STANDARD.encode(blob));
        Self { pair, ssh_line }
    }

    /// The proof of possession for `pairing`: base64 of the signature of
    /// `clawvault-enrollment:v1:<pairing>`.
    pub fn sign(&self, pairing: &str) -> String {
        use base64::Engine as _;
        let sig = self.pair.sign(format!("clawvault-enrollment:v1:{pairing}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }
}

/// Runs openssl with `args`, panicking with its output when it fails.
pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The recipe of docs/operations.md: one self-signed certificate for `san`
/// (`DNS:localhost,IP:127.0.0.1`), as `cert.pem` and `key.pem` in `dir`. OpenSSL marks it a
/// CA, which WebPKI refuses as a server's own; the CLI trusts it pinned.
pub fn self_signed(dir: &Path, san: &str) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem").display().to_string(), dir.join("key.pem").display().to_string());
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-days",
        "30",
        "-subj",
        "/CN=clawvault",
        "-addext",
        &format!("subjectAltName={san}"),
    ]);
    (cert, key)
}

/// A private CA (`ca.pem`) and a server certificate it signed for `san` (`leaf.pem`,
/// `leaf.key`) in `dir`: returns the three paths.
pub fn ca_and_leaf(dir: &Path, san: &str) -> (String, String, String) {
    let d = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        d("leaf.ext"),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    let (ca_key, ca_pem, leaf_key, csr, leaf) = (d("ca.key"), d("ca.pem"), d("leaf.key"), d("leaf.csr"), d("leaf.pem"));
    ca.extend(["-days", "2", "-subj", "/CN=clawvault test CA", "-keyout", &ca_key, "-out", &ca_pem]);
    openssl(&ca);
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend(["-subj", "/CN=clawvault test server", "-keyout", &leaf_key, "-out", &csr]);
    openssl(&req);
    let ext = d("leaf.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &ext,
        "-out",
        &leaf,
    ]);
    (ca_pem, leaf, leaf_key)
}

/// A server speaking TLS with `cert` and `key`.
pub fn tls_server(cert: &str, key: &str) -> TestServer {
    let opts = Options { args: vec!["--tls-cert".into(), cert.into(), "--tls-key".into(), key.into()], env: vec![] };
    let s = TestServer::start_with(&opts);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    s
}

/// Polls `done` until it holds, failing the test after `secs` seconds naming `what`.
pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
