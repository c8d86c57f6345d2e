//! The node's book of peers: addresses learnt from neighbours or the shell, how to reach them,
//! connection attempts in progress, misbehaviour scores and bans.

use std::collections::BTreeMap;

use super::ConnId;
use crate::identity::AuthorId;
use crate::sync::PeerId;

/// A peer we could connect to.
#[derive(Debug, Clone)]
pub(super) struct Known {
    /// The neighbour that told us about it (signals to it go through there).
    pub via: Option<ConnId>,
    /// Failed attempts in a row.
    pub failures: u32,
    /// Not before this time again.
    pub retry_at: u64,
    /// When we last heard of it (for eviction).
    pub seen: u64,
}

/// A misbehaviour score that decays with time.
#[derive(Debug, Clone, Copy)]
struct Score {
    points: u64,
    at: u64,
}

/// Addresses, attempts, scores and bans. Every map is bounded: `known` and `routes` by
/// `max_known`, `dialing` and `inbound` by the node's `max_peers` (admission counts them), the
/// score and ban tables by `tidy`'s bound. Scores and bans are per authenticated key, never per
/// claimed peer id.
pub(super) struct PeerBook {
    pub known: BTreeMap<PeerId, Known>,
    /// Peers we are dialing, with when the attempt expires.
    pub dialing: BTreeMap<PeerId, u64>,
    /// Peers dialing us that we agreed to answer, with when that expires.
    pub inbound: BTreeMap<PeerId, u64>,
    /// Where a signal from a peer came from, so the answer can go back the same way. Only
    /// signals the node accepted add a route; at most `max_known` are kept.
    routes: BTreeMap<PeerId, ConnId>,
    scores: BTreeMap<AuthorId, Score>,
    banned: BTreeMap<AuthorId, u64>,
    /// Peer ids seen on a banned key's authenticated connections (derived from that key, so
    /// nobody else's), refused before any hello while the ban lasts.
    banned_peers: BTreeMap<PeerId, u64>,
    max_known: usize,
}

/// Score points forgotten per second.
const DECAY_PER_SEC: u64 = 1;

impl PeerBook {
    pub fn new(max_known: usize) -> Self {
        PeerBook {
            known: BTreeMap::new(),
            dialing: BTreeMap::new(),
            inbound: BTreeMap::new(),
            routes: BTreeMap::new(),
            scores: BTreeMap::new(),
            banned: BTreeMap::new(),
            banned_peers: BTreeMap::new(),
            max_known: max_known.max(1),
        }
    }

    /// Records a peer address; `via` is the neighbour it came from (None: the shell).
    pub fn learn(&mut self, peer: PeerId, via: Option<ConnId>, now: u64) {
        if self.is_banned(&peer, now) {
            return;
        }
        let entry = self.known.entry(peer).or_insert(Known {
            via,
            failures: 0,
            retry_at: 0,
            seen: now,
        });
        entry.seen = now;
        if via.is_some() {
            entry.via = via;
        }
        if self.known.len() > self.max_known {
            self.evict_one();
        }
    }

    /// Forgets the stalest address, preferring ones that keep failing.
    fn evict_one(&mut self) {
        let victim = self
            .known
            .iter()
            .min_by_key(|(id, k)| (u32::MAX - k.failures, k.seen, **id))
            .map(|(id, _)| *id);
        if let Some(id) = victim {
            self.known.remove(&id);
        }
    }

    /// The neighbour a signal for `peer` should go through, if any.
    pub fn route(&self, peer: &PeerId) -> Option<ConnId> {
        self.routes
            .get(peer)
            .copied()
            .or_else(|| self.known.get(peer).and_then(|k| k.via))
    }

    /// Remembers that an accepted signal from `peer` came through `conn`. Bounded: past
    /// `max_known` entries the route of the lowest peer id goes (it falls back to the relay).
    pub fn add_route(&mut self, peer: PeerId, conn: ConnId) {
        self.routes.insert(peer, conn);
        while self.routes.len() > self.max_known {
            self.routes.pop_first();
        }
    }

    /// How many routes are kept (for tests of the bound).
    #[cfg(test)]
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Forgets that signals for `peer` can go through `conn` (None: through any neighbour).
    /// A neighbour may have suggested a peer it only knew of, not one it is connected to: once
    /// an attempt through it fails, the next goes another way (in the end, the relay).
    pub fn unroute(&mut self, peer: &PeerId, conn: Option<ConnId>) {
        if self
            .routes
            .get(peer)
            .is_some_and(|c| conn.is_none_or(|x| x == *c))
        {
            self.routes.remove(peer);
        }
        if let Some(k) = self.known.get_mut(peer) {
            if k.via.is_some_and(|c| conn.is_none_or(|x| x == c)) {
                k.via = None;
            }
        }
    }

