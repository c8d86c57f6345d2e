//! Proposals and their tallies. A proposal is decided at the first vote, in causal order, after
//! which it passes or fails; later votes are recorded but change nothing (docs/GOVERNANCE.md).

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::documents::Stamp;
use crate::change::{ChangeId, GovernanceParams, ProposalKind, VoteChoice, VoteWeight};
use crate::identity::AuthorId;

/// One vote op, with where it sits in the causal order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VoteRec {
    pub stamp: Stamp,
    /// Position of the op in its change (a change may carry several votes).
    pub op: u32,
    pub change: ChangeId,
    pub voter: AuthorId,
    pub choice: VoteChoice,
    /// Anchor index when the vote is on a rule-bearing proposal.
    pub anchor: Option<u32>,
}

/// A proposal, with what was fixed when it was made: its electorate and rules.
#[derive(Clone, Debug)]
pub(crate) struct Proposal {
    pub id: ChangeId,
    pub author: AuthorId,
    pub stamp: Stamp,
    pub anchor: u32,
    /// The author's claimed time; informative.
    pub time: u64,
    pub kind: ProposalKind,
    pub text: String,
    /// Members in the proposal's causal past, with their vote weights.
    pub electorate: BTreeMap<AuthorId, u64>,
    pub total: u64,
    /// The quorum and weighing in force in the proposal's causal past.
    pub quorum: (u32, u32),
    pub weight: VoteWeight,
    /// Why the proposal can never take effect, if so (e.g. an unknown parameter).
    pub void: Option<String>,
    /// Every vote on it, sorted by `(stamp, op)`.
    pub votes: Vec<VoteRec>,
}

/// Where a proposal stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Outcome {
    /// Not decided yet.
    Open,
    /// Passed at this vote change.
    Passed {
        #[serde(serialize_with = "super::hexser::id")]
        at: ChangeId,
    },
    /// Failed at this vote change.
    Failed {
        #[serde(serialize_with = "super::hexser::id")]
        at: ChangeId,
    },
    /// Can never take effect (an unknown parameter, a value out of range, a licence that drops the
    /// share-alike terms...).
    Void { reason: String },
}

impl Outcome {
    /// Whether the proposal passed.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }
}

/// Why a vote did or did not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoteNote {
    /// It is the voter's latest vote before the decision: it counts.
    Counted,
    /// A later vote of the same voter (before the decision) replaced it.
    Superseded,
    /// The voter was not a member in the proposal's causal past.
    NotInElectorate,
    /// It comes after the decision in causal order.
    AfterDecision,
    /// Its author was blocked and it is outside the block's causal past.
    Excluded,
    /// The proposal is void: no vote counts.
    Void,
}

/// A tally: weights per choice and the outcome, with a note per vote when asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub outcome: Outcome,
    /// The stamp of the deciding vote.
    pub decided: Option<Stamp>,
    /// One note per vote of `Proposal::votes` seen, same order (only when asked).
    pub notes: Vec<VoteNote>,
    /// Each elector's latest counted choice and the index of that vote.
    pub latest: BTreeMap<AuthorId, (VoteChoice, usize)>,
    /// How many of the proposal's votes (a prefix, in causal order) the tally has seen.
    pub seen: usize,
}

impl Proposal {
    /// Decides the proposal from the votes `include` lets through (those in a causal cut and not
    /// excluded by a block), in causal order. `notes` asks for a note per vote.
    pub(crate) fn decide(&self, include: impl Fn(&VoteRec) -> bool, notes: bool) -> Tally {
        let mut t = Tally {
            yes: 0,
            no: 0,
            abstain: 0,
            outcome: Outcome::Open,
            decided: None,
            notes: Vec::new(),
            latest: BTreeMap::new(),
            seen: 0,
        };
        if let Some(reason) = &self.void {
            t.outcome = Outcome::Void {
                reason: reason.clone(),
            };
            if notes {
                t.notes = vec![VoteNote::Void; self.votes.len()];
            }
            t.seen = self.votes.len();
            return t;
        }
        for (i, v) in self.votes.iter().enumerate() {
            if t.decided.is_some() && !notes {
                break;
            }
            self.step(&mut t, i, include(v));
        }
        if !notes {
            t.notes.clear();
        }
        t
    }

