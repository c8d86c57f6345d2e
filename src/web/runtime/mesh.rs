//! The mesh of sync sessions of one replica, until the sync issue's gossip `Node` lands: the same
//! inputs, outputs and events as `sync::node::Node` (so the shell swaps one for the other), with a
//! simpler policy: every established neighbour gets every new change pushed, a peer announced
//! by the relay is dialed while there is room, and signals always go through the relay.
//!
//! Sans-IO like the session it drives: time comes in, bytes and events go out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::commons::Commons;
use crate::sync::session::{Event, Input, Output, Session, SessionConfig};
use crate::sync::{ChangeId, CloseReason, PeerId, Replica, SyncIndex, View};

/// A channel, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// What the shell feeds the mesh.
#[derive(Debug, Clone, Copy)]
pub enum NodeInput<'a> {
    /// A channel opened; `peer` is who the shell believes is there.
    Connected {
        conn: ConnId,
        dialer: bool,
        peer: Option<PeerId>,
    },
    /// One message arrived on a channel.
    Receive { conn: ConnId, bytes: &'a [u8] },
    /// The channel's `bufferedAmount`.
    Buffered { conn: ConnId, amount: usize },
    /// The channel closed.
    Disconnected { conn: ConnId },
    /// The relay or a BroadcastChannel announced a peer.
    Discovered(PeerId),
    /// The connection to a peer could not be set up.
    DialFailed(PeerId),
    /// A signal the shell produced for `to`.
    SendSignal { to: PeerId, payload: &'a [u8] },
    /// A signal that came through the relay.
    RelaySignal {
        from: PeerId,
        dialer: bool,
        payload: &'a [u8],
    },
    /// Changes written locally, applied and durably stored.
    Local(&'a [ChangeId]),
    /// A deadline passed.
    Timeout,
}

/// What the mesh asks of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutput {
    Transmit { conn: ConnId, bytes: Vec<u8> },
    Event(NodeEvent),
    Timeout(u64),
}

/// Events of the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// Open a connection to this peer as the offering side.
    Dial { peer: PeerId },
    /// Give up the attempt to connect to this peer.
    CancelDial { peer: PeerId },
    /// A signal for the connection with `from`.
    Signal {
        from: PeerId,
        dialer: bool,
        payload: Vec<u8>,
    },
    /// Send this signal through the relay.
    SignalViaRelay {
        to: PeerId,
        dialer: bool,
        payload: Vec<u8>,
    },
    /// A connection finished its handshake.
    Connected { conn: ConnId, peer: PeerId },
    /// A connection ended: close the channel.
    Closed {
        conn: ConnId,
        peer: Option<PeerId>,
        reason: CloseReason,
        by_peer: bool,
    },
    /// Changes from peers were applied: store them.
    Applied(Vec<ChangeId>),
    /// A peer sent a change the replica refused.
    Rejected {
        peer: Option<PeerId>,
        detail: String,
    },
    /// A reconciliation with a neighbour completed.
    Synced { conn: ConnId },
}

struct Conn {
    session: Session,
    deadline: u64,
}

/// The interim mesh. See the module documentation.
pub struct Node<R: Replica = Commons> {
    cfg: SessionConfig,
    max_peers: usize,
    me: PeerId,
    replica: R,
    index: SyncIndex,
    now: u64,
    conns: BTreeMap<ConnId, Conn>,
    dialing: BTreeSet<PeerId>,
    inbound: BTreeSet<PeerId>,
    out: VecDeque<NodeOutput>,
    dirty: BTreeSet<ConnId>,
}

