//! What the node does with its sessions' events: admit or refuse peers, learn addresses, score
//! misbehaviour. Changes and gossip are in `gossip.rs`.

use super::{ConnId, Node, NodeEvent};
use crate::identity::AuthorId;
use crate::sync::session::{Event, Offence};
use crate::sync::{CloseReason, PeerId, Replica};

/// Score points per kind of misbehaviour (the bound is [`super::NodeConfig::score_bound`]).
pub(super) mod points {
    /// Bytes that break the protocol.
    pub const MALFORMED: u64 = 50;
    /// A change the replica refuses.
    pub const INVALID_CHANGE: u64 = 20;
    /// A message type we do not know (harmless once, a flood if repeated).
    pub const UNKNOWN: u64 = 2;
    /// Promised changes never delivered.
    pub const UNRESPONSIVE: u64 = 25;
    /// A signal claiming to come from someone else.
    pub const SPOOF: u64 = 50;
    /// Each hundred messages over the per-second bound.
    pub const FLOOD: u64 = 10;
    /// A reconciliation query sent before our reply to the previous one left.
    pub const QUERY_FLOOD: u64 = 10;
    /// Requests that filled the bytes queued for the peer past the bound (the session closes).
    pub const OVERLOAD: u64 = 50;
    /// Each change announced (or depended on) that it did not send when asked.
    pub const UNDELIVERED: u64 = 2;
    /// A presence record that is forged or broken, or too many in one message.
    pub const BAD_PRESENCE: u64 = 10;
}

impl<R: Replica> Node<R> {
    pub(super) fn on_session_event(&mut self, conn: ConnId, e: Event) {
        match e {
            Event::Established { peer, key } => self.on_established(conn, peer, key),
            Event::Changes { changes, pushed } => self.on_changes(conn, changes, pushed),
            Event::Have(ids) => self.on_have(conn, ids),
            Event::Graft(ids) => self.on_graft(conn, &ids),
            Event::Prune(origins) => self.on_prune(conn, origins),
            Event::Peers(peers) => self.on_peers(conn, peers),
            Event::Signal {
                from,
                to,
                dialer,
                payload,
            } => self.on_signal(conn, from, to, dialer, payload),
            Event::Refuse { from, to } => self.on_refuse(conn, from, to),
            Event::Presence(records) => self.on_presence(conn, records),
            Event::Synced { .. } => self.event(NodeEvent::Synced { conn }),
            Event::Offence(o) => {
                let pts = match o {
                    Offence::Malformed(_) => points::MALFORMED,
                    Offence::UnknownMessage => points::UNKNOWN,
                    Offence::Unresponsive => points::UNRESPONSIVE,
                    Offence::Flood => points::FLOOD,
                    Offence::QueryFlood => points::QUERY_FLOOD,
                    Offence::Overload => points::OVERLOAD,
                };
                self.penalize(conn, pts);
            }
            Event::Closed {
                reason, by_peer, ..
            } => self.on_closed(conn, reason, by_peer),
        }
    }

