//! What the server keeps in memory from the store, each cache guarded against racing
//! invalidations (see [`ReadCache`]). They sit below everything else: the state holds them,
//! [`crate::changes`] empties them, and nothing here knows about either.

pub mod policies;
pub mod read_cache;
pub mod routes;
pub mod secrets;

pub use policies::{Policies, PolicyCache};
pub use read_cache::ReadCache;
pub use routes::RouteTable;
pub use secrets::{SealedVersion, SecretCache};
