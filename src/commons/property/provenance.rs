//! Provenance of text: which change created which CRDT items, and which changes deleted which.
//!
//! Every text edit is a yrs update whose new items all sit under the client id derived from the
//! change's author (checked on receipt), at clocks the update names. Recording, as each change is
//! applied, `(client, clock range) -> change` lets attribution name the change behind every
//! character still in the CRDT, whatever order the changes arrived in. Carried changes (a fork's
//! history) are applied here too, with their own ids, so credits survive a fork.

use std::collections::BTreeMap;
use std::ops::Range;

use yrs::updates::decoder::Decode;
use yrs::Update;

use super::{Carried, PropertyIndex};
use crate::change::carry::doc_of;
use crate::change::{Carry, Change, ChangeBody, ChangeId, Charter, ObjectId, Op};
use crate::commons::documents::{DocAction, DocEvent};
use crate::commons::{Comment, Document, Stamp};
use crate::identity::AuthorId;

/// One claimed range of CRDT ids: the change that inserted (or deleted) them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub end: u32,
    pub change: ChangeId,
    /// Decides between changes that claim the same ids: each unit goes to the first claimant in
    /// causal order, on every replica, so nothing is credited twice (an author re-sending their
    /// own items, a deletion re-sent by someone who saw it, two concurrent deletions).
    pub stamp: Stamp,
}

/// Disjoint claimed ranges, `(client, first clock) -> claim`.
#[derive(Default)]
pub(crate) struct Claims(BTreeMap<(u64, u32), Claim>);

impl Claims {
    /// Records that `new` claims the ids of `client` from `start` to `new.end`, keeping the
    /// ranges disjoint: where an earlier claim overlaps, each unit goes to the smaller stamp.
    /// The result does not depend on the order claims are recorded in.
    pub(crate) fn claim(&mut self, client: u64, start: u32, new: Claim) {
        let mut old: Vec<(u32, Claim)> = Vec::new();
        if let Some((&(c, s), cl)) = self.0.range(..(client, start)).next_back() {
            if c == client && cl.end > start {
                old.push((s, *cl));
            }
        }
        let inside = self.0.range((client, start)..(client, new.end));
        old.extend(inside.map(|(&(_, s), cl)| (s, *cl)));
        for (s, _) in &old {
            self.0.remove(&(client, *s));
        }
        let mut pieces: Vec<(u32, Claim)> = Vec::with_capacity(old.len() * 2 + 1);
        let mut at = start;
        for (s, cl) in old {
            let (lo, hi) = (s.max(start), cl.end.min(new.end));
            if s < start {
                pieces.push((s, Claim { end: start, ..cl }));
            }
            if at < lo {
                pieces.push((at, Claim { end: lo, ..new }));
            }
            let winner = if cl.stamp <= new.stamp { cl } else { new };
            pieces.push((lo, Claim { end: hi, ..winner }));
            if cl.end > new.end {
                pieces.push((new.end, Claim { end: cl.end, ..cl }));
            }
            at = hi;
        }
        if at < new.end {
            pieces.push((at, new));
        }
        for (s, cl) in pieces {
            if cl.end > s {
                self.0.insert((client, s), cl);
            }
        }
    }

    /// Calls `f(change, units)` for every claim overlapping `range` of `client`.
    pub(crate) fn for_each(
        &self,
        client: u64,
        range: &Range<u32>,
        mut f: impl FnMut(ChangeId, u64),
    ) {
        let mut overlap = |start: u32, cl: &Claim| {
            let lo = start.max(range.start);
            let hi = cl.end.min(range.end);
            if hi > lo {
                f(cl.change, u64::from(hi - lo));
            }
        };
        // The claim that starts at or before `range.start` may reach into it...
        if let Some(((c, start), cl)) = self.0.range(..=(client, range.start)).next_back() {
            if *c == client {
                overlap(*start, cl);
            }
        }
        // ...and so may every claim starting inside it.
        let inside = (client, range.start.saturating_add(1))..(client, range.end);
        if inside.start < inside.end {
            for ((_, start), cl) in self.0.range(inside) {
                overlap(*start, cl);
            }
        }
    }
}

/// Provenance of one document's items.
#[derive(Default)]
pub(crate) struct Provenance {
    /// Who inserted which items.
    pub inserts: Claims,
    /// Who deleted which items first.
    pub deletes: Claims,
}

impl Provenance {
    /// Records the items an update inserts and the ids it deletes as `change`'s.
    pub(crate) fn record(&mut self, update: &[u8], change: ChangeId, stamp: Stamp) {
        let Ok(u) = Update::decode_v2(update) else {
            return;
        };
        let claim = |end| Claim { end, change, stamp };
        for (client, ranges) in u.insertions(true).iter() {
            for r in ranges.iter() {
                self.inserts.claim(client.get(), r.start, claim(r.end));
            }
        }
        for (client, ranges) in u.delete_set().iter() {
            for r in ranges.iter() {
                self.deletes.claim(client.get(), r.start, claim(r.end));
            }
        }
    }
}

/// What applying a carry op needs to know about the carrying change and the commons.
pub(crate) struct CarryContext<'a> {
    pub change: &'a Change,
    pub stamp: Stamp,
    pub charter: Option<&'a Charter>,
    pub founder: Option<AuthorId>,
    pub client: u64,
    /// The carried text is already in the documents (restored from a snapshot).
    pub local: bool,
    /// The carry op's position in the change.
    pub op: usize,
}

