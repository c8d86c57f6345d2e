//! Read views of the governance state, for people (UI) and for the other layers (ledger,
//! licences). Every view is serde-serializable with ids as hex and camelCase fields, so the
//! JavaScript binding can hand them over as they are. Votes are public (holoptism): a proposal's
//! view lists every vote and whether it counted.

use std::collections::BTreeMap;

use serde::Serialize;

use super::hexser;
use super::proposals::{Outcome, Proposal, Tally, VoteNote};
use super::Governance;
use crate::change::{ChangeId, GovernanceParams, ProposalKind, VoteChoice, VoteWeight};
use crate::commons::Commons;
use crate::identity::AuthorId;

/// A member of the commons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(serialize_with = "hexser::id")]
    pub key: AuthorId,
    /// The change that made them a member: the genesis for the founder; else the endorsement
    /// that, counting their endorsements in causal order, completed the required number.
    #[serde(serialize_with = "hexser::id")]
    pub since: ChangeId,
    /// Distinct members whose endorsements count for them.
    #[serde(serialize_with = "hexser::ids")]
    pub endorsers: Vec<AuthorId>,
    pub founder: bool,
}

/// One member of a proposal's electorate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Elector {
    #[serde(serialize_with = "hexser::id")]
    pub key: AuthorId,
    pub weight: u64,
}

/// One vote, public.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteView {
    #[serde(serialize_with = "hexser::id")]
    pub voter: AuthorId,
    /// `yes`, `no` or `abstain`.
    pub choice: &'static str,
    #[serde(serialize_with = "hexser::id")]
    pub change: ChangeId,
    pub note: VoteNote,
}

/// A proposal with its tally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalView {
    #[serde(serialize_with = "hexser::id")]
    pub id: ChangeId,
    #[serde(serialize_with = "hexser::id")]
    pub author: AuthorId,
    /// The author's claimed time (ms since epoch); informative.
    pub time: u64,
    /// `parameter`, `block`, `unblock`, `licence` or `decision`.
    pub kind: &'static str,
    /// The kind's parameters: `name`/`value`, `key`, or `spdx`.
    pub params: BTreeMap<String, String>,
    pub text: String,
    /// The electorate, with weights: the members of the current state that were members without
    /// counting any change made after the proposal (docs/GOVERNANCE.md, Part 2 §3).
    pub electorate: Vec<Elector>,
    pub total_weight: u64,
    pub quorum_num: u32,
    pub quorum_den: u32,
    /// The yes-weight needed to reach the quorum.
    pub quorum_weight: u64,
    /// `equal` or `reputation`.
    pub vote_weight: &'static str,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub outcome: Outcome,
    /// Whether the outcome is final: a strict majority of the electorate's weight acknowledged
    /// it (Part 2 §3a). A decided outcome that is not yet final is provisional.
    pub confirmed: bool,
    /// Every vote in causal order, with whether it counted.
    pub votes: Vec<VoteView>,
    /// Why a passed proposal had no effect, if so (a licence change that would drop the
    /// share-alike terms of the licence in force when it passed).
    pub note: Option<String>,
}

/// A charter value with the passed proposal that set it (`None`: the genesis).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting<T> {
    pub value: T,
    #[serde(serialize_with = "hexser::opt_id")]
    pub set_by: Option<ChangeId>,
}

/// The charter in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CharterView {
    pub title: Setting<String>,
    pub purpose: Setting<String>,
    pub licence: Setting<String>,
    pub member_endorsements: Setting<u32>,
    /// `num/den`.
    pub quorum: Setting<String>,
    /// `equal` or `reputation`.
    pub vote_weight: Setting<&'static str>,
}

/// A blocked key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedKey {
    #[serde(serialize_with = "hexser::id")]
    pub key: AuthorId,
    /// The passed block proposals not lifted by an unblock: the key's changes outside their causal
    /// past are left out.
    #[serde(serialize_with = "hexser::ids")]
    pub blocks: Vec<ChangeId>,
}

