//! Causal reachability among *anchors*: the few changes governance must place in each other's
//! causal past (endorsements, proposals, reverts, and votes on rule-bearing proposals).
//!
//! Every anchor keeps a bitset of the anchors in its causal past; every change (anchor or not)
//! keeps its *frontier*: the latest anchors in its causal past (those no other anchor of its past
//! follows). A new change's frontier comes from its deps' frontiers, and a new anchor's bitset is
//! the union of its frontier anchors' bitsets, so adding a change costs a few word-wide ORs and
//! never walks the graph. "Is anchor `a` in the causal past of change `c`?" is then a bit test
//! against `c`'s frontier. Rule anchors (block, unblock and parameter proposals and the votes on
//! them) also get a second, much smaller bitset, used as the key of the per-cut rules memo.
//!
//! Memory: one bit per earlier anchor per anchor (1k anchors ≈ 64 KB, 13k ≈ 10 MB) plus a short
//! frontier per change.

use std::collections::HashMap;

use crate::change::ChangeId;

/// A growable set of small integers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn get(&self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        self.0.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    pub(crate) fn set(&mut self, i: u32) {
        let (w, b) = ((i / 64) as usize, i % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        if let Some(word) = self.0.get_mut(w) {
            *word |= 1 << b;
        }
    }

    pub(crate) fn union_with(&mut self, other: &Bits) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// One anchor: its change, the anchors in its causal past, and (for every anchor) the rule
/// anchors in its causal past.
#[derive(Clone, Debug)]
pub(crate) struct AnchorNode {
    /// Anchors strictly in the causal past.
    pub past: Bits,
    /// Rule anchors strictly in the causal past (indices into the rule numbering).
    pub rule_past: Bits,
    /// This anchor's own rule index, if it is a rule anchor.
    pub rule: Option<u32>,
}

/// The index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reach {
    frontier: HashMap<ChangeId, Box<[u32]>>,
    anchors: Vec<AnchorNode>,
    index: HashMap<ChangeId, u32>,
    rules: u32,
}

impl Reach {
    /// Adds a change whose deps were all added before. Returns its anchor index if it is one.
    pub(crate) fn add(
        &mut self,
        id: ChangeId,
        deps: &[ChangeId],
        anchor: bool,
        rule: bool,
    ) -> Option<u32> {
        if let Some(&a) = self.index.get(&id) {
            return Some(a);
        }
        if self.frontier.contains_key(&id) {
            return None;
        }
        let mut seen: Vec<u32> = deps
            .iter()
            .filter_map(|d| self.frontier.get(d))
            .flat_map(|f| f.iter().copied())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        if !anchor {
            let maximal = self.maximal(&seen);
            self.frontier.insert(id, maximal.into_boxed_slice());
            return None;
        }
        let mut past = Bits::default();
        let mut rule_past = Bits::default();
        for &f in &seen {
            if let Some(node) = self.anchors.get(f as usize) {
                past.union_with(&node.past);
                past.set(f);
                rule_past.union_with(&node.rule_past);
                if let Some(r) = node.rule {
                    rule_past.set(r);
                }
            }
        }
        let a = self.anchors.len() as u32;
        let rule = rule.then(|| {
            self.rules += 1;
            self.rules - 1
        });
        self.anchors.push(AnchorNode {
            past,
            rule_past,
            rule,
        });
        self.index.insert(id, a);
        self.frontier.insert(id, vec![a].into_boxed_slice());
        Some(a)
    }

    /// Drops anchors that another anchor of the list follows.
    fn maximal(&self, seen: &[u32]) -> Vec<u32> {
        seen.iter()
            .copied()
            .filter(|&f| !seen.iter().any(|&g| g != f && self.before(f, g)))
            .collect()
    }

    /// The anchor node.
    pub(crate) fn node(&self, a: u32) -> Option<&AnchorNode> {
        self.anchors.get(a as usize)
    }

    /// Whether anchor `a` is strictly in the causal past of anchor `b`.
    pub(crate) fn before(&self, a: u32, b: u32) -> bool {
        self.anchors.get(b as usize).is_some_and(|n| n.past.get(a))
    }

    /// Whether anchor `a` is `b` or in its causal past.
    pub(crate) fn at_or_before(&self, a: u32, b: u32) -> bool {
        a == b || self.before(a, b)
    }

    /// Whether anchor `a` is strictly in the causal past of change `c` (any change).
    pub(crate) fn anchor_before_change(&self, a: u32, c: &ChangeId) -> bool {
        if self.index.get(c) == Some(&a) {
            return false;
        }
        self.frontier
            .get(c)
            .is_some_and(|f| f.iter().any(|&g| g == a || self.before(a, g)))
    }

    /// Number of anchors.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.anchors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ChangeId {
        ChangeId([n; 32])
    }

    #[test]
    fn bits_set_get_union() {
        let mut a = Bits::default();
        a.set(3);
        a.set(130);
        assert!(a.get(3) && a.get(130) && !a.get(4) && !a.get(9999));
        let mut b = Bits::default();
        b.set(64);
        b.union_with(&a);
        assert!(b.get(64) && b.get(130) && b.get(3));
        assert!(Bits::default().is_empty() && !b.is_empty());
    }

    /// g ← x ← A1 ← y ← A3, and g ← A2 (concurrent with A1): frontiers carry ancestry through
    /// non-anchors, and concurrent anchors are not each other's past.
    #[test]
    fn ancestry_through_plain_changes_and_concurrency() {
        let mut r = Reach::default();
        assert_eq!(r.add(id(0), &[], false, false), None);
        r.add(id(1), &[id(0)], false, false);
        let a1 = r.add(id(2), &[id(1)], true, false).unwrap();
        let a2 = r.add(id(3), &[id(0)], true, true).unwrap();
        r.add(id(4), &[id(2)], false, false);
        let a3 = r.add(id(5), &[id(4), id(3)], true, false).unwrap();
        assert!(r.before(a1, a3) && r.before(a2, a3));
        assert!(!r.before(a1, a2) && !r.before(a2, a1) && !r.before(a3, a1));
        assert!(r.anchor_before_change(a1, &id(4)));
        assert!(!r.anchor_before_change(a2, &id(4)));
        assert!(
            !r.anchor_before_change(a1, &id(2)),
            "an anchor is not its own past"
        );
        assert!(r.node(a3).unwrap().rule_past.get(0), "a2 is rule anchor 0");
        assert_eq!(r.add(id(5), &[], true, false), Some(a3), "idempotent");
        assert_eq!(r.len(), 3);
        // A merge of two branches keeps only the latest anchors in the frontier.
        r.add(id(6), &[id(5), id(3)], false, false);
        assert_eq!(&*r.frontier[&id(6)], &[a3]);
    }
}