impl PropertyIndex {
    /// Applies a carry op: creates or continues the fork's document and applies the carried
    /// changes' ops on it, each recorded under its own id and author. A carry is effective only
    /// in a fork, signed by the fork's founder, for a document the genesis lets it carry; any
    /// other is ignored alike by every replica.
    pub(super) fn apply_carry(
        &mut self,
        ctx: &CarryContext<'_>,
        carry: &Carry,
        documents: &mut BTreeMap<ChangeId, Document>,
    ) {
        let Some(fork) = ctx.charter.and_then(|c| c.fork_of.as_ref()) else {
            return;
        };
        let Some(parent_doc) = carry.sources.last() else {
            return;
        };
        let allowed = fork.documents.is_empty() || fork.documents.contains(parent_doc);
        if Some(ctx.change.body.author) != ctx.founder || !allowed {
            return;
        }
        let doc = match carry.into {
            None => {
                let creator = carry
                    .changes
                    .iter()
                    .filter_map(|b| parse_carried(b))
                    .find(|c| carry.sources.first() == Some(&c.id))
                    .map_or(ctx.change.body.author, |c| c.body.author);
                let d = Document::new(
                    ctx.change.id,
                    creator,
                    carry.title.clone(),
                    ctx.stamp,
                    ctx.client,
                );
                documents.insert(ctx.change.id, d);
                self.carried_docs
                    .insert(ctx.change.id, carry.sources.clone());
                self.reset(&ctx.change.id);
                ctx.change.id
            }
            Some(into) if self.carried_docs.get(&into) == Some(&carry.sources) => into,
            Some(_) => return,
        };
        let Some(d) = documents.get_mut(&doc) else {
            return;
        };
        for (index, bytes) in carry.changes.iter().enumerate() {
            let Some(c) = parse_carried(bytes) else {
                continue;
            };
            let rec = self.carried.entry(c.id).or_insert(Carried {
                author: c.body.author,
                time: c.body.time,
                commons: c.body.commons,
                docs: Vec::new(),
                carrier: ctx.change.id,
                op: ctx.op,
                index,
            });
            if rec.docs.contains(&doc) {
                continue; // carried twice into the same document: applied already
            }
            rec.docs.push(doc);
            for op in &c.body.ops {
                if doc_of(&c, op).is_some_and(|x| carry.sources.contains(&x)) {
                    let prov = self.docs.entry(doc).or_default();
                    apply_carried_op(d, prov, ctx, &c, op);
                }
            }
        }
    }
}

/// Applies one op of a carried change to the fork's document.
fn apply_carried_op(
    d: &mut Document,
    prov: &mut Provenance,
    ctx: &CarryContext<'_>,
    c: &Change,
    op: &Op,
) {
    let stamp = ctx.stamp;
    let event = |action| DocEvent {
        change: c.id,
        author: c.body.author,
        action,
    };
    // Carried changes have no depth of their own here: they sort by the carrying change's depth,
    // then by their id (used only to settle a conflicting claim on the same items).
    let own = (stamp.0, c.id);
    let mut edit = |d: &mut Document, update: &[u8]| {
        let (inserted, deleted) = d.apply_update(stamp, update, ctx.local);
        prov.record(update, c.id, own);
        d.record(stamp, event(DocAction::Edited { inserted, deleted }));
    };
    match op {
        Op::CreateDocument { title, edit: e } => {
            d.record(
                stamp,
                event(DocAction::Created {
                    title: title.clone(),
                }),
            );
            edit(d, &e.update);
        }
        Op::EditDocument { edit: e, .. } => edit(d, &e.update),
        Op::RetitleDocument { title, .. } => {
            d.record(
                stamp,
                event(DocAction::Retitled {
                    title: title.clone(),
                }),
            );
        }
        Op::Comment { text, .. } => {
            d.add_comment(
                own,
                Comment {
                    id: c.id,
                    author: c.body.author,
                    text: text.clone(),
                    time: c.body.time,
                },
            );
            d.record(stamp, event(DocAction::Commented));
        }
        _ => {}
    }
}

/// Parses a carried change that was fully checked when its carrying change was received (or
/// built locally from checked changes): the signature is not verified again.
pub(crate) fn parse_carried(bytes: &[u8]) -> Option<Change> {
    let (_sig, body_bytes) = bytes.split_first_chunk::<64>()?;
    let body: ChangeBody = postcard::from_bytes(body_bytes).ok()?;
    Some(Change {
        id: ChangeId(*blake3::hash(body_bytes).as_bytes()),
        body,
        bytes: bytes.to_vec(),
    })
}

impl PropertyIndex {
    /// Forgets what was recorded for a document being created (again: when governance re-derives
    /// the state, every change is applied once more, in causal order, creation first).
    pub(super) fn reset(&mut self, doc: &ObjectId) {
        self.docs.insert(*doc, Provenance::default());
        for rec in self.carried.values_mut() {
            rec.docs.retain(|d| d != doc);
        }
    }
}

/// The text updates a carry op brings, as slices of the carried changes' bytes, in order (for
/// rebuilds and reverts, which replay a document's history).
pub(crate) fn carried_text_updates(carry: &Carry) -> Vec<&[u8]> {
    let mut out = Vec::new();
    for bytes in &carry.changes {
        let Some(c) = parse_carried(bytes) else {
            continue;
        };
        for op in &c.body.ops {
            let on_doc = doc_of(&c, op).is_some_and(|x| carry.sources.contains(&x));
            // The update's bytes sit verbatim inside the carried change's encoding.
            let found = text_update(op)
                .filter(|_| on_doc)
                .and_then(|u| memchr::memmem::find(bytes, u).map(|at| &bytes[at..at + u.len()]));
            out.extend(found);
        }
    }
    out
}

fn text_update(op: &Op) -> Option<&[u8]> {
    match op {
        Op::CreateDocument { edit, .. } | Op::EditDocument { edit, .. } => Some(&edit.update),
        _ => None,
    }
}
