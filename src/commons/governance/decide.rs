//! Deciding a proposal in a cut, so that what a change cites cannot capture the outcome
//! (docs/GOVERNANCE.md, Part 2 §3 and §3a):
//!
//! - the **electorate** is computed by the caller from the cut without the proposal's future
//!   (`membership.rs`): citing less cannot shrink it;
//! - **per-vote causal tallies**: a vote decides when the latest choices of the electorate among
//!   the votes in its own causal past meet the pass or fail condition. A vote signed later with
//!   old deps only sees what it cites: it cannot count votes it pretends not to have seen against
//!   them;
//! - **finality by acknowledgement**: when deciding votes disagree, the verdict that a strict
//!   majority of the electorate acknowledged (saw alone, in one of their governance acts) wins.
//!
//! Cost: O(v²) bit tests for v votes on the proposal, plus, only when deciding votes disagree, a
//! pass over the electorate's anchors made after the earliest deciding vote.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::proposals::{Outcome, Proposal, Tally, VoteNote, VoteRec};
use super::reach::Reach;
use super::rules::Cut;
use super::Governance;
use crate::change::{ChangeId, VoteChoice};
use crate::identity::AuthorId;

/// The electorate of a proposal in a cut, with the vote weights.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Electorate {
    pub weights: BTreeMap<AuthorId, u64>,
    pub total: u64,
}

/// What a decision reads of the cut.
pub(crate) struct CutView<'a> {
    pub reach: &'a Reach,
    /// Every author's anchors, in increasing order.
    pub anchors_of: &'a HashMap<AuthorId, Vec<u32>>,
    pub cut: Cut<'a>,
}

/// Decides `p` with electorate `el` from the votes `include` lets through (in the cut and not
/// left out by a block). `notes` asks for a note per vote.
pub(crate) fn decide(
    p: &Proposal,
    el: Arc<Electorate>,
    cv: &CutView<'_>,
    include: impl Fn(&VoteRec) -> bool,
    notes: bool,
) -> Tally {
    decide_run(p, el, cv, include, notes).0
}

/// [`decide`], also returning the running tally, to extend it with later votes ([`extend`]).
pub(crate) fn decide_run(
    p: &Proposal,
    el: Arc<Electorate>,
    cv: &CutView<'_>,
    include: impl Fn(&VoteRec) -> bool,
    notes: bool,
) -> (Tally, Running) {
    let mut t = Tally {
        yes: 0,
        no: 0,
        abstain: 0,
        outcome: Outcome::Open,
        decided: None,
        notes: Vec::new(),
        electorate: el.clone(),
        deciding: Vec::new(),
        confirmed: None,
    };
    if let Some(reason) = &p.void {
        t.outcome = Outcome::Void {
            reason: reason.clone(),
        };
        if notes {
            t.notes = vec![VoteNote::Void; p.votes.len()];
        }
        return (t, Running::default());
    }
    // The votes that count at all: let through, by an elector, with an anchor.
    let counted: Vec<(usize, u32)> = p
        .votes
        .iter()
        .enumerate()
        .filter(|(_, v)| include(v) && el.weights.contains_key(&v.voter))
        .filter_map(|(i, v)| Some((i, v.anchor?)))
        .collect();
    let mut first: [Option<usize>; 2] = [None, None];
    let mut running = Running::default();
    for &(i, a) in &counted {
        let Some(v) = p.votes.get(i) else { continue };
        running.add(
            i,
            a,
            v.voter,
            v.choice,
            el.weights.get(&v.voter).copied().unwrap_or(0),
        );
        let (yes, no, _, voters) = running.seen_by(a, cv.reach);
        if let Some(passed) = p.verdict(el.total, yes, no, voters == el.weights.len()) {
            t.deciding.push((a, passed));
            first[usize::from(passed)].get_or_insert(i);
        }
    }
    let chosen = match (first[0], first[1]) {
        (Some(f), Some(pa)) => {
            let (pass_w, fail_w) = acknowledged(&el, &t.deciding, cv);
            let (final_pass, final_fail) = (
                pass_w.saturating_mul(2) > el.total,
                fail_w.saturating_mul(2) > el.total,
            );
            t.confirmed = Some(final_pass || final_fail);
            Some(match (final_pass, final_fail) {
                (true, false) => pa,
                (false, true) => f,
                // Neither is final, or equivocators made both final: the earlier in causal order.
                _ => f.min(pa),
            })
        }
        (f, pa) => f.or(pa),
    };
    let passes = chosen.is_some() && chosen == first[1];
    let upto = chosen.and_then(|i| p.votes.get(i)).and_then(|v| {
        t.decided = Some(v.stamp);
        t.outcome = if passes {
            Outcome::Passed { at: v.change }
        } else {
            Outcome::Failed { at: v.change }
        };
        v.anchor
    });
    let (yes, no, abstain, _) = tally_seen(p, &el, cv.reach, &counted, upto);
    (t.yes, t.no, t.abstain) = (yes, no, abstain);
    if notes {
        t.notes = vote_notes(p, &el, cv.reach, &include, upto);
    }
    running.seen = p.votes.len();
    (t, running)
}

