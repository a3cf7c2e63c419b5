//! Users and agents by name: every table shows a principal as `agent:ci` or `user:mia` (a short
//! id only for one the caller may not list), and `--actor`-style options take a name or the
//! start of an id.

use std::collections::HashMap;

use anyhow::Result;
use clawvault_client::Client;
use uuid::Uuid;

use crate::exit::Coded;

/// Shortest id prefix accepted in place of a name.
const MIN_PREFIX: usize = 4;

/// The users and agents the caller may list, by id.
#[derive(Default)]
pub struct Principals {
    known: HashMap<Uuid, (&'static str, String)>,
}

impl Principals {
    /// Lists the agents (and, with `users`, the users: admins only) the caller may see; what
    /// the caller may not list stays unnamed.
    pub async fn load(client: &Client, users: bool) -> Self {
        let mut known = HashMap::new();
        if let Ok(agents) = client.list_agents().await {
            known.extend(agents.into_iter().map(|a| (a.id, ("agent", a.name))));
        }
        if users && let Ok(list) = client.list_users().await {
            known.extend(list.into_iter().map(|u| (u.id, ("user", u.name))));
        }
        Self { known }
    }

    /// `kind:name`, or `kind:` and the first 8 characters of the id when it is not known.
    #[must_use]
    pub fn label(&self, kind: &str, id: &str) -> String {
        match Uuid::parse_str(id).ok().and_then(|u| self.known.get(&u)) {
            Some((_, name)) => format!("{kind}:{name}"),
            None if id.is_empty() => kind.to_owned(),
            None => format!("{kind}:{}", id.chars().take(8).collect::<String>()),
        }
    }

    /// A known principal's label for a bare id, if it is one.
    #[must_use]
    pub fn name_of(&self, id: &str) -> Option<String> {
        let (kind, name) = self.known.get(&Uuid::parse_str(id).ok()?)?;
        Some(format!("{kind}:{name}"))
    }

    /// The id `raw` names: a whole id, a name (`ci`, or `agent:ci`), or the start of an id (at
    /// least four characters, as tables show eight).
    ///
    /// # Errors
    /// Not found; invalid input when several match.
    pub fn resolve(&self, raw: &str) -> Result<Uuid> {
        if let Ok(id) = Uuid::parse_str(raw) {
            return Ok(id);
        }
        let (kind, name) = match raw.split_once(':') {
            Some((k @ ("user" | "agent"), n)) => (Some(k), n),
            _ => (None, raw),
        };
        let lower = name.to_ascii_lowercase();
        let mut matches: Vec<(&Uuid, &(&'static str, String))> = self
            .known
            .iter()
            .filter(|(_, (k, _))| kind.is_none_or(|want| want == *k))
            .filter(|(id, (_, n))| n == name || (lower.len() >= MIN_PREFIX && id.to_string().starts_with(&lower)))
            .collect();
        matches.sort_by_key(|(_, (k, n))| format!("{k}:{n}"));
        match matches.as_slice() {
            [] => Err(Coded::not_found(format!(
                "no user or agent {raw:?}: give a name (see `clawvault agent list`, `clawvault user list`) or an id"
            ))),
            [(id, _)] => Ok(**id),
            many => {
                let names: Vec<String> = many.iter().map(|(id, (k, n))| format!("{k}:{n} ({id})")).collect();
                Err(Coded::invalid(format!("{raw:?} could be any of {}: give more of the id", names.join(", "))))
            }
        }
    }
}