impl<R: Replica> Node<R> {
    /// A mesh for `replica`, known to others as `me`.
    pub fn new(cfg: SessionConfig, max_peers: usize, me: PeerId, replica: R, now: u64) -> Self {
        Node {
            index: SyncIndex::from_items(replica.sync_items()),
            cfg,
            max_peers,
            me,
            replica,
            now,
            conns: BTreeMap::new(),
            dialing: BTreeSet::new(),
            inbound: BTreeSet::new(),
            out: VecDeque::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// The replica.
    pub fn replica(&self) -> &R {
        &self.replica
    }

    /// The replica, to write local changes (report them with [`NodeInput::Local`] once stored).
    pub fn replica_mut(&mut self) -> &mut R {
        &mut self.replica
    }

    /// Peers with an established connection.
    pub fn neighbours(&self) -> Vec<PeerId> {
        self.conns
            .values()
            .filter(|c| c.session.is_established())
            .filter_map(|c| c.session.remote())
            .collect()
    }

    /// Whether a reconciliation is running.
    pub fn is_syncing(&self) -> bool {
        self.conns.values().any(|c| c.session.is_syncing())
    }

    /// Bytes sent and received over every open connection.
    pub fn traffic(&self) -> (u64, u64) {
        self.conns.values().fold((0, 0), |(s, r), c| {
            let st = c.session.stats();
            (s + st.bytes_sent, r + st.bytes_received)
        })
    }

    /// Feeds one input at time `now` (ms).
    pub fn handle_input(&mut self, now: u64, input: NodeInput<'_>) {
        self.now = self.now.max(now);
        match input {
            NodeInput::Connected { conn, dialer, .. } => {
                let commons = self.replica.commons_id();
                let session = Session::new(self.cfg.clone(), self.me, commons, dialer, self.now);
                let deadline = self.now;
                self.conns.insert(conn, Conn { session, deadline });
                self.dirty.insert(conn);
            }
            NodeInput::Receive { conn, bytes } => self.session_input(conn, Input::Receive(bytes)),
            NodeInput::Buffered { conn, amount } => {
                self.session_input(conn, Input::Buffered(amount))
            }
            NodeInput::Disconnected { conn } => {
                if let Some(c) = self.conns.remove(&conn) {
                    self.dirty.remove(&conn);
                    if !c.session.is_closed() {
                        self.event(NodeEvent::Closed {
                            conn,
                            peer: c.session.remote(),
                            reason: CloseReason::Normal,
                            by_peer: true,
                        });
                    }
                }
            }
            NodeInput::Discovered(peer) => self.discovered(peer),
            NodeInput::DialFailed(peer) => {
                self.dialing.remove(&peer);
                self.inbound.remove(&peer);
            }
            NodeInput::SendSignal { to, payload } => self.event(NodeEvent::SignalViaRelay {
                to,
                dialer: self.dialing.contains(&to),
                payload: payload.to_vec(),
            }),
            NodeInput::RelaySignal {
                from,
                dialer,
                payload,
            } => self.relay_signal(from, dialer, payload),
            NodeInput::Local(ids) => self.gossip(ids, None),
            NodeInput::Timeout => {}
        }
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
    }

    /// The next thing to do; call until it returns [`NodeOutput::Timeout`].
    pub fn poll_output(&mut self) -> NodeOutput {
        loop {
            if let Some(o) = self.out.pop_front() {
                return o;
            }
            let Some(conn) = self.dirty.pop_first() else {
                let next = self.conns.values().map(|c| c.deadline).min();
                return NodeOutput::Timeout(next.unwrap_or(u64::MAX));
            };
            self.drain(conn);
        }
    }

    fn linked(&self, peer: &PeerId) -> bool {
        self.dialing.contains(peer)
            || self.inbound.contains(peer)
            || self
                .conns
                .values()
                .any(|c| c.session.remote() == Some(*peer))
    }

    fn slots_used(&self) -> usize {
        self.conns.len() + self.dialing.len() + self.inbound.len()
    }

    fn discovered(&mut self, peer: PeerId) {
        if peer == self.me || self.linked(&peer) || self.slots_used() >= self.max_peers {
            return;
        }
        self.dialing.insert(peer);
        self.event(NodeEvent::Dial { peer });
    }

    fn relay_signal(&mut self, from: PeerId, dialer: bool, payload: &[u8]) {
        if from == self.me {
            return;
        }
        if dialer {
            if self.dialing.contains(&from) {
                // Both sides dialed: the lower id stays the dialer.
                if self.me < from {
                    return;
                }
                self.dialing.remove(&from);
                self.event(NodeEvent::CancelDial { peer: from });
            } else if !self.inbound.contains(&from) {
                let connected = self
                    .conns
                    .values()
                    .any(|c| c.session.remote() == Some(from));
                if connected || self.slots_used() >= self.max_peers {
                    return;
                }
            }
            self.inbound.insert(from);
        } else if !self.dialing.contains(&from) {
            return;
        }
        self.event(NodeEvent::Signal {
            from,
            dialer,
            payload: payload.to_vec(),
        });
    }

    /// Pushes new changes to every established neighbour except `except`.
    fn gossip(&mut self, ids: &[ChangeId], except: Option<ConnId>) {
        for id in ids {
            if let Some(depth) = self.replica.depth(id) {
                self.index.insert(depth, *id);
            }
        }
        for (conn, c) in self.conns.iter_mut() {
            if Some(*conn) != except && c.session.is_established() {
                c.session.push(ids);
                self.dirty.insert(*conn);
            }
        }
    }

    fn session_input(&mut self, conn: ConnId, input: Input<'_>) {
        self.index.flush();
        let view = View {
            index: &self.index,
            changes: &self.replica,
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.handle_input(self.now, input, view);
            self.dirty.insert(conn);
        }
    }

    fn drain(&mut self, conn: ConnId) {
        let mut events = Vec::new();
        loop {
            self.index.flush();
            let view = View {
                index: &self.index,
                changes: &self.replica,
            };
            let Some(c) = self.conns.get_mut(&conn) else {
                break;
            };
            match c.session.poll_output(view) {
                Output::Transmit(bytes) => self.out.push_back(NodeOutput::Transmit { conn, bytes }),
                Output::Event(e) => events.push(e),
                Output::Timeout(t) => {
                    c.deadline = t;
                    break;
                }
            }
        }
        for e in events {
            self.on_event(conn, e);
        }
    }

    fn on_event(&mut self, conn: ConnId, e: Event) {
        let remote = self.conns.get(&conn).and_then(|c| c.session.remote());
        match e {
            Event::Established { peer } => {
                self.dialing.remove(&peer);
                self.inbound.remove(&peer);
                self.event(NodeEvent::Connected { conn, peer });
            }
            Event::Changes { changes, .. } => self.on_changes(conn, remote, changes),
            Event::Have(ids) => {
                let missing: Vec<ChangeId> = ids
                    .into_iter()
                    .filter(|id| !self.replica.contains(id))
                    .collect();
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session.want(&missing, false);
                    self.dirty.insert(conn);
                }
            }
            Event::Synced { .. } => self.event(NodeEvent::Synced { conn }),
            Event::Closed {
                reason, by_peer, ..
            } => {
                self.conns.remove(&conn);
                self.event(NodeEvent::Closed {
                    conn,
                    peer: remote,
                    reason,
                    by_peer,
                });
            }
            _ => {}
        }
    }

    fn on_changes(
        &mut self,
        conn: ConnId,
        peer: Option<PeerId>,
        changes: Vec<(ChangeId, Vec<u8>)>,
    ) {
        let mut applied = Vec::new();
        for (_, bytes) in changes {
            match self.replica.insert(&bytes) {
                Ok(ids) => applied.extend(ids),
                Err(e) => {
                    self.event(NodeEvent::Rejected {
                        peer,
                        detail: e.detail.clone(),
                    });
                    if e.peer_fault {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.session.close(CloseReason::Misbehaving, &e.detail);
                            self.dirty.insert(conn);
                        }
                        return self.gossip_applied(applied, conn);
                    }
                }
            }
        }
        self.gossip_applied(applied, conn);
    }

    fn gossip_applied(&mut self, applied: Vec<ChangeId>, from: ConnId) {
        if applied.is_empty() {
            return;
        }
        self.gossip(&applied, Some(from));
        self.event(NodeEvent::Applied(applied));
    }

    fn event(&mut self, e: NodeEvent) {
        self.out.push_back(NodeOutput::Event(e));
    }
}
