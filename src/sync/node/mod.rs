//! The gossip node: one replica's sync over a partial mesh of connections, sans-IO.
//!
//! The node owns the replica and one [`Session`] per open channel. The shell (browser, native
//! test, simulator) only moves bytes and signals:
//!
//! | shell does | node answers |
//! |---|---|
//! | a channel opened: [`NodeInput::Connected`] | hello, reconciliation, gossip on it |
//! | bytes arrived: [`NodeInput::Receive`] | [`NodeOutput::Transmit`], [`NodeEvent::Applied`] … |
//! | the channel's `bufferedAmount` changed: [`NodeInput::Buffered`] | more transmits (backpressure) |
//! | the relay or a BroadcastChannel announced a peer: [`NodeInput::Discovered`] | [`NodeEvent::Dial`] when it wants more neighbours |
//! | its RTCPeerConnection produced SDP/ICE for a peer: [`NodeInput::SendSignal`] | relays it through a common neighbour, or [`NodeEvent::SignalViaRelay`] |
//! | a signal came through the relay: [`NodeInput::RelaySignal`] | [`NodeEvent::Signal`] if it accepts the peer |
//! | local edits were signed and stored: [`NodeInput::Local`] | gossips them |
//!
//! Tabs of one browser can use the same path without WebRTC: the shell answers
//! [`NodeEvent::SignalViaRelay`] for a peer it sees on its BroadcastChannel by posting the payload
//! there, feeds what it receives as [`NodeInput::RelaySignal`], and once a dial is answered opens
//! a virtual channel (messages addressed by peer id on the BroadcastChannel) with
//! [`NodeInput::Connected`]. Admission, refusals and introductions then work as over WebRTC.
//!
//! Gossip follows Plumtree, with one tree per author: new changes are pushed eagerly along a
//! spanning tree of the mesh and announced lazily (ids only) on the other links; a duplicate
//! prunes a link from the tree, and a lazily announced change that does not arrive in time is
//! fetched and its link grafted back (`gossip.rs`). Sessions reconcile now and then, which
//! repairs anything gossip lost.

mod events;
mod gossip;
mod maintain;
mod missing;
mod peers;
mod presence;
mod signal;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::presence::PresenceConfig;
use super::session::{Input, Local, Output, Session, SessionConfig, SessionStats};
use super::{ChangeId, CloseReason, PeerId, Replica, SyncIndex, SyncKeys, View};
use crate::identity::AuthorId;
use missing::MissingSet;
use peers::PeerBook;
use presence::NodePresence;

/// A channel, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Tunables of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Most connections kept (established or being set up).
    pub max_peers: usize,
    /// The node dials while it has fewer connections than this (leaving room for newcomers).
    pub target_peers: usize,
    /// Per-connection tunables.
    pub session: SessionConfig,
    /// A peer whose misbehaviour score reaches this is disconnected and banned.
    pub score_bound: u64,
    /// How long a ban lasts.
    pub ban_ms: u64,
    /// How long a connection attempt may take.
    pub dial_timeout_ms: u64,
    /// Base delay before retrying a peer that failed (doubles per failure).
    pub retry_base_ms: u64,
    /// How long to wait for a lazily announced change before fetching it.
    pub graft_timeout_ms: u64,
    /// Interval between peer-address exchanges with neighbours.
    pub exchange_ms: u64,
    /// Interval of the node's housekeeping (dialing, expiries).
    pub tick_ms: u64,
    /// Interval at which a node at its target dials one more peer (and later closes one), so
    /// the mesh keeps mixing and healed partitions reconnect.
    pub rotate_ms: u64,
    /// Most peer addresses remembered.
    pub max_known: usize,
    /// Most peer addresses sent in one exchange.
    pub exchange_len: usize,
    /// Most lazily announced changes tracked at once.
    pub max_missing: usize,
    /// Presence (cursors): expiry, refresh, bounds.
    pub presence: PresenceConfig,
    /// How long fresh presence records gather before they are forwarded (per link, at most
    /// one presence message per this interval).
    pub presence_flush_ms: u64,
    /// Most presence records taken from one link per second (beyond, dropped without blame).
    pub presence_per_sec: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            max_peers: 8,
            target_peers: 6,
            session: SessionConfig::default(),
            score_bound: 100,
            ban_ms: 10 * 60_000,
            dial_timeout_ms: 15_000,
            retry_base_ms: 5_000,
            graft_timeout_ms: 400,
            exchange_ms: 30_000,
            tick_ms: 1_000,
            rotate_ms: 60_000,
            max_known: 256,
            exchange_len: 16,
            max_missing: 65_536,
            presence: PresenceConfig::default(),
            presence_flush_ms: 50,
            presence_per_sec: 256,
        }
    }
}