/// A participant: any key that authored a change still applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantView {
    #[serde(serialize_with = "hexser::id")]
    pub key: AuthorId,
    pub name: Option<String>,
    #[serde(serialize_with = "hexser::id")]
    pub first_change: ChangeId,
    pub changes: u64,
    pub member: bool,
    pub blocked: bool,
    /// Signed two changes claiming the same CRDT ids; the later claim's text is void
    /// (docs/PROTOCOL.md, "CRDT client ids").
    pub equivocating: bool,
}

pub(crate) fn choice_str(c: VoteChoice) -> &'static str {
    match c {
        VoteChoice::Yes => "yes",
        VoteChoice::No => "no",
        VoteChoice::Abstain => "abstain",
    }
}

fn weight_str(w: VoteWeight) -> &'static str {
    match w {
        VoteWeight::Equal => "equal",
        VoteWeight::Reputation => "reputation",
    }
}

/// A proposal kind as a name and parameters (the shape `propose` takes).
pub(crate) fn kind_parts(kind: &ProposalKind) -> (&'static str, BTreeMap<String, String>) {
    let one = |k: &str, v: String| [(k.to_string(), v)].into_iter().collect();
    match kind {
        ProposalKind::ChangeParameter { name, value } => (
            "parameter",
            [
                ("name".to_string(), name.clone()),
                ("value".to_string(), value.clone()),
            ]
            .into_iter()
            .collect(),
        ),
        ProposalKind::Block { key } => ("block", one("key", key.to_hex())),
        ProposalKind::Unblock { key } => ("unblock", one("key", key.to_hex())),
        ProposalKind::ChangeLicence { spdx } => ("licence", one("spdx", spdx.clone())),
        ProposalKind::Decision => ("decision", BTreeMap::new()),
    }
}

impl Governance {
    fn proposal_view(&self, p: &Proposal) -> ProposalView {
        let fallback;
        let t: &Tally = match self.tallies.get(&p.id) {
            Some(t) => t,
            None => {
                fallback = self.decide_now(p);
                &fallback
            }
        };
        let decided = matches!(t.outcome, Outcome::Passed { .. } | Outcome::Failed { .. });
        let (kind, params) = kind_parts(&p.kind);
        ProposalView {
            id: p.id,
            author: p.author,
            time: p.time,
            kind,
            params,
            text: p.text.clone(),
            electorate: t
                .electorate
                .weights
                .iter()
                .map(|(k, w)| Elector {
                    key: *k,
                    weight: *w,
                })
                .collect(),
            total_weight: t.electorate.total,
            quorum_num: p.quorum.0,
            quorum_den: p.quorum.1,
            quorum_weight: p.quorum_weight(t.electorate.total),
            vote_weight: weight_str(p.weight),
            yes: t.yes,
            no: t.no,
            abstain: t.abstain,
            outcome: t.outcome.clone(),
            confirmed: decided && self.confirmed(t),
            votes: p
                .votes
                .iter()
                .enumerate()
                .map(|(i, v)| VoteView {
                    voter: v.voter,
                    choice: choice_str(v.choice),
                    change: v.change,
                    note: t.notes.get(i).copied().unwrap_or(VoteNote::AfterDecision),
                })
                .collect(),
            note: self.licence_void.get(&p.id).cloned(),
        }
    }

    /// Every proposal not left out by a block, in causal order.
    pub fn proposals(&self) -> Vec<ProposalView> {
        self.order
            .values()
            .filter(|id| !self.excluded.contains(id))
            .filter_map(|id| self.proposals.get(id))
            .map(|p| self.proposal_view(p))
            .collect()
    }

    /// One proposal.
    pub fn proposal(&self, id: &ChangeId) -> Option<ProposalView> {
        if self.excluded.contains(id) {
            return None;
        }
        self.proposals.get(id).map(|p| self.proposal_view(p))
    }

    /// The outcome of a proposal (None if unknown or left out by a block).
    pub fn outcome(&self, id: &ChangeId) -> Option<Outcome> {
        if self.excluded.contains(id) {
            return None;
        }
        match self.tallies.get(id) {
            Some(t) => Some(t.outcome.clone()),
            None => self.proposal(id).map(|v| v.outcome),
        }
    }

    /// Current members (not blocked), the founder first, then by key.
    pub fn members(&self) -> Vec<Member> {
        let mut v: Vec<Member> = self
            .members
            .values()
            .filter(|m| !self.global.is_blocked(&m.key))
            .cloned()
            .collect();
        v.sort_by_key(|m| (!m.founder, m.key));
        v
    }

