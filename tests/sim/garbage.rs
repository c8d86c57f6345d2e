//! A peer that sends garbage: it gets itself connected like anyone (through the relay), then
//! floods its channels with noise, or with well-framed messages carrying invalid changes and
//! unknown message types.

use std::collections::{BTreeMap, BTreeSet};

use peer_commons::change::ChangeId;
use peer_commons::sync::auth::{transcript, HelloFields};
use peer_commons::sync::frame::{Outbox, Priority, Reassembler, ReassemblyLimits};
use peer_commons::sync::wire::{features, Bytes, Hello, Message, Sig, PROTOCOL_VERSION};
use peer_commons::sync::{ConnId, PeerId, SyncKeys};
use rand::Rng;

use super::world::{Slot, World};

/// What the garbage peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Random bytes.
    Noise,
    /// A proper hello, then invalid changes, unknown message types and bogus requests.
    BadChanges,
    /// A proper hello, then valid but useless messages (announcements of changes that do not
    /// exist) far above the per-second bound.
    Spam,
}

pub struct Garbage {
    pub id: PeerId,
    /// Its own key: a garbage peer authenticates as itself (the only key it can sign with).
    keys: SyncKeys,
    /// What it reads of the honest side (only hellos matter to it).
    inboxes: BTreeMap<ConnId, Reassembler>,
    /// Channels where it sent its signed hello: only there does its garbage get past the
    /// handshake (anything before it would cost only the channel, never its key).
    signed: BTreeSet<ConnId>,
    pub commons: ChangeId,
    pub mode: Mode,
    pub conns: BTreeSet<ConnId>,
    pub pending: BTreeSet<PeerId>,
    outboxes: BTreeMap<ConnId, Outbox>,
    /// Chunks sent in all.
    pub sent: u64,
}

impl Garbage {
    pub fn new(keys: SyncKeys, commons: ChangeId, mode: Mode) -> Self {
        Garbage {
            id: keys.peer(),
            keys,
            inboxes: BTreeMap::new(),
            signed: BTreeSet::new(),
            commons,
            mode,
            conns: BTreeSet::new(),
            pending: BTreeSet::new(),
            outboxes: BTreeMap::new(),
            sent: 0,
        }
    }
}

impl World {
    /// Every 200 ms: asks random honest peers for a connection, and floods open channels.
    pub(super) fn garbage_tick(&mut self, at: usize) {
        let honest = self.honest_indices();
        if honest.is_empty() {
            return;
        }
        for _ in 0..2 {
            let j = honest[self.rng.gen_range(0..honest.len())];
            let Some(target) = self.id_of(j) else {
                continue;
            };
            if let Slot::Garbage(g) = &mut self.slots[at] {
                g.pending.insert(target);
            }
            // The node's relay envelope: kind 1 (a signal), then the offer.
            self.relay(at, target, true, b"\x01offer".to_vec());
        }
        let conns: Vec<ConnId> = match &self.slots[at] {
            Slot::Garbage(g) => g.conns.iter().copied().collect(),
            _ => return,
        };
        for conn in conns {
            self.garbage_send(at, conn);
        }
    }

