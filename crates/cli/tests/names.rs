//! One name per concept, in code, API docs and CLI text alike: a user (never a second word for
//! the humans the API calls users), an enrollment (one spelling), a policy (not a "grant" or a
//! "rule"). A reader who meets two names looks for two things. This test reads the workspace's
//! sources and docs and names each stray word with its file and line.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use std::fs;
use std::path::{Path, PathBuf};

/// Words that name a concept by its second name, and the name to use.
const STRAY: &[(&str, &str)] = &[
    ("person", "user"),
    ("people", "users"),
    ("enrolment", "enrollment"),
    ("enrolments", "enrollments"),
    ("enrol", "enroll"),
    ("a grant", "a policy"),
    ("any grant", "any policy"),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md" || e == "py" || e == "toml") {
            out.push(path);
        }
    }
}

/// Whether `word` occurs in `line` as a whole word (case-insensitive).
fn has_word(line: &str, word: &str) -> bool {
    let lower = line.to_lowercase();
    lower.match_indices(word).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        boundary(before) && boundary(after)
    })
}

#[test]
fn each_concept_has_one_name() {
    let root = workspace();
    let mut found = Vec::new();
    for dir in ["crates", "docs", "tests", "bench"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            files(&dir, &mut found);
        }
    }
    found.push(root.join("README.md"));
    let this = Path::new(file!()).file_name().unwrap();
    let mut stray = Vec::new();
    for file in found.iter().filter(|f| f.file_name() != Some(this)) {
        let Ok(text) = fs::read_to_string(file) else { continue };
        for (n, line) in text.lines().enumerate() {
            for (word, name) in STRAY {
                if has_word(line, word) {
                    stray.push(format!(
                        "{}:{}: {word:?} (say {name:?})",
                        file.strip_prefix(&root).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(stray.is_empty(), "second names for one concept:\n{}", stray.join("\n"));
}

#[test]
fn whole_words_only() {
    assert!(has_word("Deleting a Person", "person"));
    assert!(!has_word("personal", "person") && !has_word("persona_id", "persona"));
    assert!(!has_word("no grant.", "a grant") && has_word("holds a grant;", "a grant"));
}
