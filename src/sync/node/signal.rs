//! Introductions without the relay: WebRTC signals (opaque SDP/ICE payloads) travel between two
//! peers through a neighbour they share, and the node decides whom it accepts.

use super::events::points;

/// The node's envelope for what it sends through the relay: a kind byte, then the body.
mod relay {
    /// Body: the shell's signal.
    pub const SIGNAL: u8 = 1;
    /// Body: 16-byte ids of peers to try instead.
    pub const REFUSE: u8 = 2;
}
use super::{ConnId, Node, NodeEvent};
use crate::sync::{PeerId, Replica};

impl<R: Replica> Node<R> {
    /// Sends the shell's signal for `to`: through the mesh when a neighbour can carry it, else
    /// back to the shell for the relay.
    pub(super) fn send_signal(&mut self, to: PeerId, payload: &[u8]) {
        let dialer = self.book.dialing.contains_key(&to);
        let me = self.me;
        let route = self.book.route(&to).filter(|c| {
            self.conns
                .get(c)
                .is_some_and(|c| c.session.is_established())
        });
        match route {
            Some(conn) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session.send_signal(me, to, dialer, payload);
                    self.dirty.insert(conn);
                }
            }
            None => {
                let mut envelope = Vec::with_capacity(1 + payload.len());
                envelope.push(relay::SIGNAL);
                envelope.extend_from_slice(payload);
                self.event(NodeEvent::SignalViaRelay {
                    to,
                    dialer,
                    payload: envelope,
                })
            }
        }
    }

    /// A message from another node through the relay: a signal, or a refusal that introduces
    /// other peers. Anything else is ignored (the relay cannot be trusted with more).
    pub(super) fn on_relay_message(&mut self, from: PeerId, dialer: bool, payload: &[u8]) {
        match payload.split_first() {
            Some((&relay::SIGNAL, signal)) => self.on_signal_for_me(from, dialer, signal, None),
            Some((&relay::REFUSE, intro)) => {
                if self.book.dialing.contains_key(&from) {
                    self.book.failed(&from, self.now, self.cfg.retry_base_ms);
                    self.event(NodeEvent::CancelDial { peer: from });
                }
                let now = self.now;
                for chunk in intro.chunks_exact(16).take(self.cfg.exchange_len) {
                    let mut id = [0u8; 16];
                    id.copy_from_slice(chunk);
                    if PeerId(id) != self.me {
                        self.book.learn(PeerId(id), None, now);
                    }
                }
                self.next_tick = now;
            }
            _ => {}
        }
    }

    /// A signal arrived from neighbour `conn`: for us, or to pass on to one of our neighbours.
    pub(super) fn on_signal(
        &mut self,
        conn: ConnId,
        from: PeerId,
        to: PeerId,
        dialer: bool,
        payload: Vec<u8>,
    ) {
        if to == self.me {
            return self.on_signal_for_me(from, dialer, &payload, Some(conn));
        }
        // We only pass on a neighbour's own signals, one hop: no spoofing, no routing loops.
        let sender = self.conns.get(&conn).and_then(|c| c.session.remote());
        if sender != Some(from) {
            return self.penalize(conn, points::SPOOF);
        }
        match self.conn_of(&to) {
            Some(target) => {
                if let Some(c) = self.conns.get_mut(&target) {
                    c.session.send_signal(from, to, dialer, &payload);
                    self.dirty.insert(target);
                }
            }
            None if dialer => {
                // `to` is not our neighbour (any more): tell the dialer at once.
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session.send_refuse(from, to);
                    self.dirty.insert(conn);
                }
            }
            None => {}
        }
    }

    /// A signal for us, through neighbour `via` or (None) the relay. Admits or refuses the peer.
    pub(super) fn on_signal_for_me(
        &mut self,
        from: PeerId,
        dialer: bool,
        payload: &[u8],
        via: Option<ConnId>,
    ) {
        let now = self.now;
        if from == self.me || self.book.is_banned(&from, now) {
            return;
        }
        if dialer {
            if self.book.dialing.contains_key(&from) {
                // Both sides dialed: the lower id stays the dialer, the other answers.
                if self.me < from {
                    return;
                }
                self.book.dialing.remove(&from);
                self.event(NodeEvent::CancelDial { peer: from });
                self.book
                    .inbound
                    .insert(from, now + self.cfg.dial_timeout_ms);
            } else if self.conn_of(&from).is_some() {
                return;
            } else if !self.book.inbound.contains_key(&from) {
                if self.slots_used() >= self.cfg.max_peers {
                    return self.refuse(from, via);
                }
                self.book
                    .inbound
                    .insert(from, now + self.cfg.dial_timeout_ms);
            }
        } else if !self.book.dialing.contains_key(&from) {
            return; // an answer to an attempt we no longer make
        }
        // Only an accepted signal earns a route (a neighbour cannot fill the table with claims).
        if let Some(v) = via {
            self.book.add_route(from, v);
        }
        self.event(NodeEvent::Signal {
            from,
            dialer,
            payload: payload.to_vec(),
        });
    }

    /// Connections open, being dialed, or being answered.
    pub(super) fn slots_used(&self) -> usize {
        self.conns.len() + self.book.dialing.len() + self.book.inbound.len()
    }

    fn refuse(&mut self, from: PeerId, via: Option<ConnId>) {
        let me = self.me;
        match via {
            Some(v) => {
                if let Some(c) = self.conns.get_mut(&v) {
                    c.session.send_refuse(from, me);
                    self.dirty.insert(v);
                }
            }
            None => {
                // Through the relay, a refusal introduces other peers to try.
                let mut payload = vec![relay::REFUSE];
                for p in self.suggestions(&from) {
                    payload.extend_from_slice(&p.0);
                }
                self.event(NodeEvent::SignalViaRelay {
                    to: from,
                    dialer: false,
                    payload,
                });
            }
        }
    }

    /// `to` refused `from`: our own attempt failed, or we pass the refusal back to our neighbour.
    pub(super) fn on_refuse(&mut self, conn: ConnId, from: PeerId, to: PeerId) {
        if from == self.me {
            if self.book.dialing.contains_key(&to) {
                // The neighbour may not reach `to` (any more): do not send the retry its way.
                self.book.unroute(&to, Some(conn));
                self.book.failed(&to, self.now, self.cfg.retry_base_ms);
                self.event(NodeEvent::CancelDial { peer: to });
            }
            return;
        }
        let sender = self.conns.get(&conn).and_then(|c| c.session.remote());
        if sender != Some(to) {
            return self.penalize(conn, points::SPOOF);
        }
        if let Some(target) = self.conn_of(&from) {
            if let Some(c) = self.conns.get_mut(&target) {
                c.session.send_refuse(from, to);
                self.dirty.insert(target);
            }
        }
    }
}