/// What the shell feeds a node.
#[derive(Debug, Clone, Copy)]
pub enum NodeInput<'a> {
    /// A channel opened. `dialer`: this side started it. `peer`: who the shell believes is on the
    /// other end (checked against its hello).
    Connected {
        /// The channel.
        conn: ConnId,
        /// True on the side that dialed.
        dialer: bool,
        /// The expected peer, when the shell knows it.
        peer: Option<PeerId>,
    },
    /// Bytes arrived on a channel (one data-channel message).
    Receive {
        /// The channel.
        conn: ConnId,
        /// The chunk.
        bytes: &'a [u8],
    },
    /// The channel's buffered amount (bytes handed over, not yet sent).
    Buffered {
        /// The channel.
        conn: ConnId,
        /// Its `bufferedAmount`.
        amount: usize,
    },
    /// The channel closed (by the peer or the network).
    Disconnected {
        /// The channel.
        conn: ConnId,
    },
    /// The shell learnt of a peer (signalling relay, BroadcastChannel).
    Discovered(PeerId),
    /// The shell's connection to `peer` could not be set up.
    DialFailed(PeerId),
    /// A signal (SDP, ICE) produced by the shell for `to`.
    SendSignal {
        /// The addressee.
        to: PeerId,
        /// The payload.
        payload: &'a [u8],
    },
    /// A message that arrived through the relay from another node's
    /// [`NodeEvent::SignalViaRelay`] (a signal, or a refusal with introductions).
    RelaySignal {
        /// Its producer.
        from: PeerId,
        /// True when `from` dials.
        dialer: bool,
        /// The payload, exactly as the other node emitted it.
        payload: &'a [u8],
    },
    /// Changes written locally, already applied to the replica and durably stored.
    Local(&'a [ChangeId]),
    /// A deadline passed.
    Timeout,
}

/// What a node asks of its shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutput {
    /// Send this chunk on this channel as one message.
    Transmit {
        /// The channel.
        conn: ConnId,
        /// The chunk.
        bytes: Vec<u8>,
    },
    /// Something happened or needs doing.
    Event(NodeEvent),
    /// Call again at this time (ms), or on new input.
    Timeout(u64),
}

/// Events of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// Open a connection to this peer (as the offering side); send its signals with
    /// [`NodeInput::SendSignal`].
    Dial {
        /// Whom.
        peer: PeerId,
    },
    /// Give up the connection attempt to this peer.
    CancelDial {
        /// Whom.
        peer: PeerId,
    },
    /// A signal for the shell's connection with `from` (create it as the answering side when
    /// `dialer` is true and none exists).
    Signal {
        /// Its producer.
        from: PeerId,
        /// True when `from` dials.
        dialer: bool,
        /// The payload.
        payload: Vec<u8>,
    },
    /// No neighbour can carry this: send it through the signalling relay to `to`, who feeds it
    /// to its node with [`NodeInput::RelaySignal`]. The payload is the node's own envelope
    /// around the shell's signal (docs/PROTOCOL.md), opaque to the shell.
    SignalViaRelay {
        /// The addressee.
        to: PeerId,
        /// True when this side dials.
        dialer: bool,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A connection finished its handshake.
    Connected {
        /// The channel.
        conn: ConnId,
        /// The peer.
        peer: PeerId,
    },
    /// A connection ended: close the channel once the transmits before this event are sent.
    Closed {
        /// The channel.
        conn: ConnId,
        /// The peer, if its hello arrived.
        peer: Option<PeerId>,
        /// Why.
        reason: CloseReason,
        /// True when the peer closed it.
        by_peer: bool,
    },
    /// Changes from peers were applied to the replica: store them.
    Applied(Vec<ChangeId>),
    /// A peer sent a change the replica refused.
    Rejected {
        /// The peer.
        peer: Option<PeerId>,
        /// Why.
        detail: String,
    },
    /// A reconciliation with a neighbour completed.
    Synced {
        /// The channel.
        conn: ConnId,
    },
    /// A peer passed the misbehaviour bound and is banned for a while.
    Banned {
        /// The peer id of the connection whose misbehaviour passed the bound.
        peer: PeerId,
        /// The key banned (every peer id of that key is refused while the ban lasts).
        key: AuthorId,
    },
    /// Presence records arrived, were cleared or expired: read them with [`Node::presence`].
    Presence,
}