/// Extends tally `t` (with notes) and its running tally with the votes of `p` from position
/// `run.seen` on, all later in causal order than those already counted: the usual case of a vote
/// arriving after the ones it follows. Returns false, leaving a full [`decide`] to the caller,
/// when a new vote is the first deciding one or decides contrary to an earlier one (the notes and
/// acknowledgements then change for earlier votes too) or the tally is contested or void.
pub(crate) fn extend(
    p: &Proposal,
    t: &mut Tally,
    run: &mut Running,
    reach: &Reach,
    include: impl Fn(&VoteRec) -> bool,
) -> bool {
    if t.confirmed.is_some() || matches!(t.outcome, Outcome::Void { .. }) {
        return false;
    }
    let el = t.electorate.clone();
    for i in run.seen..p.votes.len() {
        let Some(v) = p.votes.get(i) else {
            return false;
        };
        let note = match (include(v), el.weights.get(&v.voter), v.anchor) {
            (false, _, _) => VoteNote::Excluded,
            (true, None, _) => VoteNote::NotInElectorate,
            (true, Some(_), None) => VoteNote::AfterDecision,
            (true, Some(&w), Some(a)) => {
                let prev = run
                    .by_voter
                    .get(&v.voter)
                    .and_then(|l| l.last())
                    .map(|x| x.0);
                run.add(i, a, v.voter, v.choice, w);
                let (yes, no, _, voters) = run.seen_by(a, reach);
                if let Some(passed) = p.verdict(el.total, yes, no, voters == el.weights.len()) {
                    if t.decided.is_none() || t.deciding.iter().any(|(_, x)| *x != passed) {
                        return false;
                    }
                    t.deciding.push((a, passed));
                }
                if t.decided.is_some() {
                    VoteNote::AfterDecision
                } else {
                    if let Some(n) = prev.and_then(|j| t.notes.get_mut(j)) {
                        *n = VoteNote::Superseded;
                    }
                    [t.yes, t.no, t.abstain] = run.sums;
                    VoteNote::Counted
                }
            }
        };
        t.notes.push(note);
    }
    run.seen = p.votes.len();
    true
}

/// The tally of the votes counted so far (in causal order), and what it takes to get from it the
/// tally at a vote: the votes it did not see are the few recent ones outside its dense past, so
/// only their voters' latest seen choices are looked up again. A vote's tally costs O(log v) plus
/// the votes concurrent with it, instead of a recount.
#[derive(Clone, Debug, Default)]
pub(crate) struct Running {
    /// How many of the proposal's votes (a prefix, in causal order) it has seen.
    pub seen: usize,
    /// Each voter's latest choice and weight.
    latest: BTreeMap<AuthorId, (VoteChoice, u64)>,
    sums: [u64; 3],
    /// Counted votes by anchor: (anchor, position, voter).
    by_anchor: std::collections::BTreeSet<(u32, usize, AuthorId)>,
    /// Each voter's counted votes: (position, anchor, choice), in causal order.
    by_voter: HashMap<AuthorId, Vec<(usize, u32, VoteChoice)>>,
}

fn slot(c: VoteChoice) -> usize {
    match c {
        VoteChoice::Yes => 0,
        VoteChoice::No => 1,
        VoteChoice::Abstain => 2,
    }
}

