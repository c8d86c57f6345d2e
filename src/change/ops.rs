//! Operations: what a change does. The variant order is part of the wire format (postcard encodes
//! the variant index): append new variants at the end, never reorder.

use serde::{Deserialize, Serialize};

use super::ChangeId;
use crate::identity::AuthorId;

/// Identifier of a document, task, proposal or comment: the id of the change that created it
/// (a change creates at most one object).
pub type ObjectId = ChangeId;

/// One operation inside a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The first change of a commons: its charter. Only valid in the genesis change.
    Genesis(Charter),
    /// Claims a display name for the author (the key is the identity; the name is a claim).
    SetProfile { name: String },
    /// Creates a document with a title and initial text (a CRDT update under the author's client).
    CreateDocument { title: String, edit: TextEdit },
    /// Renames a document.
    RetitleDocument { doc: ObjectId, title: String },
    /// Edits a document's text with a CRDT update.
    EditDocument { doc: ObjectId, edit: TextEdit },
    /// Comments on a document.
    Comment { doc: ObjectId, text: String },
    /// Broadcasts a task anyone may pick up.
    PostTask {
        title: String,
        description: String,
        skills: Vec<String>,
    },
    /// The author takes a task on.
    ClaimTask { task: ObjectId },
    /// The author gives a claimed task back.
    ReleaseTask { task: ObjectId },
    /// Marks a task done, linking the contributions (changes) that did it.
    CompleteTask {
        task: ObjectId,
        contributions: Vec<ChangeId>,
    },
    /// Validates another change after the fact.
    Endorse { change: ChangeId },
    /// Signals a problem with another change.
    Flag { change: ChangeId, reason: String },
    /// Reverts another change; the same change carries the inverse text edits.
    Revert { change: ChangeId },
    /// Proposes a decision to the members.
    Propose { kind: ProposalKind, text: String },
    /// Votes on a proposal; a member's latest vote counts.
    Vote {
        proposal: ObjectId,
        choice: VoteChoice,
    },
    /// Offers one of the author's own changes under a more permissive compatible licence.
    MarkLicence { change: ChangeId, spdx: String },
    /// Carries a document of the parent commons into a fork: the parent's signed changes that
    /// built it, verbatim, so credits stay verifiable (docs/ACCOUNTING.md, "Forks").
    CarryDocument(Carry),
}

impl Op {
    /// Whether this op creates an object whose id is the change's id.
    pub fn creates_object(&self) -> bool {
        matches!(
            self,
            Op::Genesis(_)
                | Op::CreateDocument { .. }
                | Op::Comment { .. }
                | Op::PostTask { .. }
                | Op::Propose { .. }
                | Op::CarryDocument(Carry { into: None, .. })
        )
    }

    /// The change or object this op refers to, if any.
    pub fn target(&self) -> Option<ChangeId> {
        match self {
            Op::RetitleDocument { doc, .. }
            | Op::EditDocument { doc, .. }
            | Op::Comment { doc, .. } => Some(*doc),
            Op::ClaimTask { task } | Op::ReleaseTask { task } | Op::CompleteTask { task, .. } => {
                Some(*task)
            }
            Op::Endorse { change }
            | Op::Flag { change, .. }
            | Op::Revert { change }
            | Op::MarkLicence { change, .. } => Some(*change),
            Op::Vote { proposal, .. } => Some(*proposal),
            Op::CarryDocument(c) => c.into,
            Op::Genesis(_)
            | Op::SetProfile { .. }
            | Op::CreateDocument { .. }
            | Op::PostTask { .. }
            | Op::Propose { .. } => None,
        }
    }

    /// A short name of the op's kind, for histories and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Genesis(_) => "genesis",
            Op::SetProfile { .. } => "set-profile",
            Op::CreateDocument { .. } => "create-document",
            Op::RetitleDocument { .. } => "retitle-document",
            Op::EditDocument { .. } => "edit-document",
            Op::Comment { .. } => "comment",
            Op::PostTask { .. } => "post-task",
            Op::ClaimTask { .. } => "claim-task",
            Op::ReleaseTask { .. } => "release-task",
            Op::CompleteTask { .. } => "complete-task",
            Op::Endorse { .. } => "endorse",
            Op::Flag { .. } => "flag",
            Op::Revert { .. } => "revert",
            Op::Propose { .. } => "propose",
            Op::Vote { .. } => "vote",
            Op::MarkLicence { .. } => "mark-licence",
            Op::CarryDocument(_) => "carry-document",
        }
    }
}

/// A CRDT (Yjs v2) update to a document's text, made under the CRDT client id derived from the
/// change's author and `nonce` (see [`crate::change::client_id`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextEdit {
    /// Chosen by the writer once per session, so one key used on two devices never reuses a
    /// CRDT client id.
    pub nonce: u32,
    /// The Yjs update, version 2 encoding (`Y.applyUpdateV2` in Yjs).
    pub update: Vec<u8>,
}

/// A document carried into a fork, or one part of it (a long history takes several changes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    /// The ids the document had before, oldest first: the original document's id, then its id in
    /// each fork it passed through; the last is its id in the parent commons.
    pub sources: Vec<ObjectId>,
    /// `None` in the first part, which creates the document (its id is this change's id); else
    /// the fork's document this part continues.
    pub into: Option<ObjectId>,
    /// The document's title when forked.
    pub title: String,
    /// Signed changes that built the document (`signature || body`, verbatim), in causal order.
    pub changes: Vec<Vec<u8>>,
}

/// The charter: what a commons is and the rules it starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charter {
    pub title: String,
    pub purpose: String,
    /// SPDX licence id of the commons.
    pub licence: String,
    pub params: GovernanceParams,
    /// Set when this commons is a fork of another.
    pub fork_of: Option<ForkParent>,
}

/// The commons a fork came from, and the heads of the parent it carried over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkParent {
    pub commons: ChangeId,
    pub heads: Vec<ChangeId>,
    /// The documents carried over (empty: all of them).
    pub documents: Vec<ObjectId>,
}

/// Governance parameters; each can be changed by a passed proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceParams {
    /// Distinct member endorsements that make a participant a member (1 while fewer than 3 members).
    pub member_endorsements: u32,
    /// Quorum as a fraction of the electorate: yes-votes must reach `quorum_num / quorum_den`.
    pub quorum_num: u32,
    pub quorum_den: u32,
    /// How votes are weighed.
    pub vote_weight: VoteWeight,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        GovernanceParams {
            member_endorsements: 2,
            quorum_num: 1,
            quorum_den: 2,
            vote_weight: VoteWeight::Equal,
        }
    }
}

/// How a member's vote is weighed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteWeight {
    /// One member, one vote.
    Equal,
    /// Weighed by reputation (docs/GOVERNANCE.md).
    Reputation,
}

/// What a proposal asks the members to decide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalKind {
    /// Change a charter parameter (name and value as text; docs/GOVERNANCE.md lists them).
    ChangeParameter { name: String, value: String },
    /// Block a key: its later changes are no longer applied.
    Block { key: AuthorId },
    /// Unblock a key.
    Unblock { key: AuthorId },
    /// Change the commons' licence (only to one that keeps its share-alike terms).
    ChangeLicence { spdx: String },
    /// Record a free-text decision.
    Decision,
}

/// A vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteChoice {
    Yes,
    No,
    Abstain,
}
