//! The reconciliation index: every applied change as a (causal depth, id) item, sorted, which is
//! what negentropy reconciles over.
//!
//! Depth as negentropy's "timestamp" does two jobs: two replicas that diverged recently differ
//! only in the highest ranges (so reconciliation narrows in quickly), and sorting by (depth, id)
//! is a valid dependency order for sending changes.

use std::collections::HashMap;

use negentropy::{Bound, Error as NegError, Id, Item, NegentropyStorageBase};

use super::ChangeId;

/// Where a session reads the bytes of changes it sends.
pub trait ChangeSource {
    /// The canonical bytes of an applied change, if present.
    fn change_bytes(&self, id: &ChangeId) -> Option<&[u8]>;
}

/// What a session reads during one call: the index and the change bytes.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The reconciliation index (flushed).
    pub index: &'a SyncIndex,
    /// The change bytes.
    pub changes: &'a dyn ChangeSource,
}

/// Sorted (depth, id) items with a lookup from id to depth.
#[derive(Debug, Default, Clone)]
pub struct SyncIndex {
    items: Vec<Item>,
    pending: Vec<Item>,
    depth: HashMap<ChangeId, u64>,
}

impl SyncIndex {
    /// An empty index.
    pub fn new() -> Self {
        SyncIndex::default()
    }

    /// An index of these items (any order, duplicates allowed).
    pub fn from_items(items: impl IntoIterator<Item = (u64, ChangeId)>) -> Self {
        let mut index = SyncIndex::new();
        for (depth, id) in items {
            index.insert(depth, id);
        }
        index.flush();
        index
    }

    /// Adds one item; returns false if the id was already present. Call [`SyncIndex::flush`]
    /// before reconciling.
    pub fn insert(&mut self, depth: u64, id: ChangeId) -> bool {
        if self.depth.insert(id, depth).is_some() {
            return false;
        }
        let item = Item::with_timestamp_and_id(depth, Id::from_byte_array(id.0));
        // Changes mostly arrive in dependency order, so most land at the end of the sorted list.
        if self.pending.is_empty() && self.items.last().is_none_or(|last| *last < item) {
            self.items.push(item);
        } else {
            self.pending.push(item);
        }
        true
    }

    /// Merges items added out of order into the sorted list.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable();
        let old = std::mem::take(&mut self.items);
        let mut merged = Vec::with_capacity(old.len() + self.pending.len());
        let (mut a, mut b) = (
            old.into_iter().peekable(),
            self.pending.drain(..).peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, _) => b.next(),
            };
            match next {
                Some(item) => merged.push(item),
                None => break,
            }
        }
        self.items = merged;
    }

    /// True when there are no items added since the last flush.
    pub fn is_flushed(&self) -> bool {
        self.pending.is_empty()
    }

    /// The depth of a change in the index.
    pub fn depth(&self, id: &ChangeId) -> Option<u64> {
        self.depth.get(id).copied()
    }

    /// True when the change is in the index.
    pub fn contains(&self, id: &ChangeId) -> bool {
        self.depth.contains_key(id)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.depth.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.depth.is_empty()
    }

    /// The items in (depth, id) order (only flushed ones).
    pub fn iter(&self) -> impl Iterator<Item = (u64, ChangeId)> + '_ {
        self.items
            .iter()
            .map(|item| (item.timestamp, ChangeId(item.id.to_bytes())))
    }

    /// Pairs each known id with its depth, dropping unknown ones.
    pub fn with_depths(&self, ids: impl IntoIterator<Item = ChangeId>) -> Vec<(u64, ChangeId)> {
        ids.into_iter()
            .filter_map(|id| self.depth(&id).map(|d| (d, id)))
            .collect()
    }
}

impl NegentropyStorageBase for SyncIndex {
    fn size(&self) -> Result<usize, NegError> {
        Ok(self.items.len())
    }

    fn get_item(&self, i: usize) -> Result<Option<Item>, NegError> {
        Ok(self.items.get(i).copied())
    }

    fn iterate(
        &self,
        begin: usize,
        end: usize,
        cb: &mut dyn FnMut(Item, usize) -> Result<bool, NegError>,
    ) -> Result<(), NegError> {
        let slice = self.items.get(begin..end).ok_or(NegError::BadRange)?;
        for (offset, item) in slice.iter().enumerate() {
            if !cb(*item, begin + offset)? {
                break;
            }
        }
        Ok(())
    }

    fn find_lower_bound(&self, first: usize, last: usize, value: &Bound) -> usize {
        let last = last.min(self.items.len());
        let first = first.min(last);
        let slice = self.items.get(first..last).unwrap_or_default();
        first + slice.partition_point(|item| *item < value.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ChangeId {
        ChangeId([n; 32])
    }

    #[test]
    fn out_of_order_inserts_are_merged_sorted() {
        let mut index = SyncIndex::new();
        for (d, n) in [(3, 1), (1, 9), (3, 0), (2, 5), (1, 9), (0, 7)] {
            index.insert(d, id(n));
        }
        assert!(!index.is_flushed());
        index.flush();
        let got: Vec<_> = index.iter().collect();
        assert_eq!(
            got,
            vec![(0, id(7)), (1, id(9)), (2, id(5)), (3, id(0)), (3, id(1))]
        );
        assert_eq!(index.len(), 5);
        assert_eq!(index.depth(&id(5)), Some(2));
        assert_eq!(index.with_depths([id(1), id(42)]), vec![(3, id(1))]);
    }

    #[test]
    fn lower_bound_finds_first_item_not_below() {
        let index = SyncIndex::from_items((0..10u8).map(|n| (u64::from(n / 2), id(n))));
        let bound = Bound::with_timestamp(3);
        assert_eq!(index.find_lower_bound(0, 10, &bound), 6);
        assert_eq!(index.find_lower_bound(7, 10, &bound), 7);
        assert_eq!(index.find_lower_bound(0, 99, &bound), 6);
        assert_eq!(
            index.find_lower_bound(0, 10, &Bound::with_timestamp(99)),
            10
        );
    }
}