    /// Counts vote `i` (the next one after those `t` has seen) into `t`; `included` says whether
    /// the caller lets it through. Votes after the decision are only noted.
    pub(crate) fn step(&self, t: &mut Tally, i: usize, included: bool) {
        let Some(v) = self.votes.get(i) else { return };
        t.seen = i + 1;
        if t.decided.is_some() || self.void.is_some() {
            t.notes.push(if self.void.is_some() {
                VoteNote::Void
            } else {
                VoteNote::AfterDecision
            });
            return;
        }
        if !included {
            t.notes.push(VoteNote::Excluded);
            return;
        }
        let Some(&w) = self.electorate.get(&v.voter) else {
            t.notes.push(VoteNote::NotInElectorate);
            return;
        };
        if let Some((old, j)) = t.latest.insert(v.voter, (v.choice, i)) {
            *t.bucket(old) -= w;
            if let Some(n) = t.notes.get_mut(j) {
                *n = VoteNote::Superseded;
            }
        }
        *t.bucket(v.choice) += w;
        t.notes.push(VoteNote::Counted);
        let all_voted = t.latest.len() == self.electorate.len();
        if let Some(passed) = self.verdict(t.yes, t.no, all_voted) {
            t.decided = Some(v.stamp);
            t.outcome = if passed {
                Outcome::Passed { at: v.change }
            } else {
                Outcome::Failed { at: v.change }
            };
        }
    }

    /// Some(true) when passed, Some(false) when failed, None while open. Passing: yes-weight
    /// reaches the quorum fraction of the electorate's weight and exceeds no-weight. Failing: the
    /// same for no against yes, or everyone voted without passing (ties fail).
    fn verdict(&self, yes: u64, no: u64, all_voted: bool) -> Option<bool> {
        let (num, den) = (u128::from(self.quorum.0), u128::from(self.quorum.1.max(1)));
        let total = u128::from(self.total);
        let reaches = |w: u64| u128::from(w) * den >= num * total;
        if reaches(yes) && yes > no {
            Some(true)
        } else if (reaches(no) && no > yes) || all_voted {
            Some(false)
        } else {
            None
        }
    }

    /// The smallest yes-weight that reaches the quorum.
    pub(crate) fn quorum_weight(&self) -> u64 {
        let (num, den) = (u128::from(self.quorum.0), u128::from(self.quorum.1.max(1)));
        let need = (num * u128::from(self.total)).div_ceil(den);
        u64::try_from(need).unwrap_or(u64::MAX)
    }

    /// Inserts a vote at its place in causal order (idempotent); returns its position.
    pub(crate) fn add_vote(&mut self, v: VoteRec) -> usize {
        let key = (v.stamp, v.op);
        match self.votes.binary_search_by(|x| (x.stamp, x.op).cmp(&key)) {
            Ok(pos) => pos,
            Err(pos) => {
                self.votes.insert(pos, v);
                pos
            }
        }
    }

    /// Whether this proposal bears on the rules evaluated in causal cuts (blocks, unblocks,
    /// parameters): its votes are anchors.
    pub(crate) fn is_rule(&self) -> bool {
        is_rule_kind(&self.kind)
    }
}

/// Whether proposals of this kind bear on the rules evaluated in causal cuts.
pub(crate) fn is_rule_kind(kind: &ProposalKind) -> bool {
    matches!(
        kind,
        ProposalKind::ChangeParameter { .. }
            | ProposalKind::Block { .. }
            | ProposalKind::Unblock { .. }
    )
}

impl Tally {
    fn bucket(&mut self, c: VoteChoice) -> &mut u64 {
        match c {
            VoteChoice::Yes => &mut self.yes,
            VoteChoice::No => &mut self.no,
            VoteChoice::Abstain => &mut self.abstain,
        }
    }
}

