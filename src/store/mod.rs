//! Storage of a browser's data, behind the [`Store`] trait: per browser the identity and the list
//! of joined commons; per commons the changes in storage order, their heads, and a snapshot of the
//! derived state with the number of stored changes it covers.
//!
//! - [`memory::MemoryStore`]: in memory, for native tests (with an optional quota to exercise the
//!   full-storage path).
//! - [`idb::IdbStore`] (wasm32 only): IndexedDB.
//! - [`persist`]: what the shell does with a store: reopen a replica from it, and decide when a
//!   snapshot may be taken so that reopening stays fast and correct even when several tabs of one
//!   browser write to the same commons.
//!
//! Changes of one commons are stored in *slots* `0, 1, 2, …` in the order they were written. Every
//! write of a batch of changes is one atomic transaction that reads the current count and appends
//! after it, so two tabs writing at once never overwrite each other (a change may then be stored
//! twice, which reopening tolerates).

#[cfg(target_arch = "wasm32")]
pub mod idb;
pub mod memory;
pub mod persist;

use std::future::Future;
use std::pin::Pin;

use crate::change::{ChangeId, CommonsId};
use crate::identity::Identity;

/// What storing or loading returns: a boxed future, so the trait can be used as `dyn Store`.
/// Not `Send`: the browser is single-threaded.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + 'a>>;

/// What can go wrong with the browser's storage, worded for the person using the app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `indexedDB` is missing from the page's global scope.
    #[error(
        "this browser gives the page no IndexedDB (private window, site data blocked, or a \
         sandboxed frame?): allow site data for this page and reload"
    )]
    Unavailable,
    /// The database is at a higher version than this build knows: an older app is running.
    #[error(
        "the stored data was written by a newer version of peer-commons: reload the page to get it"
    )]
    NewerVersion,
    /// Opening the database failed for another reason.
    #[error("the browser could not open the peer-commons database ({0}): close other tabs of this app and reload")]
    Open(String),
    /// A schema upgrade step failed; the upgrade was rolled back.
    #[error("upgrading the stored data failed and was rolled back ({0}): reload the page; if it persists, report it")]
    Upgrade(String),
    /// The origin's storage quota is exhausted.
    #[error("the browser's storage for this site is full: free some space or allow more storage, then retry")]
    QuotaExceeded,
    /// The stored identity is not a valid record. It is left untouched.
    #[error(
        "the stored identity is damaged ({0}); it was left untouched: clear this site's data to \
         start with a new identity"
    )]
    CorruptIdentity(String),
    /// A stored commons record is not valid. It is left untouched.
    #[error("the stored copy of this commons is damaged ({0}); it was left untouched: open the commons again from its link to fetch it from peers")]
    Corrupt(String),
    /// The browser aborted a write before it was committed; nothing was saved.
    #[error("the browser aborted the write before it was saved: retry")]
    Aborted,
    /// The store was closed (the commons was closed) while a request was under way.
    #[error("the commons was closed; open it again to continue")]
    Closed,
    /// Any other failed storage request.
    #[error("a storage request failed ({0}): retry, or reload the page")]
    Request(String),
}

/// A commons this browser joined, as listed on the start page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JoinedCommons {
    /// The commons id.
    pub id: CommonsId,
    /// Its title when last seen (empty until the genesis arrived).
    pub title: String,
    /// When this browser first joined it (ms since the epoch).
    pub joined_at: u64,
}

/// Everything stored for one commons, as [`Store::load`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredCommons {
    /// Every stored change's bytes, in storage order (slot 0 first).
    pub changes: Vec<Vec<u8>>,
    /// The latest snapshot, if one was taken.
    pub snapshot: Option<StoredSnapshot>,
    /// The heads recorded by the latest write.
    pub heads: Vec<ChangeId>,
}

/// A snapshot of a commons' derived state ([`crate::commons::Commons::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// How many stored changes (slots `0..covered`) it covers.
    pub covered: u64,
    /// The snapshot bytes.
    pub bytes: Vec<u8>,
}

