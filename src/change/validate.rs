//! Checks a change can make on its own, before any replica state is consulted: limits, the
//! shape of a genesis, and that CRDT updates only create items under the author's client id.

use yrs::updates::decoder::Decode;
use yrs::Update;

use super::limits::*;
use super::{client_id, ChangeBody, ChangeError, Op, TextEdit};
use crate::identity::AuthorId;

/// `verify`: whether signatures inside the ops (carried changes) are checked too; false only
/// for changes this device stored itself after checking them.
pub(super) fn validate_body(body: &ChangeBody, verify: bool) -> Result<(), ChangeError> {
    limit("deps", body.deps.len() as u64, MAX_DEPS_PER_CHANGE as u64)?;
    limit("ops", body.ops.len() as u64, MAX_OPS_PER_CHANGE as u64)?;
    // Sorted and unique: one set of deps has one encoding.
    if body.deps.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ChangeError::InvalidOp(
            "deps must be sorted and unique".into(),
        ));
    }
    match body.commons {
        None => {
            let genesis_shape = body.deps.is_empty()
                && body.ops.len() == 1
                && matches!(body.ops.first(), Some(Op::Genesis(_)));
            if !genesis_shape {
                return Err(ChangeError::InvalidOp(
                    "a change without a commons must be a genesis: no deps and one charter op"
                        .into(),
                ));
            }
        }
        Some(_) => {
            if body.deps.is_empty() {
                return Err(ChangeError::InvalidOp(
                    "a change must cite at least one dependency".into(),
                ));
            }
            if body.ops.is_empty() {
                return Err(ChangeError::InvalidOp(
                    "a change must carry at least one op".into(),
                ));
            }
        }
    }
    validate_ops_inner(&body.author, &body.ops, body.commons.is_none(), verify)
}

/// Checks a list of ops as authored by `author` (also used by the local writer before signing).
pub fn validate_ops(author: &AuthorId, ops: &[Op], genesis: bool) -> Result<(), ChangeError> {
    validate_ops_inner(author, ops, genesis, true)
}

fn validate_ops_inner(
    author: &AuthorId,
    ops: &[Op],
    genesis: bool,
    verify: bool,
) -> Result<(), ChangeError> {
    let creating = ops.iter().filter(|op| op.creates_object()).count();
    if creating > 1 {
        return Err(ChangeError::InvalidOp(
            "a change creates at most one object".into(),
        ));
    }
    super::carry::validate_shape(ops)?;
    for op in ops {
        validate_op(author, op, genesis, verify)?;
    }
    Ok(())
}

fn validate_op(author: &AuthorId, op: &Op, genesis: bool, verify: bool) -> Result<(), ChangeError> {
    match op {
        Op::Genesis(charter) => {
            if !genesis {
                return Err(ChangeError::InvalidOp(
                    "a charter may only appear in a genesis".into(),
                ));
            }
            short("title", &charter.title)?;
            long("purpose", &charter.purpose)?;
            short("licence", &charter.licence)?;
            let p = &charter.params;
            if p.quorum_den == 0 || p.quorum_num > p.quorum_den || p.member_endorsements == 0 {
                return Err(ChangeError::InvalidOp(
                    "governance parameters out of range".into(),
                ));
            }
            if let Some(fork) = &charter.fork_of {
                limit(
                    "fork heads",
                    fork.heads.len() as u64,
                    MAX_DEPS_PER_CHANGE as u64,
                )?;
                limit(
                    "fork documents",
                    fork.documents.len() as u64,
                    MAX_LIST_ITEMS as u64,
                )?;
            }
        }
        Op::SetProfile { name } => short("name", name)?,
        Op::CreateDocument { title, edit } => {
            short("title", title)?;
            text_edit(author, edit)?;
        }
        Op::RetitleDocument { title, .. } => short("title", title)?,
        Op::EditDocument { edit, .. } => text_edit(author, edit)?,
        Op::Comment { text, .. } => long("comment", text)?,
        Op::PostTask {
            title,
            description,
            skills,
        } => {
            short("task title", title)?;
            long("task description", description)?;
            limit("skills", skills.len() as u64, MAX_LIST_ITEMS as u64)?;
            for s in skills {
                short("skill", s)?;
            }
        }
        Op::CompleteTask { contributions, .. } => limit(
            "contributions",
            contributions.len() as u64,
            MAX_LIST_ITEMS as u64,
        )?,
        Op::Flag { reason, .. } => short("reason", reason)?,
        Op::Propose { kind, text } => {
            long("proposal", text)?;
            if let super::ProposalKind::ChangeParameter { name, value } = kind {
                short("parameter name", name)?;
                short("parameter value", value)?;
            }
            if let super::ProposalKind::ChangeLicence { spdx } = kind {
                short("licence", spdx)?;
            }
        }
        Op::MarkLicence { spdx, .. } => short("licence", spdx)?,
        Op::CarryDocument(carry) => {
            short("title", &carry.title)?;
            super::carry::validate_carry(carry, verify)?;
        }
        Op::ClaimTask { .. }
        | Op::ReleaseTask { .. }
        | Op::Endorse { .. }
        | Op::Revert { .. }
        | Op::Vote { .. } => {}
    }
    Ok(())
}

/// A text edit must decode, and may only create items under the client id derived from its
/// author and nonce: otherwise one author could write under another's name, or two updates
/// could claim the same CRDT ids and replicas would diverge.
fn text_edit(author: &AuthorId, edit: &TextEdit) -> Result<(), ChangeError> {
    // yrs reserves what the update's counts claim: they are bounded first.
    super::update_bound::check_update_v2(&edit.update)?;
    let update = Update::decode_v2(&edit.update)
        .map_err(|e| ChangeError::InvalidOp(format!("CRDT update does not decode: {e}")))?;
    let expected = client_id(author, edit.nonce);
    let inserted = update.insertions(true);
    let mut total: u64 = 0;
    for (client, ranges) in inserted.iter() {
        if client.get() != expected {
            return Err(ChangeError::ForeignClient {
                expected,
                found: client.get(),
            });
        }
        for r in ranges.iter() {
            total += u64::from(r.end.saturating_sub(r.start));
        }
    }
    limit("inserted text", total, MAX_INSERT_PER_CHANGE)
}

pub(super) fn limit(what: &'static str, value: u64, max: u64) -> Result<(), ChangeError> {
    if value > max {
        return Err(ChangeError::Limit {
            what,
            value,
            limit: max,
        });
    }
    Ok(())
}

fn short(what: &'static str, s: &str) -> Result<(), ChangeError> {
    limit(what, s.len() as u64, MAX_SHORT_TEXT_BYTES as u64)
}

fn long(what: &'static str, s: &str) -> Result<(), ChangeError> {
    limit(what, s.len() as u64, MAX_LONG_TEXT_BYTES as u64)
}
