//! Membership: the founder, plus whoever has enough distinct member endorsements.
//!
//! An endorsement *counts* when its author was a member (and not blocked) in its causal past and
//! endorses someone else's change; it carries the threshold in force there (`k`: 1 while that
//! past had fewer than 3 members, else `member_endorsements`). A key is a member in a cut when
//! the distinct authors of its counting endorsements in the cut reach the smallest `k` among those
//! endorsements. Adding changes to a cut never removes a member (blocks aside), so membership does
//! not depend on the order changes arrive in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::decide::Electorate;
use super::proposals::Proposal;
use super::reach::Past;
use super::rules::{Cut, CutRules};
use super::views::Member;
use super::{EndorseRec, Governance, Stamp};
use crate::change::{ChangeId, ProposalKind, VoteWeight};
use crate::dag::Dag;
use crate::identity::AuthorId;

impl Governance {
    /// Records an endorsement op, judged in its causal past `past` under `rules`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_endorsement(
        &mut self,
        id: ChangeId,
        stamp: Stamp,
        anchor: u32,
        endorser: AuthorId,
        target: ChangeId,
        dag: &Dag,
        past: &Past,
        rules: &CutRules,
    ) {
        let Some(target_author) = dag.get(&target).map(|n| n.change.body.author) else {
            return;
        };
        let cut = Cut::Past(past);
        let valid = target_author != endorser && self.is_member_at(&endorser, cut, rules);
        let k = if self.has_members_at(cut, rules, 3) {
            rules.params.member_endorsements
        } else {
            1
        };
        let idx = self.endorsements.len();
        self.endorsements.push(EndorseRec {
            change: id,
            stamp,
            anchor,
            endorser,
            target,
            target_author,
            valid,
            k,
        });
        self.targets
            .entry(target)
            .or_default()
            .endorsements
            .push(idx);
        if valid && Some(target_author) != self.founder {
            self.by_candidate
                .entry(target_author)
                .or_default()
                .push(idx);
            let first = self.first_of.entry(target_author).or_insert(stamp);
            if stamp <= *first {
                self.first_endorsed.remove(&(*first, target_author));
                *first = stamp;
                self.first_endorsed.insert((stamp, target_author));
            }
            self.dirty.candidates.insert(target_author);
            self.endorsement_counts(anchor);
        }
    }

    /// Whether `who` is a member, not blocked, in `cut`.
    pub(super) fn is_member_at(&self, who: &AuthorId, cut: Cut<'_>, rules: &CutRules) -> bool {
        if rules.is_blocked(who) {
            return false;
        }
        if Some(*who) == self.founder {
            return true;
        }
        let Some(list) = self.by_candidate.get(who) else {
            return false;
        };
        // Thresholds are small: a short list beats a tree here (this runs for every candidate
        // of every electorate).
        let mut endorsers: Vec<&AuthorId> = Vec::with_capacity(4);
        let mut k = u32::MAX;
        for e in list.iter().filter_map(|&i| self.endorsements.get(i)) {
            if cut.has(e.anchor) && !rules.excludes(&self.reach, e.anchor, &e.endorser) {
                if !endorsers.contains(&&e.endorser) {
                    endorsers.push(&e.endorser);
                }
                k = k.min(e.k);
                if endorsers.len() as u64 >= u64::from(k) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether `cut` has at least `n` members (not blocked). Tries early candidates first.
    fn has_members_at(&self, cut: Cut<'_>, rules: &CutRules, n: usize) -> bool {
        let mut count = 0;
        if let Some(f) = self.founder {
            if !rules.is_blocked(&f) {
                count += 1;
            }
        }
        for (_, c) in &self.first_endorsed {
            if count >= n {
                break;
            }
            if self.is_member_at(c, cut, rules) {
                count += 1;
            }
        }
        count >= n
    }

    /// The members (not blocked) of `cut`.
    pub(super) fn members_at(&self, cut: Cut<'_>, rules: &CutRules) -> BTreeSet<AuthorId> {
        self.founder
            .iter()
            .chain(self.by_candidate.keys())
            .filter(|c| self.is_member_at(c, cut, rules))
            .copied()
            .collect()
    }

    /// Reputation in `cut`: per author, the number of their distinct changes that carry at least
    /// one counting endorsement in the cut.
    fn endorsed_changes_at(&self, cut: Cut<'_>, rules: &CutRules) -> BTreeMap<AuthorId, u64> {
        let mut seen: BTreeSet<(AuthorId, ChangeId)> = BTreeSet::new();
        for e in &self.endorsements {
            if e.valid && cut.has(e.anchor) && !rules.excludes(&self.reach, e.anchor, &e.endorser) {
                seen.insert((e.target_author, e.target));
            }
        }
        let mut out = BTreeMap::new();
        for (a, _) in seen {
            *out.entry(a).or_insert(0) += 1;
        }
        out
    }

    /// A proposal as judged in its causal past: rules and validity. Its electorate is not fixed
    /// here: it depends on the cut it is decided in ([`Governance::electorate`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_proposal(
        &self,
        id: ChangeId,
        stamp: Stamp,
        anchor: u32,
        author: AuthorId,
        time: u64,
        kind: &ProposalKind,
        text: &str,
        past: &Past,
        rules: &CutRules,
    ) -> Proposal {
        let void = match kind {
            ProposalKind::ChangeParameter { name, value } => {
                super::Parameter::parse(name, value).err()
            }
            ProposalKind::ChangeLicence { spdx } if !super::licence::is_known(spdx) => {
                Some(format!("unknown licence '{spdx}'"))
            }
            _ => None,
        };
        // Counting endorsements that arrived before the proposal but are not in its past.
        let from = self.endorse_anchors.partition_point(|e| *e < past.dense());
        let conc = self
            .endorse_anchors
            .get(from..)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&e| e != anchor && !past.get(e))
            .collect();
        Proposal {
            id,
            author,
            stamp,
            anchor,
            time,
            kind: kind.clone(),
            text: text.to_string(),
            quorum: (rules.params.quorum_num, rules.params.quorum_den),
            weight: rules.params.vote_weight,
            void,
            votes: vec![],
            conc,
        }
    }

    /// A new counting endorsement (anchor `e`) joins the electorate cut of every proposal it is
    /// concurrent with; those proposals are re-decided.
    fn endorsement_counts(&mut self, e: u32) {
        self.endorse_anchors.push(e);
        for p in self.proposals.values_mut() {
            if p.anchor == e || self.reach.before(p.anchor, e) || self.reach.before(e, p.anchor) {
                continue;
            }
            p.conc.push(e);
            if p.is_rule() {
                self.dirty.rules = true;
            } else {
                self.dirty.proposals.insert(p.id);
            }
        }
    }

    /// The electorate of `p` decided in `cut` under `rules`: the members (not blocked) of the cut
    /// without `p`'s future, i.e. counting the endorsements in `p`'s past and those of the cut
    /// concurrent with `p`. Memoised by exactly what it depends on.
    pub(super) fn electorate(
        &self,
        p: &Proposal,
        cut: Cut<'_>,
        rules: &CutRules,
    ) -> Arc<Electorate> {
        let conc: Vec<u32> = p.conc.iter().copied().filter(|&e| cut.has(e)).collect();
        let key = (p.id, conc, rules.blocks.clone());
        if let Some(el) = self.electorates.borrow().get(&key) {
            return el.clone();
        }
        let past = self
            .reach
            .node(p.anchor)
            .map(|n| n.past.clone())
            .unwrap_or_default();
        let ecut = Cut::Elect(&past, &key.1);
        let members = self.members_at(ecut, rules);
        let weights: BTreeMap<AuthorId, u64> = match p.weight {
            VoteWeight::Equal => members.into_iter().map(|m| (m, 1)).collect(),
            VoteWeight::Reputation => {
                let endorsed = self.endorsed_changes_at(ecut, rules);
                members
                    .into_iter()
                    .map(|m| (m, reputation_weight(endorsed.get(&m).copied().unwrap_or(0))))
                    .collect()
            }
        };
        let el = Arc::new(Electorate {
            total: weights.values().sum(),
            weights,
        });
        let mut cache = self.electorates.borrow_mut();
        // Keys are exact, so the cache is never stale; it is only bounded.
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key, el.clone());
        el
    }

    /// Recomputes one candidate's current membership record (counting endorsements not left out
    /// by a block, in causal order).
    pub(super) fn refresh_member(&mut self, who: &AuthorId) {
        if Some(*who) == self.founder {
            return;
        }
        let mut list: Vec<&EndorseRec> = self
            .by_candidate
            .get(who)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.endorsements.get(i))
            .filter(|e| !self.excluded.contains(&e.change))
            .collect();
        list.sort_by_key(|e| e.stamp);
        let mut endorsers: BTreeSet<AuthorId> = BTreeSet::new();
        let mut k = u32::MAX;
        let mut since = None;
        for e in list {
            endorsers.insert(e.endorser);
            k = k.min(e.k);
            if since.is_none() && endorsers.len() as u64 >= u64::from(k) {
                since = Some(e.change);
            }
        }
        match since {
            Some(since) => {
                self.members.insert(
                    *who,
                    Member {
                        key: *who,
                        since,
                        endorsers: endorsers.into_iter().collect(),
                        founder: false,
                    },
                );
            }
            None => {
                self.members.remove(who);
            }
        }
    }
}

/// Vote weight under `vote_weight = reputation`: 1 + the integer square root of the number of the
/// member's changes endorsed by other members (0 → 1, 1–3 → 2, 4–8 → 3, 9–15 → 4, ...).
pub fn reputation_weight(endorsed_changes: u64) -> u64 {
    1 + endorsed_changes.isqrt()
}
