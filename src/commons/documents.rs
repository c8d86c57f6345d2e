//! Documents: a title (last-writer-wins by causal order), text held in a yrs CRDT, comments, and
//! the history of which change touched the document.

use std::collections::{BTreeMap, BTreeSet};

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Options, ReadTxn, Text, TextRef, Transact, Update};

use crate::change::{ChangeId, ObjectId};
use crate::identity::AuthorId;

/// The position of a change in the deterministic causal order: `(depth, id)`.
pub type Stamp = (u64, ChangeId);

/// What a change did to a document, for its history (serialized as `{ kind: "created", ... }`
/// for JavaScript and the ledger's change records).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DocAction {
    Created {
        title: String,
    },
    Retitled {
        title: String,
    },
    /// A text edit: CRDT units (UTF-16 code units) inserted and deleted.
    Edited {
        inserted: u64,
        deleted: u64,
    },
    Commented,
}

/// One entry of a document's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocEvent {
    pub change: ChangeId,
    pub author: AuthorId,
    pub action: DocAction,
}

/// A comment on a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: ChangeId,
    pub author: AuthorId,
    pub text: String,
    /// The author's claimed time (ms since epoch).
    pub time: u64,
}

/// One document of a commons.
pub struct Document {
    pub id: ObjectId,
    pub creator: AuthorId,
    /// Title claims by causal stamp: the latest counts (a reverted claim is removed).
    titles: BTreeMap<Stamp, String>,
    pub(crate) ydoc: Doc,
    text: TextRef,
    history: BTreeMap<Stamp, Vec<DocEvent>>,
    comments: BTreeMap<Stamp, Comment>,
    /// Changes whose edits are in `ydoc`, so a rebuild can replay them (without excluded ones).
    /// The update bytes stay in the graph: keeping a copy here would double the memory.
    pub(crate) edits: BTreeSet<Stamp>,
}

/// Name of the yrs root type holding the text; part of the protocol.
pub const TEXT_ROOT: &str = "text";

/// A yrs document with deterministic options: UTF-16 offsets as JavaScript counts, no random guid,
/// and garbage collection off so reverts can restore deleted text.
pub(crate) fn new_ydoc(client: u64) -> Doc {
    let mut opts =
        Options::with_guid_and_client_id("peer-commons".into(), yrs::block::ClientID::new(client));
    opts.offset_kind = yrs::OffsetKind::Utf16;
    opts.skip_gc = true;
    Doc::with_options(opts)
}

impl Document {
    pub(crate) fn new(
        id: ObjectId,
        creator: AuthorId,
        title: String,
        stamp: Stamp,
        client: u64,
    ) -> Self {
        let ydoc = new_ydoc(client);
        let text = ydoc.get_or_insert_text(TEXT_ROOT);
        Document {
            id,
            creator,
            titles: [(stamp, title)].into_iter().collect(),
            ydoc,
            text,
            history: BTreeMap::new(),
            comments: BTreeMap::new(),
            edits: BTreeSet::new(),
        }
    }

    /// The current title.
    pub fn title(&self) -> &str {
        self.titles.values().next_back().map_or("", String::as_str)
    }

    /// The current text.
    pub fn text(&self) -> String {
        self.text.get_string(&self.ydoc.transact())
    }

    /// Length of the text in UTF-16 code units.
    pub fn len_utf16(&self) -> u64 {
        u64::from(self.text.len(&self.ydoc.transact()))
    }

    /// The changes that touched this document, in causal order.
    pub fn history(&self) -> impl Iterator<Item = (&Stamp, &DocEvent)> {
        self.history
            .iter()
            .flat_map(|(s, evs)| evs.iter().map(move |e| (s, e)))
    }

    /// Comments in causal order.
    pub fn comments(&self) -> impl Iterator<Item = &Comment> {
        self.comments.values()
    }

    /// Distinct authors of changes to this document.
    pub fn authors(&self) -> BTreeSet<AuthorId> {
        self.history.values().flatten().map(|e| e.author).collect()
    }