    /// Forgets routes through a connection that closed.
    pub fn conn_gone(&mut self, conn: ConnId) {
        self.routes.retain(|_, c| *c != conn);
        for k in self.known.values_mut() {
            if k.via == Some(conn) {
                k.via = None;
            }
        }
    }

    /// Notes that an attempt to reach `peer` failed; it is retried later with backoff.
    pub fn failed(&mut self, peer: &PeerId, now: u64, base_ms: u64) {
        self.dialing.remove(peer);
        if let Some(k) = self.known.get_mut(peer) {
            k.failures = k.failures.saturating_add(1);
            k.retry_at = now + (base_ms << k.failures.min(6));
        }
    }

    /// Notes a successful connection.
    pub fn connected(&mut self, peer: &PeerId) {
        self.dialing.remove(peer);
        self.inbound.remove(peer);
        if let Some(k) = self.known.get_mut(peer) {
            k.failures = 0;
            k.retry_at = 0;
        }
    }

    /// Adds misbehaviour points to a key; returns the score after decay.
    pub fn penalize(&mut self, key: AuthorId, points: u64, now: u64) -> u64 {
        let s = self
            .scores
            .entry(key)
            .or_insert(Score { points: 0, at: now });
        let decayed = now.saturating_sub(s.at) / 1000 * DECAY_PER_SEC;
        s.points = s.points.saturating_sub(decayed) + points;
        s.at = now;
        s.points
    }

    /// The current score of a key.
    pub fn score(&self, key: &AuthorId, now: u64) -> u64 {
        self.scores.get(key).map_or(0, |s| {
            s.points
                .saturating_sub(now.saturating_sub(s.at) / 1000 * DECAY_PER_SEC)
        })
    }

    /// Bans a key until `until`, and the peer ids it authenticated with.
    pub fn ban(&mut self, key: AuthorId, peers: &[PeerId], until: u64) {
        self.banned.insert(key, until);
        self.scores.remove(&key);
        for peer in peers {
            self.banned_peers.insert(*peer, until);
            self.known.remove(peer);
            self.dialing.remove(peer);
            self.inbound.remove(peer);
            self.routes.remove(peer);
        }
    }

    /// Whether a peer id belongs to a banned key (as far as its connections showed).
    pub fn is_banned(&self, peer: &PeerId, now: u64) -> bool {
        self.banned_peers
            .get(peer)
            .is_some_and(|until| now < *until)
    }

    /// Whether a key is banned now.
    pub fn is_key_banned(&self, key: &AuthorId, now: u64) -> bool {
        self.banned.get(key).is_some_and(|until| now < *until)
    }

    /// Drops expired bans, decayed scores, and bounds the score table.
    pub fn tidy(&mut self, now: u64, max_scores: usize) {
        self.banned.retain(|_, until| now < *until);
        self.banned_peers.retain(|_, until| now < *until);
        while self.banned_peers.len() > max_scores {
            self.banned_peers.pop_first();
        }
        self.scores
            .retain(|_, s| s.points > now.saturating_sub(s.at) / 1000 * DECAY_PER_SEC);
        while self.scores.len() > max_scores {
            let lowest = self
                .scores
                .iter()
                .min_by_key(|(id, s)| (s.points, **id))
                .map(|(id, _)| *id);
            match lowest {
                Some(id) => self.scores.remove(&id),
                None => break,
            };
        }
        while self.banned.len() > max_scores {
            let first = self
                .banned
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(id, _)| *id);
            match first {
                Some(id) => self.banned.remove(&id),
                None => break,
            };
        }
    }

    /// Attempts that expired: removed and returned.
    pub fn expired_dials(&mut self, now: u64) -> Vec<PeerId> {
        let gone: Vec<PeerId> = self
            .dialing
            .iter()
            .filter(|(_, until)| now >= **until)
            .map(|(p, _)| *p)
            .collect();
        for p in &gone {
            self.dialing.remove(p);
            // Nobody answered: whichever neighbour carried the signal, try the relay next.
            self.unroute(p, None);
        }
        self.inbound.retain(|_, until| now < *until);
        // A route only serves answers to a dial in progress or an address we keep.
        let (dialing, inbound, known) = (&self.dialing, &self.inbound, &self.known);
        self.routes.retain(|p, _| {
            dialing.contains_key(p) || inbound.contains_key(p) || known.contains_key(p)
        });
        gone
    }

    /// Candidates to dial, in an order that differs from node to node and from one `epoch` to
    /// the next (a keyed hash), so the mesh comes out random-like without a random source.
    /// Peers that failed recently wait out their backoff.
    pub fn candidates(
        &self,
        me: PeerId,
        now: u64,
        epoch: u64,
        exclude: impl Fn(&PeerId) -> bool,
    ) -> Vec<PeerId> {
        let mut c: Vec<([u8; 32], PeerId)> = self
            .known
            .iter()
            .filter(|(p, k)| {
                **p != me
                    && k.retry_at <= now
                    && !self.dialing.contains_key(*p)
                    && !self.inbound.contains_key(*p)
                    && !self.is_banned(p, now)
                    && !exclude(p)
            })
            .map(|(p, _)| (rank(me, *p, epoch), *p))
            .collect();
        c.sort_unstable();
        c.into_iter().map(|(_, p)| p).collect()
    }

    /// Some known peers to tell others about: the freshest first.
    pub fn sample(&self, n: usize, now: u64) -> Vec<PeerId> {
        let mut v: Vec<(u64, PeerId)> = self
            .known
            .iter()
            .filter(|(p, k)| k.failures == 0 && !self.is_banned(p, now))
            .map(|(p, k)| (u64::MAX - k.seen, *p))
            .collect();
        v.sort_unstable();
        v.into_iter().take(n).map(|(_, p)| p).collect()
    }
}

