//! What an enrolling agent signs: the server checks it, the agent's client makes it.

use uuid::Uuid;

/// The message an enrolling agent signs with the private half of the public key it enrolled
/// with, to prove it holds it when it polls for its key.
#[must_use]
pub fn possession_message(pairing_id: Uuid) -> String {
    format!("clawvault-enrollment:v1:{pairing_id}")
}
