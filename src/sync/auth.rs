//! Who is on the other end of a connection: signed hellos bound to the connection.
//!
//! A peer id alone proves nothing: anyone can claim any 16 bytes, in a signal or a hello, and a
//! misbehaviour score or ban attached to a claimed id lets an attacker get an honest peer banned.
//! So every sync connection is bound to an ed25519 key (the replica's identity):
//!
//! - a peer id is derived from the key and a public salt ([`PeerId::derive`]), so only the holder
//!   of that key can present that peer id;
//! - each side's hello carries a fresh nonce; once a side has the other's nonce, its hello
//!   carries a signature over a domain-separated transcript of both nonces, its key, salt,
//!   the peer id it is talking to, the commons and its announced fields ([`transcript`]);
//! - a session is established only when the peer's signature verifies against *our* nonce and
//!   *our* peer id, so a hello captured on another connection (another nonce, another addressee)
//!   does not authenticate this one.
//!
//! Nonces must be unpredictable to others (a predictable nonce lets an attacker obtain, on a
//! connection of its own, a victim's signature over the nonce we will send next): a node derives
//! them from a secret of its own with a keyed hash ([`SyncKeys::nonce`]).

use crate::identity::{AuthorId, Identity};

use super::{ChangeId, PeerId};

/// Context of the peer-id derivation.
const PEER_ID_CONTEXT: &[u8] = b"peer-commons/sync-peer-id/v2\0";
/// Context of the hello transcript.
const HELLO_CONTEXT: &[u8] = b"peer-commons/sync-hello/v2\0";

impl PeerId {
    /// The peer id of the holder of `key` with this `salt`: the first 16 bytes of
    /// `blake3("peer-commons/sync-peer-id/v2\0" || key || salt)`. Finding another key for the
    /// same id is a 128-bit second preimage.
    pub fn derive(key: &AuthorId, salt: &[u8; 16]) -> PeerId {
        let mut h = blake3::Hasher::new();
        h.update(PEER_ID_CONTEXT);
        h.update(&key.0);
        h.update(salt);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        PeerId(id)
    }
}

/// What a sync node authenticates with: the identity key, the public salt of its peer id, and a
/// secret for connection nonces. Built from the identity and 32 random bytes from the shell
/// (the core has no randomness of its own); a new tab uses new random bytes, so a new peer id.
#[derive(Clone)]
pub struct SyncKeys {
    identity: Identity,
    salt: [u8; 16],
    nonce_key: [u8; 32],
}

impl SyncKeys {
    /// Keys for `identity`; `secret` must be fresh random bytes (never reused across tabs or
    /// restarts: the nonces of two runs would repeat).
    pub fn new(identity: Identity, secret: [u8; 32]) -> Self {
        let salt_full = blake3::derive_key("peer-commons sync peer salt v2", &secret);
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&salt_full[..16]);
        SyncKeys {
            identity,
            salt,
            nonce_key: blake3::derive_key("peer-commons sync nonce key v2", &secret),
        }
    }

    /// The public key.
    pub fn key(&self) -> AuthorId {
        self.identity.author()
    }

    /// The public salt of the peer id.
    pub fn salt(&self) -> [u8; 16] {
        self.salt
    }

    /// This node's peer id (derived from the key and the salt).
    pub fn peer(&self) -> PeerId {
        PeerId::derive(&self.key(), &self.salt)
    }

    /// The nonce of connection number `n`: a keyed hash of a secret, so others cannot predict
    /// it, and distinct for each `n`.
    pub fn nonce(&self, n: u64) -> [u8; 32] {
        *blake3::keyed_hash(&self.nonce_key, &n.to_le_bytes()).as_bytes()
    }

    /// Signs a hello transcript.
    pub fn sign(&self, transcript: &[u8]) -> [u8; 64] {
        self.identity.sign(transcript)
    }
}

impl std::fmt::Debug for SyncKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncKeys({:?})", self.peer())
    }
}

