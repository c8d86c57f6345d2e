//! Node policies on perfect, instant links (the simulator in tests/ covers real networks).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use crate::change::{Charter, GovernanceParams};
use crate::commons::Commons;
use crate::identity::Identity;

fn charter() -> Charter {
    Charter {
        title: "node".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// Node `i`'s keys: its identity (the one its replica writes with) and a per-run secret.
fn keys(i: usize) -> SyncKeys {
    SyncKeys::new(
        Identity::from_secret([i as u8 + 1; 32]),
        [i as u8 + 101; 32],
    )
}

fn pid(i: usize) -> PeerId {
    keys(i).peer()
}

fn key(i: usize) -> AuthorId {
    keys(i).key()
}

/// Nodes wired by a shell that behaves like the browser's, with instant links and relay.
struct Mesh {
    nodes: Vec<Node<Commons>>,
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    pending: Vec<BTreeSet<PeerId>>,
    wire: VecDeque<(usize, ConnId, Vec<u8>)>,
    events: Vec<(usize, NodeEvent)>,
    next_conn: u64,
    now: u64,
    genesis: Vec<u8>,
    /// Nodes that vanished: the relay no longer reaches them.
    gone: BTreeSet<usize>,
}

impl Mesh {
    fn new(n: usize, cfg: NodeConfig) -> Self {
        let (founder, genesis) =
            Commons::create(Identity::from_secret([1; 32]), 0, charter(), 0).unwrap();
        let mut nodes = vec![Node::new(cfg.clone(), keys(0), founder, 0)];
        for i in 1..n {
            let id = Identity::from_secret([i as u8 + 1; 32]);
            let mut r = Commons::join(genesis.id, Some((id, 0)));
            r.insert(&genesis.bytes).unwrap();
            nodes.push(Node::new(cfg.clone(), keys(i), r, 0));
        }
        Mesh {
            pending: vec![BTreeSet::new(); n],
            nodes,
            links: BTreeMap::new(),
            wire: VecDeque::new(),
            events: Vec::new(),
            next_conn: 0,
            now: 0,
            genesis: genesis.bytes,
            gone: BTreeSet::new(),
        }
    }

    fn index(&self, p: PeerId) -> Option<usize> {
        (0..self.nodes.len()).find(|i| pid(*i) == p && !self.gone.contains(i))
    }

    fn input(&mut self, i: usize, input: NodeInput<'_>) {
        self.nodes[i].handle_input(self.now, input);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        let mut evs = Vec::new();
        loop {
            match self.nodes[i].poll_output() {
                NodeOutput::Transmit { conn, bytes } => self.wire.push_back((i, conn, bytes)),
                NodeOutput::Event(e) => evs.push(e),
                NodeOutput::Timeout(_) => break,
            }
        }
        for e in evs {
            self.shell(i, e.clone());
            self.events.push((i, e));
        }
    }

    fn shell(&mut self, i: usize, e: NodeEvent) {
        match e {
            NodeEvent::Dial { peer } => {
                self.pending[i].insert(peer);
                self.input(
                    i,
                    NodeInput::SendSignal {
                        to: peer,
                        payload: b"offer",
                    },
                );
            }
            NodeEvent::CancelDial { peer } => {
                self.pending[i].remove(&peer);
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
                } else if self.pending[i].remove(&from) {
                    if let Some(j) = self.index(from) {
                        self.open(i, j);
                    }
                }
            }
            NodeEvent::SignalViaRelay {
                to,
                dialer,
                payload,
            } => {
                if let Some(j) = self.index(to) {
                    let from = pid(i);
                    self.input(
                        j,
                        NodeInput::RelaySignal {
                            from,
                            dialer,
                            payload: &payload,
                        },
                    );
                }
            }
            NodeEvent::Closed { conn, .. } => {
                if let Some((j, cj)) = self.links.remove(&(i, conn)) {
                    self.links.remove(&(j, cj));
                    self.input(j, NodeInput::Disconnected { conn: cj });
                }
            }
            _ => {}
        }
    }

    /// Opens a channel from `i` (dialer) to `j`.
    fn open(&mut self, i: usize, j: usize) -> (ConnId, ConnId) {
        self.next_conn += 2;
        let (ci, cj) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.links.insert((i, ci), (j, cj));
        self.links.insert((j, cj), (i, ci));
        let (pi, pj) = (pid(i), pid(j));
        self.input(
            i,
            NodeInput::Connected {
                conn: ci,
                dialer: true,
                peer: Some(pj),
            },
        );
        self.input(
            j,
            NodeInput::Connected {
                conn: cj,
                dialer: false,
                peer: Some(pi),
            },
        );
        (ci, cj)
    }

    /// Delivers everything in flight, then advances time by `ms` in ticks.
    fn run(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            while let Some((i, conn, bytes)) = self.wire.pop_front() {
                if let Some(&(j, cj)) = self.links.get(&(i, conn)) {
                    self.input(
                        j,
                        NodeInput::Receive {
                            conn: cj,
                            bytes: &bytes,
                        },
                    );
                    self.input(i, NodeInput::Buffered { conn, amount: 0 });
                }
            }
            if self.now >= end {
                return;
            }
            self.now += 50;
            for i in 0..self.nodes.len() {
                self.input(i, NodeInput::Timeout);
            }
        }
    }

    fn has_event(&self, i: usize, f: impl Fn(&NodeEvent) -> bool) -> bool {
        self.events.iter().any(|(n, e)| *n == i && f(e))
    }
}

