//! Attribution: who wrote what of a document, from its CRDT items.
//!
//! yrs keeps every item, deleted ones included (GC is off). Walking the text once gives each
//! item's id and content, visible or deleted; the provenance recorded when changes were applied
//! names the change behind each id. So "characters that survive" are counted character by
//! character from the text itself, and "characters deleted" only where a change's delete set
//! meets real text items, each unit credited once (to the first deleter in causal order): a
//! change cannot claim credit it did not earn.
//!
//! Counts are in UTF-16 code units, the unit of the CRDT and of JavaScript string lengths (an
//! emoji counts 2), like every text index of this crate.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;
use yrs::types::text::{ChangeKind, YChange};
use yrs::{Any, IdSet, Out, ReadTxn, Snapshot, Text, Transact, ID};

use super::licence::LicenceView;
use super::provenance::Provenance;
use crate::change::ChangeId;
use crate::commons::{Commons, DocAction, Document};
use crate::identity::AuthorId;

/// What one change contributed to a document's text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    /// Text units it inserted that the CRDT still holds, visible or deleted since.
    pub inserted: u64,
    /// Text units it inserted that are in the current text.
    pub surviving: u64,
    /// Text units it deleted first (in causal order: a unit deleted by two changes is credited
    /// to the first; re-sending a deletion one has seen earns nothing).
    pub deleted: u64,
}

/// A document's attribution, per change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocAttribution {
    pub per_change: BTreeMap<ChangeId, ChangeCounts>,
    /// Visible text units no applied change inserted: typed on this replica, not yet flushed.
    pub unattributed: u64,
    /// Length of the current text.
    pub len: u64,
}

/// Text items of a document, by CRDT client: visible ones and deleted ones.
struct Items {
    visible: Vec<(u64, Range<u32>)>,
    deleted: Vec<(u64, Range<u32>)>,
}

/// Walks a document's text once: every string item with its id and length, visible or deleted.
/// `None` if the document is in use by another transaction (cannot happen in one thread).
fn walk(doc: &Document) -> Option<Items> {
    let text = doc.ytext().clone();
    let mut txn = doc.ydoc().try_transact_mut().ok()?;
    // `hi` is the document as it is; `lo` sees exactly the deleted items. Diffing the two makes
    // yrs report every visible item as "added" and every deleted one as "removed", one chunk per
    // item, each with the item's id.
    let hi = txn.snapshot();
    let mut all = IdSet::new();
    for (client, clock) in hi.state_map.iter() {
        all.insert(ID::new(*client, 0), *clock);
    }
    let lo = Snapshot::new(hi.state_map.clone(), all.diff(&hi.delete_set));
    let chunks = text.diff_range(&mut txn, Some(&hi), Some(&lo), YChange::identity);
    let mut items = Items {
        visible: Vec::new(),
        deleted: Vec::new(),
    };
    for chunk in chunks {
        let (Out::Any(Any::String(s)), Some(yc)) = (&chunk.insert, &chunk.ychange) else {
            continue;
        };
        let len = s.encode_utf16().count() as u32;
        let range = yc.id.clock..yc.id.clock.saturating_add(len);
        let client = yc.id.client.get();
        match yc.kind {
            ChangeKind::Added => items.visible.push((client, range)),
            ChangeKind::Removed => items.deleted.push((client, range)),
        }
    }
    Some(items)
}

/// Attribution of one document from its items and provenance.
pub(crate) fn attribute(doc: &Document, prov: Option<&Provenance>) -> DocAttribution {
    let mut out = DocAttribution::default();
    let Some(items) = walk(doc) else {
        return out;
    };
    let empty = Provenance::default();
    let prov = prov.unwrap_or(&empty);
    for (client, range) in &items.visible {
        let len = u64::from(range.end - range.start);
        out.len += len;
        let mut found = 0;
        prov.inserts.for_each(*client, range, |change, n| {
            let c = out.per_change.entry(change).or_default();
            c.inserted += n;
            c.surviving += n;
            found += n;
        });
        out.unattributed += len.saturating_sub(found);
    }
    for (client, range) in &items.deleted {
        prov.inserts.for_each(*client, range, |change, n| {
            out.per_change.entry(change).or_default().inserted += n;
        });
        prov.deletes.for_each(*client, range, |change, n| {
            out.per_change.entry(change).or_default().deleted += n;
        });
    }
    out
}

/// One author's credit on a document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuthorCredit {
    /// The author's key, hex: the identity.
    pub author: String,
    /// The display name the author claims, if any.
    pub name: Option<String>,
    /// Changes of theirs that touched the document (created, edited, retitled, commented).
    pub changes: u64,
    /// How many of those came from a parent commons (a fork's history).
    pub carried: u64,
    #[serde(flatten)]
    pub text: ChangeCounts,
    pub comments: u64,
}

/// The credits of a document: everyone who contributed, with what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credits {
    pub document: String,
    pub title: String,
    pub licence: LicenceView,
    /// Length of the current text, UTF-16 units.
    pub length: u64,
    /// Authors, most surviving text first (then by key).
    pub authors: Vec<AuthorCredit>,
    /// Text typed on this replica and not yet flushed into a signed change.
    pub unattributed: u64,
    /// For a carried document, the ids it had before this commons, oldest first (hex).
    pub carried_from: Vec<String>,
}

impl Commons {
    /// The attribution of one document, per change.
    pub fn attribution(&self, doc: &ChangeId) -> Option<DocAttribution> {
        let d = self.documents.get(doc)?;
        Some(self.attribute_doc(d))
    }

    pub(crate) fn attribute_doc(&self, d: &Document) -> DocAttribution {
        attribute(d, self.property.docs.get(&d.id))
    }

    /// The credits of one document, per author.
    pub fn credits(&self, doc: &ChangeId) -> Option<Credits> {
        let d = self.documents.get(doc)?;
        let att = self.attribute_doc(d);
        let mut by_author: BTreeMap<AuthorId, AuthorCredit> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for (_, ev) in d.history() {
            let credit = by_author.entry(ev.author).or_default();
            if matches!(ev.action, DocAction::Commented) {
                credit.comments += 1;
            }
            if seen.insert(ev.change) {
                credit.changes += 1;
                if self.property.carried(&ev.change).is_some() {
                    credit.carried += 1;
                }
            }
        }
        for (change, counts) in &att.per_change {
            if let Some((author, _)) = self.author_and_time(change) {
                let t = &mut by_author.entry(author).or_default().text;
                t.inserted += counts.inserted;
                t.surviving += counts.surviving;
                t.deleted += counts.deleted;
            }
        }
        let mut authors: Vec<AuthorCredit> = by_author
            .into_iter()
            .map(|(a, mut c)| {
                c.author = a.to_hex();
                c.name = self.name_of(&a).map(str::to_string);
                c
            })
            .collect();
        authors.sort_by(|x, y| {
            y.text
                .surviving
                .cmp(&x.text.surviving)
                .then(x.author.cmp(&y.author))
        });
        Some(Credits {
            document: doc.to_hex(),
            title: d.title().to_string(),
            licence: self.licence(),
            length: att.len,
            authors,
            unattributed: att.unattributed,
            carried_from: self
                .property
                .sources_of(doc)
                .iter()
                .map(ChangeId::to_hex)
                .collect(),
        })
    }
}
