//! Changes and gossip: insert what peers send, then spread new changes with Plumtree.
//!
//! Each link carries new changes eagerly (pushed) or lazily (announced by id, fetched on
//! demand). A push that brings only duplicates shows a second eager path, so the receiver prunes
//! that link to lazy, in both directions; an announced change that does not arrive eagerly in time
//! is fetched from its announcer and the link grafted back to eager. Eager links then form a
//! spanning tree. The state is kept per origin (author): with one tree shared by all, concurrent
//! authors would each prune the links off their own tree and leave only the intersection of the
//! trees, cut into pieces; with a tree per author, each author's changes take the shortest paths
//! from where that author writes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::events::points;
use super::missing::Missing;
use super::{ConnId, Node, NodeEvent};
use crate::sync::{ChangeId, Replica};

/// Most origins a link remembers as lazy; beyond, the oldest become eager again (a few
/// duplicates, then pruned again).
pub(super) const MAX_LAZY_ORIGINS: usize = 4096;

/// Most missing dependencies asked for after one message.
const MAX_WANT_MISSING: usize = 1024;

/// Most links that announced one missing change that are remembered.
const MAX_ANNOUNCERS: usize = 8;

impl<R: Replica> Node<R> {
    pub(super) fn on_changes(
        &mut self,
        conn: ConnId,
        changes: Vec<(ChangeId, Vec<u8>)>,
        pushed: bool,
    ) {
        let mut applied = Vec::new();
        let mut waits_for = BTreeSet::new();
        let mut dup_origins = BTreeSet::new();
        for (id, bytes) in changes {
            let grafted = self
                .missing
                .remove(&id)
                .and_then(|m| if m.graft { m.asked } else { None });
            if self.replica.contains(&id) {
                self.stats.duplicates += 1;
                if let (true, Some(origin)) = (pushed, self.replica.origin(&id)) {
                    dup_origins.insert(origin);
                }
                continue;
            }
            // Changes only flow after an authenticated hello, so the sender has a key: what it
            // makes this replica buffer is charged to that key.
            let from = self
                .conns
                .get(&conn)
                .and_then(|c| c.session.remote_key())
                .map_or([0; 32], |k| k.0);
            match self.replica.insert(&from, &bytes, self.now) {
                Ok(outcome) => {
                    if let (Some(g), Some(origin)) = (grafted, self.replica.origin(&id)) {
                        self.set_lazy(g, origin, false);
                    }
                    applied.extend(outcome.applied);
                    waits_for.extend(outcome.missing);
                }
                Err(e) => {
                    self.stats.rejected += 1;
                    let peer = self.conns.get(&conn).and_then(|c| c.session.remote());
                    self.event(NodeEvent::Rejected {
                        peer,
                        detail: e.detail,
                    });
                    if e.peer_fault {
                        self.penalize(conn, points::INVALID_CHANGE);
                    }
                }
            }
        }
        self.prune_origins(conn, dup_origins);
        self.want_missing(conn, waits_for);
        if !applied.is_empty() {
            self.index_applied(&applied);
            self.stats.applied += applied.len() as u64;
            self.forward(&applied, Some(conn));
            self.event(NodeEvent::Applied(applied));
        }
    }

    /// A change arrived before changes it depends on. They are usually on their way along
    /// another author's tree; if they have not come after the graft timeout, they are asked
    /// from this sender (without grafting: no announcement was missed).
    fn want_missing(&mut self, conn: ConnId, ids: BTreeSet<ChangeId>) {
        let due = self.now + self.cfg.graft_timeout_ms;
        for id in ids.into_iter().take(MAX_WANT_MISSING) {
            if self.replica.contains(&id) || self.missing.len() >= self.cfg.max_missing {
                continue;
            }
            let m = Missing {
                announcers: VecDeque::from([conn]),
                asked: None,
                graft: false,
            };
            self.missing.insert(id, due, m);
        }
    }

    /// Duplicates pushed by `conn`: make the link lazy for those origins, both ways.
    fn prune_origins(&mut self, conn: ConnId, origins: BTreeSet<[u8; 32]>) {
        let fresh: Vec<[u8; 32]> = match self.conns.get(&conn) {
            Some(c) => origins
                .into_iter()
                .filter(|o| !c.lazy.contains(o))
                .collect(),
            None => return,
        };
        for o in &fresh {
            self.set_lazy(conn, *o, true);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.prune(fresh);
            self.dirty.insert(conn);
        }
    }

