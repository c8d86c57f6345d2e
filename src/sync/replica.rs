//! What the sync node needs from a replica, and its implementation for [`Commons`].

use super::{ChangeId, ChangeSource};
use crate::change::ChangeError;
use crate::commons::Commons;

/// A change a replica refused, and whether the peer that sent it is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct InsertError {
    /// True when the change itself is bad (the sender misbehaved); false for a local limit.
    pub peer_fault: bool,
    /// What was wrong, for logs.
    pub detail: String,
}

/// What inserting one change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// Changes that became applied: this one and any it unblocked.
    pub applied: Vec<ChangeId>,
    /// Changes this one waits for (it is buffered until they arrive).
    pub missing: Vec<ChangeId>,
}

/// A replica of one commons, as the sync node sees it.
pub trait Replica: ChangeSource {
    /// The commons id (genesis change id).
    fn commons_id(&self) -> ChangeId;
    /// Every applied change as (causal depth, id).
    fn sync_items(&self) -> Vec<(u64, ChangeId)>;
    /// Whether a change is held (applied, or buffered waiting for its deps).
    fn contains(&self, id: &ChangeId) -> bool;
    /// The depth of an applied change.
    fn depth(&self, id: &ChangeId) -> Option<u64>;
    /// Who a held change comes from (its author's key): gossip keeps one tree per origin.
    fn origin(&self, id: &ChangeId) -> Option<[u8; 32]>;
    /// Checks and inserts a change from the peer authenticated as `from` (its key), at `now`
    /// (ms): a change waiting for dependencies counts against that peer's budget and expires
    /// (docs/PROTOCOL.md, "Bounds"). A duplicate is `Ok` with nothing applied.
    fn insert(&mut self, from: &[u8], bytes: &[u8], now: u64)
        -> Result<InsertOutcome, InsertError>;

    /// Drops changes that waited for their dependencies past their time to live.
    fn expire_pending(&mut self, now: u64);
}

impl ChangeSource for Commons {
    fn change_bytes(&self, id: &ChangeId) -> Option<&[u8]> {
        Commons::change_bytes(self, id)
    }
}

impl Replica for Commons {
    fn commons_id(&self) -> ChangeId {
        self.id()
    }

    fn sync_items(&self) -> Vec<(u64, ChangeId)> {
        Commons::sync_items(self).collect()
    }

    fn contains(&self, id: &ChangeId) -> bool {
        Commons::contains(self, id)
    }

    fn depth(&self, id: &ChangeId) -> Option<u64> {
        self.dag().get(id).map(|n| n.depth)
    }

    fn origin(&self, id: &ChangeId) -> Option<[u8; 32]> {
        self.change(id).map(|c| c.body.author.0)
    }

    fn insert(
        &mut self,
        from: &[u8],
        bytes: &[u8],
        now: u64,
    ) -> Result<InsertOutcome, InsertError> {
        match Commons::insert_from(self, from, bytes, now) {
            Ok(inserted) => Ok(InsertOutcome {
                applied: inserted.applied,
                missing: inserted.missing,
            }),
            Err(e) => Err(InsertError {
                // A full buffer is this replica's limit, not proof the sender lied.
                peer_fault: e != ChangeError::PendingFull,
                detail: e.to_string(),
            }),
        }
    }

    fn expire_pending(&mut self, now: u64) {
        Commons::expire_pending(self, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Charter, GovernanceParams};
    use crate::identity::Identity;
    use crate::sync::change_id;

    fn charter() -> Charter {
        Charter {
            title: "sync".into(),
            purpose: String::new(),
            licence: "CC-BY-SA-4.0".into(),
            params: GovernanceParams::default(),
            fork_of: None,
        }
    }

    #[test]
    fn wire_id_matches_the_core_and_inserts_report_depth() {
        let (mut a, genesis) =
            Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
        assert_eq!(change_id(&genesis.bytes), genesis.id);
        let made = a.create_document("d", "x", 1).unwrap();
        let doc = made.last().unwrap();
        assert_eq!(change_id(&doc.bytes), doc.id);

        let mut b = Commons::join(a.id(), None);
        // The document first: buffered, waiting for the genesis.
        let first = Replica::insert(&mut b, &[7; 32], &doc.bytes, 0).unwrap();
        assert_eq!(first.applied, vec![]);
        assert_eq!(first.missing, vec![genesis.id]);
        assert!(Replica::contains(&b, &doc.id));
        let then = Replica::insert(&mut b, &[7; 32], &genesis.bytes, 0).unwrap();
        assert_eq!(then.applied, vec![genesis.id, doc.id]);
        assert_eq!(Replica::depth(&b, &doc.id), Some(1));
        assert_eq!(Replica::origin(&b, &doc.id), a.local_author().map(|k| k.0));
        assert_eq!(Replica::sync_items(&b).len(), 2);

        let mut bad = doc.bytes.clone();
        bad[0] ^= 1;
        let err = Replica::insert(&mut Commons::join(a.id(), None), &[7; 32], &bad, 0).unwrap_err();
        assert!(err.peer_fault);
    }
}
