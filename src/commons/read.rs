//! Read APIs a UI needs: documents, texts, histories, tasks, people.

use super::{Commons, DocAction, Document, Participant, Task};
use crate::change::{Change, ChangeId, Charter};
use crate::identity::AuthorId;

/// A document in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocSummary {
    pub id: ChangeId,
    pub title: String,
    pub creator: AuthorId,
    pub authors: Vec<AuthorId>,
    pub last_change: Option<ChangeId>,
    /// Length in UTF-16 code units.
    pub len: u64,
}

/// One change in a document's history, with what the UI shows of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub change: ChangeId,
    pub author: AuthorId,
    /// The author's display name when known.
    pub name: Option<String>,
    /// The author's claimed time (ms since epoch); informative.
    pub time: u64,
    pub action: DocAction,
}

impl Commons {
    /// The charter from the genesis (None until the genesis has arrived).
    pub fn genesis_charter(&self) -> Option<&Charter> {
        self.charter.as_ref()
    }

    /// Documents sorted by id.
    pub fn documents(&self) -> Vec<DocSummary> {
        self.documents
            .values()
            .map(|d| DocSummary {
                id: d.id,
                title: d.title().to_string(),
                creator: d.creator,
                authors: d.authors().into_iter().collect(),
                last_change: d.last_change(),
                len: d.len_utf16(),
            })
            .collect()
    }

    /// One document.
    pub fn document(&self, id: &ChangeId) -> Option<&Document> {
        self.documents.get(id)
    }

    /// All documents, by id.
    pub fn documents_iter(&self) -> impl Iterator<Item = &Document> {
        self.documents.values()
    }

    /// A document's text.
    pub fn text(&self, id: &ChangeId) -> Option<String> {
        self.documents.get(id).map(|d| d.text())
    }

    /// The changes that touched a document, in causal order.
    pub fn history(&self, id: &ChangeId) -> Vec<HistoryEntry> {
        let Some(d) = self.documents.get(id) else {
            return vec![];
        };
        d.history()
            .map(|(_, e)| HistoryEntry {
                change: e.change,
                author: e.author,
                name: self.name_of(&e.author).map(str::to_string),
                time: self.dag.get(&e.change).map_or(0, |n| n.change.body.time),
                action: e.action.clone(),
            })
            .collect()
    }

    /// Tasks by id (a task whose posting was reverted is withdrawn and not listed).
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values().filter(|t| !self.gov.is_reverted(&t.id))
    }

    /// One task (None if its posting was reverted).
    pub fn task(&self, id: &ChangeId) -> Option<&Task> {
        self.tasks.get(id).filter(|t| !self.gov.is_reverted(&t.id))
    }

    /// The display name an author claims, if any.
    pub fn name_of(&self, author: &AuthorId) -> Option<&str> {
        self.profiles
            .get(author)
            .and_then(|claims| claims.values().next_back())
            .map(String::as_str)
    }

    /// Every key that authored a change.
    pub fn participants(&self) -> &std::collections::BTreeMap<AuthorId, Participant> {
        &self.participants
    }

    /// A held change.
    pub fn change(&self, id: &ChangeId) -> Option<&Change> {
        self.dag.get(id).map(|n| &n.change)
    }

    /// A held change's exact bytes.
    pub fn change_bytes(&self, id: &ChangeId) -> Option<&[u8]> {
        self.change(id).map(|c| c.bytes.as_slice())
    }

    /// Whether a change is held (applied or waiting for deps).
    pub fn contains(&self, id: &ChangeId) -> bool {
        self.dag.contains(id)
    }

    /// The heads.
    pub fn heads(&self) -> Vec<ChangeId> {
        self.dag.heads()
    }

    /// Number of applied changes.
    pub fn len(&self) -> usize {
        self.dag.len()
    }

    /// Whether nothing is applied yet.
    pub fn is_empty(&self) -> bool {
        self.dag.is_empty()
    }

    /// Every applied change as `(depth, id)`, for set reconciliation: depth is deterministic and
    /// grows along causality, so sending missing changes sorted by it respects dependencies.
    pub fn sync_items(&self) -> impl Iterator<Item = (u64, ChangeId)> + '_ {
        self.dag
            .arrival_order()
            .iter()
            .filter_map(|id| self.dag.get(id).map(|n| (n.depth, *id)))
    }

    /// Applied changes in the deterministic causal order (the same on every replica).
    pub fn changes_in_causal_order(&self) -> impl Iterator<Item = &Change> + '_ {
        self.dag
            .causal_order()
            .into_iter()
            .filter_map(|(_, id)| self.change(&id))
    }
}
