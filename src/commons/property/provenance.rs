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

/// One recorded insertion range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Insert {
    pub end: u32,
    pub change: ChangeId,
    /// Decides between two changes that claim the same range (only one author reusing a CRDT
    /// client on two devices can cause that): the first in causal order wins on every replica.
    pub stamp: Stamp,
}

/// Provenance of one document's items.
#[derive(Default)]
pub(crate) struct Provenance {
    /// `(client, first clock) -> range end and change`.
    inserts: BTreeMap<(u64, u32), Insert>,
    /// Ranges each change's delete set names.
    pub deletes: Vec<(u64, Range<u32>, ChangeId)>,
}

impl Provenance {
    /// Records the items an update inserts and the ranges it deletes as `change`'s.
    pub(crate) fn record(&mut self, update: &[u8], change: ChangeId, stamp: Stamp) {
        let Ok(u) = Update::decode_v1(update) else {
            return;
        };
        for (client, ranges) in u.insertions(true).iter() {
            for r in ranges.iter() {
                let key = (client.get(), r.start);
                let new = Insert {
                    end: r.end,
                    change,
                    stamp,
                };
                let slot = self.inserts.entry(key).or_insert(new);
                if stamp < slot.stamp {
                    *slot = new;
                }
            }
        }
        for (client, ranges) in u.delete_set().iter() {
            for r in ranges.iter() {
                self.deletes.push((client.get(), r.clone(), change));
            }
        }
    }

    /// Calls `f(change, units)` for every recorded insertion overlapping `range` of `client`.
    pub(crate) fn for_each_insert(
        &self,
        client: u64,
        range: &Range<u32>,
        mut f: impl FnMut(ChangeId, u64),
    ) {
        let mut overlap = |start: u32, ins: &Insert| {
            let lo = start.max(range.start);
            let hi = ins.end.min(range.end);
            if hi > lo {
                f(ins.change, u64::from(hi - lo));
            }
        };
        // The range that starts at or before `range.start` may reach into it...
        if let Some(((c, start), ins)) = self.inserts.range(..=(client, range.start)).next_back() {
            if *c == client {
                overlap(*start, ins);
            }
        }
        // ...and so may every range starting inside it.
        let inside = (client, range.start.saturating_add(1))..(client, range.end);
        if inside.start < inside.end {
            for ((_, start), ins) in self.inserts.range(inside) {
                overlap(*start, ins);
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
        let op_index = ctx
            .change
            .body
            .ops
            .iter()
            .position(|op| matches!(op, Op::CarryDocument(c) if c == carry))
            .unwrap_or(0);
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
                ctx.change.id
            }
            Some(into) if self.carried_docs.get(&into) == Some(&carry.sources) => into,
            Some(_) => return,
        };
        let Some(d) = documents.get_mut(&doc) else {
            return;
        };
        self.carriers.entry(doc).or_default().push(ctx.change.id);
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
                op: op_index,
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
    /// The text updates each effective carry change brought into `doc`, for a rebuild of the
    /// document without `excluded` changes (a carried change is left out when it, or the change
    /// carrying it, is excluded).
    pub(crate) fn carried_updates(
        &self,
        dag: &crate::dag::Dag,
        doc: &ObjectId,
        excluded: &std::collections::BTreeSet<ChangeId>,
    ) -> BTreeMap<ChangeId, Vec<Vec<u8>>> {
        let mut out: BTreeMap<ChangeId, Vec<Vec<u8>>> = BTreeMap::new();
        let sources = self.sources_of(doc);
        for carrier in self.carriers.get(doc).into_iter().flatten() {
            let Some(node) = dag.get(carrier) else {
                continue;
            };
            for op in &node.change.body.ops {
                let Op::CarryDocument(carry) = op else {
                    continue;
                };
                if carry.sources != sources {
                    continue;
                }
                for c in carry.changes.iter().filter_map(|b| parse_carried(b)) {
                    if excluded.contains(&c.id) {
                        continue;
                    }
                    for op in &c.body.ops {
                        let on_doc = doc_of(&c, op).is_some_and(|x| sources.contains(&x));
                        if let (true, Some(update)) = (on_doc, text_update(op)) {
                            out.entry(*carrier).or_default().push(update.to_vec());
                        }
                    }
                }
            }
        }
        out
    }
}

fn text_update(op: &Op) -> Option<&[u8]> {
    match op {
        Op::CreateDocument { edit, .. } | Op::EditDocument { edit, .. } => Some(&edit.update),
        _ => None,
    }
}