    /// The latest change (in causal order) that touched this document.
    pub fn last_change(&self) -> Option<ChangeId> {
        self.history.keys().next_back().map(|s| s.1)
    }

    /// The yrs document (read-only use: attribution, export).
    pub fn ydoc(&self) -> &Doc {
        &self.ydoc
    }

    /// The yrs text.
    pub fn ytext(&self) -> &TextRef {
        &self.text
    }

    pub(crate) fn retitle(&mut self, stamp: Stamp, title: String) {
        self.titles.insert(stamp, title);
    }

    /// Withdraws the title claimed at `stamp` (its change was reverted).
    pub(crate) fn untitle(&mut self, stamp: &Stamp) {
        self.titles.remove(stamp);
    }

    /// Withdraws the comment made at `stamp` (its change was reverted).
    pub(crate) fn remove_comment(&mut self, stamp: &Stamp) {
        self.comments.remove(stamp);
    }

    pub(crate) fn record(&mut self, stamp: Stamp, event: DocEvent) {
        self.history.entry(stamp).or_default().push(event);
    }

    pub(crate) fn add_comment(&mut self, stamp: Stamp, comment: Comment) {
        self.comments.insert(stamp, comment);
    }

    /// Applies a (validated) CRDT update (Yjs v2 encoding) from a change, unless it was made locally and is already
    /// integrated. Returns (inserted, deleted) CRDT units for the history.
    pub(crate) fn apply_update(
        &mut self,
        stamp: Stamp,
        update: &[u8],
        already_applied: bool,
    ) -> (u64, u64) {
        let counts = update_counts(update);
        self.edits.insert(stamp);
        if !already_applied {
            if let Ok(u) = Update::decode_v2(update) {
                let mut txn = self.ydoc.transact_mut();
                // Validation decoded this update already; a failure here would only leave it
                // pending inside yrs, which every replica does alike.
                let _ = txn.apply_update(u);
            }
        }
        counts
    }

    /// Replays every recorded edit, except those of `excluded` changes, into a fresh CRDT
    /// document: used when governance decides a change no longer applies (a block).
    /// `updates_of` gives the text updates a change carries for this document.
    pub(crate) fn rebuild<'a>(
        &mut self,
        excluded: &BTreeSet<ChangeId>,
        client: u64,
        updates_of: impl Fn(&ChangeId) -> Vec<&'a [u8]>,
    ) {
        let ydoc = new_ydoc(client);
        let text = ydoc.get_or_insert_text(TEXT_ROOT);
        {
            let mut txn = ydoc.transact_mut();
            for (_, id) in &self.edits {
                if excluded.contains(id) {
                    continue;
                }
                for u in updates_of(id) {
                    if let Ok(u) = Update::decode_v2(u) {
                        let _ = txn.apply_update(u);
                    }
                }
            }
        }
        self.ydoc = ydoc;
        self.text = text;
    }

    /// Re-integrates a local, unflushed update after a rebuild.
    pub(crate) fn reapply_local(&mut self, update: &[u8]) {
        if let Ok(u) = Update::decode_v2(update) {
            let _ = self.ydoc.transact_mut().apply_update(u);
        }
    }

    /// The CRDT state as one Yjs v1 update (for snapshots and export).
    pub fn encode_state(&self) -> Vec<u8> {
        self.ydoc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default())
    }
}

/// Units inserted and deleted by an update.
pub fn update_counts(update: &[u8]) -> (u64, u64) {
    let Ok(u) = Update::decode_v2(update) else {
        return (0, 0);
    };
    let sum = |set: &yrs::IdSet| -> u64 {
        set.iter()
            .map(|(_, ranges)| {
                ranges
                    .iter()
                    .map(|r| u64::from(r.end.saturating_sub(r.start)))
                    .sum::<u64>()
            })
            .sum()
    };
    (sum(&u.insertions(true)), sum(u.delete_set()))
}
