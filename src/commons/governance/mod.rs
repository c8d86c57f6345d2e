//! Peer governance: a-posteriori validation (endorse, flag, revert), membership, proposals and
//! votes, blocks. Every outcome is a pure function of the set of changes; docs/GOVERNANCE.md gives
//! the rules in plain language and the exact evaluation algorithm.
//!
//! How it is evaluated, in one paragraph: whatever must be judged "as seen by" a change (is the
//! endorser a member? which rules were in force?) is evaluated on that change's causal past, once,
//! when the change is applied; the [`reach`] index makes "is this in that change's past" a bit
//! test. What depends on later changes (a proposal's electorate and outcome, the current members,
//! which changes a block leaves out, which changes are reverted) is kept as indexes updated by
//! `apply` and re-evaluated lazily in `settle`, only for what a new change touched: one new vote
//! re-decides one proposal. Proposals are decided so that what a change cites cannot capture them
//! (`decide.rs`, docs/GOVERNANCE.md Part 2 §3a). Only a change in the set of passed blocks makes
//! the replica re-derive its documents (see `Commons::rederive`; cost: one replay of the history).
//!
//! Read API: [`Commons::governance`](crate::commons::Commons::governance) and the view methods in
//! [`views`]; write API: the [`actions`] methods on `Commons`.

pub mod actions;
mod decide;
mod effects;
mod exclusion;
pub mod hexser;
pub mod licence;
mod membership;
mod proposals;
mod reach;
mod revert;
mod rules;
pub(crate) mod tombstone;
mod validation;
pub mod views;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::change::{Change, ChangeId, Charter, Op, ProposalKind};
use crate::dag::Dag;
use crate::identity::AuthorId;
use decide::Electorate;
use proposals::{Proposal, Tally, VoteRec};
use reach::{Past, Reach};
use rules::{rules_at, Cut, CutRules, PassedBlock};
use validation::{FlagRec, RevertRec, TargetRec};

pub use super::documents::Stamp;
pub use actions::{parse_choice, GovernanceError, ProposalInput};
pub use proposals::{Outcome, Parameter, VoteNote, MAX_MEMBER_ENDORSEMENTS, MAX_QUORUM_DEN};
pub use validation::{EndorsementView, FlagView, RevertView, Validation, ValidationState};
pub use views::{
    BlockedKey, CharterView, Elector, Member, ParticipantView, ProposalView, Setting, VoteView,
};

/// One endorsement op, with what was judged in its causal past.
#[derive(Clone, Debug)]
pub(crate) struct EndorseRec {
    pub change: ChangeId,
    pub stamp: Stamp,
    pub anchor: u32,
    pub endorser: AuthorId,
    pub target: ChangeId,
    pub target_author: AuthorId,
    /// The endorser was a member, not blocked, in the endorsement's causal past, and endorsed
    /// someone else's change.
    pub valid: bool,
    /// The membership threshold in force in its causal past (1 while fewer than 3 members).
    pub k: u32,
}

type RulesKey = (Past, Vec<(u32, Vec<u32>)>);
type ElectKey = (ChangeId, Vec<u32>, BTreeMap<AuthorId, Vec<PassedBlock>>);

/// What [`Governance::settle`] asks of the replica.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The set of changes left out by blocks changed: re-derive the state from the graph.
    pub rederive: bool,
    /// Changes whose reverted status flipped: `(change, now reverted)`.
    pub flips: Vec<(ChangeId, bool)>,
}

#[derive(Debug, Default, Clone)]
struct Dirty {
    rules: bool,
    licence: bool,
    /// Decision and licence proposals to re-decide.
    proposals: BTreeSet<ChangeId>,
    candidates: BTreeSet<AuthorId>,
    reverts: Vec<ChangeId>,
}