impl Running {
    /// Counts the vote at position `k` (anchor `a`).
    fn add(&mut self, k: usize, a: u32, voter: AuthorId, choice: VoteChoice, w: u64) {
        if let Some((old, ow)) = self.latest.insert(voter, (choice, w)) {
            if let Some(s) = self.sums.get_mut(slot(old)) {
                *s -= ow;
            }
        }
        if let Some(s) = self.sums.get_mut(slot(choice)) {
            *s += w;
        }
        self.by_anchor.insert((a, k, voter));
        self.by_voter.entry(voter).or_default().push((k, a, choice));
    }

    /// (yes, no, abstain, number of voters) counting only the votes in `↓a`, `a` being the
    /// latest counted vote's anchor.
    fn seen_by(&self, a: u32, reach: &Reach) -> (u64, u64, u64, usize) {
        let dense = reach.node(a).map_or(0, |n| n.past.dense());
        let mut unseen_voters: std::collections::BTreeSet<AuthorId> = Default::default();
        for &(b, _, v) in self.by_anchor.range((dense, 0, AuthorId([0; 32]))..) {
            if !reach.at_or_before(b, a) {
                unseen_voters.insert(v);
            }
        }
        let [mut yes, mut no, mut abstain] = self.sums;
        let mut voters = self.latest.len();
        for who in unseen_voters {
            let Some(&(c, w)) = self.latest.get(&who) else {
                continue;
            };
            match c {
                VoteChoice::Yes => yes -= w,
                VoteChoice::No => no -= w,
                VoteChoice::Abstain => abstain -= w,
            }
            let seen = self.by_voter.get(&who).and_then(|list| {
                list.iter()
                    .rev()
                    .find(|(_, b, _)| reach.at_or_before(*b, a))
                    .map(|(_, _, c)| *c)
            });
            match seen {
                Some(VoteChoice::Yes) => yes += w,
                Some(VoteChoice::No) => no += w,
                Some(VoteChoice::Abstain) => abstain += w,
                None => voters -= 1,
            }
        }
        (yes, no, abstain, voters)
    }
}

/// Sums the latest choice of each elector among `counted` votes (in causal order) that are in
/// `↓at` (all of them when `at` is None). Returns (yes, no, abstain, number of voters).
fn tally_seen(
    p: &Proposal,
    el: &Electorate,
    reach: &Reach,
    counted: &[(usize, u32)],
    at: Option<u32>,
) -> (u64, u64, u64, usize) {
    let mut latest: BTreeMap<AuthorId, VoteChoice> = BTreeMap::new();
    for &(i, b) in counted.iter().rev() {
        let Some(v) = p.votes.get(i) else { continue };
        if at.is_none_or(|a| reach.at_or_before(b, a)) {
            latest.entry(v.voter).or_insert(v.choice);
        }
    }
    let mut sums = [0u64; 3];
    for (who, c) in &latest {
        if let Some(s) = sums.get_mut(slot(*c)) {
            *s += el.weights.get(who).copied().unwrap_or(0);
        }
    }
    (sums[0], sums[1], sums[2], latest.len())
}

/// One note per vote of `p`, for a decision at the vote anchored at `upto` (None: open).
fn vote_notes(
    p: &Proposal,
    el: &Electorate,
    reach: &Reach,
    include: &impl Fn(&VoteRec) -> bool,
    upto: Option<u32>,
) -> Vec<VoteNote> {
    let mut notes = Vec::with_capacity(p.votes.len());
    let mut last: BTreeMap<AuthorId, usize> = BTreeMap::new();
    for (i, v) in p.votes.iter().enumerate() {
        let note = if !include(v) {
            VoteNote::Excluded
        } else if !el.weights.contains_key(&v.voter) {
            VoteNote::NotInElectorate
        } else if v
            .anchor
            .is_some_and(|b| upto.is_none_or(|a| reach.at_or_before(b, a)))
        {
            if let Some(j) = last.insert(v.voter, i) {
                if let Some(n) = notes.get_mut(j) {
                    *n = VoteNote::Superseded;
                }
            }
            VoteNote::Counted
        } else {
            VoteNote::AfterDecision
        };
        notes.push(note);
    }
    notes
}

