//! One connection's sync protocol as a sans-IO state machine.
//!
//! The shell feeds received chunks, the buffered amount of its channel and the time through
//! [`Session::handle_input`], and drains [`Session::poll_output`] until it returns
//! [`Output::Timeout`]: chunks to transmit, events for the node, and when to call again. The
//! session reads the replica only through the [`View`] passed to each call and holds no reference,
//! clock, randomness or I/O of its own.
//!
//! Life of a connection: both sides send hello (version, commons id, peer id, number of changes)
//! until the other acknowledges it; then the side that holds more changes (the dialer on a tie)
//! leads: it reconciles change ids with negentropy, pushes what the peer lacks and asks for what
//! it lacks (both in dependency order). The side that holds more usually has most of the
//! difference, which it can push without being asked, so leading from there saves the requests.
//! Then new changes are gossiped as they come (eagerly pushed or lazily announced, as the node
//! decides), keepalives flow, and the leader reconciles again now and then to repair anything
//! lost on the way.

mod recon;
mod transfer;

use std::collections::VecDeque;

use super::auth::{transcript, HelloFields, SyncKeys};
use super::frame::{FrameError, Outbox, Priority, Reassembler, ReassemblyLimits};
use super::wire::{self, Bytes, CloseReason, Hello, Message, PROTOCOL_VERSION};
use super::{change_id, ChangeId, PeerId, View};
use crate::identity::AuthorId;
use recon::Active;
use transfer::{Outgoing, Wants};

/// Who this side is, for the hello.
#[derive(Debug, Clone)]
pub struct Local {
    /// Our key, peer-id salt and nonce secret (our peer id is derived from them).
    pub keys: SyncKeys,
    /// This connection's fresh nonce ([`SyncKeys::nonce`] of a connection counter).
    pub nonce: [u8; 32],
    /// The commons we replicate.
    pub commons: ChangeId,
    /// How many changes we hold (the side that holds more leads reconciliation).
    pub items: u64,
}

/// Tunables of a session. The defaults suit browsers' data channels.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Largest chunk handed to the shell (one data-channel message).
    pub chunk_size: usize,
    /// Most bytes handed to the shell and not yet drained from its channel (backpressure).
    pub max_in_flight: usize,
    /// Memory bounds on what the peer sends.
    pub reassembly: ReassemblyLimits,
    /// Most bytes in one reconciliation message (negentropy's frame size limit, ≥ 4096).
    pub recon_frame: u64,
    /// Most rounds in one reconciliation before the peer is considered hostile.
    pub max_recon_rounds: u32,
    /// Most ids wanted per message.
    pub want_batch: usize,
    /// Most eager pushes queued for this peer; beyond, they are dropped and repaired by a
    /// reconciliation.
    pub max_push_queue: usize,
    /// How long new changes gather before a lazy announcement goes out.
    pub announce_delay_ms: u64,
    /// Interval between keepalive pings.
    pub keepalive_ms: u64,
    /// Close when nothing arrived for this long.
    pub idle_timeout_ms: u64,
    /// Close when the handshake did not finish within this long.
    pub handshake_timeout_ms: u64,
    /// Interval between reconciliations started by the leader once in sync (anti-entropy).
    pub anti_entropy_ms: u64,
    /// Retransmission timeout before any round trip was measured.
    pub initial_rto_ms: u64,
    /// Bounds on the retransmission timeout.
    pub min_rto_ms: u64,
    /// Upper bound of the retransmission timeout (after backoff).
    pub max_rto_ms: u64,
    /// Times a request is repeated without progress before the peer is given up.
    pub max_retries: u32,
    /// Most messages accepted from the peer per second; beyond, they are dropped unread and
    /// count against the peer as a flood.
    pub max_messages_per_sec: u32,
    /// Feature bits announced in the hello ([`wire::features`]).
    pub features: u32,
    /// Most bytes queued for the peer and not yet handed to the shell. Replies to the peer's
    /// requests count; bulk transfers are read one message at a time, so they stay far below.
    /// A peer whose requests pass it is penalised and closed.
    pub max_outbox: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            chunk_size: super::frame::DEFAULT_CHUNK_SIZE,
            max_in_flight: 1 << 20,
            reassembly: ReassemblyLimits::default(),
            recon_frame: 64 * 1024,
            max_recon_rounds: 1000,
            want_batch: 1024,
            max_push_queue: 4096,
            announce_delay_ms: 20,
            keepalive_ms: 5_000,
            idle_timeout_ms: 20_000,
            handshake_timeout_ms: 15_000,
            anti_entropy_ms: 60_000,
            initial_rto_ms: 1_000,
            min_rto_ms: 200,
            max_rto_ms: 10_000,
            max_retries: 6,
            max_messages_per_sec: 2_000,
            features: wire::features::ALL,
            max_outbox: 2 << 20,
        }
    }
}

