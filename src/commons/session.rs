//! The local writing session's CRDT client id. Each session writes under
//! `client_id(key, nonce)` with a nonce the shell draws at random when it opens the replica. Two
//! sessions of one key that drew the same nonce (a restart, two tabs, two devices) would claim
//! the same CRDT ids and one of them would be voided as equivocating (`commons::claims`), so the
//! session moves to a fresh nonce as soon as it sees that its nonce is in use: when a change it
//! did not sign claims ids under its client id (on reopening, that is one of this key's stored
//! changes; while open, another session's). The new nonce avoids every nonce the key's changes
//! in the graph used. What remains is two sessions drawing the same 32-bit nonce and typing at
//! the same position of the same document before either sees the other's change.

use std::collections::BTreeSet;

use super::{Commons, LocalAuthor};
use crate::change::{Change, Op};

impl LocalAuthor {
    /// Notes what an applied change tells about this session's nonce. `claims_client`: the change
    /// claims ids under this session's client id.
    pub(crate) fn note(&mut self, change: &Change, claims_client: bool) {
        if change.body.author != self.identity.author() {
            return;
        }
        for op in &change.body.ops {
            if let Op::CreateDocument { edit, .. } | Op::EditDocument { edit, .. } = op {
                self.used_nonces.insert(edit.nonce);
            }
        }
        if claims_client && self.signing != Some(change.id) {
            self.nonce_taken = true;
        }
    }
}

/// A nonce derived from `from` and `salt` that `used` does not hold. Two sessions that collided
/// start from the same nonce, so the salt must hold something only this session knows.
fn fresh_nonce(from: u32, salt: &[u8], used: &BTreeSet<u32>) -> u32 {
    let mut n = from;
    for i in 0u32.. {
        let mut h = blake3::Hasher::new();
        h.update(b"peer-commons/nonce\0");
        h.update(&n.to_le_bytes());
        h.update(&i.to_le_bytes());
        h.update(salt);
        let d = h.finalize();
        let mut b = [0u8; 4];
        b.copy_from_slice(&d.as_bytes()[..4]);
        n = u32::from_le_bytes(b);
        if !used.contains(&n) {
            break;
        }
    }
    n
}

impl Commons {
    /// The nonce this replica's local session writes under, if it writes.
    pub fn session_nonce(&self) -> Option<u32> {
        self.local.as_ref().map(|l| l.nonce)
    }

    /// Moves the session to a fresh nonce if its nonce was seen in use elsewhere and nothing
    /// typed waits to be signed under it (else this runs again after the next flush). The
    /// documents are re-derived so that their CRDT documents type under the new client id.
    pub(crate) fn refresh_nonce(&mut self) {
        let Some(l) = self.local.as_mut() else { return };
        if !l.nonce_taken || !l.batch.is_empty() {
            return;
        }
        l.used_nonces.insert(l.nonce);
        // The salt: the last change this session signed (the other session signed others) and
        // the graph's heads as this session sees them.
        let mut salt = l.signing.map_or(vec![], |id| id.0.to_vec());
        for h in self.dag.heads() {
            salt.extend_from_slice(&h.0);
        }
        l.nonce = fresh_nonce(l.nonce, &salt, &l.used_nonces);
        l.client = crate::change::client_id(&l.identity.author(), l.nonce);
        l.nonce_taken = false;
        self.rederive();
    }
}
