//! Words for failures whose cause lies in the CLI's own configuration: which key was refused
//! and where it came from, or why no key was sent, with the command that fixes it.

use clawvault_client::ClientError;

use crate::cli::Global;
use crate::context::{Source, Target};
use crate::profile::Profiles;

/// A line to print under the error, when the configuration explains it.
#[must_use]
pub fn hint(err: &anyhow::Error, global: &Global) -> Option<String> {
    let client_err = err.chain().find_map(|c| c.downcast_ref::<ClientError>())?;
    let target = Target::resolve(global).ok()?;
    let login = |profile: &str| {
        let flag =
            if profile == crate::profile::DEFAULT_PROFILE { String::new() } else { format!(" --profile {profile}") };
        format!("clawvault login{flag} --address {}", target.address)
    };
    match client_err {
        ClientError::Api { status: 401, .. } => {
            let (_, from) = target.key.as_ref()?;
            let fix = match from {
                Source::Profile(p) => format!("log in again: `{}`", login(p)),
                Source::LocalServer(dir) => format!(
                    "{}/admin-key belongs to another server than {}: log in with `{}`",
                    dir.display(),
                    target.address,
                    login(&target.profile)
                ),
                Source::Flag(..) | Source::Env(..) => {
                    "give a current key (an admin lists keys with `clawvault apikey list`)".to_owned()
                }
                Source::Default => return None,
            };
            Some(format!(
                "the API key from {from} was refused (wrong, expired, revoked, or of a deleted user or agent): {fix}"
            ))
        }
        ClientError::NoCredentials => {
            let profiles = Profiles::load().ok()?;
            if let Some(p) = profiles.get(&target.profile) {
                return Some(format!(
                    "profile {} is saved for {}, not {} (from {}): drop that, or `{}`",
                    target.profile,
                    p.address,
                    target.address,
                    target.address_from,
                    login(&target.profile)
                ));
            }
            Some(format!(
                "no key is saved for {}: `{}`, or set CLAWVAULT_API_KEY_FILE",
                target.address,
                login(&target.profile)
            ))
        }
        _ => None,
    }
}