/// What the shell feeds a session.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A chunk received from the peer.
    Receive(&'a [u8]),
    /// The channel's current buffered amount (bytes handed over and not yet sent).
    Buffered(usize),
    /// A deadline given by [`Output::Timeout`] passed (or just: time moved on).
    Timeout,
}

/// What a session asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this chunk to the peer as one message.
    Transmit(Vec<u8>),
    /// Something happened.
    Event(Event),
    /// Nothing more to do now: call again at this time (ms), or on new input.
    Timeout(u64),
}

/// Ways a peer can break the protocol that count against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offence {
    /// Bytes that do not follow the protocol (the session closes).
    Malformed(String),
    /// A message type this build does not know (ignored).
    UnknownMessage,
    /// It did not deliver what it said it had (the session closes).
    Unresponsive,
    /// It sent more messages per second than the bound (reported once per 100 dropped).
    Flood,
    /// It sent a reconciliation query while our reply to its previous one had not left yet
    /// (at most one outstanding query per session); the query is dropped.
    QueryFlood,
    /// Its requests made the bytes queued for it pass [`SessionConfig::max_outbox`]: the
    /// session closes.
    Overload,
}

/// What happened on a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Hellos were exchanged: the peer speaks our version about our commons, and proved that it
    /// holds `key` on this very connection.
    Established {
        /// The peer's id (derived from its key).
        peer: PeerId,
        /// The peer's authenticated key: scores and bans attach to it.
        key: AuthorId,
    },
    /// Changes arrived; the node inserts them into the replica.
    Changes {
        /// Each change's id and bytes.
        changes: Vec<(ChangeId, Vec<u8>)>,
        /// True for eager gossip, false for answers and reconciliation transfers.
        pushed: bool,
    },
    /// The peer announced new changes lazily.
    Have(Vec<ChangeId>),
    /// The peer missed these changes announced lazily, and asks to be pushed new changes of
    /// their origins eagerly again (they are sent at once).
    Graft(Vec<ChangeId>),
    /// The peer asks not to be pushed new changes of these origins (authors) eagerly.
    Prune(Vec<[u8; 32]>),
    /// The peer told us some of its neighbours.
    Peers(Vec<PeerId>),
    /// A signal to relay or for us.
    Signal {
        /// Its producer.
        from: PeerId,
        /// Its addressee.
        to: PeerId,
        /// True when `from` dials.
        dialer: bool,
        /// The opaque payload.
        payload: Vec<u8>,
    },
    /// Presence records arrived (unchecked: the node checks them).
    Presence(Vec<Vec<u8>>),
    /// `to` refused a connection from `from`.
    Refuse {
        /// The peer that dialed.
        from: PeerId,
        /// The peer that refused.
        to: PeerId,
    },
    /// A reconciliation finished and its transfers completed.
    Synced {
        /// Changes we had that the peer lacked (sent by us, or announced by the peer's Done).
        sent: usize,
        /// Changes the peer had that we lacked (received).
        received: usize,
    },
    /// The peer misbehaved.
    Offence(Offence),
    /// The session is over. Transmit what is left, then close the channel.
    Closed {
        /// Why.
        reason: CloseReason,
        /// True when the peer closed it.
        by_peer: bool,
        /// Detail for logs.
        detail: String,
    },
}

