//! The causal graph of changes: which changes a replica holds, which wait for missing
//! dependencies, the heads, and a deterministic causal order.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::change::limits::{
    MAX_PENDING_BYTES, MAX_PENDING_BYTES_PER_PEER, MAX_PENDING_CHANGES, PENDING_TTL_MS,
};
use crate::change::{Change, ChangeError, ChangeId};

/// A change the graph holds, with its causal depth (genesis 0, else 1 + the deepest dep).
/// Depth is a function of the change's deps alone, so every replica computes the same value, and
/// sorting by `(depth, id)` is a causal order.
#[derive(Debug, Clone)]
pub struct Node {
    pub change: Change,
    pub depth: u64,
}

/// What inserting a change did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Added {
    /// Changes that became ready (the inserted one and any it unblocked), in causal order.
    pub ready: Vec<ChangeId>,
    /// The change was already known (ready or waiting): nothing changed.
    pub duplicate: bool,
    /// The change waits for these missing dependencies or referenced changes.
    pub missing: Vec<ChangeId>,
}

/// Who sent a buffered change: a digest of the peer key the caller names (see
/// [`Dag::add_from`]).
pub type Origin = [u8; 16];

/// A change waiting for missing dependencies, with what it costs and who made us hold it.
#[derive(Debug, Clone)]
struct Pending {
    change: Change,
    cost: usize,
    origin: Option<Origin>,
    /// When it is dropped if still waiting (ms; `u64::MAX` for changes not from a peer).
    expires: u64,
}

/// What a buffered change costs the replica, in bytes: the raw bytes, the decoded body (its
/// text and ids, as large as the raw bytes, plus one in-memory `Op` per op, which is far larger
/// than the 2 bytes the smallest op takes on the wire), one entry in the waiting index per
/// missing dependency or reference (the id, the waiter's id and the index's own overhead), and a
/// fixed part. A deterministic estimate of the allocation, the same on every platform.
pub fn pending_cost(change: &Change, missing: usize) -> usize {
    2 * change.bytes.len() + OP_COST * change.body.ops.len() + 96 * missing + 256
}

/// What one decoded op costs in memory besides its payload (its enum slot), fixed so that the
/// count does not depend on the platform (`size_of::<Op>()` is 168 on 64-bit targets).
pub const OP_COST: usize = 192;

/// The key under which a peer's buffered changes are counted.
pub fn origin_of(peer: &[u8]) -> Origin {
    let mut o = [0u8; 16];
    o.copy_from_slice(&blake3::hash(peer).as_bytes()[..16]);
    o
}

/// The graph. Changes are added after their signature and limits have been checked.
#[derive(Debug, Default, Clone)]
pub struct Dag {
    nodes: HashMap<ChangeId, Node>,
    order: Vec<ChangeId>,
    heads: BTreeSet<ChangeId>,
    pending: HashMap<ChangeId, Pending>,
    waiting: HashMap<ChangeId, Vec<ChangeId>>,
    /// Total [`pending_cost`] of the buffered changes, and per sending peer.
    pending_bytes: usize,
    pending_by_origin: HashMap<Origin, usize>,
}

impl Dag {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a checked change: ready at once if every dep and referenced change is present,
    /// else buffered until they are (a change from storage or written here: never expires).
    pub fn add(&mut self, change: Change) -> Result<Added, ChangeError> {
        self.add_from(change, None, 0)
    }

    /// [`Dag::add`] for a change a peer sent (`origin`, see [`origin_of`]) at time `now` (ms):
    /// if it must wait, it counts against that peer's budget and is dropped after
    /// [`PENDING_TTL_MS`] (see [`Dag::expire`]).
    pub fn add_from(
        &mut self,
        change: Change,
        origin: Option<Origin>,
        now: u64,
    ) -> Result<Added, ChangeError> {
        let id = change.id;
        if self.nodes.contains_key(&id) || self.pending.contains_key(&id) {
            return Ok(Added {
                duplicate: true,
                ..Added::default()
            });
        }
        let missing = self.missing_of(&change);
        if !missing.is_empty() {
            let cost = pending_cost(&change, missing.len());
            let of_peer =
                origin.map_or(0, |o| self.pending_by_origin.get(&o).copied().unwrap_or(0));
            if self.pending.len() >= MAX_PENDING_CHANGES
                || self.pending_bytes + cost > MAX_PENDING_BYTES
                || (origin.is_some() && of_peer + cost > MAX_PENDING_BYTES_PER_PEER)
            {
                return Err(ChangeError::PendingFull);
            }
            for m in &missing {
                self.waiting.entry(*m).or_default().push(id);
            }
            self.pending_bytes += cost;
            if let Some(o) = origin {
                *self.pending_by_origin.entry(o).or_default() += cost;
            }
            let expires = match origin {
                Some(_) => now.saturating_add(PENDING_TTL_MS),
                None => u64::MAX,
            };
            self.pending.insert(
                id,
                Pending {
                    change,
                    cost,
                    origin,
                    expires,
                },
            );
            return Ok(Added {
                missing,
                ..Added::default()
            });
        }
        let mut ready = Vec::new();
        self.make_ready(change, &mut ready);
        Ok(Added {
            ready,
            ..Added::default()
        })
    }

