//! The node's housekeeping: session timers, gossip repair, peer exchange, and keeping enough
//! neighbours by dialing known peers when connections end.

use std::collections::BTreeSet;

use super::peers::rank;
use super::{ConnId, Node, NodeEvent};
use crate::sync::session::Input;
use crate::sync::{CloseReason, PeerId, Replica};

/// Ticks an established connection lasts before it may be rotated away.
const SETTLE_TICKS: u64 = 5;

/// Most misbehaviour scores and bans remembered.
const MAX_SCORES: usize = 1024;

impl<R: Replica> Node<R> {
    pub(super) fn run_timers(&mut self) {
        let now = self.now;
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for conn in due {
            self.session_input(conn, Input::Timeout);
        }
        if self.missing.next_due().is_some_and(|t| t <= now) {
            self.graft_due();
        }
        if now >= self.next_exchange {
            self.next_exchange = now + self.cfg.exchange_ms;
            self.exchange();
        }
        if now >= self.next_tick {
            self.next_tick = now + self.cfg.tick_ms;
            self.tick();
        }
        self.presence_timers();
    }

    fn tick(&mut self) {
        let now = self.now;
        for peer in self.book.expired_dials(now) {
            self.book.failed(&peer, now, self.cfg.retry_base_ms);
            self.event(NodeEvent::CancelDial { peer });
        }
        self.book.tidy(now, MAX_SCORES);
        self.replica.expire_pending(now);
        self.dial_more();
        if now >= self.next_rotate {
            self.next_rotate = now + self.cfg.rotate_ms;
            self.epoch += 1;
            self.explore();
        }
        self.trim();
    }

    /// Now and then dials one more known peer while at the target, so the mesh keeps mixing:
    /// that is what reconnects the two sides of a healed partition, and spreads newcomers.
    fn explore(&mut self) {
        if self.established_count() < self.cfg.target_peers
            || self.slots_used() >= self.cfg.max_peers
        {
            return;
        }
        let linked = self.linked_peers();
        let pick = self
            .book
            .candidates(self.me, self.now, self.epoch, |p| linked.contains(p))
            .into_iter()
            .next();
        if let Some(peer) = pick {
            self.book
                .dialing
                .insert(peer, self.now + self.cfg.dial_timeout_ms);
            self.event(NodeEvent::Dial { peer });
        }
    }

    /// Above the target, closes one settled connection (pseudo-randomly chosen), leaving room
    /// for newcomers below `max_peers`.
    fn trim(&mut self) {
        if self.established_count() <= self.cfg.target_peers {
            return;
        }
        // A newcomer keeps its place long enough to sync and learn other peers.
        let settled = self.now.saturating_sub(SETTLE_TICKS * self.cfg.tick_ms);
        let victim = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.is_established() && c.since <= settled)
            .filter_map(|(id, c)| {
                c.session
                    .remote()
                    .map(|p| (rank(self.me, p, self.epoch), *id))
            })
            .min()
            .map(|(_, id)| id);
        if let Some(conn) = victim {
            self.close(conn, CloseReason::Normal, "rotating neighbours");
        }
    }

    fn linked_peers(&self) -> BTreeSet<PeerId> {
        self.conns
            .values()
            .filter_map(|c| c.session.remote().or(c.expected))
            .collect()
    }

    /// Dials known peers while below the target number of connections.
    fn dial_more(&mut self) {
        let used = self.slots_used();
        if used >= self.cfg.target_peers {
            return;
        }
        let linked = self.linked_peers();
        let picks = self
            .book
            .candidates(self.me, self.now, self.epoch, |p| linked.contains(p));
        for peer in picks.into_iter().take(self.cfg.target_peers - used) {
            self.book
                .dialing
                .insert(peer, self.now + self.cfg.dial_timeout_ms);
            self.event(NodeEvent::Dial { peer });
        }
    }

    /// Tells every neighbour about our other neighbours (and a few known peers).
    fn exchange(&mut self) {
        let targets: Vec<(ConnId, PeerId)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.is_established())
            .filter_map(|(id, c)| c.session.remote().map(|p| (*id, p)))
            .collect();
        for (conn, peer) in targets {
            let list = self.suggestions(&peer);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session.send_peers(&list);
                self.dirty.insert(conn);
            }
        }
    }
}