    /// Sends one burst of garbage on a channel.
    pub(super) fn garbage_send(&mut self, at: usize, conn: ConnId) {
        let Slot::Garbage(g) = &self.slots[at] else {
            return;
        };
        let (mode, commons) = (g.mode, g.commons);
        let mut chunks = Vec::new();
        match mode {
            Mode::Noise => {
                for _ in 0..5 {
                    let len = self.rng.gen_range(1..2000);
                    chunks.push((0..len).map(|_| self.rng.gen::<u8>()).collect::<Vec<u8>>());
                }
            }
            Mode::BadChanges | Mode::Spam => {
                let fresh = match &self.slots[at] {
                    Slot::Garbage(g) => !g.outboxes.contains_key(&conn),
                    _ => false,
                };
                let mut msgs = Vec::new();
                if fresh {
                    // An unsigned hello: the signed one follows the honest side's nonce.
                    let Slot::Garbage(g) = &self.slots[at] else {
                        return;
                    };
                    msgs.push(Message::Hello(g.hello(commons, None)).encode());
                }
                let signed = match &self.slots[at] {
                    Slot::Garbage(g) => g.signed.contains(&conn),
                    _ => false,
                };
                if !signed {
                    // Nothing but the hello until the handshake is done.
                } else if mode == Mode::Spam {
                    // 2,500 every 200 ms: over the 2,000 per second bound within a tick.
                    for _ in 0..2500 {
                        let ids: Vec<[u8; 32]> = vec![self.rng.gen()];
                        msgs.push(Message::Have(ids).encode());
                    }
                } else {
                    let junk: Vec<Vec<u8>> = (0..4)
                        .map(|_| {
                            let len = self.rng.gen_range(70..600);
                            (0..len).map(|_| self.rng.gen::<u8>()).collect()
                        })
                        .collect();
                    // And a real change with one byte flipped: a bad signature, or a body that no
                    // longer parses.
                    let mut forged = self.genesis.clone();
                    let k = self.rng.gen_range(0..forged.len());
                    forged[k] ^= 0x40;
                    let mut parts: Vec<Bytes<'_>> = junk.iter().map(|j| Bytes(j)).collect();
                    parts.push(Bytes(&forged));
                    msgs.push(Message::Push(parts).encode());
                    msgs.push(vec![0x7d, 1, 2, 3]); // an unknown message type
                    let ids: Vec<[u8; 32]> = (0..50).map(|_| self.rng.gen()).collect();
                    msgs.push(Message::Want { ids, graft: true }.encode());
                }
                let Slot::Garbage(g) = &mut self.slots[at] else {
                    return;
                };
                let outbox = g
                    .outboxes
                    .entry(conn)
                    .or_insert_with(|| Outbox::new(16 * 1024));
                for m in msgs {
                    outbox.push(m, Priority::Control);
                }
                while let Some(c) = outbox.next_chunk() {
                    chunks.push(c);
                }
            }
        }
        if let Slot::Garbage(g) = &mut self.slots[at] {
            g.sent += chunks.len() as u64;
        }
        for c in chunks {
            self.send_raw(conn, c);
        }
    }
}

impl Garbage {
    /// Its hello; with the honest side's peer id and nonce, signed for this connection.
    fn hello(&self, commons: ChangeId, to: Option<(PeerId, [u8; 32])>) -> Hello {
        let (key, salt, nonce) = (self.keys.key().0, self.keys.salt(), [0x6a; 32]);
        let proof = to.map(|(to, to_nonce)| {
            Sig(self.keys.sign(&transcript(&HelloFields {
                version: PROTOCOL_VERSION,
                commons: &commons,
                key: &key,
                salt: &salt,
                nonce: &nonce,
                to: &to,
                to_nonce: &to_nonce,
                items: 0,
                features: features::ALL,
            })))
        });
        Hello {
            version: PROTOCOL_VERSION,
            commons: commons.0,
            peer: self.id.0,
            ack: proof.is_some(),
            items: 0,
            features: features::ALL,
            nonce,
            key,
            salt,
            proof,
        }
    }
}

impl World {
    /// A chunk for a garbage peer: it answers each hello of the honest side with a signed one (so what
    /// it sends next is blamed on its own key), and ignores everything else.
    pub(super) fn garbage_receive(&mut self, at: usize, conn: ConnId, chunk: &[u8]) {
        let Slot::Garbage(g) = &mut self.slots[at] else {
            return;
        };
        if g.mode == Mode::Noise || !g.conns.contains(&conn) {
            return;
        }
        let now = self.now;
        let reasm = g
            .inboxes
            .entry(conn)
            .or_insert_with(|| Reassembler::new(ReassemblyLimits::default()));
        let Ok(Some(msg)) = reasm.push(now, chunk) else {
            return;
        };
        let Ok(Some(Message::Hello(h))) = Message::decode(&msg) else {
            return;
        };
        let hello = g.hello(g.commons, Some((PeerId(h.peer), h.nonce)));
        g.signed.insert(conn);
        let outbox = g
            .outboxes
            .entry(conn)
            .or_insert_with(|| Outbox::new(16 * 1024));
        outbox.push(Message::Hello(hello).encode(), Priority::Control);
        let mut chunks = Vec::new();
        while let Some(c) = outbox.next_chunk() {
            chunks.push(c);
        }
        for c in chunks {
            self.send_raw(conn, c);
        }
    }
}
