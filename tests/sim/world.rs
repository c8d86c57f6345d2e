//! The simulated world: peers (honest nodes, garbage senders, crashed ones), the network, and
//! the shell logic that connects them.

use std::collections::{BTreeMap, BTreeSet};

use peer_commons::change::{ChangeId, Charter, GovernanceParams};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use peer_commons::sync::{
    ConnId, Node, NodeConfig, NodeEvent, NodeInput, NodeOutput, PeerId, SyncKeys,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::garbage::Garbage;
use super::net::{Ev, LinkSpec, Net, Queue, Time};

mod actions;
mod observe;

/// Settings of a world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub link: LinkSpec,
    pub node: NodeConfig,
    /// One-way delay of a signal through the relay.
    pub relay_ms: u64,
    /// Time from answer to open channel (ICE + DTLS).
    pub connect_ms: u64,
    /// Time before an impossible connection attempt fails.
    pub ice_fail_ms: u64,
    /// Time before the peers of a crashed node see its channels close.
    pub dead_detect_ms: u64,
    /// Peers a joining node learns from the relay.
    pub bootstrap: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            link: LinkSpec::default(),
            node: NodeConfig::default(),
            relay_ms: 40,
            connect_ms: 60,
            ice_fail_ms: 3_000,
            dead_detect_ms: 5_000,
            bootstrap: 4,
        }
    }
}

/// An honest peer: a node over a real replica, and the changes it stored durably.
pub struct Honest {
    pub node: Node<Commons>,
    pub disk: Vec<Vec<u8>>,
    secret: [u8; 32],
    incarnation: u32,
    pending: BTreeSet<PeerId>,
    next_wake: Time,
}

/// A crashed peer: only its stored changes survive.
pub struct Stored {
    pub disk: Vec<Vec<u8>>,
    secret: [u8; 32],
    incarnation: u32,
}

/// A participant of the world.
pub enum Slot {
    Honest(Box<Honest>),
    Garbage(Box<Garbage>),
    Down(Box<Stored>),
}

/// The world. See the module documentation.
pub struct World {
    pub cfg: WorldConfig,
    pub now: Time,
    pub rng: ChaCha8Rng,
    q: Queue,
    pub net: Net,
    pub slots: Vec<Slot>,
    ids: BTreeMap<PeerId, usize>,
    pub commons: ChangeId,
    pub genesis: Vec<u8>,
    /// Every change an honest peer wrote (and stored).
    pub written: BTreeSet<ChangeId>,
    /// How many honest nodes banned each peer.
    pub bans: BTreeMap<PeerId, usize>,
    /// Connections honest nodes closed, by peer and reason.
    pub closes: BTreeMap<(PeerId, peer_commons::sync::CloseReason), usize>,
}

/// Peer `index`'s sync keys in one incarnation (a tab): its identity, and per-tab random bytes
/// (here derived, so runs repeat) that give the tab its peer id and nonces.
pub fn sync_keys(index: usize, incarnation: u32) -> SyncKeys {
    let mut h = blake3::Hasher::new();
    h.update(&secret_of(index));
    h.update(&incarnation.to_le_bytes());
    SyncKeys::new(
        Identity::from_secret(secret_of(index)),
        *h.finalize().as_bytes(),
    )
}

fn secret_of(index: usize) -> [u8; 32] {
    *blake3::hash(&(index as u64).to_le_bytes()).as_bytes()
}

impl World {
    /// A world whose peer 0 founds the commons; `n` honest peers in all, none connected yet.
    pub fn new(seed: u64, cfg: WorldConfig, n: usize) -> Self {
        let charter = Charter {
            title: "sim".into(),
            purpose: String::new(),
            licence: "CC-BY-SA-4.0".into(),
            params: GovernanceParams::default(),
            fork_of: None,
        };
        let secret = secret_of(0);
        let (founder, genesis) =
            Commons::create(Identity::from_secret(secret), 0, charter, 0).expect("genesis");
        let mut w = World {
            cfg,
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            q: Queue::default(),
            net: Net::default(),
            slots: Vec::new(),
            ids: BTreeMap::new(),
            commons: genesis.id,
            genesis: genesis.bytes.clone(),
            written: BTreeSet::from([genesis.id]),
            bans: BTreeMap::new(),
            closes: BTreeMap::new(),
        };
        w.add_honest_with(founder, secret, vec![genesis.bytes]);
        for _ in 1..n {
            w.add_honest();
        }
        w
    }

    fn add_honest_with(&mut self, replica: Commons, secret: [u8; 32], disk: Vec<Vec<u8>>) -> usize {
        let i = self.slots.len();
        let keys = sync_keys(i, 0);
        let id = keys.peer();
        let node = Node::new(self.cfg.node.clone(), keys, replica, self.now);
        self.slots.push(Slot::Honest(Box::new(Honest {
            node,
            disk,
            secret,
            incarnation: 0,
            pending: BTreeSet::new(),
            next_wake: Time::MAX,
        })));
        self.ids.insert(id, i);
        self.input(i, NodeInput::Timeout);
        i
    }