/// A per-node, per-epoch pseudo-random rank of a peer.
pub(super) fn rank(me: PeerId, peer: PeerId, epoch: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&me.0);
    h.update(&peer.0);
    h.update(&epoch.to_le_bytes());
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u8) -> PeerId {
        PeerId([n; 16])
    }

    fn k(n: u8) -> AuthorId {
        AuthorId([n; 32])
    }

    #[test]
    fn scores_decay_and_bans_expire() {
        let mut b = PeerBook::new(10);
        assert_eq!(b.penalize(k(1), 50, 0), 50);
        assert_eq!(b.score(&k(1), 10_000), 40);
        assert_eq!(b.penalize(k(1), 50, 10_000), 90);
        b.ban(k(1), &[p(1)], 20_000);
        assert!(b.is_key_banned(&k(1), 19_999));
        assert!(b.is_banned(&p(1), 19_999));
        assert!(!b.is_key_banned(&k(1), 20_000));
        assert!(!b.is_banned(&p(1), 20_000));
        assert!(
            !b.is_banned(&p(2), 0),
            "only the key's own peer ids are refused"
        );
        b.learn(p(1), None, 5);
        assert!(!b.known.contains_key(&p(1)), "a banned peer is not learnt");
    }

    #[test]
    fn routes_are_bounded() {
        let mut b = PeerBook::new(5);
        for n in 0..50 {
            b.add_route(p(n), ConnId(1));
        }
        assert_eq!(b.route_count(), 5);
        assert_eq!(b.route(&p(49)), Some(ConnId(1)));
        // Routes of peers neither dialed, answered nor known go at the next expiry pass.
        b.expired_dials(0);
        assert_eq!(b.route_count(), 0);
    }

    #[test]
    fn known_addresses_are_bounded() {
        let mut b = PeerBook::new(5);
        for n in 0..50 {
            b.learn(p(n), Some(ConnId(1)), u64::from(n));
        }
        assert_eq!(b.known.len(), 5);
        assert!(b.known.contains_key(&p(49)));
    }

    #[test]
    fn failures_back_off() {
        let mut b = PeerBook::new(10);
        b.learn(p(1), None, 0);
        b.learn(p(2), None, 0);
        b.failed(&p(1), 0, 1000);
        assert_eq!(b.candidates(p(9), 0, 0, |_| false), vec![p(2)]);
        let later = b.candidates(p(9), 10_000, 0, |_| false);
        assert_eq!(later.len(), 2);
        assert_eq!(b.candidates(p(9), 10_000, 0, |x| *x == p(2)), vec![p(1)]);
        b.conn_gone(ConnId(1));
        assert_eq!(b.route(&p(1)), None);
    }

    #[test]
    fn a_failed_route_is_not_tried_again() {
        let mut b = PeerBook::new(10);
        // Neighbour 1 suggested peer 5; a refusal through neighbour 2 leaves that route alone.
        b.learn(p(5), Some(ConnId(1)), 0);
        b.unroute(&p(5), Some(ConnId(2)));
        assert_eq!(b.route(&p(5)), Some(ConnId(1)));
        b.unroute(&p(5), Some(ConnId(1)));
        assert_eq!(
            b.route(&p(5)),
            None,
            "the next attempt goes through the relay"
        );
        // A dial nobody answered forgets every route to the peer.
        b.learn(p(6), Some(ConnId(3)), 0);
        b.add_route(p(6), ConnId(4));
        b.dialing.insert(p(6), 100);
        assert_eq!(b.expired_dials(100), vec![p(6)]);
        assert_eq!(b.route(&p(6)), None);
    }
}