/// Counters of a session, for benchmarks and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Bytes of chunks transmitted.
    pub bytes_sent: u64,
    /// Bytes of chunks received.
    pub bytes_received: u64,
    /// Messages received whole.
    pub messages_received: u64,
    /// Changes sent.
    pub changes_sent: u64,
    /// Changes received.
    pub changes_received: u64,
    /// Reconciliation rounds this side started (queries sent, retransmissions included).
    pub recon_queries: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshake,
    Open,
    Closed,
}

/// The handshake's progress.
struct HelloState {
    /// Our nonce for this connection.
    nonce: [u8; 32],
    /// The peer's nonce, from its first hello.
    their_nonce: Option<[u8; 32]>,
    got_theirs: bool,
    they_have_ours: bool,
    next_send: u64,
    attempt: u32,
    deadline: u64,
}

/// Smoothed round-trip time, for retransmission timeouts.
struct Rtt {
    srtt: Option<u64>,
    var: u64,
}

/// The initiator's side of reconciliation.
struct ReconState {
    next_id: u32,
    active: Option<Active>,
    next_at: Option<u64>,
    /// Finished reconciliation awaiting its wanted changes: (sent, received).
    awaiting: Option<(usize, usize)>,
}

/// One connection's sync protocol. See the module documentation.
pub struct Session {
    cfg: SessionConfig,
    keys: SyncKeys,
    me: PeerId,
    commons: ChangeId,
    items: u64,
    dialer: bool,
    /// This side leads reconciliation (decided when the hellos are exchanged).
    leads: bool,
    now: u64,
    state: State,
    remote: Option<PeerId>,
    /// The peer id the peer's first hello claims (derived from its key, not yet proven).
    claimed: Option<PeerId>,
    /// The peer's key, once its hello authenticated it.
    remote_key: Option<AuthorId>,
    /// The feature bits of the peer's hello.
    remote_features: u32,
    hello: HelloState,
    outbox: Outbox,
    reasm: Reassembler,
    in_flight: usize,
    events: VecDeque<Event>,
    recon: ReconState,
    out: Outgoing,
    wants: Wants,
    rtt: Rtt,
    last_recv: u64,
    next_ping: u64,
    stats: SessionStats,
    /// Messages received in the current one-second window: (window start, count).
    rate: (u64, u32),
    /// `bytes_sent` at which our last reconciliation reply will have left: until then another
    /// query from the peer is one too many.
    reply_mark: u64,
    /// The (reconciliation, round) of the last query answered.
    last_query: Option<(u32, u32)>,
}

mod io;

impl Session {
    /// A new session on a channel that just opened. `dialer` is true on the side that started
    /// the connection (it leads reconciliation when both hold as many changes).
    pub fn new(cfg: SessionConfig, local: Local, dialer: bool, now: u64) -> Self {
        let Local {
            keys,
            nonce,
            commons,
            items,
        } = local;
        let me = keys.peer();
        let outbox = Outbox::new(cfg.chunk_size);
        let reasm = Reassembler::new(cfg.reassembly);
        let mut s = Session {
            hello: HelloState {
                nonce,
                their_nonce: None,
                got_theirs: false,
                they_have_ours: false,
                next_send: now,
                attempt: 0,
                deadline: now + cfg.handshake_timeout_ms,
            },
            cfg,
            keys,
            me,
            commons,
            items,
            dialer,
            leads: dialer,
            now,
            state: State::Handshake,
            remote: None,
            claimed: None,
            remote_key: None,
            remote_features: 0,
            outbox,
            reasm,
            in_flight: 0,
            events: VecDeque::new(),
            recon: ReconState {
                next_id: 1,
                active: None,
                next_at: None,
                awaiting: None,
            },
            out: Outgoing::default(),
            wants: Wants::default(),
            rtt: Rtt { srtt: None, var: 0 },
            last_recv: now,
            next_ping: u64::MAX,
            stats: SessionStats::default(),
            rate: (now, 0),
            reply_mark: 0,
            last_query: None,
        };
        s.send_hello();
        s
    }

