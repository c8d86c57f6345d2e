//! Snapshots for fast reopening: the CRDT state of every document, covering the first `covered`
//! changes in the order the device stored them. Reopening decodes the stored changes without
//! re-verifying their signatures, applies their non-text ops (cheap), skips the text updates the
//! snapshot covers, and loads each document's text in one CRDT apply instead of replaying every
//! edit.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

use super::Commons;
use crate::change::{Change, ChangeError, ChangeId, CommonsId};
use crate::identity::Identity;

const SNAPSHOT_FORMAT: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u8,
    commons: CommonsId,
    /// How many stored changes (in storage order) the document states include.
    covered: u64,
    documents: Vec<(ChangeId, Vec<u8>)>,
}

/// Why a replica could not be reopened.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum RestoreError {
    #[error("the snapshot is damaged or from another version: {0}")]
    BadSnapshot(String),
    #[error("the snapshot belongs to another commons")]
    WrongCommons,
}

impl Commons {
    /// A snapshot covering the first `stored` changes this device stored (the caller passes how
    /// many changes it has durably stored; they must all be applied in this replica).
    pub fn snapshot(&self, stored: u64) -> Vec<u8> {
        let snap = Snapshot {
            format: SNAPSHOT_FORMAT,
            commons: self.id,
            covered: stored,
            documents: self
                .documents
                .values()
                .map(|d| (d.id, d.encode_state()))
                .collect(),
        };
        postcard::to_allocvec(&snap).unwrap_or_default()
    }

    /// Reopens a replica from what this device stored: an optional snapshot and every stored
    /// change in storage order.
    ///
    /// A stored change that cannot be taken back (damaged bytes, another commons) is skipped and
    /// reported in [`Restored::damaged`]: one bad record must not make a commons unopenable, and
    /// the change is fetched again from peers like any change this replica lacks. A snapshot that
    /// covers a skipped change is refused ([`RestoreError::BadSnapshot`]): it holds text no
    /// stored change explains, so the caller reopens without it.
    pub fn restore<'a>(
        id: CommonsId,
        local: Option<(Identity, u32)>,
        snapshot: Option<&[u8]>,
        changes: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Restored, RestoreError> {
        let snap: Option<Snapshot> = match snapshot {
            None => None,
            Some(b) => {
                let s: Snapshot = postcard::from_bytes(b)
                    .map_err(|e| RestoreError::BadSnapshot(e.to_string()))?;
                if s.format != SNAPSHOT_FORMAT {
                    return Err(RestoreError::BadSnapshot(format!("format {}", s.format)));
                }
                if s.commons != id {
                    return Err(RestoreError::WrongCommons);
                }
                Some(s)
            }
        };
        let covered_count = snap.as_ref().map_or(0, |s| s.covered);
        let mut c = Commons::join(id, local);
        let mut covered: HashSet<ChangeId> = HashSet::new();
        let mut damaged = Vec::new();
        for (index, bytes) in changes.into_iter().enumerate() {
            let is_covered = (index as u64) < covered_count;
            let change = match c.take_stored(bytes) {
                Ok(change) => change,
                Err(error) if is_covered => {
                    return Err(RestoreError::BadSnapshot(format!(
                        "it covers stored change {index}, which is damaged ({error})"
                    )))
                }
                Err(error) => {
                    damaged.push(DamagedChange { index, error });
                    continue;
                }
            };
            if is_covered {
                covered.insert(change.id);
            }
            let added = match c.dag.add(change) {
                Ok(added) => added,
                Err(error) => {
                    damaged.push(DamagedChange { index, error });
                    continue;
                }
            };
            for r in &added.ready {
                c.apply(r, covered.contains(r));
            }
            c.catch_up();
        }
        if let Some(s) = snap {
            for (doc, state) in s.documents {
                // A stored record may be damaged: its counts are checked before yrs reserves
                // memory for them (docs/FUZZING.md), and only for a document this replica has.
                let Some(d) = c.documents.get_mut(&doc) else {
                    continue;
                };
                if !crate::change::update_bound::plausible_update_v1(&state) {
                    continue;
                }
                let Ok(u) = Update::decode_v1(&state) else {
                    continue;
                };
                let _ = d.ydoc.transact_mut().apply_update(u);
            }
        }
        // Governance is evaluated from the graph; a block passed by a change the snapshot does
        // not cover re-derives the state (the snapshot is then not needed).
        c.settle();
        c.refresh_nonce();
        Ok(Restored {
            commons: c,
            damaged,
        })
    }

    /// Decodes a stored change (its signature was checked when it was stored) and checks it
    /// belongs here.
    fn take_stored(&self, bytes: &[u8]) -> Result<Change, ChangeError> {
        let change = Change::decode_trusted(bytes)?;
        self.check_commons(&change)?;
        Ok(change)
    }
}

/// A replica reopened by [`Commons::restore`].
pub struct Restored {
    /// The replica.
    pub commons: Commons,
    /// Stored changes that were skipped, in storage order. Left untouched in storage.
    pub damaged: Vec<DamagedChange>,
}

/// A stored change [`Commons::restore`] could not take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedChange {
    /// Its slot in storage order.
    pub index: usize,
    /// Why it was skipped.
    pub error: ChangeError,
}
