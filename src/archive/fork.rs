//! Forks: a new commons that carries a parent's documents (all, or some) with their history and
//! credits, and keeps the licence (docs/ACCOUNTING.md, "Forks").
//!
//! How history carries over: the fork's genesis names the parent commons, the heads it forked
//! from and the documents chosen. The founder then signs one or more carry changes per document,
//! each holding the parent's signed changes that built the document *verbatim* (nothing is
//! re-signed). Every replica of the fork applies those changes' text updates under their own
//! ids and authors, so attribution in the fork is computed exactly as in the parent and each
//! credit still verifies against its author's key. Carry changes are ordinary changes of the
//! fork: sync, storage and archives need nothing special for them.

use std::collections::HashSet;

use crate::change::carry::MAX_CARRIED_CHANGES;
use crate::change::limits::{MAX_CHANGE_BYTES, MAX_DEPS_PER_CHANGE, MAX_LIST_ITEMS};
use crate::change::{Carry, Change, ChangeError, ChangeId, Charter, ForkParent, Op};
use crate::commons::property::{fork_allowed, licence};
use crate::commons::{Commons, CommonsError};
use crate::identity::Identity;

/// What to fork (`fork({title, documents?, licence?})` in the JS API).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForkOptions {
    pub title: String,
    /// The new commons' purpose; the parent's when `None`.
    pub purpose: Option<String>,
    /// The documents to carry; all when `None`.
    pub documents: Option<Vec<ChangeId>>,
    /// The fork's licence (SPDX id); the parent's when `None`.
    pub licence: Option<String>,
}

/// A new fork: its replica, and every change made (genesis first) to store and announce.
pub struct Forked {
    pub commons: Commons,
    pub changes: Vec<Change>,
}

