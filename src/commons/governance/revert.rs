//! Reverting a change: a new change, by the reverter, that carries `Revert{change}` and the
//! inverse of the change's text edits, computed with yrs's UndoManager. History is not rewritten:
//! the reverted change stays in the graph, attributed; its text is undone by the reverter's edit,
//! and its other effects (titles, names, comments, tasks) stop counting while the revert counts.
//!
//! The inverse of change C on document D: replay D's recorded edits, in causal order, into a fresh
//! yrs document whose client id is the reverter's, applying C's edits in a transaction of a
//! tracked origin and every other edit untracked; then undo once and keep the update that undo
//! produced. The undo deletes what C inserted (and is still there) and re-inserts, as new items of
//! the reverter, what C deleted. Edits made after C stay.
//!
//! When C was reverted and that revert was itself reverted (so C's text lives again through the
//! second revert's re-insertions), reverting C again undoes the edit that made it live: the
//! latest link of the chain ([`Commons::live_source`]).

use std::sync::{Arc, Mutex};

use yrs::undo::{Options as UndoOptions, UndoManager};
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

use super::actions::GovernanceError;
use crate::change::{Change, ChangeId, Op, TextEdit};
use crate::commons::documents::{new_ydoc, Document, TEXT_ROOT};
use crate::commons::{Commons, CommonsError};

/// The origin of the replayed transaction that holds the reverted change's edits.
const TRACKED: &str = "peer-commons/revert-target";

/// Whether a revert of this change can undo anything.
fn revertable(c: &Change) -> bool {
    c.body.ops.iter().any(|op| {
        matches!(
            op,
            Op::CreateDocument { .. }
                | Op::RetitleDocument { .. }
                | Op::EditDocument { .. }
                | Op::Comment { .. }
                | Op::SetProfile { .. }
                | Op::PostTask { .. }
                | Op::ClaimTask { .. }
                | Op::ReleaseTask { .. }
                | Op::CompleteTask { .. }
                | Op::Revert { .. }
        )
    })
}

impl Commons {
    /// Reverts a change (members only). Returns the changes made: flushed typing, then the revert.
    pub fn revert(&mut self, target: &ChangeId, now: u64) -> Result<Vec<Change>, GovernanceError> {
        let me = self
            .local_author()
            .ok_or(GovernanceError::Commons(CommonsError::ReadOnly))?;
        if !self.gov.is_member(&me) {
            return Err(GovernanceError::NotAMember("revert"));
        }
        if !revertable(self.live_change(target)?) {
            return Err(GovernanceError::NothingToRevert);
        }
        if self.gov.is_reverted(target) {
            return Err(GovernanceError::AlreadyReverted);
        }
        // The inverse is computed from the graph: every local edit must be in it first, or the
        // inverse's CRDT ids would collide with the unflushed ones.
        let mut out = self.flush(now)?;
        let source = self.live_source(target);
        let mut ops = vec![Op::Revert { change: *target }];
        ops.extend(self.inverse_ops(&source)?);
        out.extend(self.act(ops, now)?);
        Ok(out)
    }

    /// The change whose text effect is live for `target`: `target` itself, or, when its reverts
    /// were all reverted, the latest revert-of-revert that brought it back (followed down).
    pub(crate) fn live_source(&self, target: &ChangeId) -> ChangeId {
        let mut cur = *target;
        // A chain link is a revert of `cur` that no longer counts because it was reverted; the
        // revert that reverted it re-did `cur`'s text. Bounded by the number of reverts.
        for _ in 0..=self.gov.reverts_len() {
            match self.gov.redo_of(&cur) {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }

    /// `EditDocument` ops undoing `source`'s text edits, one per document it touched.
    fn inverse_ops(&self, source: &ChangeId) -> Result<Vec<Op>, GovernanceError> {
        let change = self.live_change(source)?;
        let mut docs: Vec<ChangeId> = change
            .body
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::CreateDocument { .. } => Some(change.id),
                Op::EditDocument { doc, .. } => Some(*doc),
                _ => None,
            })
            .collect();
        docs.sort_unstable();
        docs.dedup();
        let local = self
            .local
            .as_ref()
            .ok_or(GovernanceError::Commons(CommonsError::ReadOnly))?;
        let (client, nonce) = (local.client, local.nonce);
        let mut ops = Vec::new();
        for doc in docs {
            let Some(d) = self.documents.get(&doc) else {
                continue;
            };
            if let Some(update) = self.inverse_update(d, source, client)? {
                ops.push(Op::EditDocument {
                    doc,
                    edit: TextEdit { nonce, update },
                });
            }
        }
        Ok(ops)
    }

    /// The update undoing `source`'s edits of `d`, written under `client`; None if nothing to undo.
    fn inverse_update(
        &self,
        d: &Document,
        source: &ChangeId,
        client: u64,
    ) -> Result<Option<Vec<u8>>, GovernanceError> {
        let ydoc = new_ydoc(client);
        let text = ydoc.get_or_insert_text(TEXT_ROOT);
        let mut undo: UndoManager<()> = UndoManager::with_options(UndoOptions {
            capture_timeout_millis: 0,
            tracked_origins: Default::default(),
            capture_transaction: None,
            // No clock in the core: with a zero timeout every tracked transaction is its own step.
            timestamp: Arc::new(|| 0u64),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        undo.expand_scope(&ydoc, &text);
        undo.include_origin(TRACKED);
        for stamp in &d.edits {
            let id = &stamp.1;
            // The same updates, in the same order, as the replica's own document holds.
            let raw = crate::commons::text_updates(&self.dag, id, &d.id);
            let updates: Vec<Vec<u8>> = if self.gov.text_applies(id) && !self.is_voided(id) {
                raw.iter().map(|u| u.to_vec()).collect()
            } else {
                let keep = |ins: &yrs::IdSet| self.claims.claimed_before(&d.id, ins, *stamp);
                raw.iter()
                    .flat_map(|u| super::tombstone::tombstone(u, keep))
                    .collect()
            };
            let mut txn = if id == source {
                ydoc.transact_mut_with(TRACKED)
            } else {
                ydoc.transact_mut()
            };
            for u in &updates {
                let u = Update::decode_v2(u).map_err(|e| bad(format!("stored edit: {e}")))?;
                txn.apply_update(u)
                    .map_err(|e| bad(format!("replaying an edit: {e}")))?;
            }
        }
        let captured: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let sink = captured.clone();
        ydoc.observe_update_v2(TRACKED, move |_, e| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.update.clone());
            }
        })
        .map_err(|e| bad(format!("observing the undo: {e}")))?;
        let changed = undo.undo_blocking();
        let _ = ydoc.unobserve_update_v2(TRACKED);
        drop(undo);
        if !changed {
            return Ok(None);
        }
        let updates = captured
            .lock()
            .map(|v| v.clone())
            .map_err(|_| bad("undo capture poisoned".into()))?;
        let merged = yrs::merge_updates_v2(updates.iter().map(|u| u.as_slice()))
            .map_err(|e| bad(format!("merging the undo: {e}")))?;
        Ok(Some(merged))
    }
}

fn bad(msg: String) -> GovernanceError {
    GovernanceError::Commons(CommonsError::Change(crate::change::ChangeError::InvalidOp(
        msg,
    )))
}