/// What one side's hello signature covers.
#[derive(Debug, Clone, Copy)]
pub struct HelloFields<'a> {
    /// The protocol version.
    pub version: u16,
    /// The commons.
    pub commons: &'a ChangeId,
    /// The signer's key.
    pub key: &'a [u8; 32],
    /// The signer's peer-id salt.
    pub salt: &'a [u8; 16],
    /// The signer's nonce for this connection.
    pub nonce: &'a [u8; 32],
    /// The peer id the signer is talking to.
    pub to: &'a PeerId,
    /// The nonce that peer sent on this connection.
    pub to_nonce: &'a [u8; 32],
    /// The signer's announced number of changes.
    pub items: u64,
    /// The signer's announced feature bits.
    pub features: u32,
}

/// The signed bytes: `"peer-commons/sync-hello/v2\0" || u16_le(version) || commons || key ||
/// salt || nonce || to || to_nonce || u64_le(items) || u32_le(features)`. Every field has a
/// fixed size, so the concatenation is unambiguous.
pub fn transcript(f: &HelloFields<'_>) -> Vec<u8> {
    let mut t = Vec::with_capacity(HELLO_CONTEXT.len() + 2 + 32 * 4 + 16 * 2 + 12);
    t.extend_from_slice(HELLO_CONTEXT);
    t.extend_from_slice(&f.version.to_le_bytes());
    t.extend_from_slice(&f.commons.0);
    t.extend_from_slice(f.key);
    t.extend_from_slice(f.salt);
    t.extend_from_slice(f.nonce);
    t.extend_from_slice(&f.to.0);
    t.extend_from_slice(f.to_nonce);
    t.extend_from_slice(&f.items.to_le_bytes());
    t.extend_from_slice(&f.features.to_le_bytes());
    t
}

/// Why a hello does not authenticate its sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The hello's peer id is not the one its key and salt give.
    #[error("hello's peer id is not derived from its key")]
    PeerIdNotDerived,
    /// The signature does not verify over this connection's transcript (forged, replayed from
    /// another connection, or made by another key).
    #[error("hello signature does not verify for this connection")]
    BadSignature,
    /// A later hello on the same connection named another key or nonce.
    #[error("hello changed key or nonce on an open connection")]
    Changed,
}

/// Checks a signature over a peer's transcript.
pub fn verify(f: &HelloFields<'_>, sig: &[u8; 64]) -> Result<(), AuthError> {
    AuthorId(*f.key)
        .verify(&transcript(f), sig)
        .map_err(|_| AuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> SyncKeys {
        SyncKeys::new(Identity::from_secret([n; 32]), [n ^ 0x55; 32])
    }

    #[test]
    fn peer_ids_bind_keys_and_nonces_differ() {
        let a = keys(1);
        let b = keys(2);
        assert_ne!(a.peer(), b.peer());
        assert_eq!(a.peer(), PeerId::derive(&a.key(), &a.salt()));
        // Another key with the same salt gives another id: an id cannot be claimed by another key.
        assert_ne!(PeerId::derive(&b.key(), &a.salt()), a.peer());
        assert_ne!(a.nonce(1), a.nonce(2));
        assert_ne!(a.nonce(1), b.nonce(1));
    }

    #[test]
    fn a_signature_verifies_only_for_its_connection() {
        let a = keys(1);
        let b = keys(2);
        let commons = ChangeId([9; 32]);
        let (key, salt, to) = (a.key().0, a.salt(), b.peer());
        let fields = |nonce, to_nonce| HelloFields {
            version: 2,
            commons: &commons,
            key: &key,
            salt: &salt,
            nonce,
            to: &to,
            to_nonce,
            items: 3,
            features: 1,
        };
        let sig = a.sign(&transcript(&fields(&[1; 32], &[2; 32])));
        assert_eq!(verify(&fields(&[1; 32], &[2; 32]), &sig), Ok(()));
        // Another connection: the receiver's nonce differs.
        assert_eq!(
            verify(&fields(&[1; 32], &[3; 32]), &sig),
            Err(AuthError::BadSignature)
        );
        // Signed by another key.
        let forged = b.sign(&transcript(&fields(&[1; 32], &[2; 32])));
        assert_eq!(
            verify(&fields(&[1; 32], &[2; 32]), &forged),
            Err(AuthError::BadSignature)
        );
    }
}
