//! One module per command group.

pub mod agent;
pub mod apikey;
pub mod audit;
pub mod auth;
pub mod bundle;
pub mod completion;
pub mod detach;
pub mod enroll;
pub mod export;
pub mod fleet;
pub mod github_token;
pub mod import;
pub mod inject;
pub mod k8s;
pub mod login;
pub mod mcp;
pub mod mcp_run;
pub mod policy;
pub mod proxy;
pub mod rotate;
pub mod run;
pub mod secret;
pub mod server;
pub mod share;
pub mod status;
pub mod sync;
pub mod user;
pub mod vault;
pub mod whoami;

use std::io::IsTerminal;

use anyhow::Result;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exit::Coded;

/// Splits `VAULT/PATH`.
///
/// # Errors
/// Invalid input when there is no `/`.
pub fn split_reference(reference: &str) -> Result<(&str, &str)> {
    match reference.split_once('/') {
        Some((vault, path)) if !vault.is_empty() && !path.is_empty() => Ok((vault, path)),
        _ => Err(Coded::invalid(format!("{reference:?} is not VAULT/PATH: write it like prod/openai/api-key"))),
    }
}

/// Parses `30s`, `15m`, `24h`, `7d`.
///
/// # Errors
/// Invalid input.
pub fn parse_duration(raw: &str) -> Result<time::Duration> {
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 =
        num.parse().map_err(|_| Coded::invalid(format!("{raw:?} is not a duration such as 30m, 24h or 7d")))?;
    match unit {
        "s" => Ok(time::Duration::seconds(n)),
        "m" => Ok(time::Duration::minutes(n)),
        "h" | "" => Ok(time::Duration::hours(n)),
        "d" => Ok(time::Duration::days(n)),
        _ => Err(Coded::invalid(format!("{raw:?} is not a duration such as 30m, 24h or 7d"))),
    }
}

/// The RFC 3339 time `raw` (`30m`, `7d`, ...) from now, if given.
///
/// # Errors
/// Invalid input.
pub fn deadline(raw: Option<&str>) -> Result<Option<String>> {
    raw.map(|d| Ok((OffsetDateTime::now_utc() + parse_duration(d)?).format(&Rfc3339)?)).transpose()
}

/// Asks before deleting `name` unless `yes`; refuses without a terminal to ask on.
///
/// # Errors
/// Invalid input when not confirmed.
pub fn confirm_delete(yes: bool, name: &str, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Coded::invalid(format!("deleting {what} {name:?} cannot be undone: add --yes to confirm")));
    }
    typed_confirmation(&format!("Delete {what} {name:?}? Type its name to confirm: "), name)
}

/// Asks `prompt` on the terminal and goes on only if `expected` is typed back.
///
/// # Errors
/// Invalid input when anything else is typed.
pub fn typed_confirmation(prompt: &str, expected: &str) -> Result<()> {
    eprint!("{prompt}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != expected {
        return Err(Coded::invalid("not confirmed; nothing was deleted"));
    }
    Ok(())
}

/// The one item of `items` called `raw` (its id, or else its name); `what` and `list` name the
/// kind and the command that lists them, for the error.
///
/// # Errors
/// Not found when none matches; invalid input when the name is ambiguous.
pub fn one_named<'a, T>(
    items: &'a [T],
    raw: &str,
    key: impl Fn(&T) -> (String, &str),
    what: &str,
    list: &str,
) -> Result<&'a T> {
    if let Some(item) = items.iter().find(|i| key(i).0 == raw) {
        return Ok(item);
    }
    let named: Vec<&T> = items.iter().filter(|i| key(i).1 == raw).collect();
    match named.as_slice() {
        [] => Err(Coded::not_found(format!("no {what} {raw:?}: see `{list}`"))),
        [one] => Ok(one),
        many => {
            Err(Coded::invalid(format!("{} {what}s are named {raw:?}: give the id instead (see `{list}`)", many.len())))
        }
    }
}

/// `-` for nothing.
#[must_use]
pub fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).map_or_else(|| "-".to_owned(), str::to_owned)
}
