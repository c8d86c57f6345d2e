//! Keeping a replica in a [`Store`]: reopening it, and deciding when a snapshot may be taken.
//!
//! A snapshot ([`Commons::snapshot`]) holds the text of every document and claims to cover the
//! stored changes in slots `0..covered`; reopening skips those changes' text and loads the
//! snapshot instead. It is correct only if
//! 1. every change whose effect is in the snapshot is stored (else reopening would show text that
//!    no stored change explains), and
//! 2. every change in slots `0..covered` is in the snapshot (else its text would be lost).
//!
//! [`Persistence`] tracks the longest prefix of slots known to hold only changes applied in this
//! replica (`known`). Another tab of the same browser may write the same commons in between our
//! writes; the slots it filled are read back and checked before the prefix grows past them.
//! Condition 1 holds when no write is pending and no typed edit is unflushed; condition 2 holds
//! for `covered = known`.

use super::{Appended, Store, StoreError, StoredSnapshot};
use crate::change::{Change, ChangeId, CommonsId};
use crate::commons::snapshot::{DamagedChange, RestoreError};
use crate::commons::Commons;
use crate::identity::Identity;

/// Default number of stored changes between snapshots.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 500;
/// Most slots written by other tabs that are read back to extend the known prefix at once.
const MAX_GAP_READ: u64 = 10_000;

/// Why a replica could not be reopened from storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the stored copy of this commons could not be read ({0}); it was left untouched: open the commons again from its link to fetch it from peers")]
    Restore(#[from] RestoreError),
}

/// The shell's bookkeeping of one commons' storage. Pure: the async steps are the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    id: CommonsId,
    /// Slots `0..known` hold only changes applied in this replica.
    known: u64,
    /// The number of stored changes after our latest write.
    end: u64,
    /// Slots the latest snapshot covers.
    covered: u64,
    /// Stored changes between snapshots.
    every: u64,
}

impl Persistence {
    /// Bookkeeping for a replica just reopened: `known` slots hold applied changes, `end` are
    /// stored, `covered` by the stored snapshot.
    pub fn new(id: CommonsId, known: u64, end: u64, covered: u64, every: u64) -> Self {
        Persistence {
            id,
            known,
            end,
            covered,
            every: every.max(1),
        }
    }

    /// The commons.
    pub fn id(&self) -> CommonsId {
        self.id
    }

    /// The number of stored changes after our latest write.
    pub fn stored(&self) -> u64 {
        self.end
    }

    /// The slots the latest snapshot covers.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// Records a committed batch. Returns the slots another tab wrote since our previous write,
    /// to be read back and checked with [`Persistence::after_gap`] (none in the usual case).
    pub fn after_append(&mut self, a: Appended) -> Option<(u64, u64)> {
        self.end = self.end.max(a.end);
        if a.first <= self.known {
            self.known = self.known.max(a.end);
            return None;
        }
        let to = a.first.min(self.known + MAX_GAP_READ);
        Some((self.known, to))
    }

    /// Records the result of reading back the gap `from..to` reported for batch `a`: the first
    /// `applied` of those slots hold changes applied here.
    pub fn after_gap(&mut self, a: Appended, from: u64, to: u64, applied: u64) {
        if from != self.known {
            return; // a stale answer
        }
        self.known = from + applied.min(to - from);
        if self.known == a.first {
            // Everything before our batch is ours too, and our batch is applied.
            self.known = a.end;
        }
    }

    /// A snapshot of `commons` if one is due and would be correct: nothing is waiting to be
    /// stored (`writes_pending` false, no typed edit unflushed) and `every` changes were stored
    /// since the last one. Record it with [`Persistence::snapshot_stored`] once written.
    pub fn snapshot_due(&self, commons: &Commons, writes_pending: bool) -> Option<StoredSnapshot> {
        if self.known < self.covered + self.every {
            return None;
        }
        self.snapshot_now(commons, writes_pending)
    }

    /// A snapshot covering every known slot, whatever the interval (on close), if correct now.
    pub fn snapshot_now(&self, commons: &Commons, writes_pending: bool) -> Option<StoredSnapshot> {
        if writes_pending || commons.has_unflushed() || self.known <= self.covered {
            return None;
        }
        Some(StoredSnapshot {
            covered: self.known,
            bytes: commons.snapshot(self.known),
        })
    }

    /// Records that a snapshot covering `covered` slots was stored.
    pub fn snapshot_stored(&mut self, covered: u64) {
        self.covered = self.covered.max(covered);
    }
}

/// The id a stored change has: the hash of its body, read without decoding the change (its
/// bytes were checked when stored). Decoding every slot (ops and CRDT updates included) only to
/// hash it was a quarter of reopening a commons of 10k changes. Damaged bytes give an id that no
/// replica holds; bytes too short to hold a signature give none.
pub fn stored_id(bytes: &[u8]) -> Option<ChangeId> {
    (bytes.len() > ed25519_dalek::SIGNATURE_LENGTH).then(|| crate::sync::change_id(bytes))
}