/// Where a batch of changes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The slot of the batch's first change.
    pub first: u64,
    /// The number of stored changes after the batch (its end slot).
    pub end: u64,
}

/// The browser's storage for the shell. Every method is one atomic transaction: when its future
/// resolves `Ok`, the data is committed.
pub trait Store {
    /// The stored identity, or `candidate` stored and returned if there is none. Read and write
    /// happen in one transaction, so tabs starting at once agree on one identity.
    fn load_or_insert_identity(&self, candidate: Identity) -> StoreFuture<'_, Identity>;
    /// The commons this browser joined.
    fn joined(&self) -> StoreFuture<'_, Vec<JoinedCommons>>;
    /// Records that this browser joined a commons, or updates its title; keeps `joined_at` and
    /// every stored change.
    fn remember(&self, commons: JoinedCommons) -> StoreFuture<'_, ()>;
    /// Deletes everything stored about a commons.
    fn forget(&self, id: CommonsId) -> StoreFuture<'_, ()>;
    /// Everything stored about a commons (nothing if it was never stored).
    fn load(&self, id: CommonsId) -> StoreFuture<'_, StoredCommons>;
    /// Appends a batch of changes after the last stored one and records `heads`, in one
    /// transaction.
    fn append(
        &self,
        id: CommonsId,
        changes: Vec<Vec<u8>>,
        heads: Vec<ChangeId>,
    ) -> StoreFuture<'_, Appended>;
    /// The stored changes in slots `from..to`.
    fn read_slots(&self, id: CommonsId, from: u64, to: u64) -> StoreFuture<'_, Vec<Vec<u8>>>;
    /// Replaces the commons' snapshot.
    fn put_snapshot(&self, id: CommonsId, snapshot: StoredSnapshot) -> StoreFuture<'_, ()>;
}

/// Packs a batch of changes into one record: `count: u32 LE`, then each change's length (`u32
/// LE`), then the changes back to back. One record per batch keeps storing cheap (one put, one
/// structured clone) however many changes a flush or a sync burst brings.
pub fn encode_batch(changes: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = changes.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(4 + 4 * changes.len() + total);
    out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
    for c in changes {
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    }
    for c in changes {
        out.extend_from_slice(c);
    }
    out
}

/// Unpacks what [`encode_batch`] made; a damaged record is [`StoreError::Corrupt`].
pub fn decode_batch(record: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let damaged = || StoreError::Corrupt("a stored batch of changes is truncated".into());
    let u32_at = |at: usize| -> Result<usize, StoreError> {
        let b = record.get(at..at + 4).ok_or_else(damaged)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = u32_at(0)?;
    let mut at = 4usize
        .checked_add(count.checked_mul(4).ok_or_else(damaged)?)
        .ok_or_else(damaged)?;
    if at > record.len() {
        return Err(damaged());
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let len = u32_at(4 + 4 * i)?;
        let end = at.checked_add(len).ok_or_else(damaged)?;
        out.push(record.get(at..end).ok_or_else(damaged)?.to_vec());
        at = end;
    }
    if at != record.len() {
        return Err(StoreError::Corrupt(
            "a stored batch of changes has trailing bytes".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_damage_is_reported() {
        let changes = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        let packed = encode_batch(&changes);
        assert_eq!(decode_batch(&packed).unwrap(), changes);
        assert_eq!(
            decode_batch(&encode_batch(&[])).unwrap(),
            Vec::<Vec<u8>>::new()
        );
        for cut in 0..packed.len() {
            assert!(
                matches!(decode_batch(&packed[..cut]), Err(StoreError::Corrupt(_))),
                "cut at {cut}"
            );
        }
        let mut longer = packed.clone();
        longer.push(0);
        assert!(decode_batch(&longer).is_err());
        // A count far beyond the record is refused without allocating for it.
        assert!(decode_batch(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
