//! The local writer: edits typed on this replica are applied to the CRDT at once and batched into
//! one signed change per typing pause ([`Commons::flush`]), so signing and verifying cost is paid
//! per change, not per keystroke. Discrete actions (create a document, post a task, vote...) flush
//! the batch and sign a change of their own.

use std::collections::BTreeMap;

use yrs::{Text, Transact};

use super::Commons;
use crate::change::limits::{MAX_DEPS_PER_CHANGE, MAX_DOCUMENT_LEN, MAX_INSERT_PER_CHANGE};
use crate::change::{Change, ChangeBody, ChangeError, ChangeId, Op, TextEdit, CHANGE_FORMAT};

/// Most CRDT units one sealed batch inserts; under the protocol's per-change limit, with room.
const BATCH_INSERT_UNITS: u64 = MAX_INSERT_PER_CHANGE / 4;
/// Most update bytes one sealed batch carries (a unit may take 3 UTF-8 bytes).
const BATCH_BYTES: usize = 128 * 1024;

/// Why a local action was refused. Nothing was changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CommonsError {
    #[error("this replica has no local author: open it with an identity to write")]
    ReadOnly,
    #[error("the commons has not arrived yet: wait for sync before writing")]
    NotReady,
    #[error("no document {0}")]
    UnknownDocument(String),
    #[error("no task {0}")]
    UnknownTask(String),
    #[error(
        "edit out of range: index {index} + delete {delete} is past the end of a text of {len}"
    )]
    OutOfRange { index: u64, delete: u64, len: u64 },
    #[error("the document would be {len} characters long, over the limit of {limit}")]
    DocumentTooLong { len: u64, limit: u64 },
    #[error("{0}")]
    Change(#[from] ChangeError),
}

/// Edits typed since the last flush: per document, the CRDT updates of each keystroke; sealed
/// groups are full batches waiting to be signed.
#[derive(Default)]
pub(crate) struct Batch {
    open: BTreeMap<ChangeId, Vec<Vec<u8>>>,
    open_units: u64,
    open_bytes: usize,
    sealed: Vec<BTreeMap<ChangeId, Vec<Vec<u8>>>>,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty() && self.sealed.is_empty()
    }
    /// Unflushed updates of one document, oldest first.
    pub(crate) fn updates_for<'a>(
        &'a self,
        doc: &'a ChangeId,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.sealed
            .iter()
            .chain(std::iter::once(&self.open))
            .filter_map(move |g| g.get(doc))
            .flatten()
            .map(|u| u.as_slice())
    }

    fn seal(&mut self) {
        if !self.open.is_empty() {
            self.sealed.push(std::mem::take(&mut self.open));
        }
        self.open_units = 0;
        self.open_bytes = 0;
    }
}

impl Commons {
    /// Edits a document's text at once (reads see it immediately); the edit is signed and sent
    /// on the next [`Commons::flush`]. Indices count UTF-16 code units, as JavaScript strings do.
    pub fn edit_text(
        &mut self,
        doc: &ChangeId,
        index: u64,
        delete: u64,
        insert: &str,
    ) -> Result<(), CommonsError> {
        let local = self.local.as_mut().ok_or(CommonsError::ReadOnly)?;
        let d = self
            .documents
            .get_mut(doc)
            .ok_or_else(|| CommonsError::UnknownDocument(doc.to_hex()))?;
        let len = d.len_utf16();
        if index.checked_add(delete).is_none_or(|end| end > len) {
            return Err(CommonsError::OutOfRange { index, delete, len });
        }
        let new_len = len - delete + insert.encode_utf16().count() as u64;
        if new_len > MAX_DOCUMENT_LEN && new_len > len {
            return Err(CommonsError::DocumentTooLong {
                len: new_len,
                limit: MAX_DOCUMENT_LEN,
            });
        }
        let text = d.ytext().clone();
        if delete > 0 {
            let mut txn = d.ydoc.transact_mut();
            text.remove_range(&mut txn, index as u32, delete as u32);
            push(&mut local.batch, doc, txn.encode_update_v2(), 0);
        }
        // A long paste goes in pieces so that no change exceeds the protocol's limits.
        let mut at = index as u32;
        let pieces = if insert.is_empty() {
            vec![]
        } else {
            utf16_pieces(insert, (BATCH_INSERT_UNITS / 2) as usize)
        };
        for piece in pieces {
            let units = piece.encode_utf16().count() as u64;
            if local.batch.open_units + units > BATCH_INSERT_UNITS
                || local.batch.open_bytes > BATCH_BYTES
            {
                local.batch.seal();
            }
            let mut txn = d.ydoc.transact_mut();
            text.insert(&mut txn, at, piece);
            push(&mut local.batch, doc, txn.encode_update_v2(), units);
            at += units as u32;
        }
        Ok(())
    }

    /// Whether typed edits wait to be flushed.
    pub fn has_unflushed(&self) -> bool {
        self.local.as_ref().is_some_and(|l| !l.batch.is_empty())
    }

