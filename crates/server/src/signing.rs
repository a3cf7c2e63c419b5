//! Token signing keys: Ed25519 seeds stored wrapped by the root key, one per rotation. The
//! newest signs; every key younger than the longest token lifetime after its successor keeps
//! verifying, so rotation never cuts off a token that is still valid.

use clawvault_core::crypto::{DataKey, RootKey};
use clawvault_core::time_util::{now, unix_micros};
use clawvault_store::{ServerKeyRecord, Store};
use time::Duration;

use crate::auth::SigningKey;
use crate::error::ServerError;

/// Server-key names of signing keys start with this.
const PREFIX: &str = "token-signing";
const CONTEXT: &[u8] = b"clawvault/token-signing-key/v1";
/// The longest token lifetime (config allows 86,400 s for users; agents may set their own,
/// capped at the same): a key succeeded this long ago verifies nothing more.
pub const LONGEST_TOKEN: Duration = Duration::days(1);

fn unwrap(root: &dyn RootKey, rec: &ServerKeyRecord) -> Result<SigningKey, ServerError> {
    let seed = root
        .unwrap(&rec.wrapped, CONTEXT)
        .map_err(|e| ServerError::RootKey(format!("token signing key {}: {e}", rec.name)))?;
    SigningKey::from_seed(&seed)
}

/// Creates and stores a new signing key.
///
/// # Errors
/// Key generation, wrapping or storage failures.
pub async fn create(store: &dyn Store, root: &dyn RootKey) -> Result<SigningKey, ServerError> {
    let seed = DataKey::generate().map_err(|e| ServerError::RootKey(e.to_string()))?;
    let wrapped = root.wrap(&seed, CONTEXT).map_err(|e| ServerError::RootKey(e.to_string()))?;
    let created_at = now();
    let rec = ServerKeyRecord {
        name: format!("{PREFIX}:{:020}", unix_micros(created_at)),
        wrapped,
        root_key_id: root.key_id().into(),
        created_at,
    };
    let stored = store.insert_server_key(rec).await?;
    unwrap(root, &stored)
}

/// The signing keys to load, oldest first (the last one signs); creates the first on a new
/// data directory.
///
/// # Errors
/// When a key does not unwrap (wrong root key) or storage fails.
pub async fn load(store: &dyn Store, root: &dyn RootKey) -> Result<Vec<SigningKey>, ServerError> {
    let records = store.server_keys(PREFIX).await?;
    if records.is_empty() {
        return Ok(vec![create(store, root).await?]);
    }
    let cutoff = now() - LONGEST_TOKEN;
    let mut keys = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        // A key still verifies while tokens it signed may be alive: it is the newest, or it
        // was succeeded less than the longest token lifetime ago.
        let succeeded_at = records.get(i + 1).map(|next| next.created_at);
        match succeeded_at {
            None => keys.push(unwrap(root, rec)?),
            Some(at) if at > cutoff => keys.push(unwrap(root, rec)?.retiring(at + LONGEST_TOKEN)),
            Some(_) => {}
        }
    }
    Ok(keys)
}
