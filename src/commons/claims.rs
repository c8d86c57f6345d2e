//! Exclusive CRDT id claims (docs/PROTOCOL.md, "CRDT client ids").
//!
//! Every text update inserts items at ids `(client, clock)` of one document. Validation lets an
//! author write only under `client_id(author, nonce)`, but nothing in a single change stops an
//! author from signing two changes that insert *different* items at the *same* ids (by reusing
//! a nonce). yrs keeps whichever arrives first, so without a rule two replicas holding the same
//! changes would show different text.
//!
//! The rule: for each document and client id, every clock belongs to the claim of the change
//! first in the causal order `(depth, id)`. A change that claims any id an earlier change (in that
//! order) already claimed is *voided*: its text is integrated as tombstones (its items that no
//! earlier change claimed arrive deleted; its deletions are dropped) and its author is flagged as
//! equivocating. Its other ops apply as usual, so voiding never removes a document or anything
//! others wrote. Because a change's stamp never changes, whether it is voided depends only on the
//! changes before it: adding changes can void later ones, never revive one.
//!
//! Replicas must also *integrate* the claims in that order (yrs keeps the first it sees): when a
//! change arrives whose claim overlaps one already applied with a larger stamp, the replica
//! re-derives its state from the graph in causal order ([`Recorded::reorder`]). Honest histories
//! never overlap, so this costs nothing there.
//!
//! Integrating in that order is not enough once a claim is voided: changes written on top of the
//! voided change's text cite its items as neighbours, and on every replica those ids hold the
//! winner's items instead, so such a change's neighbours may be out of order and where yrs puts
//! its text depends on what else was integrated before it. A document that holds a voided change
//! is therefore *strict*: from then on its text is integrated in causal order only, and a change
//! arriving before (in that order) one already integrated in it re-derives the state. Honest
//! documents never become strict; in a strict one each out-of-order arrival costs one replay
//! (docs/PROTOCOL.md, "Bounds").
//!
//! Carried history (a fork's carry ops) holds other authors' updates: its claims take part in the
//! order (so a replica integrates the same items whatever the arrival order), but a carry change
//! is never voided or flagged for them: the carried changes were signed for another commons.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use yrs::updates::decoder::Decode;
use yrs::{IdSet, Update, ID};

use super::Stamp;
use crate::change::{Change, ChangeId, ObjectId, Op};
use crate::identity::AuthorId;

/// A document and a CRDT client id: the space one claim lives in.
type Key = (ObjectId, u64);

/// One claimed range, stored under `(start, stamp)` of its key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    end: u32,
    author: AuthorId,
    /// Whether the claimant can be voided for an overlap (false for carried history).
    voidable: bool,
}

/// What recording a change's claims found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The change claims ids an earlier change claimed: it is voided.
    pub voided: bool,
    /// It claims ids a later change (already applied) claimed: the documents must be re-derived
    /// so that every replica integrates the earlier claim first.
    pub reorder: bool,
    /// It claims ids under this client id (used to spot a session nonce taken elsewhere).
    pub clients: bool,
}

/// The claims of every applied change, the changes voided by them and their authors.
#[derive(Default)]
pub(crate) struct IdClaims {
    ranges: HashMap<Key, BTreeMap<(u32, Stamp), Entry>>,
    /// The longest range ever claimed under a key: how far back an overlapping range may start.
    longest: HashMap<Key, u32>,
    voided: HashMap<ChangeId, AuthorId>,
    /// The latest claim recorded in each document.
    latest: HashMap<ObjectId, Stamp>,
    /// Documents holding a voided change: their text is integrated in causal order only.
    strict: BTreeSet<ObjectId>,
    equivocators: BTreeMap<AuthorId, BTreeSet<ChangeId>>,
}

impl IdClaims {
    /// Records the claims of applied change `change` at `stamp`. `client` is the local session's
    /// client id (0 without a local author): [`Recorded::clients`] tells whether it was claimed.
    pub(crate) fn record(&mut self, change: &Change, stamp: Stamp, client: u64) -> Recorded {
        let voidable = !change
            .body
            .ops
            .iter()
            .any(|op| matches!(op, Op::CarryDocument(_)));
        let author = change.body.author;
        let mut out = Recorded::default();
        let claims = claims_of(change);
        for ((doc, _), _) in &claims {
            // In a strict document, arriving before a change already integrated re-derives.
            let latest = self.latest.entry(*doc).or_insert(stamp);
            out.reorder |= self.strict.contains(doc) && stamp < *latest;
            *latest = (*latest).max(stamp);
        }
        for (key, range) in claims.iter().cloned() {
            out.clients |= client != 0 && key.1 == client;
            for (_, other, entry) in self.overlapping(&key, &range, stamp) {
                if other < stamp {
                    out.voided = true;
                } else {
                    out.reorder = true;
                    if entry.voidable {
                        self.void(other.1, entry.author);
                        self.strict.insert(key.0);
                    }
                }
            }
            let longest = self.longest.entry(key).or_default();
            *longest = (*longest).max(range.end - range.start);
            let entry = Entry {
                end: range.end,
                author,
                voidable,
            };
            // One change may claim the same start twice (two ops): keep the longer range.
            let held = self.ranges.entry(key).or_default();
            let e = held.entry((range.start, stamp)).or_insert(entry);
            e.end = e.end.max(range.end);
        }
        if out.voided && voidable {
            self.void(change.id, author);
            for ((doc, _), _) in &claims {
                // A document becoming strict is integrated again, in causal order from the start.
                out.reorder |= self.strict.insert(*doc);
            }
        }
        out
    }