    /// Signs the edits typed since the last flush into as few changes as the limits allow (one,
    /// normally), applies them to the graph, and returns them to be stored and sent.
    pub fn flush(&mut self, now: u64) -> Result<Vec<Change>, CommonsError> {
        let Some(local) = self.local.as_mut() else {
            return Ok(vec![]);
        };
        local.batch.seal();
        let groups = std::mem::take(&mut local.batch.sealed);
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let nonce = local_nonce(self)?;
            let mut ops = Vec::with_capacity(group.len());
            for (doc, updates) in group {
                // Yjs v2 encoding is columnar: merging a pause's keystroke updates in v2 is about
                // four times smaller than in v1, without scanning the document.
                let update = yrs::merge_updates_v2(updates.iter().map(|u| u.as_slice()))
                    .map_err(|e| ChangeError::InvalidOp(format!("merging local edits: {e}")))?;
                ops.push(Op::EditDocument {
                    doc,
                    edit: TextEdit { nonce, update },
                });
            }
            out.push(self.sign_and_apply(ops, now, true)?);
        }
        // A nonce seen in use elsewhere is replaced once nothing typed waits under it.
        self.refresh_nonce();
        Ok(out)
    }

    /// Flushes typed edits, then signs `ops` as one change and applies it. The general entry for
    /// discrete actions; returns every change made (flushed edits first).
    pub fn act(&mut self, ops: Vec<Op>, now: u64) -> Result<Vec<Change>, CommonsError> {
        let mut out = self.flush(now)?;
        out.push(self.sign_and_apply(ops, now, false)?);
        Ok(out)
    }

    /// Creates a document with a title and initial text; its id is the last returned change's id.
    pub fn create_document(
        &mut self,
        title: &str,
        text: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommonsError> {
        let nonce = local_nonce(self)?;
        let client = self.local.as_ref().map_or(0, |l| l.client);
        let mut pieces = utf16_pieces(text, (BATCH_INSERT_UNITS / 2) as usize).into_iter();
        // The first piece travels in the create op; the rest follow as ordinary edits.
        let first = pieces.next().unwrap_or_default();
        let ydoc = super::documents::new_ydoc(client);
        let ytext = ydoc.get_or_insert_text(super::documents::TEXT_ROOT);
        let update = {
            let mut txn = ydoc.transact_mut();
            ytext.insert(&mut txn, 0, first);
            txn.encode_update_v2()
        };
        let op = Op::CreateDocument {
            title: title.to_string(),
            edit: TextEdit { nonce, update },
        };
        let mut out = self.act(vec![op], now)?;
        let doc = out.last().map(|c| c.id).ok_or(CommonsError::NotReady)?;
        let mut at = first.encode_utf16().count() as u64;
        for piece in pieces {
            self.edit_text(&doc, at, 0, piece)?;
            at += piece.encode_utf16().count() as u64;
        }
        out.extend(self.flush(now)?);
        Ok(out)
    }

    fn sign_and_apply(
        &mut self,
        ops: Vec<Op>,
        now: u64,
        edits_integrated: bool,
    ) -> Result<Change, CommonsError> {
        if self.charter.is_none() {
            return Err(CommonsError::NotReady);
        }
        let local = self.local.as_ref().ok_or(CommonsError::ReadOnly)?;
        let author = local.identity.author();
        crate::change::validate_ops(&author, &ops, false)?;
        let body = ChangeBody {
            format: CHANGE_FORMAT,
            commons: Some(self.id),
            author,
            seq: local.seq + 1,
            deps: self.deps_for_new_change(),
            time: now,
            ops,
        };
        let change = Change::sign(&local.identity, body);
        for target in change.references() {
            if self.dag.get(&target).is_none() {
                return Err(CommonsError::Change(ChangeError::InvalidOp(format!(
                    "refers to {}, which this replica does not hold",
                    target.short()
                ))));
            }
        }
        let id = change.id;
        if let Some(l) = self.local.as_mut() {
            l.signing = Some(id);
        }
        let added = self.dag.add(change.clone())?;
        for ready in &added.ready {
            self.apply(ready, edits_integrated && *ready == id);
        }
        self.catch_up();
        self.settle();
        Ok(change)
    }

    /// The heads, at most the protocol's limit of them (the deepest first: they cover the most).
    fn deps_for_new_change(&self) -> Vec<ChangeId> {
        let mut heads: Vec<(u64, ChangeId)> = self
            .dag
            .heads()
            .into_iter()
            .filter_map(|h| self.dag.get(&h).map(|n| (n.depth, h)))
            .collect();
        heads.sort_unstable_by(|a, b| b.cmp(a));
        let mut deps: Vec<ChangeId> = heads
            .into_iter()
            .take(MAX_DEPS_PER_CHANGE)
            .map(|(_, h)| h)
            .collect();
        deps.sort_unstable();
        deps
    }
}

fn local_nonce(c: &Commons) -> Result<u32, CommonsError> {
    c.local
        .as_ref()
        .map(|l| l.nonce)
        .ok_or(CommonsError::ReadOnly)
}

fn push(batch: &mut Batch, doc: &ChangeId, update: Vec<u8>, units: u64) {
    batch.open_units += units;
    batch.open_bytes += update.len();
    batch.open.entry(*doc).or_default().push(update);
}

/// Splits `s` into pieces of at most `max` UTF-16 units, never inside a character.
fn utf16_pieces(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut units = 0;
    for (i, ch) in s.char_indices() {
        let n = ch.len_utf16();
        if units + n > max && i > start {
            out.push(&s[start..i]);
            start = i;
            units = 0;
        }
        units += n;
    }
    if start < s.len() || out.is_empty() {
        out.push(&s[start..]);
    }
    out
}