    /// Takes a change out of the buffer, releasing its cost.
    fn unbuffer(&mut self, id: &ChangeId) -> Option<Change> {
        let p = self.pending.remove(id)?;
        self.pending_bytes -= p.cost;
        if let Some(o) = p.origin {
            if let Some(v) = self.pending_by_origin.get_mut(&o) {
                *v -= p.cost;
                if *v == 0 {
                    self.pending_by_origin.remove(&o);
                }
            }
        }
        Some(p.change)
    }

    /// Drops buffered changes from peers that waited past their time to live. Returns how many.
    /// Cost: one pass over the buffer and the waiting index.
    pub fn expire(&mut self, now: u64) -> usize {
        let old: Vec<ChangeId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        if old.is_empty() {
            return 0;
        }
        for id in &old {
            self.unbuffer(id);
        }
        let pending = &self.pending;
        self.waiting.retain(|_, ws| {
            ws.retain(|w| pending.contains_key(w));
            !ws.is_empty()
        });
        old.len()
    }

    /// What the changes `peer` sent and that wait for dependencies cost (see [`pending_cost`]).
    pub fn pending_cost_of(&self, peer: &[u8]) -> usize {
        self.pending_by_origin
            .get(&origin_of(peer))
            .copied()
            .unwrap_or(0)
    }

    /// What every buffered change costs (see [`pending_cost`]).
    pub fn pending_cost_total(&self) -> usize {
        self.pending_bytes
    }

    fn missing_of(&self, change: &Change) -> Vec<ChangeId> {
        let mut missing: Vec<ChangeId> = change
            .body
            .deps
            .iter()
            .chain(change.references().iter())
            .filter(|d| !self.nodes.contains_key(d))
            .copied()
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Makes `change` ready, then every waiting change that it (transitively) unblocks.
    fn make_ready(&mut self, change: Change, ready: &mut Vec<ChangeId>) {
        let mut queue = vec![change];
        while let Some(change) = queue.pop() {
            let id = change.id;
            let depth = change
                .body
                .deps
                .iter()
                .filter_map(|d| self.nodes.get(d).map(|n| n.depth + 1))
                .max()
                .unwrap_or(0);
            for d in &change.body.deps {
                self.heads.remove(d);
            }
            self.heads.insert(id);
            self.nodes.insert(id, Node { change, depth });
            self.order.push(id);
            ready.push(id);
            for w in self.waiting.remove(&id).unwrap_or_default() {
                let Some(p) = self.pending.get(&w) else {
                    continue;
                };
                if self.missing_of(&p.change).is_empty() {
                    if let Some(c) = self.unbuffer(&w) {
                        queue.push(c);
                    }
                }
            }
        }
    }

    /// Whether the change is held, ready or waiting.
    pub fn contains(&self, id: &ChangeId) -> bool {
        self.nodes.contains_key(id) || self.pending.contains_key(id)
    }

    /// A ready change.
    pub fn get(&self, id: &ChangeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Number of ready changes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no change is ready.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of changes waiting for missing dependencies.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Ids the waiting changes still need (neither ready nor waiting themselves).
    pub fn missing(&self) -> BTreeSet<ChangeId> {
        self.waiting
            .keys()
            .filter(|id| !self.contains(id))
            .copied()
            .collect()
    }

    /// The changes no other ready change depends on.
    pub fn heads(&self) -> Vec<ChangeId> {
        self.heads.iter().copied().collect()
    }

    /// Ready changes in the order they became ready (a causal order, not the same on every replica).
    pub fn arrival_order(&self) -> &[ChangeId] {
        &self.order
    }

    /// Ready changes in the deterministic causal order `(depth, id)`: the same on every replica.
    pub fn causal_order(&self) -> Vec<(u64, ChangeId)> {
        let mut v: Vec<(u64, ChangeId)> = self.nodes.iter().map(|(id, n)| (n.depth, *id)).collect();
        v.sort_unstable();
        v
    }

    /// Every change in the causal past of `id` (its transitive deps), `id` excluded.
    pub fn ancestors(&self, id: &ChangeId) -> HashSet<ChangeId> {
        let mut seen = HashSet::new();
        let mut stack: Vec<ChangeId> = self
            .nodes
            .get(id)
            .map(|n| n.change.body.deps.clone())
            .unwrap_or_default();
        while let Some(d) = stack.pop() {
            if seen.insert(d) {
                if let Some(n) = self.nodes.get(&d) {
                    stack.extend(n.change.body.deps.iter().copied());
                }
            }
        }
        seen
    }

    /// Whether `ancestor` is in the causal past of `id`.
    pub fn is_ancestor(&self, ancestor: &ChangeId, id: &ChangeId) -> bool {
        let Some(target) = self.nodes.get(ancestor) else {
            return false;
        };
        // Depth prunes the walk: nothing shallower than the ancestor can lead to it.
        let mut seen = HashSet::new();
        let mut stack = vec![*id];
        while let Some(c) = stack.pop() {
            let Some(n) = self.nodes.get(&c) else {
                continue;
            };
            for d in &n.change.body.deps {
                if d == ancestor {
                    return true;
                }
                if let Some(dn) = self.nodes.get(d) {
                    if dn.depth > target.depth && seen.insert(*d) {
                        stack.push(*d);
                    }
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod cost_tests {
    use super::OP_COST;

    /// The fixed per-op count must cover the decoded op's own slot, or the bound in
    /// docs/PROTOCOL.md would not hold.
    #[test]
    fn op_cost_covers_the_enum() {
        let size = std::mem::size_of::<crate::change::Op>();
        assert!(size <= OP_COST, "Op is {size} bytes");
    }
}