/// How many of `slots`, from the first, hold changes applied in `commons`.
pub fn applied_prefix(commons: &Commons, slots: &[Vec<u8>]) -> u64 {
    prefix_where(slots, |_, b| {
        stored_id(b).is_some_and(|id| commons.dag().get(&id).is_some())
    })
}

fn prefix_where(slots: &[Vec<u8>], keep: impl Fn(usize, &[u8]) -> bool) -> u64 {
    slots
        .iter()
        .enumerate()
        .take_while(|(i, b)| keep(*i, b))
        .count() as u64
}

/// A replica reopened by [`open_replica`].
pub struct Reopened {
    /// The replica.
    pub commons: Commons,
    /// Its storage bookkeeping.
    pub persistence: Persistence,
    /// Stored changes that were damaged and skipped (left untouched in storage); peers send
    /// them again, as any change this replica lacks. Empty in the usual case.
    pub damaged: Vec<DamagedChange>,
}

impl Reopened {
    /// What to tell the person about skipped records, in plain words; `None` if nothing was.
    pub fn notice(&self) -> Option<String> {
        damaged_notice(&self.damaged)
    }
}

/// Plain words for skipped stored changes.
pub fn damaged_notice(damaged: &[DamagedChange]) -> Option<String> {
    let first = damaged.first()?;
    let n = damaged.len();
    let what = if n == 1 {
        "1 stored change of this commons is damaged".to_string()
    } else {
        format!("{n} stored changes of this commons are damaged")
    };
    Some(format!(
        "{what} (the first, record {}: {}). It was skipped and left as it is; the commons opened \
         without it, and peers that hold it send it again when they connect.",
        first.index, first.error
    ))
}

/// Reopens the replica of commons `id` from `store` (an empty replica if nothing is stored), for
/// the local author `local` with this session's nonce. A damaged snapshot is ignored (the changes
/// are replayed instead); a damaged change is skipped and reported in [`Reopened::damaged`]; the
/// stored records are never modified.
pub async fn open_replica(
    store: &dyn Store,
    id: CommonsId,
    local: Option<(Identity, u32)>,
    snapshot_every: u64,
) -> Result<Reopened, OpenError> {
    let stored = store.load(id).await?;
    let slices = || stored.changes.iter().map(Vec::as_slice);
    let snapshot = stored.snapshot.as_ref();
    let restored = Commons::restore(id, local.clone(), snapshot.map(|s| &s.bytes[..]), slices());
    let (restored, covered) = match restored {
        Ok(r) => (r, snapshot.map_or(0, |s| s.covered)),
        Err(RestoreError::BadSnapshot(_) | RestoreError::WrongCommons) => {
            (Commons::restore(id, local, None, slices())?, 0)
        }
    };
    let end = stored.changes.len() as u64;
    // A skipped slot holds nothing this replica shows, so a snapshot may cover it: the change
    // fetched again is stored in a new slot.
    let skipped: std::collections::HashSet<usize> =
        restored.damaged.iter().map(|d| d.index).collect();
    let commons = restored.commons;
    let known = prefix_where(&stored.changes, |i, b| {
        skipped.contains(&i) || stored_id(b).is_some_and(|id| commons.dag().get(&id).is_some())
    });
    let persistence = Persistence::new(id, known, end, covered.min(known), snapshot_every);
    Ok(Reopened {
        commons,
        persistence,
        damaged: restored.damaged,
    })
}

/// Stores `changes` (already applied in `commons`) as one batch, then a snapshot if one is due.
/// The one-call form of what the browser shell does in steps.
pub async fn save(
    store: &dyn Store,
    p: &mut Persistence,
    commons: &Commons,
    changes: &[Change],
) -> Result<(), StoreError> {
    if !changes.is_empty() {
        let bytes = changes.iter().map(|c| c.bytes.clone()).collect();
        let a = store.append(p.id, bytes, commons.heads()).await?;
        if let Some((from, to)) = p.after_append(a) {
            let slots = store.read_slots(p.id, from, to).await?;
            p.after_gap(a, from, to, applied_prefix(commons, &slots));
        }
    }
    if let Some(snap) = p.snapshot_due(commons, false) {
        let covered = snap.covered;
        store.put_snapshot(p.id, snap).await?;
        p.snapshot_stored(covered);
    }
    Ok(())
}

/// How long a batch whose write failed waits before it is tried again on its own, after
/// `failures` failed writes in a row: 1 s, doubling, at most a minute. (Changes written in the
/// meantime retry it at once, with them.) Bounded so that a storage freed by the person is used
/// within a minute, spaced so that a full disk is not hammered.
pub fn retry_delay_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(6);
    (1000u64 << doublings).min(60_000)
}

#[cfg(test)]
mod tests;
