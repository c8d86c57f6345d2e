//! Which changes the current blocks leave out: every change of a blocked key that is not in the
//! causal past of the block proposal (nor the proposal itself), unless a passed unblock of that
//! block is in the change's causal past.
//!
//! Cost: one walk of each passed block's causal past and one pass over the held changes, done only
//! when the set of passed blocks or unblocks changes. Changes applied later are judged one by one
//! in `Governance::apply` (a change applied after a block is never in its past).

use std::collections::{BTreeMap, HashSet};

use super::reach::Reach;
use super::rules::PassedBlock;
use crate::change::ChangeId;
use crate::dag::Dag;
use crate::identity::AuthorId;

/// The changes left out by `blocks`.
pub(super) fn closure(
    dag: &Dag,
    reach: &Reach,
    blocks: &BTreeMap<AuthorId, Vec<PassedBlock>>,
) -> HashSet<ChangeId> {
    let mut out = HashSet::new();
    if blocks.is_empty() {
        return out;
    }
    // The causal past of each block proposal, the proposal included.
    let pasts: Vec<(AuthorId, &PassedBlock, HashSet<ChangeId>)> = blocks
        .iter()
        .flat_map(|(k, pbs)| pbs.iter().map(move |pb| (*k, pb)))
        .map(|(k, pb)| {
            let mut past = dag.ancestors(&pb.proposal);
            past.insert(pb.proposal);
            (k, pb, past)
        })
        .collect();
    for id in dag.arrival_order() {
        let Some(node) = dag.get(id) else { continue };
        let author = node.change.body.author;
        let left_out = pasts.iter().any(|(k, pb, past)| {
            *k == author
                && !past.contains(id)
                && !pb
                    .lifts
                    .iter()
                    .any(|(u, _)| reach.anchor_before_change(*u, id))
        });
        if left_out {
            out.insert(*id);
        }
    }
    out
}
