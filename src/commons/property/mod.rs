//! Peer property and social accounting: the licence a commons carries, who wrote what
//! (attribution from the CRDT's items, never from claims), the ledger of contributions, its
//! CSV/JSON exports, and the history carried into forks.
//!
//! Everything here is a pure function of the set of changes (docs/ACCOUNTING.md), so every
//! replica shows the same credits and the ledger is part of [`Commons::state_hash`].

mod attribution;
mod export;
mod history;
mod ledger;
pub mod licence;
mod provenance;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use super::{Commons, Document, Stamp};
use crate::change::{Change, ChangeError, ChangeId, Charter, ObjectId, Op};
use crate::identity::AuthorId;
pub use attribution::{AuthorCredit, ChangeCounts, Credits, DocAttribution};
pub use export::LedgerFormat;
pub use history::{ChangeRecord, Validation, ValidationStatus};
pub use ledger::{Ledger, LedgerRow, LedgerTotals};
pub use licence::{
    describe, fork_allowed, licence, licence_change_allowed, licences, may_include, offer_allowed,
    Licence, LicenceView, DEFAULT_LICENCE,
};
pub(crate) use provenance::carried_text_updates;
use provenance::Provenance;

/// Why a property action was refused. Nothing was changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum PropertyError {
    #[error("unknown licence {0:?}: choose one of the offered SPDX ids")]
    UnknownLicence(String),
    #[error("{offer} cannot be offered inside a commons under {commons}: only a more permissive licence whose work fits in the commons' licence can")]
    IncompatibleOffer { offer: String, commons: String },
    #[error("only its author may offer a change under another licence")]
    NotYourChange,
    #[error("no change {0}")]
    UnknownChange(String),
    #[error("unknown ledger format {0:?}: use \"csv\" or \"json\"")]
    UnknownFormat(String),
    #[error("{0}")]
    Commons(#[from] super::CommonsError),
}

/// The canonical spelling of an offered licence id, or a typed error naming the offered ones.
pub fn canonical_licence(spdx: &str) -> Result<String, ChangeError> {
    licence(spdx).map(|l| l.spdx.to_string()).ok_or_else(|| {
        let offered: Vec<&str> = licences().iter().map(|l| l.spdx).collect();
        ChangeError::UnknownLicence(spdx.to_string(), offered.join(", "))
    })
}

/// A change carried into this commons from a parent (a fork's history).
#[derive(Clone, Debug)]
pub(crate) struct Carried {
    pub author: AuthorId,
    /// The author's claimed time.
    pub time: u64,
    /// The commons the change was signed for.
    pub commons: Option<ChangeId>,
    /// The documents of this commons it was carried into (normally one).
    pub docs: Vec<ObjectId>,
    /// The change of this commons that carries it, the carry op's position in it, and the
    /// carried change's position in that op.
    pub carrier: ChangeId,
    pub op: usize,
    pub index: usize,
}

/// What the property layer records as changes are applied: provenance of every document's
/// CRDT items and the history carried into forks. Maintained by [`PropertyIndex::apply`].
#[derive(Default)]
pub(crate) struct PropertyIndex {
    docs: BTreeMap<ObjectId, Provenance>,
    carried: BTreeMap<ChangeId, Carried>,
    /// For each carried document of a fork: the ids it had before, oldest first.
    carried_docs: BTreeMap<ObjectId, Vec<ObjectId>>,
}

/// How a change was applied, for [`PropertyIndex::apply`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Applied {
    /// The local CRDT client id (documents created here write under it).
    pub client: u64,
    /// The change's text is already in the documents (written here, or from a snapshot).
    pub local: bool,
    /// Its text edits apply (governance: false for a revert without effect).
    pub edits: bool,
}

impl PropertyIndex {
    /// Records what a newly applied change contributes. Called by [`Commons`] after the core has
    /// applied the change's ops.
    pub(crate) fn apply(
        &mut self,
        change: &Change,
        stamp: Stamp,
        charter: Option<&Charter>,
        founder: Option<AuthorId>,
        documents: &mut BTreeMap<ChangeId, Document>,
        how: Applied,
    ) {
        for (i, op) in change.body.ops.iter().enumerate() {
            match op {
                Op::CreateDocument { edit, .. } if documents.contains_key(&change.id) => {
                    self.reset(&change.id);
                    self.provenance(change.id)
                        .record(&edit.update, change.id, stamp);
                }
                Op::EditDocument { doc, edit } if how.edits && documents.contains_key(doc) => {
                    self.provenance(*doc).record(&edit.update, change.id, stamp);
                }
                Op::CarryDocument(carry) => {
                    let ctx = provenance::CarryContext {
                        change,
                        stamp,
                        charter,
                        founder,
                        client: how.client,
                        local: how.local,
                        op: i,
                    };
                    self.apply_carry(&ctx, carry, documents);
                }
                _ => {}
            }
        }
    }

    fn provenance(&mut self, doc: ObjectId) -> &mut Provenance {
        self.docs.entry(doc).or_default()
    }

    /// The ids a carried document had before this commons (empty for a document born here).
    pub(crate) fn sources_of(&self, doc: &ObjectId) -> &[ObjectId] {
        self.carried_docs.get(doc).map_or(&[], |v| v.as_slice())
    }

    /// A carried change's record.
    pub(crate) fn carried(&self, id: &ChangeId) -> Option<&Carried> {
        self.carried.get(id)
    }
}

impl Commons {
    /// The licence the commons is under now: the charter's, or the one a passed licence-change
    /// proposal set (the governance module decides).
    pub fn licence(&self) -> LicenceView {
        let in_force = self.gov.licence();
        if !in_force.is_empty() {
            return describe(in_force);
        }
        describe(
            self.charter
                .as_ref()
                .map_or(DEFAULT_LICENCE, |c| c.licence.as_str()),
        )
    }

    /// The bytes of a change this commons holds, applied or carried from a parent.
    pub(crate) fn any_change_bytes(&self, id: &ChangeId) -> Option<&[u8]> {
        if let Some(b) = self.change_bytes(id) {
            return Some(b);
        }
        let c = self.property.carried(id)?;
        match self.change(&c.carrier)?.body.ops.get(c.op)? {
            Op::CarryDocument(carry) => carry.changes.get(c.index).map(Vec::as_slice),
            _ => None,
        }
    }

    /// For a document carried into this commons, the ids it had before (oldest first).
    pub(crate) fn carried_sources(&self, doc: &ObjectId) -> &[ObjectId] {
        self.property.sources_of(doc)
    }

    /// Ids of every change carried into this commons from a parent.
    pub(crate) fn carried_ids(&self) -> Vec<ChangeId> {
        self.property.carried.keys().copied().collect()
    }

    /// The change of this commons that carried a change in, if it was carried.
    pub(crate) fn carrier_of(&self, id: &ChangeId) -> Option<ChangeId> {
        self.property.carried(id).map(|c| c.carrier)
    }

    /// The author and claimed time of a change held or carried.
    pub(crate) fn author_and_time(&self, id: &ChangeId) -> Option<(AuthorId, u64)> {
        if let Some(c) = self.change(id) {
            return Some((c.body.author, c.body.time));
        }
        self.property.carried(id).map(|c| (c.author, c.time))
    }
}
