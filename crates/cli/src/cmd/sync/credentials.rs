//! systemd credentials without files on disk: `clawvault sync` serves an AF_UNIX socket that a
//! unit's `LoadCredential=ID:/run/clawvault/credentials.sock` reads from. systemd connects from
//! an abstract socket named `…/unit/<UNIT>/<ID>`; the daemon answers with the secret the
//! configuration maps to that unit and id (nothing otherwise: deny by default) and closes.
//! The name can be chosen by any local process, so it is trusted only from the service
//! manager: the peer must run as root or as the daemon's own user (a user manager), and the
//! socket is created `0600`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, Result};
use zeroize::Zeroizing;

/// The values served, by (unit, credential id).
pub type Served = Arc<RwLock<BTreeMap<(String, String), Zeroizing<Vec<u8>>>>>;

/// The unit and credential id of a connection, from its peer's abstract socket name.
#[must_use]
pub fn unit_and_id(name: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(name).ok()?;
    let mut parts = text.rsplitn(4, '/');
    let id = parts.next()?;
    let unit = parts.next()?;
    (parts.next()? == "unit" && !unit.is_empty() && !id.is_empty()).then(|| (unit.to_owned(), id.to_owned()))
}

fn answer(mut stream: UnixStream, served: &Served, own_uid: u32) -> Option<String> {
    let cred = rustix::net::sockopt::socket_peercred(&stream).ok()?;
    let uid = cred.uid.as_raw();
    if uid != 0 && uid != own_uid {
        return Some(format!("refused a credential request from uid {uid} (only the service manager may ask)"));
    }
    let addr = stream.peer_addr().ok()?;
    let Some((unit, id)) = addr.as_abstract_name().and_then(unit_and_id) else {
        return Some("refused a credential request that does not come from a unit".into());
    };
    let value = served.read().ok()?.get(&(unit.clone(), id.clone())).cloned();
    match value {
        Some(bytes) => {
            // One connection at a time: a peer that does not read must not stall the others.
            let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = stream.write_all(&bytes);
            None
        }
        None => Some(format!("refused credential {id:?} to {unit:?}: no [[credential]] maps it")),
    }
}

/// Serves `served` on `socket` until the process ends (a thread of its own).
///
/// # Errors
/// The socket cannot be created.
pub fn serve(socket: &Path, served: Served, log: fn(&str)) -> Result<()> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // A socket left by an earlier run is replaced; anything else there is not.
    if std::fs::symlink_metadata(socket).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())) {
        let _ = std::fs::remove_file(socket);
    }
    let listener =
        UnixListener::bind(socket).with_context(|| format!("creating the credential socket {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let own_uid = rustix::process::getuid().as_raw();
    let path: PathBuf = socket.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    if let Some(message) = answer(s, &served, own_uid) {
                        log(&message);
                    }
                }
                Err(e) => log(&format!("the credential socket {}: {e}", path.display())),
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemds_peer_names_give_unit_and_id() {
        assert_eq!(
            unit_and_id(b"9f3c2a1b7e6d5c4a/unit/discord-bot.service/discord-token"),
            Some(("discord-bot.service".into(), "discord-token".into()))
        );
        for bad in [&b"random"[..], b"x/unit//id", b"x/unit/u/", b"x/units/u/id", b"\xff/unit/u/id"] {
            assert_eq!(unit_and_id(bad), None, "{bad:?}");
        }
    }
}