/// The governance state of a replica. Built by applying changes in any causal order; read through
/// [`crate::commons::Commons`]'s view methods.
#[derive(Clone, Debug, Default)]
pub struct Governance {
    founder: Option<AuthorId>,
    genesis: Option<(ChangeId, Charter)>,
    reach: Reach,
    endorsements: Vec<EndorseRec>,
    /// Valid endorsements of each non-founder author's changes (indices into `endorsements`).
    by_candidate: BTreeMap<AuthorId, Vec<usize>>,
    /// Candidates by their earliest valid endorsement: early members first when counting.
    first_endorsed: BTreeSet<(Stamp, AuthorId)>,
    first_of: HashMap<AuthorId, Stamp>,
    proposals: HashMap<ChangeId, Proposal>,
    order: BTreeMap<Stamp, ChangeId>,
    block_order: BTreeMap<Stamp, ChangeId>,
    param_order: BTreeMap<Stamp, ChangeId>,
    licence_order: BTreeMap<Stamp, ChangeId>,
    /// Rules in force per set of rule anchors in a cut and endorsements concurrent with its rule
    /// proposals (what they depend on, when no rule proposal of the cut is contested).
    memo: HashMap<RulesKey, CutRules>,
    /// Anchors of counting endorsements of candidates, in increasing order.
    endorse_anchors: Vec<u32>,
    /// Every author's anchors, in increasing order (their acknowledgements, `decide.rs`).
    anchors_of: HashMap<AuthorId, Vec<u32>>,
    /// Electorates by proposal, concurrent endorsements in the cut, and blocks of the cut.
    electorates: RefCell<HashMap<ElectKey, Arc<Electorate>>>,
    /// Proposals whose current deciding votes disagree: any new anchor may acknowledge one side.
    contested: BTreeSet<ChangeId>,
    /// Running tallies of decision and licence proposals in the current state, and the lowest
    /// position a vote was inserted at since (`decide::extend`).
    runs: HashMap<ChangeId, decide::Running>,
    vote_low: HashMap<ChangeId, usize>,
    targets: HashMap<ChangeId, TargetRec>,
    reverts: HashMap<ChangeId, RevertRec>,
    // ---- the current state (the cut of every change), kept up to date by `settle` ----
    global: CutRules,
    tallies: HashMap<ChangeId, Tally>,
    excluded: HashSet<ChangeId>,
    /// Reverted changes, with the revert that counts (the first in causal order).
    reverted: HashMap<ChangeId, ChangeId>,
    members: BTreeMap<AuthorId, Member>,
    licence: (String, Option<ChangeId>),
    licence_void: HashMap<ChangeId, String>,
    dirty: Dirty,
}

impl Governance {
    /// Evaluates governance from scratch over every change `dag` holds: the same state a replica
    /// reaches by applying them one by one in whatever order they arrived.
    pub fn evaluate(dag: &Dag) -> Governance {
        let mut g = Governance::default();
        for (_, id) in dag.causal_order() {
            if let Some(n) = dag.get(&id) {
                g.apply(&n.change, n.depth, dag);
            }
        }
        g.settle(dag);
        g
    }

    /// Digest of everything governance derives (members, blocks, tallies and outcomes, charter,
    /// licence, reverted and left-out changes); part of the replica's state hash.
    pub fn state_digest(&self) -> [u8; 32] {
        self.digest()
    }

