//! Every command's `--help`, as a snapshot (`tests/snapshots/help__*.snap`), and the rules its
//! examples keep: each group and command has some, a continued line ends in `\` so it pastes
//! as one command, and no line of ours is wider than the
//! 100 columns clap wraps to without a terminal.
//!
//! After changing a help text: `INSTA_UPDATE=always cargo test -p clawvault-cli --test help`,
//! then read the diff of the snapshots.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_clawvault");

/// The help of `clawvault <path> --help`, in an empty environment so that no `[env: X=value]`
/// of the machine running the test shows.
fn help(path: &[&str]) -> String {
    let out = Command::new(BIN).args(path).arg("--help").env_clear().output().unwrap();
    assert!(out.status.success(), "{path:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists (without `help`).
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// Every command path, depth first: `[]`, `["server"]`, `["secret"]`, `["secret", "get"]`, ...
fn all_commands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for sub in subcommands(&help(&args)).into_iter().rev() {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        out.push(path);
    }
    out
}

fn check_examples(name: &str, text: &str) {
    let examples: Vec<&str> =
        text.lines().skip_while(|l| *l != "Examples:").skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(!examples.is_empty(), "`{name} --help` has no examples");
    let mut continued = false;
    for line in &examples {
        let indented = line.starts_with("    ");
        assert_eq!(
            indented,
            continued,
            "`{name} --help`: {line:?} {}",
            if indented { "continues a line that does not end in `\\`" } else { "follows a line ending in `\\`" }
        );
        if !indented {
            assert!(
                line.contains("clawvault "),
                "`{name} --help`: {line:?} is not a clawvault command (a wrapped line?)"
            );
        }
        continued = line.trim_end().ends_with('\\');
    }
    assert!(!continued, "`{name} --help`: the last example ends in `\\`");
}

#[test]
fn every_help_is_snapshotted_and_its_examples_paste() {
    let commands = all_commands();
    assert!(commands.len() > 40, "found only {} commands", commands.len());
    let mut expected: Vec<String> = commands
        .iter()
        .map(|p| format!("help__{}.snap", if p.is_empty() { "clawvault".to_owned() } else { p.join("_") }))
        .collect();
    expected.sort();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("help__") && n.ends_with(".snap"))
        .collect();
    present.sort();
    let stale: Vec<&String> = present.iter().filter(|n| !expected.contains(n)).collect();
    assert!(stale.is_empty(), "snapshots of commands that no longer exist: {stale:?}");
    for path in commands {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        let name = if path.is_empty() { "clawvault".to_owned() } else { format!("clawvault {}", path.join(" ")) };
        // clap wraps what it writes, but not its usage line, nor the examples we write.
        for line in text.lines().filter(|l| !l.starts_with("Usage:")) {
            assert!(line.chars().count() <= 100, "`{name} --help` has a line wider than 100 columns: {line:?}");
        }
        if path.len() != 1 || subcommands(&text).is_empty() {
            check_examples(&name, &text);
        }
        let snapshot = if path.is_empty() { "clawvault".to_owned() } else { path.join("_") };
        insta::assert_snapshot!(snapshot, text);
    }
}

#[test]
fn server_help_shows_only_server_options() {
    let text = help(&["server"]);
    for client_option in ["--api-key-file", "--ca-cert", "--json", "--profile"] {
        assert!(!text.contains(client_option), "`server --help` shows {client_option}:\n{text}");
    }
}

#[test]
fn completions_know_every_command_and_parse() {
    let script = |shell: &str| {
        let out = Command::new(BIN).args(["completion", shell]).env_clear().output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = script("bash");
    let top = subcommands(&help(&[]));
    for command in &top {
        assert!(bash.contains(command.as_str()), "bash completion lacks {command}");
    }
    assert!(bash.contains("--profile") && bash.contains("--oldest-first"), "options too");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bash).unwrap();
    let check = Command::new("bash").arg("-n").arg(file.path()).output().unwrap();
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    assert!(script("zsh").starts_with("#compdef clawvault"));
    assert!(script("fish").contains("complete -c clawvault"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // `clawvault completion bash | head -c 1`: the reader goes away long before the ~140 KiB end.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' completion bash | head -c 1 >/dev/null"))
        .env_clear()
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}