    /// A key's membership record, also when blocked (see [`Governance::is_blocked`]).
    pub fn member(&self, key: &AuthorId) -> Option<&Member> {
        self.members.get(key)
    }

    /// Whether `key` is a member now (and not blocked).
    pub fn is_member(&self, key: &AuthorId) -> bool {
        self.members.contains_key(key) && !self.global.is_blocked(key)
    }

    /// Whether `key` is blocked now.
    pub fn is_blocked(&self, key: &AuthorId) -> bool {
        self.global.is_blocked(key)
    }

    /// Blocked keys with the blocks in force.
    pub fn blocked_keys(&self) -> Vec<BlockedKey> {
        self.global
            .blocks
            .iter()
            .filter_map(|(k, pbs)| {
                let blocks: Vec<ChangeId> = pbs
                    .iter()
                    .filter(|pb| pb.lifts.is_empty())
                    .map(|pb| pb.proposal)
                    .collect();
                (!blocks.is_empty()).then_some(BlockedKey { key: *k, blocks })
            })
            .collect()
    }

    /// The licence in force (SPDX id).
    pub fn licence(&self) -> &str {
        &self.licence.0
    }

    /// The charter in force, with the proposal that set each value.
    /// The governance parameters in force: the genesis charter's, as changed by passed proposals.
    pub fn params_in_force(&self) -> &GovernanceParams {
        &self.global.params
    }

    pub fn charter(&self) -> Option<CharterView> {
        let (_, genesis) = self.genesis.as_ref()?;
        let g = &self.global;
        let by = |name: &str| g.set_by.get(name).copied();
        Some(CharterView {
            title: match &g.title {
                Some((t, p)) => Setting {
                    value: t.clone(),
                    set_by: Some(*p),
                },
                None => Setting {
                    value: genesis.title.clone(),
                    set_by: None,
                },
            },
            purpose: match &g.purpose {
                Some((t, p)) => Setting {
                    value: t.clone(),
                    set_by: Some(*p),
                },
                None => Setting {
                    value: genesis.purpose.clone(),
                    set_by: None,
                },
            },
            licence: Setting {
                value: self.licence.0.clone(),
                set_by: self.licence.1,
            },
            member_endorsements: Setting {
                value: g.params.member_endorsements,
                set_by: by("member_endorsements"),
            },
            quorum: Setting {
                value: format!("{}/{}", g.params.quorum_num, g.params.quorum_den),
                set_by: by("quorum"),
            },
            vote_weight: Setting {
                value: weight_str(g.params.vote_weight),
                set_by: by("vote_weight"),
            },
        })
    }
}

impl Commons {
    /// The governance state (members, proposals, validation, blocks) of this replica.
    pub fn governance(&self) -> &Governance {
        &self.gov
    }

    /// Current members (not blocked).
    pub fn members(&self) -> Vec<Member> {
        self.gov.members()
    }

    /// Every proposal with its tally and public votes, in causal order.
    pub fn proposals(&self) -> Vec<ProposalView> {
        self.gov.proposals()
    }

    /// The charter in force with the proposal that set each value (None before the genesis).
    pub fn charter(&self) -> Option<CharterView> {
        self.gov.charter()
    }

    /// The validation status of a held change (None if this replica does not hold it).
    pub fn validation(&self, change: &ChangeId) -> Option<super::Validation> {
        let author = self.change(change)?.body.author;
        Some(self.gov.validation(*change, author))
    }

    /// Blocked keys.
    pub fn blocked_keys(&self) -> Vec<BlockedKey> {
        self.gov.blocked_keys()
    }

    /// Every participant with name, first change, number of applied changes and status.
    pub fn participant_views(&self) -> Vec<ParticipantView> {
        self.participants()
            .iter()
            .map(|(k, p)| ParticipantView {
                key: *k,
                name: self.name_of(k).map(str::to_string),
                first_change: p.first.1,
                changes: p.changes,
                member: self.gov.is_member(k),
                blocked: self.gov.is_blocked(k),
                equivocating: self.is_equivocating(k),
            })
            .collect()
    }
}