    fn on_established(&mut self, conn: ConnId, peer: PeerId, key: AuthorId) {
        let now = self.now;
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let dialer = c.session.is_dialer();
        if c.expected.is_some_and(|e| e != peer) {
            return self.close(
                conn,
                CloseReason::Malformed,
                "hello from an unexpected peer",
            );
        }
        if self.book.is_banned(&peer, now) || self.book.is_key_banned(&key, now) {
            return self.close(conn, CloseReason::Misbehaving, "banned");
        }
        if let Some(other) = self.conn_of_except(&peer, conn) {
            // Two channels between the same pair: both sides keep the one dialed by the lower id.
            let other_dialer = self
                .conns
                .get(&other)
                .is_some_and(|c| c.session.is_dialer());
            let dialer_id = |we_dial: bool| if we_dial { self.me } else { peer };
            // Same direction twice (a peer reconnecting): the newer channel wins.
            let keep_new = dialer_id(dialer) < dialer_id(other_dialer)
                || (dialer == other_dialer && conn > other);
            if !keep_new {
                return self.close(conn, CloseReason::Duplicate, "already connected");
            }
            self.close(other, CloseReason::Duplicate, "already connected");
        }
        if self.established_count() > self.cfg.max_peers {
            // Full: tell the newcomer some other peers before saying goodbye.
            let others = self.suggestions(&peer);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session.send_peers(&others);
            }
            return self.close(conn, CloseReason::Full, "at max_peers");
        }
        self.book.learn(peer, None, now);
        self.book.connected(&peer);
        let others = self.suggestions(&peer);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.send_peers(&others);
        }
        self.presence_greet(conn);
        self.dirty.insert(conn);
        self.event(NodeEvent::Connected { conn, peer });
    }

    /// Our other neighbours and a few known peers, as introductions for `peer`.
    pub(super) fn suggestions(&self, peer: &PeerId) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self
            .neighbours()
            .into_iter()
            .filter(|p| p != peer)
            .collect();
        for p in self.book.sample(self.cfg.exchange_len, self.now) {
            if v.len() >= self.cfg.exchange_len {
                break;
            }
            if p != *peer && !v.contains(&p) {
                v.push(p);
            }
        }
        v.truncate(self.cfg.exchange_len);
        v
    }

    fn conn_of_except(&self, peer: &PeerId, except: ConnId) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|(id, c)| {
                **id != except && c.session.is_established() && c.session.remote() == Some(*peer)
            })
            .map(|(id, _)| *id)
    }

    fn on_closed(&mut self, conn: ConnId, reason: CloseReason, by_peer: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let peer = c.session.remote().or(c.expected);
        self.forget_conn(conn);
        let never_open = c.session.remote().is_none();
        let failed = reason == CloseReason::Full || (never_open && reason == CloseReason::Timeout);
        if let (Some(p), true) = (peer, failed) {
            self.book.failed(&p, self.now, self.cfg.retry_base_ms);
        }
        self.next_tick = self.now;
        self.event(NodeEvent::Closed {
            conn,
            peer,
            reason,
            by_peer,
        });
    }

    /// Closes a connection from the node's side.
    pub(super) fn close(&mut self, conn: ConnId, reason: CloseReason, detail: &str) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.close(reason, detail);
            self.dirty.insert(conn);
        }
    }

    /// Adds misbehaviour points to the key that authenticated `conn`; past the bound, bans it.
    /// Before a hello authenticated anyone there is nobody to blame (a peer id claimed by a
    /// signal is not evidence): only this connection goes.
    pub(super) fn penalize(&mut self, conn: ConnId, pts: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (Some(key), Some(peer)) = (c.session.remote_key(), c.session.remote()) else {
            return self.close(conn, CloseReason::Misbehaving, "misbehaved before hello");
        };
        let score = self.book.penalize(key, pts, self.now);
        if score >= self.cfg.score_bound {
            self.ban(key, peer);
        }
    }

    /// Bans a key: closes every connection that key authenticated, whatever peer id it used.
    fn ban(&mut self, key: AuthorId, peer: PeerId) {
        let conns: Vec<(ConnId, Option<PeerId>)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.remote_key() == Some(key))
            .map(|(id, c)| (*id, c.session.remote()))
            .collect();
        // Peer ids are derived from keys, so these ids are this key's alone: refuse them early.
        let peers: Vec<PeerId> = conns.iter().filter_map(|(_, p)| *p).collect();
        self.book.ban(key, &peers, self.now + self.cfg.ban_ms);
        for (conn, _) in conns {
            self.close(
                conn,
                CloseReason::Misbehaving,
                "misbehaviour score over the bound",
            );
        }
        self.event(NodeEvent::Banned { peer, key });
    }

    fn on_peers(&mut self, conn: ConnId, peers: Vec<PeerId>) {
        let now = self.now;
        for p in peers.into_iter().take(self.cfg.exchange_len * 2) {
            if p != self.me {
                self.book.learn(p, Some(conn), now);
            }
        }
    }
}