    /// The peer's id, once its hello authenticated it.
    pub fn remote(&self) -> Option<PeerId> {
        self.remote
    }

    /// The peer's key, once its hello authenticated it (never before: a claimed id is not
    /// evidence of anything).
    pub fn remote_key(&self) -> Option<AuthorId> {
        self.remote_key
    }

    /// True on the side that started the connection.
    pub fn is_dialer(&self) -> bool {
        self.dialer
    }

    /// True once hellos were exchanged and until the session closes.
    pub fn is_established(&self) -> bool {
        self.state == State::Open
    }

    /// True once the session closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True while a reconciliation this side started, or its transfers, are unfinished.
    pub fn is_syncing(&self) -> bool {
        self.recon.active.is_some() || self.recon.awaiting.is_some()
    }

    /// Counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Bytes queued for this peer and not yet handed to the shell, plus those in flight.
    pub fn backlog(&self) -> usize {
        self.outbox.queued_bytes() + self.in_flight
    }

    /// Queues new changes for eager push. When too many wait, they are dropped and a
    /// reconciliation repairs the gap instead, so a slow peer costs bounded memory.
    pub fn push(&mut self, ids: &[ChangeId]) {
        if self.state != State::Open {
            return;
        }
        if self.out.push.len() + ids.len() > self.cfg.max_push_queue {
            self.out.push.clear();
            self.request_reconcile();
            return;
        }
        self.out.push.extend(ids.iter().copied());
    }

    /// Queues new changes for a lazy announcement.
    pub fn announce(&mut self, ids: &[ChangeId]) {
        if self.state != State::Open {
            return;
        }
        if self.out.announce.len() + ids.len() > self.cfg.max_push_queue {
            self.out.announce.clear();
            self.request_reconcile();
            return;
        }
        self.out.announce.extend_from_slice(ids);
        if self.out.announce_due.is_none() {
            self.out.announce_due = Some(self.now + self.cfg.announce_delay_ms);
        }
    }

    /// Asks the peer for changes (`graft`: and to push eagerly to us again).
    pub fn want(&mut self, ids: &[ChangeId], graft: bool) {
        if self.state != State::Open || ids.is_empty() {
            return;
        }
        let ids: Vec<[u8; 32]> = ids.iter().map(|id| id.0).collect();
        self.send(&Message::Want { ids, graft }, Priority::Control);
    }

    /// Asks the peer to stop pushing changes of these origins eagerly.
    pub fn prune(&mut self, origins: Vec<[u8; 32]>) {
        if self.state == State::Open && !origins.is_empty() {
            self.send(&Message::Prune(origins), Priority::Control);
        }
    }

    /// Tells the peer some of our neighbours.
    pub fn send_peers(&mut self, peers: &[PeerId]) {
        if self.state == State::Open {
            let ids = peers.iter().map(|p| p.0).collect();
            self.send(&Message::Peers(ids), Priority::Control);
        }
    }

    /// Sends a signal (ours, or one we relay).
    pub fn send_signal(&mut self, from: PeerId, to: PeerId, dialer: bool, payload: &[u8]) {
        if self.state == State::Open {
            let msg = Message::Signal(wire::Signal {
                from: from.0,
                to: to.0,
                dialer,
                payload: Bytes(payload),
            });
            self.send(&msg, Priority::Control);
        }
    }

    /// True when the peer announced that it takes presence messages.
    pub fn takes_presence(&self) -> bool {
        self.state == State::Open && self.remote_features & wire::features::PRESENCE != 0
    }

    /// Sends presence records, if the peer takes them (older peers would count an unknown
    /// message against us).
    pub fn send_presence(&mut self, records: &[&[u8]]) {
        if self.takes_presence() && !records.is_empty() {
            let msg = Message::Presence(records.iter().map(|r| Bytes(r)).collect());
            self.send(&msg, Priority::Control);
        }
    }

    /// Tells the peer that `to` refuses a connection from `from`.
    pub fn send_refuse(&mut self, from: PeerId, to: PeerId) {
        if self.state == State::Open {
            let msg = Message::Refuse {
                from: from.0,
                to: to.0,
            };
            self.send(&msg, Priority::Control);
        }
    }

