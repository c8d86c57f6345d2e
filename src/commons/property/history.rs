//! The per-change history of a document (who, when by their claim, what, what of it survives,
//! how it was validated), licence offers on single changes, and the action that makes one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::attribution::ChangeCounts;
use super::licence::{licence, offer_allowed};
use super::PropertyError;
use crate::change::{Change, ChangeId, Op};
use crate::commons::governance::ValidationState;
use crate::commons::{Commons, DocAction};
use crate::identity::AuthorId;

/// How the community has validated a change so far (the governance module decides: only
/// members' endorsements and reverts count; docs/GOVERNANCE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidationStatus {
    /// No member has endorsed, flagged or reverted it yet (a posteriori validation).
    Unvalidated,
    Endorsed,
    Flagged,
    Reverted,
    /// Carried from a parent commons: validated there, not here.
    Carried,
}

/// A change's validation: the status and who acted on it (keys, hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Validation {
    pub status: ValidationStatus,
    /// Members whose endorsement counts.
    pub endorsed_by: Vec<String>,
    pub flagged_by: Vec<String>,
    /// Authors of reverts targeting it (the status says whether one counts).
    pub reverted_by: Vec<String>,
}

/// One change in a document's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    pub change: String,
    pub author: String,
    pub name: Option<String>,
    /// The author's claimed time (ms since the epoch); informative only.
    pub time: u64,
    pub actions: Vec<DocAction>,
    /// What of its text the document holds now.
    #[serde(flatten)]
    pub text: ChangeCounts,
    /// For a change carried from a parent commons: the commons it was signed for (hex).
    pub carried_from: Option<String>,
    /// Licences its author also offers it under, beyond the commons' own.
    pub offered_licences: Vec<String>,
    pub validation: Validation,
}

impl Commons {
    /// Every change that touched a document, in causal order (carried history first), with what
    /// it did, what of it survives, and how it was validated.
    pub fn change_history(&self, doc: &ChangeId) -> Vec<ChangeRecord> {
        let Some(d) = self.documents.get(doc) else {
            return vec![];
        };
        let att = self.attribute_doc(d);
        let offers = self.offers();
        let mut out: Vec<ChangeRecord> = Vec::new();
        let mut index: BTreeMap<ChangeId, usize> = BTreeMap::new();
        for (_, ev) in d.history() {
            let i = *index.entry(ev.change).or_insert_with(|| {
                out.push(self.record_for(&ev.change, ev.author, &att.per_change));
                out.len() - 1
            });
            if let Some(r) = out.get_mut(i) {
                r.actions.push(ev.action.clone());
                if let Some(o) = offers.get(&ev.change) {
                    r.offered_licences = o.iter().cloned().collect();
                }
            }
        }
        out
    }

    fn record_for(
        &self,
        id: &ChangeId,
        author: AuthorId,
        counts: &BTreeMap<ChangeId, ChangeCounts>,
    ) -> ChangeRecord {
        let carried = self.property.carried(id);
        ChangeRecord {
            change: id.to_hex(),
            author: author.to_hex(),
            name: self.name_of(&author).map(str::to_string),
            time: self.author_and_time(id).map_or(0, |(_, t)| t),
            actions: vec![],
            text: counts.get(id).copied().unwrap_or_default(),
            carried_from: carried.and_then(|c| c.commons).map(|c| c.to_hex()),
            offered_licences: vec![],
            validation: self.validation_view(id, carried.is_some()),
        }
    }

    /// The governance module's verdict on a change, in the history's terms.
    fn validation_view(&self, id: &ChangeId, carried: bool) -> Validation {
        let hex = |a: &AuthorId| a.to_hex();
        let Some(v) = self.validation(id).filter(|_| !carried) else {
            return Validation {
                status: ValidationStatus::Carried,
                endorsed_by: vec![],
                flagged_by: vec![],
                reverted_by: vec![],
            };
        };
        Validation {
            status: match v.state {
                ValidationState::Unvalidated => ValidationStatus::Unvalidated,
                ValidationState::Endorsed => ValidationStatus::Endorsed,
                ValidationState::Flagged => ValidationStatus::Flagged,
                ValidationState::Reverted => ValidationStatus::Reverted,
            },
            endorsed_by: distinct(
                v.endorsements
                    .iter()
                    .filter(|e| e.counted)
                    .map(|e| hex(&e.by)),
            ),
            flagged_by: distinct(v.flags.iter().map(|f| hex(&f.by))),
            reverted_by: distinct(v.reverts.iter().map(|r| hex(&r.by))),
        }
    }

    fn author_of(&self, id: &ChangeId) -> Option<AuthorId> {
        self.change(id).map(|c| c.body.author)
    }

    /// Valid licence offers by change: made by the change's own author, for a known licence
    /// more permissive than the commons' and compatible with it. Others are ignored.
    pub fn offers(&self) -> BTreeMap<ChangeId, BTreeSet<String>> {
        let commons_licence = self.licence().spdx;
        let mut out: BTreeMap<ChangeId, BTreeSet<String>> = BTreeMap::new();
        let counted = self
            .changes_in_causal_order()
            .filter(|c| !self.gov.is_excluded(&c.id));
        for c in counted {
            for op in &c.body.ops {
                let Op::MarkLicence { change, spdx } = op else {
                    continue;
                };
                let own = self.author_of(change) == Some(c.body.author);
                if let Some(l) = licence(spdx).filter(|_| own) {
                    if offer_allowed(l.spdx, &commons_licence) {
                        out.entry(*change).or_default().insert(l.spdx.to_string());
                    }
                }
            }
        }
        out
    }

    /// Offers one of the local author's changes under a more permissive compatible licence
    /// (e.g. CC0-1.0 inside a CC-BY-SA-4.0 commons). An incompatible licence is refused.
    pub fn mark_licence(
        &mut self,
        change: &ChangeId,
        spdx: &str,
        now: u64,
    ) -> Result<Vec<Change>, PropertyError> {
        let l = licence(spdx).ok_or_else(|| PropertyError::UnknownLicence(spdx.to_string()))?;
        let commons = self.licence().spdx;
        if !offer_allowed(l.spdx, &commons) {
            return Err(PropertyError::IncompatibleOffer {
                offer: l.spdx.to_string(),
                commons,
            });
        }
        let author = self
            .author_of(change)
            .ok_or_else(|| PropertyError::UnknownChange(change.to_hex()))?;
        if Some(author) != self.local_author() {
            return Err(PropertyError::NotYourChange);
        }
        let op = Op::MarkLicence {
            change: *change,
            spdx: l.spdx.to_string(),
        };
        Ok(self.act(vec![op], now)?)
    }
}

/// Keys in first-seen order, each once.
fn distinct(keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    keys.filter(|k| seen.insert(k.clone())).collect()
}
