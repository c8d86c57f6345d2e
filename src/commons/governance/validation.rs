//! A-posteriori validation: who endorsed, flagged or reverted each change, and which changes are
//! reverted. A change is reverted when a revert that *counts* targets it; a revert counts when its
//! author was a member in its causal past, it is not left out by a block, and it is not itself
//! reverted. So reverting a revert restores the change, and so on down any chain.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{Governance, Stamp};
use crate::change::ChangeId;
use crate::identity::AuthorId;

/// A flag on a change.
#[derive(Clone, Debug)]
pub(crate) struct FlagRec {
    pub change: ChangeId,
    pub stamp: Stamp,
    pub by: AuthorId,
    pub reason: String,
}

/// What targets a change.
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetRec {
    pub endorsements: Vec<usize>,
    pub flags: Vec<FlagRec>,
    /// Changes carrying a revert op on it.
    pub reverts: Vec<ChangeId>,
}

/// A change carrying revert ops.
#[derive(Clone, Debug)]
pub(crate) struct RevertRec {
    pub stamp: Stamp,
    pub author: AuthorId,
    pub targets: Vec<ChangeId>,
    /// Its author was a member, not blocked, in its causal past.
    pub valid: bool,
}

/// Where a change stands, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationState {
    /// Nobody who counts has endorsed it (yet): it is shown, marked unvalidated.
    Unvalidated,
    /// At least one member endorsed it.
    Endorsed,
    /// Flagged and not endorsed by a member.
    Flagged,
    /// Reverted by a member's revert that still counts.
    Reverted,
}

/// An endorsement of a change, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndorsementView {
    #[serde(serialize_with = "super::hexser::id")]
    pub by: AuthorId,
    #[serde(serialize_with = "super::hexser::id")]
    pub change: ChangeId,
    /// Its author was a member in its causal past (only those validate).
    pub counted: bool,
}

/// A flag on a change, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagView {
    #[serde(serialize_with = "super::hexser::id")]
    pub by: AuthorId,
    #[serde(serialize_with = "super::hexser::id")]
    pub change: ChangeId,
    pub reason: String,
}

/// A revert of a change, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertView {
    #[serde(serialize_with = "super::hexser::id")]
    pub by: AuthorId,
    #[serde(serialize_with = "super::hexser::id")]
    pub change: ChangeId,
    /// Its author was a member in its causal past.
    pub by_member: bool,
    /// It was itself reverted (so it no longer counts).
    pub reverted: bool,
}

/// The validation status of one change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    #[serde(serialize_with = "super::hexser::id")]
    pub change: ChangeId,
    #[serde(serialize_with = "super::hexser::id")]
    pub author: AuthorId,
    pub state: ValidationState,
    /// Endorsements in causal order (those left out by a block are not listed).
    pub endorsements: Vec<EndorsementView>,
    pub flags: Vec<FlagView>,
    /// The revert that counts, if the change is reverted.
    #[serde(serialize_with = "super::hexser::opt_id")]
    pub reverted_by: Option<ChangeId>,
    pub reverts: Vec<RevertView>,
    /// Left out of the state because its author is blocked.
    pub excluded: bool,
}

impl Governance {
    /// Whether a revert change counts now.
    fn revert_counts(&self, r: &ChangeId) -> bool {
        self.reverts
            .get(r)
            .is_some_and(|rec| rec.valid && !self.excluded.contains(r))
            && !self.reverted.contains_key(r)
    }

    /// The first counting revert of `target` in causal order.
    fn counting_revert_of(&self, target: &ChangeId) -> Option<ChangeId> {
        let t = self.targets.get(target)?;
        t.reverts
            .iter()
            .filter(|r| self.revert_counts(r))
            .filter_map(|r| self.reverts.get(r).map(|rec| (rec.stamp, *r)))
            .min()
            .map(|(_, r)| r)
    }

    /// Re-evaluates the targets of newly applied reverts, cascading down chains of reverts.
    /// Returns the changes whose reverted status flipped.
    pub(super) fn refresh_reverts(&mut self, new: &[ChangeId]) -> Vec<(ChangeId, bool)> {
        let mut flips = Vec::new();
        let mut queue: Vec<ChangeId> = new
            .iter()
            .filter_map(|r| self.reverts.get(r))
            .flat_map(|rec| rec.targets.iter().copied())
            .collect();
        while let Some(t) = queue.pop() {
            let now = self.counting_revert_of(&t);
            let before = self.reverted.get(&t).copied();
            if now == before {
                continue;
            }
            match now {
                Some(r) => self.reverted.insert(t, r),
                None => self.reverted.remove(&t),
            };
            if now.is_some() != before.is_some() {
                flips.push((t, now.is_some()));
                // A revert whose status flipped changes whether its own targets are reverted.
                if let Some(rec) = self.reverts.get(&t) {
                    queue.extend(rec.targets.iter().copied());
                }
            }
        }
        flips
    }