/// Counters of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Bytes handed to the shell.
    pub bytes_sent: u64,
    /// Bytes received from the shell.
    pub bytes_received: u64,
    /// Changes from peers applied.
    pub applied: u64,
    /// Changes received that were already held.
    pub duplicates: u64,
    /// Changes refused by the replica.
    pub rejected: u64,
    /// Presence records refused (malformed, forged, oversized).
    pub presence_refused: u64,
}

/// One open channel.
struct Conn {
    session: Session,
    /// Who the shell said is there (before hello).
    expected: Option<PeerId>,
    /// Origins (authors) whose new changes are only announced on this link, not pushed: the
    /// link is not on their gossip tree. Every other origin's changes are pushed.
    lazy: BTreeSet<[u8; 32]>,
    /// The same origins in the order they became lazy, to bound the set.
    lazy_order: VecDeque<[u8; 32]>,
    /// When the session wants to be called again.
    deadline: u64,
    /// When it opened (young connections are not rotated away).
    since: u64,
}

/// A gossip node. See the module documentation.
pub struct Node<R: Replica> {
    cfg: NodeConfig,
    keys: SyncKeys,
    /// Connections opened so far: numbers each connection's nonce.
    nonces: u64,
    me: PeerId,
    replica: R,
    index: SyncIndex,
    now: u64,
    conns: BTreeMap<ConnId, Conn>,
    book: PeerBook,
    missing: MissingSet,
    out: VecDeque<NodeOutput>,
    dirty: BTreeSet<ConnId>,
    next_tick: u64,
    next_exchange: u64,
    next_rotate: u64,
    /// Rotations so far: varies the pseudo-random choices.
    epoch: u64,
    stats: NodeStats,
    presence: NodePresence,
}

impl<R: Replica> Node<R> {
    /// A node for `replica`, authenticating with `keys` (its peer id is `keys.peer()`).
    pub fn new(cfg: NodeConfig, keys: SyncKeys, replica: R, now: u64) -> Self {
        let me = keys.peer();
        let index = SyncIndex::from_items(replica.sync_items());
        Node {
            presence: NodePresence::new(cfg.presence.clone()),
            book: PeerBook::new(cfg.max_known),
            next_exchange: now + cfg.exchange_ms,
            next_rotate: now + cfg.rotate_ms,
            epoch: 0,
            cfg,
            keys,
            nonces: 0,
            me,
            replica,
            index,
            now,
            conns: BTreeMap::new(),
            missing: MissingSet::default(),
            out: VecDeque::new(),
            dirty: BTreeSet::new(),
            next_tick: now,
            stats: NodeStats::default(),
        }
    }

    /// This node's peer id.
    pub fn me(&self) -> PeerId {
        self.me
    }

    /// The replica.
    pub fn replica(&self) -> &R {
        &self.replica
    }

    /// The replica, to write local changes (then report them with [`NodeInput::Local`]).
    pub fn replica_mut(&mut self) -> &mut R {
        &mut self.replica
    }

    /// Counters so far.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The peers with an established connection.
    pub fn neighbours(&self) -> Vec<PeerId> {
        self.conns
            .values()
            .filter(|c| c.session.is_established())
            .filter_map(|c| c.session.remote())
            .collect()
    }

    /// The neighbours that changes of `origin` (an author key) are pushed to eagerly: the links
    /// of that origin's gossip tree at this node.
    pub fn eager_neighbours(&self, origin: &[u8; 32]) -> Vec<PeerId> {
        self.conns
            .values()
            .filter(|c| !c.lazy.contains(origin) && c.session.is_established())
            .filter_map(|c| c.session.remote())
            .collect()
    }

    /// Each open channel's peer (once known) and counters, for diagnostics.
    pub fn channels(&self) -> Vec<(ConnId, Option<PeerId>, SessionStats)> {
        self.conns
            .iter()
            .map(|(id, c)| (*id, c.session.remote(), c.session.stats()))
            .collect()
    }

    /// The number of open channels (established or in handshake).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Whether a reconciliation with some neighbour is still running.
    pub fn is_syncing(&self) -> bool {
        self.conns.values().any(|c| c.session.is_syncing())
    }

    /// The current misbehaviour score of a key.
    pub fn score(&self, key: &AuthorId) -> u64 {
        self.book.score(key, self.now)
    }

    /// The authenticated key of an established neighbour.
    pub fn key_of(&self, peer: &PeerId) -> Option<AuthorId> {
        self.conn_of(peer)
            .and_then(|c| self.conns.get(&c))
            .and_then(|c| c.session.remote_key())
    }