#[test]
fn neighbours_introduce_peers_without_the_relay() {
    let mut m = Mesh::new(3, NodeConfig::default());
    m.open(0, 1);
    m.open(2, 1);
    m.run(100);
    // 0 and 2 learnt of each other from 1 and connected, signalling through 1.
    m.run(3_000);
    assert!(m.nodes[0].neighbours().contains(&pid(2)));
    assert!(m.nodes[2].neighbours().contains(&pid(0)));
    assert!(
        !m.has_event(0, |e| matches!(e, NodeEvent::SignalViaRelay { .. }))
            && !m.has_event(2, |e| matches!(e, NodeEvent::SignalViaRelay { .. })),
        "signals went through the relay"
    );
}

#[test]
fn local_changes_reach_every_peer_once() {
    let mut m = Mesh::new(3, NodeConfig::default());
    m.open(0, 1);
    m.open(1, 2);
    m.run(500);
    let made = m.nodes[2]
        .replica_mut()
        .create_document("d", "hi", 1)
        .unwrap();
    let ids: Vec<ChangeId> = made.iter().map(|c| c.id).collect();
    m.input(2, NodeInput::Local(&ids));
    m.run(500);
    for i in 0..3 {
        assert!(ids.iter().all(|id| m.nodes[i].replica().contains(id)));
    }
    assert_eq!(m.nodes[0].stats().duplicates, 0);
    assert!(m.has_event(0, |e| matches!(e, NodeEvent::Applied(a) if a == &ids)));
}

#[test]
fn garbage_senders_are_closed_then_banned() {
    let mut m = Mesh::new(2, NodeConfig::default());
    for round in 0..2 {
        m.open(0, 1);
        m.run(100);
        // Whichever channel survived (peer 1 may have redialed), node 0's end of it.
        let (c0, _, _) = m.nodes[0]
            .channels()
            .into_iter()
            .find(|(_, p, _)| *p == Some(pid(1)))
            .expect("a channel to peer 1");
        // Peer 1 "sends" noise: it arrives at node 0 on 0's end of the channel.
        m.input(
            0,
            NodeInput::Receive {
                conn: c0,
                bytes: &[0xde, 0xad, 0xbe, 0xef],
            },
        );
        m.run(100);
        assert!(m.has_event(0, |e| matches!(
            e,
            NodeEvent::Closed {
                reason: CloseReason::Malformed | CloseReason::Misbehaving,
                ..
            }
        )));
        if round == 0 {
            assert!(m.nodes[0].score(&key(1)) >= 50);
        }
    }
    assert!(m.has_event(0, |e| *e
        == NodeEvent::Banned {
            peer: pid(1),
            key: key(1)
        }));
    // A banned peer's next channel is closed at once.
    m.open(1, 0);
    m.run(100);
    assert!(m.nodes[0].neighbours().is_empty());
}

#[test]
fn invalid_changes_are_refused_and_counted() {
    let mut m = Mesh::new(2, NodeConfig::default());
    let (_, c1) = m.open(0, 1);
    m.run(200);
    // A byte of the body changed: another id, whose signature does not verify.
    let mut forged = m.genesis.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let mut outbox = crate::sync::frame::Outbox::new(16 * 1024);
    let push = crate::sync::wire::Message::Push(vec![crate::sync::wire::Bytes(&forged)]);
    outbox.push(push.encode(), crate::sync::frame::Priority::Bulk);
    let chunk = outbox.next_chunk().unwrap();
    // Node 1's session expects a later message number; any unused one works.
    let mut chunk2 = chunk.clone();
    chunk2[1] = 100;
    m.input(
        1,
        NodeInput::Receive {
            conn: c1,
            bytes: &chunk2,
        },
    );
    m.run(50);
    assert!(m.has_event(1, |e| matches!(e, NodeEvent::Rejected { .. })));
    assert!(m.nodes[1].score(&key(0)) > 0);
    assert_eq!(m.nodes[1].replica().len(), 1);
}

