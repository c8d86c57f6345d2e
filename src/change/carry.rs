//! Carried changes: a fork keeps the history of the documents it carries over as the parent's
//! signed changes, verbatim, inside [`Op::CarryDocument`] ops of the fork's own changes. Nothing
//! is re-signed: each carried change still verifies against its author's key, so the credits of
//! a fork can be checked like those of its parent.
//!
//! A carried change is checked like a received one (size, canonical encoding, signature, limits,
//! CRDT client ids), must be an ordinary change (no genesis, no carry: histories are flattened,
//! so checking never recurses), and must touch the carried document.

use super::{validate, Carry, Change, ChangeError, ObjectId, Op};
use crate::change::limits::MAX_LIST_ITEMS;

/// Most carried changes in one carry op (the change size limit bounds their bytes as well).
pub const MAX_CARRIED_CHANGES: usize = 16 * 1024;

/// Checks a carry op: its lists within limits, and every carried change valid and relevant
/// (signatures too when `verify`).
pub(super) fn validate_carry(carry: &Carry, verify: bool) -> Result<(), ChangeError> {
    if carry.sources.is_empty() {
        return Err(ChangeError::InvalidOp(
            "a carried document must name its source".into(),
        ));
    }
    validate::limit(
        "carried document sources",
        carry.sources.len() as u64,
        MAX_LIST_ITEMS as u64,
    )?;
    validate::limit(
        "carried changes",
        carry.changes.len() as u64,
        MAX_CARRIED_CHANGES as u64,
    )?;
    for bytes in &carry.changes {
        let change = decode_carried_inner(bytes, verify)?;
        if !touches(&change, &carry.sources) {
            return Err(ChangeError::InvalidOp(format!(
                "carried change {} does not touch the carried document",
                change.id.short()
            )));
        }
    }
    Ok(())
}

/// A change that carries history carries nothing else: then every replica can tell, from the
/// change alone, which of its text updates belong to which document (rebuilds and reverts replay
/// them without consulting who may carry what).
pub(super) fn validate_shape(ops: &[Op]) -> Result<(), ChangeError> {
    let carries = ops
        .iter()
        .filter(|op| matches!(op, Op::CarryDocument(_)))
        .count();
    if carries > 0 && carries != ops.len() {
        return Err(ChangeError::InvalidOp(
            "a change that carries history may only carry history".into(),
        ));
    }
    Ok(())
}

/// Decodes and fully checks one carried change.
pub fn decode_carried(bytes: &[u8]) -> Result<Change, ChangeError> {
    decode_carried_inner(bytes, true)
}

fn decode_carried_inner(bytes: &[u8], verify: bool) -> Result<Change, ChangeError> {
    let change = Change::decode_unvalidated(bytes, verify)?;
    let nested = change
        .body
        .ops
        .iter()
        .any(|op| matches!(op, Op::Genesis(_) | Op::CarryDocument(_)));
    if change.is_genesis() || nested {
        return Err(ChangeError::InvalidOp(
            "a carried change must be an ordinary change, not a genesis or a carry".into(),
        ));
    }
    validate::validate_body(&change.body, verify)?;
    Ok(change)
}

/// Whether `change` creates, edits, retitles or comments on a document known by one of `ids`.
pub fn touches(change: &Change, ids: &[ObjectId]) -> bool {
    change
        .body
        .ops
        .iter()
        .any(|op| doc_of(change, op).is_some_and(|d| ids.contains(&d)))
}

/// The document an op of `change` acts on, if it acts on one.
pub fn doc_of(change: &Change, op: &Op) -> Option<ObjectId> {
    match op {
        Op::CreateDocument { .. } => Some(change.id),
        Op::EditDocument { doc, .. }
        | Op::RetitleDocument { doc, .. }
        | Op::Comment { doc, .. } => Some(*doc),
        _ => None,
    }
}
