//! The state hash: a digest of the derived state, equal on replicas that hold the same changes.

use super::{Commons, TaskStatus};

/// Feeds length-prefixed fields so that concatenations cannot collide.
struct H(blake3::Hasher);

impl H {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
    }
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }
}

impl Commons {
    /// Digest of the derived state: charter, names, documents (title, text, comments), tasks and
    /// their statuses, participants. Later layers (governance, ledger) add theirs.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = H(blake3::Hasher::new());
        h.bytes(b"peer-commons/state/v1");
        h.bytes(&self.id.0);
        if let Some(c) = &self.charter {
            h.bytes(&postcard::to_allocvec(c).unwrap_or_default());
        }
        for a in self.profiles.keys() {
            h.bytes(&a.0);
            h.bytes(self.name_of(a).unwrap_or_default().as_bytes());
        }
        for (a, p) in &self.participants {
            h.bytes(&a.0);
            h.u64(p.changes);
            h.bytes(&p.first.1 .0);
        }
        for d in self.documents.values() {
            h.bytes(&d.id.0);
            h.bytes(d.title().as_bytes());
            h.bytes(d.text().as_bytes());
            for c in d.comments() {
                h.bytes(&c.id.0);
            }
        }
        for t in self.tasks.values() {
            h.bytes(&t.id.0);
            match t.status() {
                TaskStatus::Open => h.u64(0),
                TaskStatus::Claimed(who) => {
                    h.u64(1);
                    for a in who {
                        h.bytes(&a.0);
                    }
                }
                TaskStatus::Done { change, .. } => {
                    h.u64(2);
                    h.bytes(&change.0);
                }
            }
        }
        // The ledger (social accounting) is derived state too (src/commons/property).
        h.bytes(&self.ledger_digest());
        h.bytes(&self.gov.digest());
        *h.0.finalize().as_bytes()
    }

    /// The state hash as hex.
    pub fn state_hash_hex(&self) -> String {
        hex::encode(self.state_hash())
    }
}