    fn void(&mut self, id: ChangeId, author: AuthorId) {
        self.voided.insert(id, author);
        self.equivocators.entry(author).or_default().insert(id);
    }

    /// Claims under `key` overlapping `range`, other than the change at `stamp` itself.
    fn overlapping(&self, key: &Key, range: &Range<u32>, stamp: Stamp) -> Vec<(u32, Stamp, Entry)> {
        let (Some(map), Some(longest)) = (self.ranges.get(key), self.longest.get(key)) else {
            return vec![];
        };
        let from = (
            range.start.saturating_sub(*longest),
            (0, ChangeId::default()),
        );
        let to = (range.end, (0, ChangeId::default()));
        map.range(from..to)
            .filter(|((_, s), e)| e.end > range.start && *s != stamp)
            .map(|((start, s), e)| (*start, *s, *e))
            .collect()
    }

    /// Whether a change lost a claim to an earlier one.
    pub(crate) fn is_voided(&self, id: &ChangeId) -> bool {
        self.voided.contains_key(id)
    }

    /// Whether an author signed a change that lost a claim to an earlier one.
    pub(crate) fn is_equivocating(&self, author: &AuthorId) -> bool {
        self.equivocators.contains_key(author)
    }

    /// The voided changes of an author.
    pub(crate) fn voided_of(&self, author: &AuthorId) -> impl Iterator<Item = &ChangeId> + '_ {
        self.equivocators.get(author).into_iter().flatten()
    }

    /// Of the ids `inserted` (items of one update of document `doc`), those a change before
    /// `stamp` claimed: yrs holds their earlier claimant's items, so a tombstone must not delete
    /// them.
    pub(crate) fn claimed_before(&self, doc: &ObjectId, inserted: &IdSet, stamp: Stamp) -> IdSet {
        let mut out = IdSet::new();
        for (client, ranges) in inserted.iter() {
            let key = (*doc, client.get());
            for r in ranges.iter() {
                for (start, other, e) in self.overlapping(&key, r, stamp) {
                    if other < stamp {
                        let (lo, hi) = (r.start.max(start), r.end.min(e.end));
                        if hi > lo {
                            out.insert(ID::new(*client, lo), hi - lo);
                        }
                    }
                }
            }
        }
        out
    }
}

/// The ids a change claims: per document and client id, the clock ranges its text updates
/// insert (edits, a created document's first text, carried history).
pub(crate) fn claims_of(change: &Change) -> Vec<(Key, Range<u32>)> {
    let mut out = Vec::new();
    let mut add = |doc: ObjectId, update: &[u8]| {
        let Ok(u) = Update::decode_v2(update) else {
            return;
        };
        for (client, ranges) in u.insertions(true).iter() {
            for r in ranges.iter() {
                if r.end > r.start {
                    out.push(((doc, client.get()), r.clone()));
                }
            }
        }
    };
    for op in &change.body.ops {
        match op {
            Op::CreateDocument { edit, .. } => add(change.id, &edit.update),
            Op::EditDocument { doc, edit } => add(*doc, &edit.update),
            Op::CarryDocument(c) => {
                let doc = c.into.unwrap_or(change.id);
                for u in super::property::carried_text_updates(c) {
                    add(doc, u);
                }
            }
            _ => {}
        }
    }
    out
}

impl super::Commons {
    /// Whether change `id` lost a CRDT id claim to an earlier change: its text is void
    /// (docs/PROTOCOL.md, "CRDT client ids").
    pub fn is_voided(&self, id: &ChangeId) -> bool {
        self.claims.is_voided(id)
    }

    /// Whether `author` signed two changes claiming the same CRDT ids (equivocation): shown in
    /// the participants view and the ledger.
    pub fn is_equivocating(&self, author: &AuthorId) -> bool {
        self.claims.is_equivocating(author)
    }

    /// The changes of `author` voided for claiming ids an earlier change claimed.
    pub fn voided_changes(&self, author: &AuthorId) -> Vec<ChangeId> {
        self.claims.voided_of(author).copied().collect()
    }
}
