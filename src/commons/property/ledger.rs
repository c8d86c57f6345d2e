//! The ledger: social accounting of a commons, per participant, computed from the signed record
//! alone (docs/ACCOUNTING.md defines every column and the contribution share).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::provenance::parse_carried;
use crate::change::carry::doc_of;
use crate::change::{Change, ChangeId, Op};
use crate::commons::{Commons, TaskStatus};
use crate::identity::AuthorId;

/// Parts per million: shares are exact integers so that every replica (and every platform)
/// computes and hashes the same ledger.
pub const PPM: u64 = 1_000_000;

/// One participant's line of the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    /// The participant's key, hex.
    pub author: String,
    /// The display name they claim, if any.
    pub name: Option<String>,
    /// Changes they signed in this commons.
    pub changes: u64,
    /// Changes of theirs carried from a parent commons (a fork's history).
    pub carried_changes: u64,
    pub documents_created: u64,
    /// Text edits (edit operations on existing documents).
    pub edits: u64,
    /// Text units they inserted that the documents still hold, visible or deleted since.
    pub inserted: u64,
    /// Text units of theirs in the current text of all documents.
    pub surviving: u64,
    /// Text units their edits deleted first (see docs/ACCOUNTING.md, "Attribution").
    pub deleted: u64,
    /// `surviving` as a share of all attributed current text, parts per million.
    pub text_share_ppm: u64,
    pub comments: u64,
    /// Tasks whose completion (the first, in causal order) they signed.
    pub tasks_completed: u64,
    /// Distinct changes of others they endorsed, counting only endorsements that validate
    /// (made as a member; docs/GOVERNANCE.md).
    pub endorsements_given: u64,
    /// Distinct (member, change) endorsements of their changes that validate.
    pub endorsements_received: u64,
    pub proposals: u64,
    /// Distinct proposals they voted on (a later vote replaces an earlier one).
    pub votes: u64,
    /// The claimed time (ms) of their first change in this commons, in causal order.
    pub participant_since: Option<u64>,
    /// The claimed time (ms) of the change that made them a member (the governance module
    /// decides membership); `None` for a participant who is not a member now.
    pub member_since: Option<u64>,
    /// Their contribution share, parts per million (docs/ACCOUNTING.md).
    pub contribution_share_ppm: u64,
    /// They signed two changes claiming the same CRDT ids (equivocation, docs/PROTOCOL.md "CRDT
    /// client ids"): the later claim's text is void.
    pub equivocating: bool,
}

/// Column totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LedgerTotals {
    pub participants: u64,
    pub changes: u64,
    pub carried_changes: u64,
    pub documents_created: u64,
    pub edits: u64,
    pub inserted: u64,
    pub surviving: u64,
    pub deleted: u64,
    pub comments: u64,
    pub tasks_completed: u64,
    pub endorsements: u64,
    pub proposals: u64,
    pub votes: u64,
}

/// The ledger of a commons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub commons: String,
    pub title: String,
    pub licence: String,
    /// Rows, largest contribution share first (then by key).
    pub rows: Vec<LedgerRow>,
    pub totals: LedgerTotals,
    /// Text typed on this replica and not yet signed (not in anyone's row).
    pub unattributed: u64,
}

/// Counters keyed by author while the ledger is built.
#[derive(Default)]
struct Tally {
    rows: BTreeMap<AuthorId, LedgerRow>,
    endorsed: BTreeSet<(AuthorId, ChangeId)>,
    voted: BTreeSet<(AuthorId, ChangeId)>,
    unattributed: u64,
}

impl Tally {
    fn row(&mut self, a: AuthorId) -> &mut LedgerRow {
        self.rows.entry(a).or_default()
    }
}

impl Commons {
    /// The ledger: per participant, what they contributed, from the signed changes alone.
    pub fn ledger(&self) -> Ledger {
        let mut t = Tally::default();
        self.tally_text(&mut t);
        for c in self.changes_in_causal_order() {
            // What a block leaves out does not count (what the key did before stays).
            if !self.gov.is_excluded(&c.id) {
                self.tally_change(&mut t, c);
            }
        }
        self.tally_carried(&mut t);
        for task in self.tasks() {
            if let TaskStatus::Done { by, .. } = task.status() {
                t.row(by).tasks_completed += 1;
            }
        }
        for (a, _) in std::mem::take(&mut t.endorsed) {
            t.row(a).endorsements_given += 1;
        }
        for (a, _) in std::mem::take(&mut t.voted) {
            t.row(a).votes += 1;
        }
        self.finish(t)
    }

