//! Changes announced lazily (or depended on) that have not arrived, with a queue by due time so
//! that the node's timers never scan the whole set: a peer announcing many bogus ids costs
//! logarithmic time per id, within a bounded set.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::ConnId;
use crate::sync::ChangeId;

/// A change we know of and lack.
pub(super) struct Missing {
    /// Links that announced it, not yet asked.
    pub announcers: VecDeque<ConnId>,
    /// The link it was last asked from: if it comes, that link goes eager for its origin (when
    /// `graft`); if it does not, that link announced what it would not deliver.
    pub asked: Option<ConnId>,
    /// Whether asking grafts: true for an announced change, false for a missing dependency.
    pub graft: bool,
}

/// The missing changes and when to act on each.
#[derive(Default)]
pub(super) struct MissingSet {
    items: BTreeMap<ChangeId, (u64, Missing)>,
    due: BTreeSet<(u64, ChangeId)>,
}

impl MissingSet {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Adds a change due at `due`, unless already there.
    pub fn insert(&mut self, id: ChangeId, due: u64, m: Missing) {
        if let std::collections::btree_map::Entry::Vacant(e) = self.items.entry(id) {
            e.insert((due, m));
            self.due.insert((due, id));
        }
    }

    pub fn get_mut(&mut self, id: &ChangeId) -> Option<&mut Missing> {
        self.items.get_mut(id).map(|(_, m)| m)
    }

    pub fn remove(&mut self, id: &ChangeId) -> Option<Missing> {
        let (due, m) = self.items.remove(id)?;
        self.due.remove(&(due, *id));
        Some(m)
    }

    /// Sets when a change is next due.
    pub fn reschedule(&mut self, id: &ChangeId, due: u64) {
        if let Some((old, _)) = self.items.get_mut(id) {
            self.due.remove(&(*old, *id));
            *old = due;
            self.due.insert((due, *id));
        }
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<u64> {
        self.due.first().map(|(t, _)| *t)
    }

    /// The changes due at or before `now`.
    pub fn due_by(&self, now: u64) -> Vec<ChangeId> {
        self.due
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Forgets a closed link as an announcer.
    pub fn forget_conn(&mut self, conn: ConnId) {
        for (_, m) in self.items.values_mut() {
            m.announcers.retain(|c| *c != conn);
            if m.asked == Some(conn) {
                m.asked = None;
            }
        }
    }
}
