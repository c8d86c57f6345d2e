//! Local governance actions: endorse, flag, revert, propose, vote. Each flushes typed edits, signs
//! one change and applies it; each returns the changes made (to be stored and sent). Refusals are
//! typed errors with a message a person can act on; nothing is changed when one is returned.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::proposals::Outcome;
use super::{licence, Parameter};
use crate::change::{Change, ChangeId, Op, ProposalKind, VoteChoice};
use crate::commons::{Commons, CommonsError};
use crate::identity::AuthorId;

/// Why a governance action was refused. Nothing was changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum GovernanceError {
    #[error("this replica does not hold change {0}")]
    UnknownChange(String),
    #[error("no proposal {0}")]
    UnknownProposal(String),
    #[error("you cannot endorse your own change: endorsements are how others validate it")]
    OwnChange,
    #[error("only members can {0}: ask members to endorse your contributions first")]
    NotAMember(&'static str),
    #[error(
        "you may not vote on this proposal: its electorate is the members in its causal past, and you were not one"
    )]
    NotInElectorate,
    #[error("this proposal is already decided ({0}): a new vote would not count")]
    Decided(&'static str),
    #[error("invalid parameter change: {0}")]
    InvalidParameter(String),
    #[error("licence change refused: {0}")]
    Licence(String),
    #[error("invalid key '{0}': expected 64 hex characters")]
    BadKey(String),
    #[error("unknown proposal kind '{0}': use parameter, block, unblock, licence or decision")]
    UnknownKind(String),
    #[error("the proposal needs the parameter '{0}'")]
    MissingParam(&'static str),
    #[error("unknown vote '{0}': use yes, no or abstain")]
    BadChoice(String),
    #[error("this change has nothing a revert can undo (governance acts are withdrawn by new votes or proposals, not reverted)")]
    NothingToRevert,
    #[error("this change is already reverted")]
    AlreadyReverted,
    #[error("{0}")]
    Commons(#[from] CommonsError),
}

/// A proposal as the JavaScript API passes it: `{kind, text, params}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalInput {
    /// `parameter`, `block`, `unblock`, `licence` or `decision`.
    pub kind: String,
    #[serde(default)]
    pub text: String,
    /// `name` and `value` for a parameter; `key` (hex) for block/unblock; `spdx` for a licence.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

impl ProposalInput {
    /// The protocol's proposal kind.
    pub fn to_kind(&self) -> Result<ProposalKind, GovernanceError> {
        let get = |k: &'static str| {
            self.params
                .get(k)
                .cloned()
                .ok_or(GovernanceError::MissingParam(k))
        };
        let key = |s: String| AuthorId::from_hex(&s).map_err(|_| GovernanceError::BadKey(s));
        match self.kind.as_str() {
            "parameter" | "change-parameter" => Ok(ProposalKind::ChangeParameter {
                name: get("name")?,
                value: get("value")?,
            }),
            "block" => Ok(ProposalKind::Block {
                key: key(get("key")?)?,
            }),
            "unblock" => Ok(ProposalKind::Unblock {
                key: key(get("key")?)?,
            }),
            "licence" | "license" | "change-licence" => {
                Ok(ProposalKind::ChangeLicence { spdx: get("spdx")? })
            }
            "decision" => Ok(ProposalKind::Decision),
            other => Err(GovernanceError::UnknownKind(other.to_string())),
        }
    }
}

/// Parses `yes`, `no` or `abstain`.
pub fn parse_choice(s: &str) -> Result<VoteChoice, GovernanceError> {
    match s {
        "yes" => Ok(VoteChoice::Yes),
        "no" => Ok(VoteChoice::No),
        "abstain" => Ok(VoteChoice::Abstain),
        other => Err(GovernanceError::BadChoice(other.to_string())),
    }
}

impl Commons {
    fn me(&self) -> Result<AuthorId, GovernanceError> {
        self.local_author()
            .ok_or(GovernanceError::Commons(CommonsError::ReadOnly))
    }

    /// A held change that no block leaves out.
    pub(super) fn live_change(&self, id: &ChangeId) -> Result<&Change, GovernanceError> {
        match self.change(id) {
            Some(c) if !self.gov.is_excluded(id) => Ok(c),
            _ => Err(GovernanceError::UnknownChange(id.to_hex())),
        }
    }

    /// Endorses someone else's change (validates it after the fact).
    pub fn endorse(&mut self, change: &ChangeId, now: u64) -> Result<Vec<Change>, GovernanceError> {
        let me = self.me()?;
        if self.live_change(change)?.body.author == me {
            return Err(GovernanceError::OwnChange);
        }
        Ok(self.act(vec![Op::Endorse { change: *change }], now)?)
    }

    /// Flags a change, with a reason everyone can read.
    pub fn flag(
        &mut self,
        change: &ChangeId,
        reason: &str,
        now: u64,
    ) -> Result<Vec<Change>, GovernanceError> {
        self.me()?;
        self.live_change(change)?;
        Ok(self.act(
            vec![Op::Flag {
                change: *change,
                reason: reason.to_string(),
            }],
            now,
        )?)
    }

    /// Proposes a decision to the members. Returns the proposal id (the id of the last change
    /// returned) and the changes made.
    pub fn propose(
        &mut self,
        kind: ProposalKind,
        text: &str,
        now: u64,
    ) -> Result<(ChangeId, Vec<Change>), GovernanceError> {
        self.me()?;
        match &kind {
            ProposalKind::ChangeParameter { name, value } => {
                Parameter::parse(name, value).map_err(GovernanceError::InvalidParameter)?;
            }
            ProposalKind::ChangeLicence { spdx } => {
                licence::check_change(self.gov.licence(), spdx)
                    .map_err(GovernanceError::Licence)?;
            }
            _ => {}
        }
        let out = self.act(
            vec![Op::Propose {
                kind,
                text: text.to_string(),
            }],
            now,
        )?;
        let id = out
            .last()
            .map(|c| c.id)
            .ok_or(GovernanceError::Commons(CommonsError::NotReady))?;
        Ok((id, out))
    }

    /// [`Commons::propose`] with the JavaScript API's shape.
    pub fn propose_input(
        &mut self,
        input: &ProposalInput,
        now: u64,
    ) -> Result<(ChangeId, Vec<Change>), GovernanceError> {
        let kind = input.to_kind()?;
        self.propose(kind, &input.text, now)
    }

    /// Votes on a proposal; a later vote of the same member replaces an earlier one until the
    /// proposal is decided.
    pub fn vote(
        &mut self,
        proposal: &ChangeId,
        choice: VoteChoice,
        now: u64,
    ) -> Result<Vec<Change>, GovernanceError> {
        let me = self.me()?;
        let view = self
            .gov
            .proposal(proposal)
            .ok_or_else(|| GovernanceError::UnknownProposal(proposal.to_hex()))?;
        if !view.electorate.iter().any(|e| e.key == me) {
            return Err(GovernanceError::NotInElectorate);
        }
        match view.outcome {
            Outcome::Open => {}
            Outcome::Passed { .. } => return Err(GovernanceError::Decided("passed")),
            Outcome::Failed { .. } => return Err(GovernanceError::Decided("failed")),
            Outcome::Void { .. } => return Err(GovernanceError::Decided("void")),
        }
        Ok(self.act(
            vec![Op::Vote {
                proposal: *proposal,
                choice,
            }],
            now,
        )?)
    }
}
