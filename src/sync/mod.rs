//! The peer-to-peer sync protocol, as pure state machines over bytes and time.
//!
//! - [`auth`]: signed hellos that bind a connection to the peer's key; peer ids derived from keys.
//! - [`frame`]: chunking of messages to fit data channels, reassembly within bounds.
//! - [`wire`]: the versioned protocol messages.
//! - [`index`]: the (depth, id) items that negentropy reconciles.
//! - [`session`]: one connection: hello, reconciliation, transfer in dependency order, live push.
//! - [`presence`]: ephemeral cursors and who is where, signed, expiring, never stored.
//! - [`node`]: the gossip node over a partial mesh of sessions: forwarding, peer exchange and
//!   introductions, misbehaviour scores, replacement of dead or hostile neighbours.
//!
//! docs/PROTOCOL.md ("Sync protocol") describes the wire format.

pub mod auth;
pub mod frame;
pub mod index;
pub mod node;
pub mod presence;
pub mod replica;
pub mod session;
pub mod wire;

pub use auth::SyncKeys;
pub use index::{ChangeSource, SyncIndex, View};
pub use node::{ConnId, Node, NodeConfig, NodeEvent, NodeInput, NodeOutput, NodeStats};
pub use replica::{InsertError, InsertOutcome, Replica};
pub use session::{Event, Input, Local, Offence, Output, Session, SessionConfig, SessionStats};
pub use wire::{CloseReason, PROTOCOL_VERSION};

pub use crate::change::ChangeId;

/// Bytes of the signature that starts every change (docs/PROTOCOL.md, change format 1).
const SIGNATURE_LEN: usize = 64;

/// The id a change has if these are its bytes: blake3 of the body after the signature. Used to
/// track requested changes without decoding them; the replica checks everything on insert.
pub fn change_id(bytes: &[u8]) -> ChangeId {
    let body = bytes.get(SIGNATURE_LEN..).unwrap_or(bytes);
    ChangeId(blake3::hash(body).into())
}

/// A peer's address in the mesh: derived from the replica's key and a random salt chosen for
/// each running replica (one per browser tab), so only that key's holder can present it
/// ([`auth`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub [u8; 16]);

impl PeerId {
    /// Lowercase hex, as used by signalling.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 32 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        Some(PeerId(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerId({})", hex::encode(&self.0[..4]))
    }
}