/// A charter parameter a proposal can change, parsed from its name and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// `member_endorsements`: an integer from 1 to [`MAX_MEMBER_ENDORSEMENTS`].
    MemberEndorsements(u32),
    /// `quorum`: `num/den` with `0 <= num <= den`, `1 <= den <= 1000`.
    Quorum(u32, u32),
    /// `vote_weight`: `equal` or `reputation`.
    VoteWeight(VoteWeight),
    /// `title`: the commons' title.
    Title(String),
    /// `purpose`: the commons' purpose.
    Purpose(String),
}

/// Largest `member_endorsements` a proposal may set.
pub const MAX_MEMBER_ENDORSEMENTS: u32 = 1000;
/// Largest quorum denominator a proposal may set.
pub const MAX_QUORUM_DEN: u32 = 1000;

impl Parameter {
    /// Parses a parameter change; the error says what is wrong, for people.
    pub fn parse(name: &str, value: &str) -> Result<Parameter, String> {
        let v = value.trim();
        match name {
            "member_endorsements" => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_MEMBER_ENDORSEMENTS).contains(&n) => {
                    Ok(Parameter::MemberEndorsements(n))
                }
                _ => Err(format!(
                    "member_endorsements must be a whole number from 1 to {MAX_MEMBER_ENDORSEMENTS}"
                )),
            },
            "quorum" => {
                let parsed = v.split_once('/').and_then(|(a, b)| {
                    Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
                });
                match parsed {
                    Some((n, d)) if (1..=MAX_QUORUM_DEN).contains(&d) && n <= d => {
                        Ok(Parameter::Quorum(n, d))
                    }
                    _ => Err(format!(
                        "quorum must be a fraction num/den with 0 <= num <= den and 1 <= den <= {MAX_QUORUM_DEN}"
                    )),
                }
            }
            "vote_weight" => match v {
                "equal" => Ok(Parameter::VoteWeight(VoteWeight::Equal)),
                "reputation" => Ok(Parameter::VoteWeight(VoteWeight::Reputation)),
                _ => Err("vote_weight must be 'equal' or 'reputation'".into()),
            },
            "title" if !v.is_empty() => Ok(Parameter::Title(v.to_string())),
            "purpose" => Ok(Parameter::Purpose(v.to_string())),
            "title" => Err("the title cannot be empty".into()),
            other => Err(format!(
                "unknown parameter '{other}': use member_endorsements, quorum, vote_weight, title or purpose"
            )),
        }
    }

    /// The parameter's name, as proposals spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Parameter::MemberEndorsements(_) => "member_endorsements",
            Parameter::Quorum(..) => "quorum",
            Parameter::VoteWeight(_) => "vote_weight",
            Parameter::Title(_) => "title",
            Parameter::Purpose(_) => "purpose",
        }
    }

    /// Applies a governance parameter to `params` (title and purpose are not governance
    /// parameters and leave them as they are).
    pub(crate) fn apply_to(&self, params: &mut GovernanceParams) {
        match self {
            Parameter::MemberEndorsements(n) => params.member_endorsements = *n,
            Parameter::Quorum(n, d) => {
                params.quorum_num = *n;
                params.quorum_den = *d;
            }
            Parameter::VoteWeight(w) => params.vote_weight = *w,
            Parameter::Title(_) | Parameter::Purpose(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> AuthorId {
        AuthorId([n; 32])
    }

    fn proposal(n: usize, quorum: (u32, u32)) -> Proposal {
        Proposal {
            id: ChangeId([0; 32]),
            author: a(0),
            stamp: (1, ChangeId([0; 32])),
            anchor: 0,
            time: 0,
            kind: ProposalKind::Decision,
            text: String::new(),
            electorate: (0..n as u8).map(|i| (a(i), 1)).collect(),
            total: n as u64,
            quorum,
            weight: VoteWeight::Equal,
            void: None,
            votes: vec![],
        }
    }

    fn vote(p: &mut Proposal, depth: u64, who: u8, choice: VoteChoice) {
        p.add_vote(VoteRec {
            stamp: (depth, ChangeId([depth as u8; 32])),
            op: 0,
            change: ChangeId([depth as u8; 32]),
            voter: a(who),
            choice,
            anchor: None,
        });
    }

    #[test]
    fn passes_at_quorum_and_later_votes_change_nothing() {
        let mut p = proposal(4, (1, 2));
        vote(&mut p, 2, 0, VoteChoice::Yes);
        assert_eq!(p.decide(|_| true, false).outcome, Outcome::Open);
        vote(&mut p, 3, 1, VoteChoice::Yes);
        let t = p.decide(|_| true, true);
        assert_eq!(
            t.outcome,
            Outcome::Passed {
                at: ChangeId([3; 32])
            }
        );
        vote(&mut p, 4, 0, VoteChoice::No);
        vote(&mut p, 5, 2, VoteChoice::No);
        let t2 = p.decide(|_| true, true);
        assert_eq!(t2.outcome, t.outcome);
        assert_eq!(t2.notes[2], VoteNote::AfterDecision);
        assert_eq!(p.quorum_weight(), 2);
    }

    #[test]
    fn ties_fail_and_latest_vote_counts() {
        let mut p = proposal(3, (1, 2));
        vote(&mut p, 2, 0, VoteChoice::No);
        vote(&mut p, 3, 0, VoteChoice::Yes);
        assert_eq!(p.decide(|_| true, false).outcome, Outcome::Open);
        vote(&mut p, 4, 1, VoteChoice::Yes);
        let t = p.decide(|_| true, true);
        assert_eq!((t.yes, t.no), (2, 0));
        assert_eq!(t.notes[0], VoteNote::Superseded);
        assert_eq!(
            t.outcome,
            Outcome::Passed {
                at: ChangeId([4; 32])
            }
        );
        let mut q = proposal(2, (1, 1));
        vote(&mut q, 2, 0, VoteChoice::Yes);
        vote(&mut q, 3, 1, VoteChoice::No);
        assert_eq!(
            q.decide(|_| true, false).outcome,
            Outcome::Failed {
                at: ChangeId([3; 32])
            },
            "everyone voted, 1-1 with a unanimity quorum: failed"
        );
        let mut r = proposal(4, (1, 2));
        vote(&mut r, 2, 0, VoteChoice::No);
        vote(&mut r, 3, 1, VoteChoice::No);
        assert_eq!(
            r.decide(|_| true, false).outcome,
            Outcome::Failed {
                at: ChangeId([3; 32])
            },
            "no-votes reaching the quorum and exceeding yes fail it"
        );
    }

    #[test]
    fn outsiders_and_excluded_votes_do_not_count() {
        let mut p = proposal(3, (1, 2));
        vote(&mut p, 2, 9, VoteChoice::Yes);
        vote(&mut p, 3, 1, VoteChoice::Yes);
        let t = p.decide(|v| v.voter != a(1), true);
        assert_eq!(t.outcome, Outcome::Open);
        assert_eq!(t.notes, vec![VoteNote::NotInElectorate, VoteNote::Excluded]);
    }

    #[test]
    fn parameters_parse_with_clear_errors() {
        assert_eq!(
            Parameter::parse("quorum", "2/3"),
            Ok(Parameter::Quorum(2, 3))
        );
        assert!(Parameter::parse("quorum", "3/2").is_err());
        assert!(Parameter::parse("quorum", "1/0").is_err());
        assert_eq!(
            Parameter::parse("member_endorsements", " 3 "),
            Ok(Parameter::MemberEndorsements(3))
        );
        assert!(Parameter::parse("member_endorsements", "0").is_err());
        assert!(Parameter::parse("vote_weight", "money").is_err());
        assert!(Parameter::parse("admin", "me")
            .unwrap_err()
            .contains("unknown parameter"));
    }
}