    /// Surviving, inserted and deleted text per author, over every document.
    fn tally_text(&self, t: &mut Tally) {
        for d in self.documents.values() {
            let att = self.attribute_doc(d);
            t.unattributed += att.unattributed;
            for (change, counts) in &att.per_change {
                if let Some((author, _)) = self.author_and_time(change) {
                    let row = t.row(author);
                    row.inserted += counts.inserted;
                    row.surviving += counts.surviving;
                    row.deleted += counts.deleted;
                }
            }
        }
    }

    /// What one change of this commons counts for.
    fn tally_change(&self, t: &mut Tally, c: &Change) {
        let a = c.body.author;
        let row = t.row(a);
        row.changes += 1;
        if row.participant_since.is_none() {
            row.participant_since = Some(c.body.time);
        }
        if let Some(v) = self.validation(&c.id) {
            for e in v.endorsements.iter().filter(|e| e.counted && e.by != a) {
                if t.endorsed.insert((e.by, c.id)) {
                    t.row(a).endorsements_received += 1;
                }
            }
        }
        for op in &c.body.ops {
            match op {
                Op::Propose { .. } => t.row(a).proposals += 1,
                Op::Vote { proposal, .. } if self.is_proposal(proposal) => {
                    t.voted.insert((a, *proposal));
                }
                _ => self.tally_doc_op(t.row(a), c, op, None),
            }
        }
    }

    /// Document ops count when they act on a document of this commons (for a carried change:
    /// on the document it was carried for).
    fn tally_doc_op(&self, row: &mut LedgerRow, c: &Change, op: &Op, within: Option<&[ChangeId]>) {
        let Some(doc) = doc_of(c, op) else { return };
        let counts = match within {
            Some(sources) => sources.contains(&doc),
            None => self.documents.contains_key(&doc),
        };
        if !counts {
            return;
        }
        match op {
            Op::CreateDocument { .. } => row.documents_created += 1,
            Op::EditDocument { .. } => row.edits += 1,
            Op::Comment { .. } => row.comments += 1,
            _ => {}
        }
    }

    /// Changes carried from a parent commons: the document history they brought.
    fn tally_carried(&self, t: &mut Tally) {
        for (id, rec) in &self.property.carried {
            if rec.docs.is_empty() {
                continue; // its carry no longer applies (state re-derived without it)
            }
            let Some(c) = self.any_change_bytes(id).and_then(parse_carried) else {
                continue;
            };
            let sources: Vec<ChangeId> = rec
                .docs
                .iter()
                .flat_map(|d| self.property.sources_of(d).iter().copied())
                .collect();
            let row = t.row(rec.author);
            row.carried_changes += 1;
            for op in &c.body.ops {
                self.tally_doc_op(row, &c, op, Some(&sources));
            }
        }
    }

    fn is_proposal(&self, id: &ChangeId) -> bool {
        self.change(id)
            .is_some_and(|c| c.body.ops.iter().any(|op| matches!(op, Op::Propose { .. })))
    }

    /// Names, shares, order and totals.
    fn finish(&self, t: Tally) -> Ledger {
        let mut rows: Vec<(AuthorId, LedgerRow)> = t.rows.into_iter().collect();
        let surviving: Vec<u64> = rows.iter().map(|(_, r)| r.surviving).collect();
        for ((_, r), s) in rows.iter_mut().zip(shares(&surviving)) {
            r.text_share_ppm = s;
        }
        let contribution = contribution_shares(rows.iter().map(|(_, r)| r));
        for ((a, r), s) in rows.iter_mut().zip(contribution) {
            r.contribution_share_ppm = s;
            r.member_since = self
                .gov
                .member(a)
                .and_then(|m| self.author_and_time(&m.since))
                .map(|(_, time)| time);
            r.equivocating = self.is_equivocating(a);
            r.author = a.to_hex();
            r.name = self.name_of(a).map(str::to_string);
        }
        rows.sort_by(|(a, x), (b, y)| {
            y.contribution_share_ppm
                .cmp(&x.contribution_share_ppm)
                .then(a.cmp(b))
        });
        let rows: Vec<LedgerRow> = rows.into_iter().map(|(_, r)| r).collect();
        let totals = totals(&rows);
        Ledger {
            commons: self.id.to_hex(),
            title: self
                .charter
                .as_ref()
                .map(|c| c.title.clone())
                .unwrap_or_default(),
            licence: self.licence().spdx,
            rows,
            totals,
            unattributed: t.unattributed,
        }
    }