    /// Feeds one input at time `now` (ms).
    pub fn handle_input(&mut self, now: u64, input: NodeInput<'_>) {
        self.now = self.now.max(now);
        match input {
            NodeInput::Connected { conn, dialer, peer } => self.on_connected(conn, dialer, peer),
            NodeInput::Receive { conn, bytes } => {
                self.stats.bytes_received += bytes.len() as u64;
                self.session_input(conn, Input::Receive(bytes));
            }
            NodeInput::Buffered { conn, amount } => {
                self.session_input(conn, Input::Buffered(amount))
            }
            NodeInput::Disconnected { conn } => self.on_disconnected(conn),
            NodeInput::Discovered(peer) => {
                self.book.learn(peer, None, self.now);
                self.next_tick = self.now;
            }
            NodeInput::DialFailed(peer) => {
                self.book.failed(&peer, self.now, self.cfg.retry_base_ms);
                self.next_tick = self.now;
            }
            NodeInput::SendSignal { to, payload } => self.send_signal(to, payload),
            NodeInput::RelaySignal {
                from,
                dialer,
                payload,
            } => self.on_relay_message(from, dialer, payload),
            NodeInput::Local(ids) => self.on_local(ids),
            NodeInput::Timeout => {}
        }
        self.run_timers();
    }

    /// The next thing to do. Call until it returns [`NodeOutput::Timeout`].
    pub fn poll_output(&mut self) -> NodeOutput {
        loop {
            if let Some(o) = self.out.pop_front() {
                if let NodeOutput::Transmit { bytes, .. } = &o {
                    self.stats.bytes_sent += bytes.len() as u64;
                }
                return o;
            }
            let Some(conn) = self.dirty.pop_first() else {
                return NodeOutput::Timeout(self.next_deadline());
            };
            self.drain(conn);
        }
    }

    fn on_connected(&mut self, conn: ConnId, dialer: bool, peer: Option<PeerId>) {
        if self.conns.contains_key(&conn) {
            return;
        }
        if let Some(p) = peer {
            if self.book.is_banned(&p, self.now) {
                self.out.push_back(NodeOutput::Event(NodeEvent::Closed {
                    conn,
                    peer,
                    reason: CloseReason::Misbehaving,
                    by_peer: false,
                }));
                return;
            }
        }
        self.nonces += 1;
        let local = Local {
            keys: self.keys.clone(),
            nonce: self.keys.nonce(self.nonces),
            commons: self.replica.commons_id(),
            items: self.index.len() as u64,
        };
        let session = Session::new(self.cfg.session.clone(), local, dialer, self.now);
        self.conns.insert(
            conn,
            Conn {
                session,
                expected: peer,
                lazy: BTreeSet::new(),
                lazy_order: VecDeque::new(),
                deadline: self.now,
                since: self.now,
            },
        );
        self.dirty.insert(conn);
    }

    fn on_disconnected(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            let peer = c.session.remote().or(c.expected);
            self.forget_conn(conn);
            if !c.session.is_closed() {
                self.out.push_back(NodeOutput::Event(NodeEvent::Closed {
                    conn,
                    peer,
                    reason: CloseReason::Normal,
                    by_peer: true,
                }));
            }
            if let Some(p) = peer {
                if !c.session.is_established() {
                    self.book.failed(&p, self.now, self.cfg.retry_base_ms);
                }
            }
        }
        self.next_tick = self.now;
    }

    /// Drops every reference to a connection that is gone.
    fn forget_conn(&mut self, conn: ConnId) {
        self.book.conn_gone(conn);
        self.dirty.remove(&conn);
        self.missing.forget_conn(conn);
        self.presence.forget_conn(conn);
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

    /// Takes a session's outputs, then acts on its events.
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
                Output::Transmit(bytes) => {
                    self.out.push_back(NodeOutput::Transmit { conn, bytes });
                }
                Output::Event(e) => events.push(e),
                Output::Timeout(t) => {
                    c.deadline = t;
                    break;
                }
            }
        }
        for e in events {
            self.on_session_event(conn, e);
        }
    }

    fn next_deadline(&self) -> u64 {
        let conns = self.conns.values().map(|c| c.deadline);
        let missing = self.missing.next_due();
        conns
            .chain(missing)
            .chain(self.presence.deadline())
            .chain([self.next_tick, self.next_exchange])
            .min()
            .unwrap_or(u64::MAX)
    }

    fn event(&mut self, e: NodeEvent) {
        self.out.push_back(NodeOutput::Event(e));
    }

    /// The established connection to `peer`, if any.
    fn conn_of(&self, peer: &PeerId) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|(_, c)| c.session.is_established() && c.session.remote() == Some(*peer))
            .map(|(id, _)| *id)
    }

    fn established_count(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.session.is_established())
            .count()
    }
}

#[cfg(test)]
mod tests;
