//! Proposals, their votes and outcomes, and the parameters a proposal can change. How a proposal
//! is decided in a cut is in `decide.rs` (docs/GOVERNANCE.md, Part 2 §3).

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
    /// The vote's anchor index (every vote is an anchor: tallies ask what a vote had seen).
    pub anchor: Option<u32>,
}

/// A proposal, with what was fixed when it was made: its rules. Its electorate depends on the cut
/// it is decided in (`decide.rs`).
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
    /// The quorum and weighing in force in the proposal's causal past.
    pub quorum: (u32, u32),
    pub weight: VoteWeight,
    /// Why the proposal can never take effect, if so (e.g. an unknown parameter).
    pub void: Option<String>,
    /// Every vote on it, sorted by `(stamp, op)`.
    pub votes: Vec<VoteRec>,
    /// Anchors of counting endorsements concurrent with the proposal (neither in its past nor in
    /// its future), sorted: with its past, they make its electorate.
    pub conc: Vec<u32>,
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
    /// It is the voter's latest vote in the deciding vote's causal past (or, while the proposal
    /// is open, their latest vote): it counts.
    Counted,
    /// A later vote of the same voter (in the deciding vote's causal past) replaced it.
    Superseded,
    /// The voter is not in the proposal's electorate.
    NotInElectorate,
    /// It is not in the causal past of the deciding vote (it was made after the decision, or
    /// concurrently with it).
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
    /// One note per vote of `Proposal::votes`, same order (only when asked).
    pub notes: Vec<VoteNote>,
    /// The electorate the tally counted.
    pub electorate: std::sync::Arc<super::decide::Electorate>,
    /// Every deciding vote: its anchor and whether it passes the proposal.
    pub deciding: Vec<(u32, bool)>,
    /// Whether the outcome is final (acknowledged by a majority); computed only when deciding
    /// votes disagree (else on demand, see `Governance::confirmed`).
    pub confirmed: Option<bool>,
}

impl Proposal {
    /// The smallest yes-weight that reaches the quorum with an electorate of weight `total`.
    pub(crate) fn quorum_weight(&self, total: u64) -> u64 {
        let (num, den) = (u128::from(self.quorum.0), u128::from(self.quorum.1.max(1)));
        let need = (num * u128::from(total)).div_ceil(den);
        u64::try_from(need).unwrap_or(u64::MAX)
    }

    /// Some(true) when passed, Some(false) when failed, None while open. Passing: yes-weight
    /// reaches the quorum fraction of the electorate's weight `total` and exceeds no-weight.
    /// Failing: the same for no against yes, or everyone voted without passing (ties fail).
    pub(crate) fn verdict(&self, total: u64, yes: u64, no: u64, all_voted: bool) -> Option<bool> {
        let (num, den) = (u128::from(self.quorum.0), u128::from(self.quorum.1.max(1)));
        let total = u128::from(total);
        let reaches = |w: u64| u128::from(w) * den >= num * total;
        if reaches(yes) && yes > no {
            Some(true)
        } else if (reaches(no) && no > yes) || all_voted {
            Some(false)
        } else {
            None
        }
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