    /// Adds an honest peer that holds the genesis (it opened the commons' link).
    pub fn add_honest(&mut self) -> usize {
        let secret = secret_of(self.slots.len());
        let mut replica = Commons::join(self.commons, Some((Identity::from_secret(secret), 0)));
        replica.insert(&self.genesis).expect("genesis");
        self.add_honest_with(replica, secret, vec![self.genesis.clone()])
    }

    /// Adds a peer that sends garbage.
    pub fn add_garbage(&mut self, mode: super::garbage::Mode) -> usize {
        let i = self.slots.len();
        let keys = sync_keys(i, 0);
        let id = keys.peer();
        self.slots.push(Slot::Garbage(Box::new(Garbage::new(
            keys,
            self.commons,
            mode,
        ))));
        self.ids.insert(id, i);
        self.q.push(self.now + 100, Ev::Wake { at: i });
        i
    }

    pub fn id_of(&self, i: usize) -> Option<PeerId> {
        match &self.slots[i] {
            Slot::Honest(h) => Some(h.node.me()),
            Slot::Garbage(g) => Some(g.id),
            Slot::Down(_) => None,
        }
    }

    pub fn honest(&self, i: usize) -> Option<&Honest> {
        match &self.slots[i] {
            Slot::Honest(h) => Some(h),
            _ => None,
        }
    }