    /// Applies a ready change (all its deps and referenced changes applied before).
    pub(crate) fn apply(&mut self, change: &Change, depth: u64, dag: &Dag) {
        let id = change.id;
        let author = change.body.author;
        let stamp = (depth, id);
        if let Some(charter) = change.charter() {
            self.genesis_applied(id, author, charter);
            return;
        }
        let (anchor, rule) = self.classify(&change.body.ops);
        let a = self.reach.add(id, &change.body.deps, anchor, rule);
        if let Some(x) = a {
            self.anchors_of.entry(author).or_default().push(x);
            self.acknowledge_contested(&author);
        }
        if self.global.blocks.contains_key(&author)
            && self.global.excludes_new(&self.reach, &id, &author)
        {
            self.excluded.insert(id);
        }
        // Only endorsements, proposals and reverts are judged in their causal past.
        let judged = change.body.ops.iter().any(|op| {
            matches!(
                op,
                Op::Endorse { .. } | Op::Propose { .. } | Op::Revert { .. }
            )
        });
        let ctx = a.filter(|_| judged).map(|a| (a, self.cut_context(a)));
        for (i, op) in change.body.ops.iter().enumerate() {
            match (op, &ctx) {
                (Op::Endorse { change: t }, Some((a, (past, rules)))) => {
                    self.add_endorsement(id, stamp, *a, author, *t, dag, past, rules);
                }
                (Op::Flag { change: t, reason }, _) => {
                    self.targets.entry(*t).or_default().flags.push(FlagRec {
                        change: id,
                        stamp,
                        by: author,
                        reason: reason.clone(),
                    });
                }
                (Op::Revert { change: t }, Some((_, (past, rules)))) => {
                    let valid = self.is_member_at(&author, Cut::Past(past), rules);
                    let r = self.reverts.entry(id).or_insert_with(|| RevertRec {
                        stamp,
                        author,
                        targets: vec![],
                        valid,
                    });
                    r.targets.push(*t);
                    self.targets.entry(*t).or_default().reverts.push(id);
                    self.dirty.reverts.push(id);
                }
                (Op::Propose { kind, text }, Some((a, (past, rules)))) => {
                    let p = self.new_proposal(
                        id,
                        stamp,
                        *a,
                        author,
                        change.body.time,
                        kind,
                        text,
                        past,
                        rules,
                    );
                    self.add_proposal(p);
                }
                (Op::Vote { proposal, choice }, _) => {
                    if let Some(p) = self.proposals.get_mut(proposal) {
                        let pos = p.add_vote(VoteRec {
                            stamp,
                            op: i as u32,
                            change: id,
                            voter: author,
                            choice: *choice,
                            anchor: a,
                        });
                        if p.is_rule() {
                            self.dirty.rules = true;
                        } else {
                            self.dirty.proposals.insert(*proposal);
                            let low = self.vote_low.entry(*proposal).or_insert(pos);
                            *low = (*low).min(pos);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn genesis_applied(&mut self, id: ChangeId, author: AuthorId, charter: &Charter) {
        self.founder = Some(author);
        self.genesis = Some((id, charter.clone()));
        self.global = CutRules::genesis(charter.params.clone());
        self.licence = (charter.licence.clone(), None);
        self.reach.add(id, &[], false, false);
        self.members.insert(
            author,
            Member {
                key: author,
                since: id,
                endorsers: vec![],
                founder: true,
            },
        );
    }

    /// Whether a change is an anchor, and a rule anchor.
    fn classify(&self, ops: &[Op]) -> (bool, bool) {
        let mut anchor = false;
        let mut rule = false;
        for op in ops {
            match op {
                Op::Endorse { .. } | Op::Revert { .. } => anchor = true,
                Op::Propose { kind, .. } => {
                    anchor = true;
                    rule |= proposals::is_rule_kind(kind);
                }
                // Every vote is an anchor: its tally is what it saw (`decide.rs`).
                Op::Vote { proposal, .. } => {
                    anchor = true;
                    rule |= self.proposals.get(proposal).is_some_and(Proposal::is_rule);
                }
                _ => {}
            }
        }
        (anchor, rule)
    }

    /// The causal past of anchor `a` and the rules in force there.
    fn cut_context(&mut self, a: u32) -> (Past, CutRules) {
        let Some(node) = self.reach.node(a) else {
            return (Past::default(), self.genesis_rules());
        };
        let past = node.past.clone();
        if node.rule_past.is_empty() {
            return (past, self.genesis_rules());
        }
        let key = (node.rule_past.clone(), self.conc_key(&past));
        if let Some(r) = self.memo.get(&key) {
            return (past, r.clone());
        }
        let (rules, _, contested) = rules_at(Cut::Past(&past), self, false);
        if !contested {
            self.memo.insert(key, rules.clone());
        }
        (past, rules)
    }

    /// The endorsements of cut `past` concurrent with each rule proposal of the cut: with the
    /// rule anchors, what the rules of the cut depend on when nothing is contested.
    fn conc_key(&self, past: &Past) -> Vec<(u32, Vec<u32>)> {
        self.block_order
            .values()
            .chain(self.param_order.values())
            .filter_map(|pid| self.proposals.get(pid))
            .filter(|p| past.get(p.anchor) && !p.conc.is_empty())
            .map(|p| {
                let c: Vec<u32> = p.conc.iter().copied().filter(|&e| past.get(e)).collect();
                (p.anchor, c)
            })
            .filter(|(_, c)| !c.is_empty())
            .collect()
    }

    /// A new anchor by `author` may acknowledge a side of a contested proposal: re-decide those
    /// whose electorate holds `author`. Only electors acknowledge, and an anchor never changes
    /// its own author's membership, so anchors of anyone else (non-members above all) leave the
    /// contested tallies as they are: what they cost is bounded by elector activity.
    fn acknowledge_contested(&mut self, author: &AuthorId) {
        for pid in &self.contested {
            let elector = self
                .tallies
                .get(pid)
                .is_none_or(|t| t.electorate.weights.contains_key(author));
            if !elector {
                continue;
            }
            match self.proposals.get(pid) {
                Some(p) if p.is_rule() => self.dirty.rules = true,
                Some(_) => {
                    self.dirty.proposals.insert(*pid);
                }
                None => {}
            }
        }
    }

    fn genesis_rules(&self) -> CutRules {
        CutRules::genesis(
            self.genesis
                .as_ref()
                .map(|(_, c)| c.params.clone())
                .unwrap_or_default(),
        )
    }

    fn add_proposal(&mut self, p: Proposal) {
        let (id, stamp) = (p.id, p.stamp);
        match &p.kind {
            ProposalKind::Block { .. } | ProposalKind::Unblock { .. } => {
                self.block_order.insert(stamp, id);
                self.dirty.rules = true;
            }
            ProposalKind::ChangeParameter { .. } => {
                self.param_order.insert(stamp, id);
                self.dirty.rules = true;
            }
            ProposalKind::ChangeLicence { .. } => {
                self.licence_order.insert(stamp, id);
                self.dirty.proposals.insert(id);
            }
            ProposalKind::Decision => {
                self.dirty.proposals.insert(id);
            }
        }
        self.order.insert(stamp, id);
        self.proposals.insert(id, p);
    }

    /// Brings the current state up to date with the changes applied since the last call.
    pub(crate) fn settle(&mut self, dag: &Dag) -> Settled {
        let mut out = Settled::default();
        let mut full = false;
        if std::mem::take(&mut self.dirty.rules) {
            let (rules, tallies, _) = rules_at(Cut::All, self, true);
            let blocks_changed = rules.blocks != self.global.blocks;
            // Rule proposals left out by a block get no tally: drop the previous ones.
            for pid in self.block_order.values().chain(self.param_order.values()) {
                self.tallies.remove(pid);
            }
            for pid in self.block_order.values().chain(self.param_order.values()) {
                self.contested.remove(pid);
            }
            for (pid, t) in tallies {
                if t.confirmed.is_some() {
                    self.contested.insert(pid);
                }
                self.tallies.insert(pid, t);
            }
            self.global = rules;
            if blocks_changed {
                // Electorates leave blocked keys out: every proposal is re-decided.
                self.dirty.proposals.extend(self.order.values().copied());
                self.runs.clear();
                let ex = exclusion::closure(dag, &self.reach, &self.global.blocks);
                if ex != self.excluded {
                    self.excluded = ex;
                    out.rederive = true;
                    full = true;
                }
            }
        }
        if full {
            self.runs.clear();
            self.vote_low.clear();
            // Left-out proposals change too (a passed licence change may no longer count).
            self.dirty.licence = true;
            self.dirty.proposals.extend(self.order.values().copied());
            self.dirty
                .candidates
                .extend(self.by_candidate.keys().copied());
            self.dirty.reverts.clear();
            out.flips = self.recompute_all_reverts();
        } else {
            let dirty = std::mem::take(&mut self.dirty.reverts);
            out.flips = self.refresh_reverts(&dirty);
        }
        for pid in std::mem::take(&mut self.dirty.proposals) {
            self.retally(&pid);
        }
        if std::mem::take(&mut self.dirty.licence) {
            self.recompute_licence();
        }
        for c in std::mem::take(&mut self.dirty.candidates) {
            self.refresh_member(&c);
        }
        out
    }

    /// Re-tallies a decision or licence proposal (rule proposals are tallied with the rules).
    fn retally(&mut self, pid: &ChangeId) {
        if self.proposals.get(pid).is_none_or(Proposal::is_rule) {
            return;
        }
        let Some(t) = self.redecide_now(pid) else {
            return;
        };
        let licence = self
            .proposals
            .get(pid)
            .is_some_and(|p| matches!(p.kind, ProposalKind::ChangeLicence { .. }));
        if t.confirmed.is_some() {
            self.contested.insert(*pid);
        } else {
            self.contested.remove(pid);
        }
        if licence && self.tallies.get(pid).map(|old| &old.outcome) != Some(&t.outcome) {
            self.dirty.licence = true;
        }
        self.tallies.insert(*pid, t);
    }

    fn recompute_licence(&mut self) {
        let genesis = self
            .genesis
            .as_ref()
            .map(|(_, c)| c.licence.clone())
            .unwrap_or_default();
        let mut passed: Vec<(Stamp, ChangeId)> = self
            .licence_order
            .values()
            .filter(|pid| !self.is_excluded(pid))
            .filter_map(|pid| {
                let t = self.tallies.get(pid)?;
                t.outcome.passed().then_some((t.decided?, *pid))
            })
            .collect();
        passed.sort_unstable();
        self.licence = (genesis, None);
        self.licence_void.clear();
        for (_, pid) in passed {
            let Some(ProposalKind::ChangeLicence { spdx }) =
                self.proposals.get(&pid).map(|p| &p.kind)
            else {
                continue;
            };
            match licence::check_change(&self.licence.0, spdx) {
                // Stored in the table's canonical spelling (ids match without regard to case).
                Ok(()) => {
                    let canonical = crate::commons::property::licence(spdx)
                        .map_or_else(|| spdx.clone(), |l| l.spdx.to_string());
                    self.licence = (canonical, Some(pid));
                }
                Err(e) => {
                    self.licence_void.insert(pid, e);
                }
            }
        }
    }

    /// Whether a change is left out of the current state by a block.
    pub fn is_excluded(&self, id: &ChangeId) -> bool {
        self.excluded.contains(id)
    }

    /// Whether a change is reverted by a revert that counts.
    pub fn is_reverted(&self, id: &ChangeId) -> bool {
        self.reverted.contains_key(id)
    }

    /// Whether the text edits a change carries take effect. They do not for a change a block
    /// leaves out, for a revert whose author was not a member in its causal past, and for a revert
    /// of a change whose text does not take effect (there is nothing to undo). Such edits are
    /// integrated as tombstones ([`tombstone`]).
    pub fn text_applies(&self, id: &ChangeId) -> bool {
        let mut stack = vec![*id];
        let mut seen = HashSet::new();
        while let Some(c) = stack.pop() {
            if !seen.insert(c) {
                continue;
            }
            if self.excluded.contains(&c) {
                return false;
            }
            if let Some(r) = self.reverts.get(&c) {
                if !r.valid {
                    return false;
                }
                stack.extend(r.targets.iter().copied());
            }
        }
        true
    }

    /// The founder's key.
    pub fn founder(&self) -> Option<AuthorId> {
        self.founder
    }

    /// Digest of the governance state, for [`crate::commons::Commons::state_hash`].
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        let mut put = |b: &[u8]| {
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        };
        put(b"governance/v1");
        for m in self.members.values() {
            put(&m.key.0);
            put(&m.since.0);
        }
        for (k, pbs) in &self.global.blocks {
            put(&k.0);
            for pb in pbs {
                put(&pb.proposal.0);
                for (_, u) in &pb.lifts {
                    put(&u.0);
                }
            }
        }
        for pid in self.order.values().filter(|p| !self.excluded.contains(p)) {
            put(&pid.0);
            if let Some(t) = self.tallies.get(pid) {
                put(&postcard::to_allocvec(&(t.yes, t.no, t.abstain)).unwrap_or_default());
                put(serde_json::to_string(&t.outcome)
                    .unwrap_or_default()
                    .as_bytes());
            }
        }
        put(&postcard::to_allocvec(&self.global.params).unwrap_or_default());
        put(self.licence.0.as_bytes());
        let mut reverted: Vec<(&ChangeId, &ChangeId)> = self.reverted.iter().collect();
        reverted.sort_unstable();
        for (c, r) in reverted {
            put(&c.0);
            put(&r.0);
        }
        let mut excluded: Vec<&ChangeId> = self.excluded.iter().collect();
        excluded.sort_unstable();
        for c in excluded {
            put(&c.0);
        }
        *h.finalize().as_bytes()
    }
}

static DEFAULT_PARAMS: crate::change::GovernanceParams = crate::change::GovernanceParams {
    member_endorsements: 2,
    quorum_num: 1,
    quorum_den: 2,
    vote_weight: crate::change::VoteWeight::Equal,
};

#[cfg(test)]
mod tests;