/// The electorate's weight acknowledging each verdict: (pass, fail). A member acknowledges a
/// verdict with an anchor of theirs in the cut whose causal past (itself included) holds
/// deciding votes of that verdict and none of the other. An honest member's anchors follow each
/// other, so once they saw one verdict they never acknowledge the other; a member who signed
/// forked chains may count for both (docs/GOVERNANCE.md §3a says what that allows).
pub(crate) fn acknowledged(
    el: &Electorate,
    deciding: &[(u32, bool)],
    cv: &CutView<'_>,
) -> (u64, u64) {
    let Some(lo) = deciding.iter().map(|(a, _)| *a).min() else {
        return (0, 0);
    };
    // Deciding anchors per verdict, sorted: "is one in the past of x" is then a look at the
    // lowest (below x's dense past, it is) and at the few between that and x.
    let mut by: [std::collections::BTreeSet<u32>; 2] = Default::default();
    for (d, v) in deciding {
        if let Some(set) = by.get_mut(usize::from(*v)) {
            set.insert(*d);
        }
    }
    let seen = |verdict: bool, x: u32| {
        let Some(set) = by.get(usize::from(verdict)) else {
            return false;
        };
        let dense = cv.reach.node(x).map_or(0, |n| n.past.dense());
        set.first().is_some_and(|d| *d < dense)
            || set.range(dense..=x).any(|d| cv.reach.at_or_before(*d, x))
    };
    let (mut pass_w, mut fail_w) = (0, 0);
    for (m, w) in &el.weights {
        let Some(list) = cv.anchors_of.get(m) else {
            continue;
        };
        // An anchor has only lower-numbered anchors in its past.
        let start = list.partition_point(|x| *x < lo);
        let (mut pass, mut fail) = (false, false);
        for &x in list.get(start..).unwrap_or_default() {
            if !cv.cut.has(x) {
                continue;
            }
            match (seen(true, x), seen(false, x)) {
                (true, false) => pass = true,
                (false, true) => fail = true,
                _ => {}
            }
            if pass && fail {
                break;
            }
        }
        pass_w += if pass { *w } else { 0 };
        fail_w += if fail { *w } else { 0 };
    }
    (pass_w, fail_w)
}

impl Governance {
    /// Decides a decision or licence proposal in the current state.
    /// Re-decides decision or licence proposal `pid` in the current state: by extending its
    /// tally when its new votes all come after those counted and its electorate is unchanged,
    /// else from scratch. Returns the new tally.
    pub(super) fn redecide_now(&mut self, pid: &ChangeId) -> Option<Tally> {
        let p = self.proposals.get(pid)?;
        let low = self.vote_low.remove(pid);
        let el = self.electorate(p, Cut::All, &self.global);
        let ex = &self.excluded;
        if let (Some(low), Some(mut t), Some(mut run)) =
            (low, self.tallies.remove(pid), self.runs.remove(pid))
        {
            let same = Arc::ptr_eq(&el, &t.electorate) || *el == *t.electorate;
            if same
                && run.seen == low
                && extend(p, &mut t, &mut run, &self.reach, |v| {
                    !ex.contains(&v.change)
                })
            {
                self.runs.insert(*pid, run);
                return Some(t);
            }
        }
        let cv = CutView {
            reach: &self.reach,
            anchors_of: &self.anchors_of,
            cut: Cut::All,
        };
        let (t, run) = decide_run(p, el, &cv, |v| !ex.contains(&v.change), true);
        self.runs.insert(*pid, run);
        Some(t)
    }

    pub(super) fn decide_now(&self, p: &Proposal) -> Tally {
        let el = self.electorate(p, Cut::All, &self.global);
        let cv = CutView {
            reach: &self.reach,
            anchors_of: &self.anchors_of,
            cut: Cut::All,
        };
        let ex = &self.excluded;
        decide(p, el, &cv, |v| !ex.contains(&v.change), true)
    }

    /// Whether a decided proposal's outcome is final in the current state: acknowledged by a
    /// strict majority of its electorate (`decide.rs`).
    pub(super) fn confirmed(&self, t: &Tally) -> bool {
        if let Some(c) = t.confirmed {
            return c;
        }
        let Some(passed) = t.deciding.first().map(|(_, v)| *v) else {
            return false;
        };
        let cv = CutView {
            reach: &self.reach,
            anchors_of: &self.anchors_of,
            cut: Cut::All,
        };
        let (pass_w, fail_w) = acknowledged(&t.electorate, &t.deciding, &cv);
        let w = if passed { pass_w } else { fail_w };
        w.saturating_mul(2) > t.electorate.total
    }
}

#[cfg(test)]
mod tests;
