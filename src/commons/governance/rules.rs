//! The rules in force in a causal cut: which keys are blocked (and which of their changes are
//! therefore left out) and the governance parameters, from the block, unblock and parameter
//! proposals of the cut decided with the votes of the cut.
//!
//! A cut is either the causal past of an anchor (what its author had seen) or every change held
//! (the current state). Evaluation order inside a cut (docs/GOVERNANCE.md §"Evaluation"):
//! block and unblock proposals one after the other in causal order, each decided leaving out the
//! changes excluded by the ones decided before it; then parameter proposals, applied in the causal
//! order of their deciding votes.

use std::collections::BTreeMap;

use super::decide::{decide, CutView};
use super::proposals::{Parameter, Proposal, Tally};
use super::reach::{Past, Reach};
use super::{Governance, Stamp};
use crate::change::{ChangeId, GovernanceParams, ProposalKind};
use crate::identity::AuthorId;

/// A causal cut, as far as anchors are concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cut<'a> {
    /// Every change held.
    All,
    /// The strict causal past of an anchor.
    Past(&'a Past),
    /// A proposal's electorate cut: its strict past plus these anchors (sorted), concurrent
    /// with it.
    Elect(&'a Past, &'a [u32]),
}

impl Cut<'_> {
    /// Whether anchor `a` is in the cut.
    pub(crate) fn has(&self, a: u32) -> bool {
        match self {
            Cut::All => true,
            Cut::Past(past) => past.get(a),
            Cut::Elect(past, more) => past.get(a) || more.binary_search(&a).is_ok(),
        }
    }
}

/// A passed block of a key, and the passed unblocks that lifted it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PassedBlock {
    /// The block proposal's anchor and change.
    pub anchor: u32,
    pub proposal: ChangeId,
    /// Passed unblock proposals of the same key that have the block in their causal past.
    pub lifts: Vec<(u32, ChangeId)>,
}

/// The rules in force in a cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CutRules {
    pub params: GovernanceParams,
    /// Which passed proposal set each parameter last (absent: the genesis value).
    pub set_by: BTreeMap<&'static str, ChangeId>,
    /// Title and purpose set by passed proposals, with the proposal.
    pub title: Option<(String, ChangeId)>,
    pub purpose: Option<(String, ChangeId)>,
    /// Passed blocks by key, in causal order of their proposals.
    pub blocks: BTreeMap<AuthorId, Vec<PassedBlock>>,
}

impl CutRules {
    /// The rules of the genesis alone.
    pub(crate) fn genesis(params: GovernanceParams) -> Self {
        CutRules {
            params,
            set_by: BTreeMap::new(),
            title: None,
            purpose: None,
            blocks: BTreeMap::new(),
        }
    }

    /// Whether the anchor `a`, authored by `author`, is left out: the author has a passed block
    /// that `a` is not in the causal past of, and no passed unblock lifting that block is in
    /// `a`'s causal past.
    pub(crate) fn excludes(&self, reach: &Reach, a: u32, author: &AuthorId) -> bool {
        self.blocks.get(author).is_some_and(|pbs| {
            pbs.iter().any(|pb| {
                !reach.at_or_before(a, pb.anchor)
                    && !pb.lifts.iter().any(|(u, _)| reach.before(*u, a))
            })
        })
    }

    /// Whether a change made *after* every block was applied (so in no block's causal past) is
    /// left out.
    pub(crate) fn excludes_new(&self, reach: &Reach, c: &ChangeId, author: &AuthorId) -> bool {
        self.blocks.get(author).is_some_and(|pbs| {
            pbs.iter().any(|pb| {
                !pb.lifts
                    .iter()
                    .any(|(u, _)| reach.anchor_before_change(*u, c))
            })
        })
    }

    /// Whether `key` is blocked: it has a passed block that no passed unblock lifted.
    pub(crate) fn is_blocked(&self, key: &AuthorId) -> bool {
        self.blocks
            .get(key)
            .is_some_and(|pbs| pbs.iter().any(|pb| pb.lifts.is_empty()))
    }
}

/// Evaluates the rules in force in `cut`, with the tally of every rule proposal of the cut, and
/// whether some rule proposal of the cut has contrary deciding votes (its outcome then depends on
/// acknowledgements: the rules cannot be memoised by rule anchors alone).
pub(crate) fn rules_at(
    cut: Cut<'_>,
    g: &Governance,
    notes: bool,
) -> (CutRules, Vec<(ChangeId, Tally)>, bool) {
    let genesis = g
        .genesis
        .as_ref()
        .map_or(&super::DEFAULT_PARAMS, |(_, c)| &c.params);
    let mut r = CutRules::genesis(genesis.clone());
    let mut tallies = Vec::new();
    let mut contested = false;
    let reach = &g.reach;
    let cv = CutView {
        reach,
        anchors_of: &g.anchors_of,
        cut,
    };
    let in_cut =
        |p: &Proposal, r: &CutRules| cut.has(p.anchor) && !r.excludes(reach, p.anchor, &p.author);
    let mut decide_in = |p: &Proposal, r: &CutRules| {
        let el = g.electorate(p, cut, r);
        let t = decide(p, el, &cv, |v| vote_counts(cut, r, reach, v), notes);
        contested |= t.confirmed.is_some();
        t
    };
    for pid in g.block_order.values() {
        let Some(p) = g.proposals.get(pid) else {
            continue;
        };
        if !in_cut(p, &r) {
            continue;
        }
        let t = decide_in(p, &r);
        if t.outcome.passed() {
            match &p.kind {
                ProposalKind::Block { key } => {
                    r.blocks.entry(*key).or_default().push(PassedBlock {
                        anchor: p.anchor,
                        proposal: p.id,
                        lifts: vec![],
                    });
                }
                ProposalKind::Unblock { key } => {
                    for pb in r.blocks.get_mut(key).into_iter().flatten() {
                        if reach.before(pb.anchor, p.anchor) {
                            pb.lifts.push((p.anchor, p.id));
                        }
                    }
                }
                _ => {}
            }
        }
        tallies.push((p.id, t));
    }
    let mut passed: Vec<(Stamp, ChangeId)> = Vec::new();
    for pid in g.param_order.values() {
        let Some(p) = g.proposals.get(pid) else {
            continue;
        };
        if !in_cut(p, &r) {
            continue;
        }
        let t = decide_in(p, &r);
        if let (true, Some(at)) = (t.outcome.passed(), t.decided) {
            passed.push((at, p.id));
        }
        tallies.push((p.id, t));
    }
    passed.sort_unstable();
    for (_, pid) in passed {
        let Some(ProposalKind::ChangeParameter { name, value }) =
            g.proposals.get(&pid).map(|p| &p.kind)
        else {
            continue;
        };
        // Void proposals never pass, so this parses.
        if let Ok(param) = Parameter::parse(name, value) {
            param.apply_to(&mut r.params);
            r.set_by.insert(param.name(), pid);
            match param {
                Parameter::Title(t) => r.title = Some((t, pid)),
                Parameter::Purpose(t) => r.purpose = Some((t, pid)),
                _ => {}
            }
        }
    }
    (r, tallies, contested)
}

/// A vote on a rule proposal counts in `cut` when it is in the cut and not left out by the
/// blocks decided so far.
fn vote_counts(cut: Cut<'_>, r: &CutRules, reach: &Reach, v: &super::proposals::VoteRec) -> bool {
    v.anchor
        .is_some_and(|a| cut.has(a) && !r.excludes(reach, a, &v.voter))
}
