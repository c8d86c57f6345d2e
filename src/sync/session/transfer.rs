//! What a session still has to send or receive: changes to push or deliver, lazy announcements,
//! and changes it asked for. Queues hold ids only; change bytes are read from the replica when a
//! message is built, one chunk-sized message at a time, so memory per peer stays small.

use std::collections::{BTreeSet, VecDeque};

use super::super::wire::{changes_message_len, varint_len, Bytes, Message};
use super::super::{ChangeId, View};

/// The kind of change message the next batch goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Push,
    Deliver,
}

/// Changes the peer asked for or lacks, and new changes to gossip to it.
#[derive(Default)]
pub(super) struct Outgoing {
    /// Eager gossip, in arrival order.
    pub push: VecDeque<ChangeId>,
    /// Changes asked for by a graft: sent before history.
    pub urgent: VecDeque<ChangeId>,
    /// History the peer lacks, in (depth, id) order so it applies without buffering.
    pub deliver: BTreeSet<(u64, ChangeId)>,
    /// Lazy gossip not yet announced.
    pub announce: Vec<ChangeId>,
    /// When the pending announcement goes out.
    pub announce_due: Option<u64>,
    /// Reconciliation whose end to signal once `deliver` is empty.
    pub done_after: Option<u32>,
}

impl Outgoing {
    /// Builds the next change message of at most `budget` bytes (or one change if it is larger).
    pub fn next_message(&mut self, view: View<'_>, budget: usize) -> Option<(Vec<u8>, usize)> {
        let (kind, ids) = self.take_batch(view, budget)?;
        let parts: Vec<Bytes<'_>> = ids
            .iter()
            .filter_map(|id| view.changes.change_bytes(id).map(Bytes))
            .collect();
        let count = parts.len();
        let msg = match kind {
            Kind::Push => Message::Push(parts),
            Kind::Deliver => Message::Deliver(parts),
        };
        Some((msg.encode(), count))
    }

    /// Picks the ids of the next message: gossip first, then grafts, then history.
    fn take_batch(&mut self, view: View<'_>, budget: usize) -> Option<(Kind, Vec<ChangeId>)> {
        let mut ids = Vec::new();
        let mut size = changes_message_len(std::iter::empty());
        let fits = |size: usize, len: usize, ids: &Vec<ChangeId>| {
            ids.is_empty() || size + varint_len(len as u64) + len < budget
        };
        let kind = if !self.push.is_empty() {
            Kind::Push
        } else if !self.urgent.is_empty() || !self.deliver.is_empty() {
            Kind::Deliver
        } else {
            return None;
        };
        loop {
            let next = match kind {
                Kind::Push => self.push.front().copied(),
                Kind::Deliver => self
                    .urgent
                    .front()
                    .copied()
                    .or_else(|| self.deliver.first().map(|(_, id)| *id)),
            };
            let Some(id) = next else { break };
            let len = view.changes.change_bytes(&id).map_or(0, <[u8]>::len);
            if len > 0 && !fits(size, len, &ids) {
                break;
            }
            match kind {
                Kind::Push => {
                    self.push.pop_front();
                }
                Kind::Deliver => {
                    if self.urgent.pop_front().is_none() {
                        self.deliver.pop_first();
                    }
                }
            }
            if len > 0 {
                size += varint_len(len as u64) + len;
                ids.push(id);
            }
        }
        if ids.is_empty() {
            // Only ids whose bytes are gone: nothing to send, but the queue moved on.
            return self.take_batch(view, budget);
        }
        Some((kind, ids))
    }

    /// True when no change waits to be sent.
    pub fn is_idle(&self) -> bool {
        self.push.is_empty() && self.urgent.is_empty() && self.deliver.is_empty()
    }

    /// Forgets everything queued (connection closed).
    pub fn clear(&mut self) {
        *self = Outgoing::default();
    }
}

/// Changes this side asked the peer for and has not received yet.
#[derive(Default)]
pub(super) struct Wants {
    /// Asked for, not yet received.
    pub outstanding: BTreeSet<ChangeId>,
    /// Not yet asked for (sent in batches).
    pub queued: VecDeque<ChangeId>,
    /// When to ask again for what is still outstanding, if nothing arrives before.
    pub deadline: Option<u64>,
    /// Consecutive times asked without progress.
    pub attempt: u32,
}

impl Wants {
    /// Adds ids to ask for (skipping ones already outstanding).
    pub fn add(&mut self, ids: impl IntoIterator<Item = ChangeId>) {
        for id in ids {
            if !self.outstanding.contains(&id) {
                self.outstanding.insert(id);
                self.queued.push_back(id);
            }
        }
    }

    /// Marks a change received; true if it was wanted.
    pub fn received(&mut self, id: &ChangeId) -> bool {
        self.outstanding.remove(id)
    }

    /// Takes up to `n` ids to ask for now.
    pub fn next_batch(&mut self, n: usize) -> Vec<ChangeId> {
        let n = n.min(self.queued.len());
        self.queued
            .drain(..n)
            .filter(|id| self.outstanding.contains(id))
            .collect()
    }

    /// Asks again for everything still outstanding.
    pub fn requeue(&mut self) {
        self.queued = self.outstanding.iter().copied().collect();
    }

    /// True when nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }
}
