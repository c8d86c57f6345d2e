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
//! Memory: a past is stored as "every anchor below some index, plus a tail bitset" ([`Past`]):
//! a few words per anchor when changes mostly follow each other, up to one bit per earlier anchor
//! for anchors made far apart from the rest (a long partition); plus a short frontier per change.

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

    #[cfg(test)]
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

    /// Number of consecutive set bits from bit 0.
    fn leading_run(&self) -> u32 {
        let mut n = 0;
        for w in &self.0 {
            let ones = w.trailing_ones();
            n += ones;
            if ones < 64 {
                break;
            }
        }
        n
    }

    /// Drops the lowest `n` bits (bit `n` becomes bit 0).
    fn shift_down(&mut self, n: u32) {
        let (words, bits) = ((n / 64) as usize, n % 64);
        if words >= self.0.len() {
            self.0.clear();
            return;
        }
        self.0.drain(..words);
        if bits > 0 {
            let len = self.0.len();
            for i in 0..len {
                let hi = self.0.get(i + 1).copied().unwrap_or(0);
                if let Some(w) = self.0.get_mut(i) {
                    *w = (*w >> bits) | (hi << (64 - bits));
                }
            }
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// The set bits, in increasing order.
    fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            (0..64u32)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i as u32 * 64 + b)
        })
    }
}

/// A set of anchor indices closed under "is in the causal past of": every index below `dense`,
/// plus the indices `dense + j` for the bits `j` of `tail`. Anchors are numbered in arrival order,
/// which follows causality, so the past of a new anchor is usually "everything so far" minus a few
/// recent concurrent ones: a short tail, whatever the size of the history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Past {
    dense: u32,
    tail: Bits,
}

impl Past {
    pub(crate) fn get(&self, i: u32) -> bool {
        i < self.dense || self.tail.get(i - self.dense)
    }

    pub(crate) fn set(&mut self, i: u32) {
        if i >= self.dense {
            self.tail.set(i - self.dense);
            self.normalize();
        }
    }

    pub(crate) fn union_with(&mut self, other: &Past) {
        if other.dense > self.dense {
            self.tail.shift_down(other.dense - self.dense);
            self.dense = other.dense;
        }
        let base = self.dense;
        for j in other.tail.ones() {
            let i = other.dense + j;
            if i >= base {
                self.tail.set(i - base);
            }
        }
        self.normalize();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.dense == 0 && self.tail.is_empty()
    }

    /// Every index below this one is in the set.
    pub(crate) fn dense(&self) -> u32 {
        self.dense
    }

    /// Moves a run of set bits at the start of the tail into `dense`, so equal sets compare equal.
    fn normalize(&mut self) {
        let run = self.tail.leading_run();
        if run > 0 {
            self.tail.shift_down(run);
            self.dense += run;
        }
    }
}

/// One anchor: its change, the anchors in its causal past, and (for every anchor) the rule
/// anchors in its causal past.
#[derive(Clone, Debug)]
pub(crate) struct AnchorNode {
    /// Anchors strictly in the causal past.
    pub past: Past,
    /// Rule anchors strictly in the causal past (indices into the rule numbering).
    pub rule_past: Past,
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
        let mut past = Past::default();
        let mut rule_past = Past::default();
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

    #[test]
    fn past_keeps_a_dense_prefix_and_a_tail() {
        let mut p = Past::default();
        for i in [0, 1, 2, 5, 130] {
            p.set(i);
        }
        assert_eq!(p.dense, 3);
        assert!(p.get(0) && p.get(2) && p.get(5) && p.get(130) && !p.get(3) && !p.get(129));
        let mut q = Past::default();
        for i in 0..7 {
            q.set(i);
        }
        q.set(200);
        p.union_with(&q);
        assert_eq!(p.dense, 7, "0..7 all present now");
        assert!(p.get(130) && p.get(200) && !p.get(7) && !p.get(131));
        let mut r = Past::default();
        for i in (0..7).chain([130, 200]) {
            r.set(i);
        }
        assert_eq!(r, p, "one set, one representation");
        let mut b = Bits::default();
        b.set(1);
        b.set(70);
        b.set(140);
        b.shift_down(65);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![5, 75]);
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
