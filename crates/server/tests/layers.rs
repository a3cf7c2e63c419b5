//! The server's modules form layers: each uses only modules below it, so nothing low (tokens,
//! caches, the change-log position) can reach up into the state, the services or a surface.
//! An import cycle is how "one door" erodes: a cache that calls a service, a token check that
//! needs a handler's state. This test reads the sources and refuses any use of a module that
//! is not declared below the one using it, and any module missing from the list.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use only those before it.
const LAYERS: &[&str] = &[
    // Pure building blocks: no other module of this crate.
    "forwarded",
    "ratelimit",
    "background",
    "idle",
    "verify",
    "caches",
    "feed",
    "follow",
    // Configuration and errors.
    "config",
    "error",
    "data_dir",
    "passphrases",
    "share_ids",
    "request_links",
    // Identity: tokens below the state that holds them.
    "auth",
    "signing",
    // Transport.
    "tls",
    "serve",
    "json",
    "unread_body",
    "outbound",
    "jwks",
    // Counting what each identity spends on proxy routes; tokens minted for agents.
    "budgets",
    "minted",
    // What a server keeps, and how it changes.
    "unauthenticated",
    "limits",
    "state",
    "changes",
    "events",
    // The one door, then the surfaces, then the composed application.
    "op",
    "service",
    "native",
    "mcp",
    "vault_api",
    "connect",
    "proxy",
    "pages",
    "app",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Top-level modules of the crate (files and folders of `src/`, bar `lib.rs`).
fn modules() -> BTreeSet<String> {
    fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "lib.rs")
        .map(|n| n.trim_end_matches(".rs").to_owned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its tests and comments: tests may reach anywhere.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The crate modules `code` names: `crate::x…` and each item of `crate::{x…, y…}`.
fn used(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]).to_owned());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out
}

#[test]
fn every_module_is_placed_in_a_layer() {
    let declared: BTreeSet<String> = LAYERS.iter().map(|s| (*s).to_owned()).collect();
    let present = modules();
    let unplaced: Vec<_> = present.difference(&declared).collect();
    let gone: Vec<_> = declared.difference(&present).collect();
    assert!(unplaced.is_empty(), "modules missing from LAYERS in tests/layers.rs: {unplaced:?}");
    assert!(gone.is_empty(), "LAYERS names modules that no longer exist: {gone:?}");
}

#[test]
fn each_module_uses_only_the_layers_below_it() {
    let present = modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut violations = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src()).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        let Some(level) = LAYERS.iter().position(|m| *m == top) else { continue };
        for module in used(&code(&fs::read_to_string(&file).unwrap())) {
            if module == top || !present.contains(&module) {
                continue;
            }
            match LAYERS.iter().position(|m| *m == module) {
                Some(below) if below < level => {}
                _ => violations.push(format!("{} uses crate::{module}", relative.display())),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "uses of a module not below the user (move the code, or the module, down):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_and_nested_uses() {
    let found = used("use crate::{auth::{Caller, Principal}, state::AppState};\nlet x = crate::op::Op::new();");
    assert_eq!(found, ["auth", "op", "state"].iter().map(|s| (*s).to_owned()).collect());
    assert!(used(&code("// crate::app\nfn f() {}")).is_empty(), "comments do not count");
}
