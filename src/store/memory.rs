//! An in-memory [`Store`] for native tests and tools. An optional quota makes writes fail with
//! [`StoreError::QuotaExceeded`] the way a full browser storage does, leaving the data unchanged.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{
    Appended, JoinedCommons, Store, StoreError, StoreFuture, StoredCommons, StoredSnapshot,
};
use crate::change::{ChangeId, CommonsId};
use crate::identity::Identity;

#[derive(Default)]
struct Data {
    identity: Option<[u8; 32]>,
    joined: BTreeMap<CommonsId, JoinedCommons>,
    changes: BTreeMap<CommonsId, Vec<Vec<u8>>>,
    heads: BTreeMap<CommonsId, Vec<ChangeId>>,
    snapshots: BTreeMap<CommonsId, StoredSnapshot>,
}

impl Data {
    /// Bytes of changes and snapshots held (what a quota counts here).
    fn used(&self) -> usize {
        let changes: usize = self.changes.values().flatten().map(Vec::len).sum();
        let snaps: usize = self.snapshots.values().map(|s| s.bytes.len()).sum();
        changes + snaps
    }
}

/// A [`Store`] in memory. Every operation completes at once.
#[derive(Default)]
pub struct MemoryStore {
    data: RefCell<Data>,
    quota: std::cell::Cell<Option<usize>>,
    writes: RefCell<u64>,
}

impl MemoryStore {
    /// An empty store without a quota.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that refuses writes once changes and snapshots would exceed `bytes`.
    pub fn with_quota(bytes: usize) -> Self {
        MemoryStore {
            quota: std::cell::Cell::new(Some(bytes)),
            ..Self::default()
        }
    }

    /// Changes the quota (`None`: unlimited), as a person freeing space would.
    pub fn set_quota(&self, bytes: Option<usize>) {
        self.quota.set(bytes);
    }

    /// How many write transactions committed (tests check batching with it).
    pub fn write_count(&self) -> u64 {
        *self.writes.borrow()
    }

    /// Flips one bit of a stored change (byte `at` of slot `slot`), as a failing disk or a
    /// buggy extension would: tests check that reopening survives it.
    pub fn damage(&self, commons: CommonsId, slot: usize, at: usize) {
        if let Some(b) = self
            .data
            .borrow_mut()
            .changes
            .get_mut(&commons)
            .and_then(|slots| slots.get_mut(slot))
            .and_then(|bytes| bytes.get_mut(at))
        {
            *b ^= 1;
        }
    }

    fn check_quota(&self, extra: usize) -> Result<(), StoreError> {
        match self.quota.get() {
            Some(q) if self.data.borrow().used() + extra > q => Err(StoreError::QuotaExceeded),
            _ => Ok(()),
        }
    }

    fn committed(&self) {
        *self.writes.borrow_mut() += 1;
    }
}

fn ready<'a, T: 'a>(r: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(r))
}

impl Store for MemoryStore {
    fn load_or_insert_identity(&self, candidate: Identity) -> StoreFuture<'_, Identity> {
        let mut data = self.data.borrow_mut();
        let secret = *data.identity.get_or_insert(candidate.secret());
        ready(Ok(Identity::from_secret(secret)))
    }

    fn joined(&self) -> StoreFuture<'_, Vec<JoinedCommons>> {
        ready(Ok(self.data.borrow().joined.values().cloned().collect()))
    }

    fn remember(&self, commons: JoinedCommons) -> StoreFuture<'_, ()> {
        let mut data = self.data.borrow_mut();
        data.joined
            .entry(commons.id)
            .and_modify(|j| j.title.clone_from(&commons.title))
            .or_insert(commons);
        drop(data);
        self.committed();
        ready(Ok(()))
    }

    fn forget(&self, id: CommonsId) -> StoreFuture<'_, ()> {
        let mut data = self.data.borrow_mut();
        data.joined.remove(&id);
        data.changes.remove(&id);
        data.heads.remove(&id);
        data.snapshots.remove(&id);
        drop(data);
        self.committed();
        ready(Ok(()))
    }

    fn load(&self, id: CommonsId) -> StoreFuture<'_, StoredCommons> {
        let data = self.data.borrow();
        ready(Ok(StoredCommons {
            changes: data.changes.get(&id).cloned().unwrap_or_default(),
            snapshot: data.snapshots.get(&id).cloned(),
            heads: data.heads.get(&id).cloned().unwrap_or_default(),
        }))
    }

    fn append(
        &self,
        id: CommonsId,
        changes: Vec<Vec<u8>>,
        heads: Vec<ChangeId>,
    ) -> StoreFuture<'_, Appended> {
        if let Err(e) = self.check_quota(changes.iter().map(Vec::len).sum()) {
            return ready(Err(e));
        }
        let mut data = self.data.borrow_mut();
        let slots = data.changes.entry(id).or_default();
        let first = slots.len() as u64;
        slots.extend(changes);
        let end = slots.len() as u64;
        data.heads.insert(id, heads);
        drop(data);
        self.committed();
        ready(Ok(Appended { first, end }))
    }

    fn read_slots(&self, id: CommonsId, from: u64, to: u64) -> StoreFuture<'_, Vec<Vec<u8>>> {
        let data = self.data.borrow();
        let slots = data.changes.get(&id).map_or(&[][..], Vec::as_slice);
        let from = (from as usize).min(slots.len());
        let to = (to as usize).clamp(from, slots.len());
        ready(Ok(slots[from..to].to_vec()))
    }

    fn put_snapshot(&self, id: CommonsId, snapshot: StoredSnapshot) -> StoreFuture<'_, ()> {
        let old = self
            .data
            .borrow()
            .snapshots
            .get(&id)
            .map_or(0, |s| s.bytes.len());
        if let Err(e) = self.check_quota(snapshot.bytes.len().saturating_sub(old)) {
            return ready(Err(e));
        }
        self.data.borrow_mut().snapshots.insert(id, snapshot);
        self.committed();
        ready(Ok(()))
    }
}