/// Why a fork was refused, or why a fork does not match a parent. Nothing was created.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ForkError {
    #[error("the commons has not arrived yet: wait for sync before forking")]
    NotReady,
    #[error("unknown licence {0:?}: choose one of the offered SPDX ids")]
    UnknownLicence(String),
    #[error(
        "the parent's licence {0:?} is unknown to this version: compatibility cannot be checked"
    )]
    ParentLicenceUnknown(String),
    #[error("a fork of a commons under {parent} cannot be released under {fork}: {reason}")]
    LicenceNotAllowed {
        parent: String,
        fork: String,
        reason: &'static str,
    },
    #[error("no document {0}")]
    UnknownDocument(String),
    #[error(
        "too many documents chosen ({0}, at most {MAX_LIST_ITEMS}); fork the whole commons instead"
    )]
    TooManyDocuments(usize),
    #[error("the parent has {0} heads, over the {MAX_DEPS_PER_CHANGE} a genesis can name: wait until peers' changes merge")]
    TooManyHeads(usize),
    #[error("change {0} is too large to be carried into a fork")]
    ChangeTooLarge(String),
    #[error("this commons is not a fork of that one")]
    NotAForkOf,
    #[error("the fork carries change {0}, which the parent does not hold before the heads it forked from")]
    NotInParentHistory(String),
    #[error("{0}")]
    Change(#[from] ChangeError),
    #[error("{0}")]
    Commons(#[from] CommonsError),
}

impl Commons {
    /// Forks this commons: a new commons, founded by `identity`, whose genesis names this one and
    /// its heads, carrying the chosen documents with their history and credits. A share-alike
    /// licence is kept; a permissive one may become any licence its work fits in. Typed but
    /// unflushed local edits are not carried: flush first.
    pub fn fork(
        &self,
        opts: ForkOptions,
        identity: Identity,
        nonce: u32,
        now: u64,
    ) -> Result<Forked, ForkError> {
        let parent = self.genesis_charter().ok_or(ForkError::NotReady)?;
        // The licence in force (a passed proposal may have changed the charter's).
        let licence = fork_licence(&self.licence().spdx, opts.licence.as_deref())?;
        let (docs, named) = self.chosen_documents(opts.documents.as_deref())?;
        let heads = self.heads();
        if heads.len() > MAX_DEPS_PER_CHANGE {
            return Err(ForkError::TooManyHeads(heads.len()));
        }
        // The fork starts from the charter in force (passed proposals included), not the
        // parent's founding one: it continues the community's rules as they are now.
        let in_force = self.charter();
        let purpose = in_force.map_or_else(|| parent.purpose.clone(), |c| c.purpose.value);
        let charter = Charter {
            title: opts.title,
            purpose: opts.purpose.unwrap_or(purpose),
            licence,
            params: self.governance().params_in_force().clone(),
            fork_of: Some(ForkParent {
                commons: self.id(),
                heads,
                documents: named,
            }),
        };
        let (mut fork, genesis) = Commons::create(identity, nonce, charter, now)?;
        let mut changes = vec![genesis];
        for doc in docs {
            let parts = self.carry_parts(&doc)?;
            // The first part creates the document; later parts name it.
            let mut first: Option<ChangeId> = None;
            for part in parts.parts {
                let carry = Carry {
                    sources: parts.sources.clone(),
                    into: first,
                    title: parts.title.clone(),
                    changes: part,
                };
                let made = fork.act(vec![Op::CarryDocument(carry)], now)?;
                first = first.or(made.last().map(|c| c.id));
                changes.extend(made);
            }
        }
        Ok(Forked {
            commons: fork,
            changes,
        })
    }

    /// The documents to carry, and the list the genesis names (empty: all of them).
    fn chosen_documents(
        &self,
        chosen: Option<&[ChangeId]>,
    ) -> Result<(Vec<ChangeId>, Vec<ChangeId>), ForkError> {
        let Some(list) = chosen else {
            return Ok((self.documents_iter().map(|d| d.id).collect(), vec![]));
        };
        let mut docs: Vec<ChangeId> = list.to_vec();
        docs.sort_unstable();
        docs.dedup();
        if docs.len() > MAX_LIST_ITEMS {
            return Err(ForkError::TooManyDocuments(docs.len()));
        }
        if let Some(missing) = docs.iter().find(|d| self.document(d).is_none()) {
            return Err(ForkError::UnknownDocument(missing.to_hex()));
        }
        Ok((docs.clone(), docs))
    }

    /// The carry ops that bring one document into a fork: its history, packed under the change
    /// size limit. The first part creates the document; the others continue it.
    fn carry_parts(&self, doc: &ChangeId) -> Result<CarryParts, ForkError> {
        let d = self
            .document(doc)
            .ok_or(ForkError::UnknownDocument(doc.to_hex()))?;
        let mut sources = self.carried_sources(doc).to_vec();
        sources.push(*doc);
        let mut seen = HashSet::new();
        let mut history: Vec<Vec<u8>> = Vec::new();
        for (_, ev) in d.history() {
            // A change whose text edits have no effect here (left out by a block, a void revert)
            // have one in the fork: it is not carried.
            if !seen.insert(ev.change) || !self.governance().text_applies(&ev.change) {
                continue;
            }
            // A carry change of this commons is an envelope: its content is listed under the
            // ids of the changes it carried, so histories stay flat across forks of forks.
            let envelope = self.change(&ev.change).is_some_and(|c| {
                c.body
                    .ops
                    .iter()
                    .any(|op| matches!(op, Op::CarryDocument(_)))
            });
            if let Some(bytes) = self.any_change_bytes(&ev.change).filter(|_| !envelope) {
                history.push(bytes.to_vec());
            }
        }
        CarryParts::new(sources, d.title().to_string(), history)
    }

    /// Verifies a fork against a replica of its parent: the genesis names that commons, and
    /// every carried change is one the parent holds in the causal past of the named heads.
    pub fn verify_fork(&self, parent: &Commons) -> Result<(), ForkError> {
        let fork = self
            .genesis_charter()
            .and_then(|c| c.fork_of.as_ref())
            .filter(|f| f.commons == parent.id())
            .ok_or(ForkError::NotAForkOf)?;
        let mut past: HashSet<ChangeId> = HashSet::new();
        for h in &fork.heads {
            if parent.change(h).is_none() {
                return Err(ForkError::NotInParentHistory(h.to_hex()));
            }
            past.insert(*h);
            past.extend(parent.dag().ancestors(h));
        }
        for id in self.carried_ids() {
            // A change the parent itself carried from further up is checked through its
            // envelope, which must be in the parent's past.
            let ok = past.contains(&id)
                || parent
                    .carrier_of(&id)
                    .is_some_and(|carrier| past.contains(&carrier));
            if !ok {
                return Err(ForkError::NotInParentHistory(id.to_hex()));
            }
        }
        Ok(())
    }
}

/// Chooses the fork's licence and checks it against the parent's.
fn fork_licence(parent: &str, chosen: Option<&str>) -> Result<String, ForkError> {
    let p = licence(parent).ok_or_else(|| ForkError::ParentLicenceUnknown(parent.to_string()))?;
    let f = match chosen {
        None => p,
        Some(s) => licence(s).ok_or_else(|| ForkError::UnknownLicence(s.to_string()))?,
    };
    if !fork_allowed(p.spdx, f.spdx) {
        let reason = if p.share_alike {
            "share-alike forces the same licence"
        } else {
            "work under the parent's licence may not be included in a work under that one"
        };
        return Err(ForkError::LicenceNotAllowed {
            parent: p.spdx.to_string(),
            fork: f.spdx.to_string(),
            reason,
        });
    }
    Ok(f.spdx.to_string())
}

/// A document's history split into carry ops that each fit in one change.
struct CarryParts {
    sources: Vec<ChangeId>,
    title: String,
    parts: Vec<Vec<Vec<u8>>>,
}

impl CarryParts {
    /// Packs greedily. The budget leaves room for the envelope: signature, body fields, up to
    /// the maximum of deps, the sources, the title and a length prefix per carried change.
    fn new(
        sources: Vec<ChangeId>,
        title: String,
        history: Vec<Vec<u8>>,
    ) -> Result<Self, ForkError> {
        let budget = MAX_CHANGE_BYTES - 4096 - 33 * MAX_DEPS_PER_CHANGE - 33 * sources.len();
        let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        let mut size = 0;
        for bytes in history {
            let cost = bytes.len() + 4;
            if cost > budget {
                let id = blake3::hash(bytes.get(64..).unwrap_or_default());
                return Err(ForkError::ChangeTooLarge(hex::encode(id.as_bytes())));
            }
            let full = parts
                .last()
                .is_some_and(|p| size + cost > budget || p.len() >= MAX_CARRIED_CHANGES);
            if full {
                parts.push(Vec::new());
                size = 0;
            }
            size += cost;
            if let Some(p) = parts.last_mut() {
                p.push(bytes);
            }
        }
        Ok(CarryParts {
            sources,
            title,
            parts,
        })
    }
}