    pub fn honest_indices(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|i| self.honest(*i).is_some())
            .collect()
    }

    /// Feeds an input to an honest node and handles its outputs.
    pub fn input(&mut self, i: usize, input: NodeInput<'_>) {
        let now = self.now;
        if let Slot::Honest(h) = &mut self.slots[i] {
            h.node.handle_input(now, input);
            self.drain(i);
        }
    }

    fn drain(&mut self, i: usize) {
        let mut events = Vec::new();
        loop {
            let World {
                slots,
                net,
                q,
                rng,
                cfg,
                now,
                ..
            } = self;
            let Slot::Honest(h) = &mut slots[i] else {
                return;
            };
            match h.node.poll_output() {
                NodeOutput::Transmit { conn, bytes } => {
                    net.send(*now, conn, bytes, &cfg.link, rng, q)
                }
                NodeOutput::Event(e) => events.push(e),
                NodeOutput::Timeout(t) => {
                    let t = t.max(*now + 1);
                    if t < h.next_wake {
                        h.next_wake = t;
                        q.push(t, Ev::Wake { at: i });
                    }
                    break;
                }
            }
        }
        for e in events {
            self.on_event(i, e);
        }
    }

    fn pending_mut(&mut self, i: usize) -> Option<&mut BTreeSet<PeerId>> {
        match &mut self.slots[i] {
            Slot::Honest(h) => Some(&mut h.pending),
            Slot::Garbage(g) => Some(&mut g.pending),
            Slot::Down(_) => None,
        }
    }

    fn on_event(&mut self, i: usize, e: NodeEvent) {
        match e {
            NodeEvent::Dial { peer } => {
                if let Some(p) = self.pending_mut(i) {
                    p.insert(peer);
                }
                self.input(
                    i,
                    NodeInput::SendSignal {
                        to: peer,
                        payload: b"offer",
                    },
                );
            }
            NodeEvent::CancelDial { peer } => {
                if let Some(p) = self.pending_mut(i) {
                    p.remove(&peer);
                }
            }
            NodeEvent::Signal { from, dialer, .. } => {
                if dialer {
                    self.input(
                        i,
                        NodeInput::SendSignal {
                            to: from,
                            payload: b"answer",
                        },
                    );
                } else if self.pending_mut(i).is_some_and(|p| p.remove(&from)) {
                    self.connect(i, from);
                }
            }
            NodeEvent::SignalViaRelay {
                to,
                dialer,
                payload,
            } => self.relay(i, to, dialer, payload),
            NodeEvent::Closed {
                conn, peer, reason, ..
            } => {
                if let Some(p) = peer {
                    *self.closes.entry((p, reason)).or_default() += 1;
                }
                self.close_conn(conn, self.cfg.link.latency_ms)
            }
            NodeEvent::Applied(ids) => {
                if let Slot::Honest(h) = &mut self.slots[i] {
                    for id in ids {
                        if let Some(b) = h.node.replica().change_bytes(&id) {
                            h.disk.push(b.to_vec());
                        }
                    }
                }
            }
            NodeEvent::Banned { peer, .. } => *self.bans.entry(peer).or_default() += 1,
            _ => {}
        }
    }

    /// Sends a signal through the relay (from peer `i`).
    pub fn relay(&mut self, i: usize, to: PeerId, dialer: bool, payload: Vec<u8>) {
        let (Some(from), Some(&j)) = (self.id_of(i), self.ids.get(&to)) else {
            return;
        };
        let at = self.now + self.cfg.relay_ms;
        self.q.push(
            at,
            Ev::RelaySignal {
                to: j,
                from,
                dialer,
                payload,
            },
        );
    }

    /// Peer `i` got an answer from `peer`: open the channel (or fail, across a partition).
    pub fn connect(&mut self, i: usize, peer: PeerId) {
        let Some(me) = self.id_of(i) else { return };
        let j = self.ids.get(&peer).copied();
        match j {
            Some(j) if !self.net.partitioned(i, j) && self.id_of(j).is_some() => {
                let (ci, cj) = self.net.open(i, j);
                let at = self.now + self.cfg.connect_ms;
                self.q.push(
                    at,
                    Ev::Open {
                        at: i,
                        conn: ci,
                        dialer: true,
                        peer,
                    },
                );
                self.q.push(
                    at,
                    Ev::Open {
                        at: j,
                        conn: cj,
                        dialer: false,
                        peer: me,
                    },
                );
            }
            _ => {
                let at = self.now + self.cfg.ice_fail_ms;
                self.q.push(at, Ev::DialFailed { at: i, peer });
            }
        }
    }

    /// Closes a channel at one end; the other end learns it after `delay`.
    pub fn close_conn(&mut self, conn: ConnId, delay: u64) {
        if let Some((j, cj)) = self.net.close(conn) {
            self.q
                .push(self.now + delay, Ev::Disconnect { at: j, conn: cj });
        }
        self.net.forget(conn);
    }

    /// Runs events up to time `until`.
    pub fn run_until(&mut self, until: Time) {
        while let Some((t, ev)) = self.q.pop_until(until) {
            self.now = t;
            self.dispatch(ev);
        }
        self.now = self.now.max(until);
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Chunk { to, conn, bytes } => {
                if matches!(self.slots[to], Slot::Garbage(_)) {
                    self.garbage_receive(to, conn, &bytes);
                } else if self.net.by_conn.contains_key(&conn) {
                    self.input(
                        to,
                        NodeInput::Receive {
                            conn,
                            bytes: &bytes,
                        },
                    );
                }
            }
            Ev::Buffered { at, conn, link } => {
                if let Some(amount) = self.net.buffered(self.now, link, conn) {
                    self.input(at, NodeInput::Buffered { conn, amount });
                }
            }
            Ev::RelaySignal {
                to,
                from,
                dialer,
                payload,
            } => match &mut self.slots[to] {
                Slot::Honest(_) => self.input(
                    to,
                    NodeInput::RelaySignal {
                        from,
                        dialer,
                        payload: &payload,
                    },
                ),
                Slot::Garbage(g) => {
                    // Only an answer (envelope kind 1) opens a channel; a refusal does not.
                    if !dialer && payload.first() == Some(&1) && g.pending.remove(&from) {
                        self.connect(to, from);
                    }
                }
                Slot::Down(_) => {}
            },
            Ev::Open {
                at,
                conn,
                dialer,
                peer,
            } => self.on_open(at, conn, dialer, peer),
            Ev::Disconnect { at, conn } => {
                self.net.forget(conn);
                match &mut self.slots[at] {
                    Slot::Honest(_) => self.input(at, NodeInput::Disconnected { conn }),
                    Slot::Garbage(g) => {
                        g.conns.remove(&conn);
                    }
                    Slot::Down(_) => {}
                }
            }
            Ev::DialFailed { at, peer } => {
                if let Some(p) = self.pending_mut(at) {
                    p.remove(&peer);
                }
                self.input(at, NodeInput::DialFailed(peer));
            }
            Ev::Wake { at } => self.wake(at),
        }
    }

    fn on_open(&mut self, at: usize, conn: ConnId, dialer: bool, peer: PeerId) {
        let link_up = self
            .net
            .by_conn
            .get(&conn)
            .and_then(|l| self.net.links.get(l))
            .is_some_and(|l| l.up);
        if !link_up {
            return;
        }
        match &mut self.slots[at] {
            Slot::Honest(_) => self.input(
                at,
                NodeInput::Connected {
                    conn,
                    dialer,
                    peer: Some(peer),
                },
            ),
            Slot::Garbage(g) => {
                g.conns.insert(conn);
                self.garbage_send(at, conn);
            }
            Slot::Down(_) => self.close_conn(conn, self.cfg.dead_detect_ms),
        }
    }

    fn wake(&mut self, at: usize) {
        match &mut self.slots[at] {
            Slot::Honest(h) => {
                if self.now >= h.next_wake {
                    h.next_wake = Time::MAX;
                    self.input(at, NodeInput::Timeout);
                }
            }
            Slot::Garbage(_) => {
                self.garbage_tick(at);
                self.q.push(self.now + 200, Ev::Wake { at });
            }
            Slot::Down(_) => {}
        }
    }

    pub(super) fn push_ev(&mut self, at: Time, ev: Ev) {
        self.q.push(at, ev);
    }

    pub(super) fn send_raw(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let World {
            net,
            q,
            rng,
            cfg,
            now,
            ..
        } = self;
        net.send(*now, conn, bytes, &cfg.link, rng, q);
    }

    pub(super) fn index_of(&self, id: &PeerId) -> Option<usize> {
        self.ids.get(id).copied()
    }
}