    /// Starts a reconciliation as soon as the current one (if any) ends.
    pub fn request_reconcile(&mut self) {
        self.recon.next_at = Some(self.now);
    }

    /// Closes the session: a close message is queued and [`Event::Closed`] follows it.
    pub fn close(&mut self, reason: CloseReason, detail: &str) {
        if self.state == State::Closed {
            return;
        }
        self.outbox.clear();
        self.out.clear();
        self.wants = Wants::default();
        self.send(&Message::Close { reason, detail }, Priority::Control);
        self.state = State::Closed;
        self.events.push_back(Event::Closed {
            reason,
            by_peer: false,
            detail: detail.to_string(),
        });
    }

    fn fail(&mut self, reason: CloseReason, detail: String) {
        if reason == CloseReason::Malformed {
            self.events
                .push_back(Event::Offence(Offence::Malformed(detail.clone())));
        }
        self.close(reason, &detail);
    }

    fn send(&mut self, msg: &Message<'_>, priority: Priority) {
        self.outbox.push(msg.encode(), priority);
        if self.outbox.queued_bytes() > self.cfg.max_outbox && self.state == State::Open {
            // Only the peer's requests grow the outbox this far (our own sends are paced).
            self.events.push_back(Event::Offence(Offence::Overload));
            let detail = format!(
                "more than {} bytes queued for the peer",
                self.cfg.max_outbox
            );
            self.close(CloseReason::Misbehaving, &detail);
        }
    }

    fn send_hello(&mut self) {
        let proof = self.hello.their_nonce.and_then(|n| self.proof(&n));
        let hello = Hello {
            version: PROTOCOL_VERSION,
            commons: self.commons.0,
            peer: self.me.0,
            ack: proof.is_some(),
            items: self.items,
            features: self.cfg.features,
            nonce: self.hello.nonce,
            key: self.keys.key().0,
            salt: self.keys.salt(),
            proof,
        };
        self.send(&Message::Hello(hello), Priority::Control);
        let rto = self.backoff(self.hello.attempt);
        self.hello.attempt += 1;
        self.hello.next_send = self.now + rto;
    }

    /// Our signature over this connection's transcript, given the peer's nonce. The peer's id
    /// is the one its hello proved, or (before that) the one that hello claims: a signature
    /// addressed to an id that turns out false authenticates nothing anywhere else.
    fn proof(&self, their_nonce: &[u8; 32]) -> Option<wire::Sig> {
        let to = self.remote.or(self.claimed)?;
        let key = self.keys.key().0;
        let salt = self.keys.salt();
        let t = transcript(&HelloFields {
            version: PROTOCOL_VERSION,
            commons: &self.commons,
            key: &key,
            salt: &salt,
            nonce: &self.hello.nonce,
            to: &to,
            to_nonce: their_nonce,
            items: self.items,
            features: self.cfg.features,
        });
        Some(wire::Sig(self.keys.sign(&t)))
    }

    fn rto(&self) -> u64 {
        let base = match self.rtt.srtt {
            Some(srtt) => srtt + 4 * self.rtt.var,
            None => self.cfg.initial_rto_ms,
        };
        base.clamp(self.cfg.min_rto_ms, self.cfg.max_rto_ms)
    }

    fn backoff(&self, attempt: u32) -> u64 {
        (self.rto() << attempt.min(16)).min(self.cfg.max_rto_ms)
    }

    fn sample_rtt(&mut self, sample: u64) {
        match self.rtt.srtt {
            None => {
                self.rtt.srtt = Some(sample);
                self.rtt.var = sample / 2;
            }
            Some(srtt) => {
                self.rtt.var = (3 * self.rtt.var + srtt.abs_diff(sample)) / 4;
                self.rtt.srtt = Some((7 * srtt + sample) / 8);
            }
        }
    }
}

impl From<FrameError> for Offence {
    fn from(e: FrameError) -> Self {
        Offence::Malformed(e.to_string())
    }
}

#[cfg(test)]
mod tests;