    /// Recomputes every reverted status from scratch (after the set of excluded changes changed):
    /// reverts are judged latest first, since only later reverts can revert them.
    pub(super) fn recompute_all_reverts(&mut self) -> Vec<(ChangeId, bool)> {
        let before = std::mem::take(&mut self.reverted);
        let mut order: Vec<(Stamp, ChangeId)> =
            self.reverts.iter().map(|(id, r)| (r.stamp, *id)).collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        for (_, r) in order {
            if !self.revert_counts(&r) {
                continue;
            }
            let targets = self
                .reverts
                .get(&r)
                .map(|rec| rec.targets.clone())
                .unwrap_or_default();
            for t in targets {
                let better = self
                    .reverted
                    .get(&t)
                    .and_then(|cur| self.reverts.get(cur))
                    .zip(self.reverts.get(&r))
                    .is_none_or(|(cur, new)| new.stamp < cur.stamp);
                if better {
                    self.reverted.insert(t, r);
                }
            }
        }
        let mut flips: BTreeMap<ChangeId, bool> = BTreeMap::new();
        for t in before.keys() {
            if !self.reverted.contains_key(t) {
                flips.insert(*t, false);
            }
        }
        for t in self.reverted.keys() {
            if !before.contains_key(t) {
                flips.insert(*t, true);
            }
        }
        flips.into_iter().collect()
    }

    /// The validation status of a change this replica holds (`author` is its author).
    pub(crate) fn validation(&self, change: ChangeId, author: AuthorId) -> Validation {
        let empty = TargetRec::default();
        let t = self.targets.get(&change).unwrap_or(&empty);
        let mut endorsements: Vec<(Stamp, EndorsementView)> = t
            .endorsements
            .iter()
            .filter_map(|&i| self.endorsements.get(i))
            .filter(|e| !self.excluded.contains(&e.change))
            .map(|e| {
                (
                    e.stamp,
                    EndorsementView {
                        by: e.endorser,
                        change: e.change,
                        counted: e.valid,
                    },
                )
            })
            .collect();
        endorsements.sort_by_key(|(s, _)| *s);
        let mut flags: Vec<&FlagRec> = t
            .flags
            .iter()
            .filter(|f| !self.excluded.contains(&f.change))
            .collect();
        flags.sort_by_key(|f| f.stamp);
        let mut reverts: Vec<(Stamp, RevertView)> = t
            .reverts
            .iter()
            .filter(|r| !self.excluded.contains(r))
            .filter_map(|r| {
                let rec = self.reverts.get(r)?;
                Some((
                    rec.stamp,
                    RevertView {
                        by: rec.author,
                        change: *r,
                        by_member: rec.valid,
                        reverted: self.reverted.contains_key(r),
                    },
                ))
            })
            .collect();
        reverts.sort_by_key(|(s, _)| *s);
        reverts.dedup_by_key(|(_, v)| v.change);
        let reverted_by = self.reverted.get(&change).copied();
        let endorsed = endorsements.iter().any(|(_, e)| e.counted);
        let state = if reverted_by.is_some() {
            ValidationState::Reverted
        } else if endorsed {
            ValidationState::Endorsed
        } else if !flags.is_empty() {
            ValidationState::Flagged
        } else {
            ValidationState::Unvalidated
        };
        Validation {
            change,
            author,
            state,
            endorsements: endorsements.into_iter().map(|(_, e)| e).collect(),
            flags: flags
                .into_iter()
                .map(|f| FlagView {
                    by: f.by,
                    change: f.change,
                    reason: f.reason.clone(),
                })
                .collect(),
            reverted_by,
            reverts: reverts.into_iter().map(|(_, r)| r).collect(),
            excluded: self.excluded.contains(&change),
        }
    }

    /// Every reverted change with the revert that counts.
    pub fn reverted(&self) -> &HashMap<ChangeId, ChangeId> {
        &self.reverted
    }

    /// Number of revert changes held.
    pub(crate) fn reverts_len(&self) -> usize {
        self.reverts.len()
    }

    /// For a change that is not reverted although some member's revert of it exists: that
    /// revert was itself reverted, and the revert that did so re-did the change's text. Returns
    /// that re-doing revert (the latest, in causal order, if several).
    pub(crate) fn redo_of(&self, id: &ChangeId) -> Option<ChangeId> {
        if self.reverted.contains_key(id) {
            return None;
        }
        let t = self.targets.get(id)?;
        t.reverts
            .iter()
            .filter(|r| {
                self.reverts.get(r).is_some_and(|rec| rec.valid) && !self.excluded.contains(r)
            })
            .filter_map(|r| {
                let redo = self.reverted.get(r)?;
                Some((self.reverts.get(redo)?.stamp, *redo))
            })
            .max()
            .map(|(_, r)| r)
    }
}