    pub(super) fn on_prune(&mut self, conn: ConnId, origins: Vec<[u8; 32]>) {
        for o in origins.into_iter().take(MAX_LAZY_ORIGINS) {
            self.set_lazy(conn, o, true);
        }
    }

    /// The peer missed these changes announced lazily: their origins go eager on this link.
    pub(super) fn on_graft(&mut self, conn: ConnId, ids: &[ChangeId]) {
        for id in ids {
            if let Some(origin) = self.replica.origin(id) {
                self.set_lazy(conn, origin, false);
            }
        }
    }

    fn set_lazy(&mut self, conn: ConnId, origin: [u8; 32], lazy: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !lazy {
            c.lazy.remove(&origin);
            return;
        }
        if c.lazy.insert(origin) {
            c.lazy_order.push_back(origin);
        }
        while c.lazy_order.len() > MAX_LAZY_ORIGINS {
            if let Some(old) = c.lazy_order.pop_front() {
                c.lazy.remove(&old);
            }
        }
    }

    fn index_applied(&mut self, ids: &[ChangeId]) {
        for id in ids {
            if let Some(depth) = self.replica.depth(id) {
                self.index.insert(depth, *id);
            }
        }
    }

    pub(super) fn on_local(&mut self, ids: &[ChangeId]) {
        let fresh: Vec<ChangeId> = ids
            .iter()
            .filter(|id| !self.index.contains(id))
            .copied()
            .collect();
        self.index_applied(&fresh);
        self.forward(&fresh, None);
    }

    /// Gossips new changes to every neighbour but `from`: pushed where the link is eager for
    /// their origin, announced where it is lazy.
    fn forward(&mut self, ids: &[ChangeId], from: Option<ConnId>) {
        let origins: Vec<Option<[u8; 32]>> = ids.iter().map(|id| self.replica.origin(id)).collect();
        let targets: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, c)| Some(**id) != from && c.session.is_established())
            .map(|(id, _)| *id)
            .collect();
        for conn in targets {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let (mut push, mut announce) = (Vec::new(), Vec::new());
            for (id, origin) in ids.iter().zip(&origins) {
                match origin {
                    Some(o) if c.lazy.contains(o) => announce.push(*id),
                    _ => push.push(*id),
                }
            }
            if !push.is_empty() {
                c.session.push(&push);
            }
            if !announce.is_empty() {
                c.session.announce(&announce);
            }
            self.dirty.insert(conn);
        }
    }

    pub(super) fn on_have(&mut self, conn: ConnId, ids: Vec<ChangeId>) {
        let due = self.now + self.cfg.graft_timeout_ms;
        for id in ids {
            if self.replica.contains(&id) {
                continue;
            }
            if let Some(m) = self.missing.get_mut(&id) {
                if !m.announcers.contains(&conn) && m.announcers.len() < MAX_ANNOUNCERS {
                    m.announcers.push_back(conn);
                }
            } else if self.missing.len() < self.cfg.max_missing {
                let m = Missing {
                    announcers: VecDeque::from([conn]),
                    asked: None,
                    graft: true,
                };
                self.missing.insert(id, due, m);
            }
        }
    }

    /// Fetches lazily announced changes that did not arrive eagerly in time; when they come,
    /// their origin's link is grafted back to eager.
    pub(super) fn graft_due(&mut self) {
        let now = self.now;
        let due = self.missing.due_by(now);
        let retry = now + 2 * self.cfg.graft_timeout_ms;
        let mut asks: BTreeMap<(ConnId, bool), Vec<ChangeId>> = BTreeMap::new();
        let mut undelivered: BTreeMap<ConnId, u64> = BTreeMap::new();
        for id in due {
            let held = self.replica.contains(&id);
            let Some(m) = self.missing.get_mut(&id) else {
                continue;
            };
            if let (false, Some(conn)) = (held, m.asked.take()) {
                // Asked a while ago and still nothing, from anyone.
                *undelivered.entry(conn).or_default() += 1;
            }
            match m.announcers.pop_front() {
                Some(conn) if !held => {
                    asks.entry((conn, m.graft)).or_default().push(id);
                    m.asked = Some(conn);
                    self.missing.reschedule(&id, retry);
                }
                _ => {
                    self.missing.remove(&id);
                }
            }
        }
        for (conn, n) in undelivered {
            self.penalize(conn, points::UNDELIVERED.saturating_mul(n));
        }
        for ((conn, graft), ids) in asks {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session.want(&ids, graft);
                self.dirty.insert(conn);
            }
        }
    }
}
