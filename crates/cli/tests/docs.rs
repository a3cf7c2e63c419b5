//! The docs cannot drift from the binary: every fenced `sh` block in README.md and docs/*.md
//! runs, as written, against the real `clawvault` (the blocks of one page in order, as one
//! script under `set -euo pipefail`, in an empty home directory and working directory). A
//! block that cannot run here says so with `sh no-run` (a 12-minute benchmark, a Kubernetes
//! cluster); any other fence language is not a shell snippet. And the README's test command
//! names what it lacks at once instead of failing halfway.
//!
//! The snippets use the default address 127.0.0.1:8420 (and 8421), as a reader would: the
//! pages run one after another, and each page's servers are stopped before the next starts.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The pages whose snippets run: the README, then docs/*.md by name.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    std::iter::once(repo().join("README.md")).chain(docs).collect()
}

/// One fenced block: the line its fence opens on, its info string, its text.
struct Block {
    line: usize,
    info: String,
    text: String,
}

fn blocks(page: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in page.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some(Block { line: i + 1, info: info.trim().to_owned(), text: String::new() }),
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed fence");
    out
}

/// Stops every process the page's script left (its process group), and waits until they are
/// gone so that the next page finds its ports free.
fn stop_group(pgid: u32) {
    let group = format!("-{pgid}");
    let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let alive = Command::new("kill").args(["-0", "--", &group]).stderr(Stdio::null()).status();
        if !alive.is_ok_and(|s| s.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
}

/// Runs `script` as a reader would, in a fresh home and working directory.
fn run_page(name: &str, script: &str) {
    let root = tempfile::tempdir().unwrap();
    let (home, work) = (root.path().join("home"), root.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env_clear()
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .current_dir(&work)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    stop_group(pgid);
    let out = child.wait_with_output().unwrap();
    let shown = format!(
        "{name}: {status:?}\n--- stdout\n{}\n--- stderr (the last `>>>` names the block)\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(status.is_some_and(|s| s.success()), "{shown}");
}

#[test]
fn every_shell_snippet_of_the_docs_runs_as_written() {
    let mut ran = 0;
    for page in pages() {
        let name = page.strip_prefix(repo()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&page).unwrap();
        let mut script = String::new();
        for b in blocks(&text) {
            match b.info.as_str() {
                "sh" => {
                    script.push_str(&format!("echo '>>> {name}:{}' >&2\n{}", b.line, b.text));
                    ran += 1;
                }
                "sh no-run" | "" | "text" | "toml" | "json" | "yaml" => {}
                other => assert!(!other.starts_with("sh"), "{name}:{}: unknown block kind {other:?}", b.line),
            }
        }
        if !script.is_empty() {
            run_page(&name, &script);
        }
    }
    assert!(ran >= 4, "only {ran} snippets ran");
}

#[test]
fn the_test_command_names_what_it_lacks_at_once() {
    // A machine with a shell and nothing else.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "dirname", "sed", "ls", "env"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().unwrap();
        let path = String::from_utf8(found.stdout).unwrap();
        std::os::unix::fs::symlink(path.trim(), bin.path().join(tool)).unwrap();
    }
    let started = Instant::now();
    let out = Command::new(bin.path().join("bash"))
        .arg(repo().join("scripts/test"))
        .env_clear()
        .env("PATH", bin.path())
        .env("HOME", bin.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "it stops at once");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("scripts/test needs: Rust (cargo"), "{err}");
    for tool in ["python3", "openssl", "psql", "kubectl"] {
        assert!(first.contains(tool), "{tool} is named: {first}");
    }
    assert!(err.lines().count() <= 2, "one line of what, one of how: {err}");
}