#[test]
fn a_full_node_refuses_through_the_relay_and_introduces_others() {
    let cfg = NodeConfig {
        max_peers: 1,
        target_peers: 1,
        ..NodeConfig::default()
    };
    let mut m = Mesh::new(3, cfg);
    m.open(0, 1);
    m.run(200);
    // Node 2 only knows node 0, which is full.
    m.input(2, NodeInput::Discovered(pid(0)));
    m.run(200);
    assert!(m.has_event(2, |e| *e == NodeEvent::CancelDial { peer: pid(0) }));
    // The refusal introduced node 1 (0's neighbour); 1 is full too, so 2 keeps trying later.
    assert!(m.has_event(2, |e| *e == NodeEvent::Dial { peer: pid(1) }));
    assert_eq!(m.nodes[0].neighbours(), vec![pid(1)]);
}

#[test]
fn simultaneous_dials_make_one_connection() {
    let mut m = Mesh::new(2, NodeConfig::default());
    m.input(0, NodeInput::Discovered(pid(1)));
    m.input(1, NodeInput::Discovered(pid(0)));
    m.run(1_000);
    assert_eq!(m.nodes[0].neighbours(), vec![pid(1)]);
    assert_eq!(m.nodes[1].neighbours(), vec![pid(0)]);
    assert_eq!(m.nodes[0].connection_count(), 1);
}

#[test]
fn duplicate_channels_keep_the_same_one_on_both_sides() {
    let mut m = Mesh::new(2, NodeConfig::default());
    let (a0, a1) = m.open(0, 1);
    let (b1, b0) = m.open(1, 0);
    m.run(200);
    assert_eq!(m.nodes[0].connection_count(), 1);
    assert_eq!(m.nodes[1].connection_count(), 1);
    // The channel dialed by the lower id survives at both ends.
    let (kept, gone) = if pid(0) < pid(1) {
        ([(0, a0), (1, a1)], [(1, b1), (0, b0)])
    } else {
        ([(1, b1), (0, b0)], [(0, a0), (1, a1)])
    };
    assert!(kept.iter().all(|k| m.links.contains_key(k)));
    assert!(gone.iter().all(|k| !m.links.contains_key(k)));
}

#[test]
fn dead_neighbours_are_replaced() {
    let mut m = Mesh::new(4, NodeConfig::default());
    m.open(0, 1);
    m.open(0, 2);
    m.open(3, 1);
    m.run(3_000);
    let before = m.nodes[0].neighbours().len();
    // Node 1 vanishes: its channels stop carrying anything and the relay cannot reach it.
    m.links.retain(|(i, _), (j, _)| *i != 1 && *j != 1);
    m.gone.insert(1);
    m.run(60_000);
    let now = m.nodes[0].neighbours();
    assert!(!now.contains(&pid(1)));
    assert!(now.contains(&pid(3)), "0 should have replaced 1 with 3");
    assert!(now.len() >= before - 1);
}

#[test]
fn message_floods_get_a_peer_banned() {
    let mut m = Mesh::new(2, NodeConfig::default());
    let (_, c0) = m.open(1, 0);
    m.run(200);
    let mut outbox = crate::sync::frame::Outbox::new(16 * 1024);
    for n in 0..5_000u32 {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&n.to_le_bytes());
        let have = crate::sync::wire::Message::Have(vec![id]);
        outbox.push(have.encode(), crate::sync::frame::Priority::Control);
    }
    // Skip message numbers node 1 already used on this channel.
    for _ in 0..20 {
        outbox.next_chunk();
    }
    while let Some(chunk) = outbox.next_chunk() {
        m.input(
            0,
            NodeInput::Receive {
                conn: c0,
                bytes: &chunk,
            },
        );
    }
    m.run(100);
    assert!(m.has_event(0, |e| *e
        == NodeEvent::Banned {
            peer: pid(1),
            key: key(1)
        }));
}

mod auth;
mod presence;