    /// Digest of the ledger, part of the state hash.
    pub(crate) fn ledger_digest(&self) -> [u8; 32] {
        let bytes = postcard::to_allocvec(&self.ledger()).unwrap_or_default();
        *blake3::hash(&bytes).as_bytes()
    }
}

fn totals(rows: &[LedgerRow]) -> LedgerTotals {
    let mut t = LedgerTotals {
        participants: rows.len() as u64,
        ..LedgerTotals::default()
    };
    for r in rows {
        t.changes += r.changes;
        t.carried_changes += r.carried_changes;
        t.documents_created += r.documents_created;
        t.edits += r.edits;
        t.inserted += r.inserted;
        t.surviving += r.surviving;
        t.deleted += r.deleted;
        t.comments += r.comments;
        t.tasks_completed += r.tasks_completed;
        t.endorsements += r.endorsements_given;
        t.proposals += r.proposals;
        t.votes += r.votes;
    }
    t
}

/// Each value's share of their sum, in parts per million, summing to exactly one million when
/// the sum is positive (largest remainders round up; ties go to the earlier entry).
pub fn shares(values: &[u64]) -> Vec<u64> {
    let nums: Vec<u128> = values.iter().map(|&v| u128::from(v)).collect();
    let den: u128 = nums.iter().sum();
    largest_remainder(&nums, den)
}

/// Apportions one million parts among `nums / den`.
fn largest_remainder(nums: &[u128], den: u128) -> Vec<u64> {
    if den == 0 {
        return vec![0; nums.len()];
    }
    let ppm = u128::from(PPM);
    let mut out: Vec<u64> = nums.iter().map(|n| (n * ppm / den) as u64).collect();
    let given: u64 = out.iter().sum();
    let mut order: Vec<usize> = (0..nums.len()).collect();
    // Stable sort: among equal remainders the earlier entry (smaller key) goes first.
    order.sort_by_key(|&i| std::cmp::Reverse(nums[i] * ppm % den));
    for &i in order.iter().take(PPM.saturating_sub(given) as usize) {
        out[i] += 1;
    }
    out
}

/// The kinds of work the contribution share weighs equally (docs/ACCOUNTING.md).
fn components(r: &LedgerRow) -> [u64; 5] {
    [
        r.surviving,
        r.tasks_completed,
        r.comments,
        r.endorsements_given,
        r.proposals + r.votes,
    ]
}

/// The contribution share of each row: the mean, over the kinds of work anyone did, of the
/// row's share of that kind, apportioned in parts per million.
fn contribution_shares<'a>(rows: impl Iterator<Item = &'a LedgerRow>) -> Vec<u64> {
    // Per-kind shares are kept to 10^-12 before averaging, so rounding never moves a
    // participant by more than one part per million.
    const SCALE: u128 = 1_000_000_000_000;
    let parts: Vec<[u64; 5]> = rows.map(components).collect();
    let mut totals = [0u128; 5];
    for p in &parts {
        for (t, v) in totals.iter_mut().zip(p) {
            *t += u128::from(*v);
        }
    }
    let active = totals.iter().filter(|t| **t > 0).count() as u128;
    let nums: Vec<u128> = parts
        .iter()
        .map(|p| {
            p.iter()
                .zip(&totals)
                .filter(|(_, t)| **t > 0)
                .map(|(v, t)| u128::from(*v) * SCALE / t)
                .sum()
        })
        .collect();
    largest_remainder(&nums, active * SCALE)
}
