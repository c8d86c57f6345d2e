//! What a scenario does to the world: introduce peers, edit, crash and restart them, cut and
//! heal the network, show cursors.

use super::*;

impl World {
    /// Honest peer `i` publishes its presence (a cursor in document `doc`, or none) with
    /// sequence number `seq`, signed with its key as the browser shell would.
    pub fn publish_presence(&mut self, i: usize, seq: u64, doc: Option<[u8; 32]>) {
        let commons = self.commons.0;
        if let Slot::Honest(h) = &mut self.slots[i] {
            let cursor = doc.map(|doc| peer_commons::sync::presence::Cursor {
                doc,
                anchor: vec![0],
                head: vec![0],
            });
            let identity = Identity::from_secret(h.secret);
            let me = h.node.me();
            let record =
                peer_commons::sync::presence::sign(&identity, commons, me, seq, "sim", cursor);
            h.node.publish_presence(record);
            self.drain(i);
        }
    }

    /// Makes the shell of `i` learn `j`'s address (as the relay would).
    pub fn discover(&mut self, i: usize, j: usize) {
        if let Some(id) = self.id_of(j) {
            self.input(i, NodeInput::Discovered(id));
        }
    }

    /// Lets `i` learn `k` random live honest peers.
    pub fn bootstrap(&mut self, i: usize, k: usize) {
        let others: Vec<usize> = self
            .honest_indices()
            .into_iter()
            .filter(|j| *j != i)
            .collect();
        for _ in 0..k.min(others.len()) {
            let j = others[self.rng.gen_range(0..others.len())];
            self.discover(i, j);
        }
    }

    /// Peer `i` edits: creates a document, or edits a random one. Returns the changes' ids.
    pub fn edit(&mut self, i: usize) -> Vec<ChangeId> {
        let now = self.now;
        let create = self.rng.gen_bool(0.15);
        let pick: u64 = self.rng.gen();
        let word: String = (0..self.rng.gen_range(1..12))
            .map(|_| char::from(b'a' + self.rng.gen_range(0..26u8)))
            .collect();
        let Slot::Honest(h) = &mut self.slots[i] else {
            return vec![];
        };
        let r = h.node.replica_mut();
        let docs: Vec<(ChangeId, u64)> = r.documents().iter().map(|d| (d.id, d.len)).collect();
        let made = if create || docs.is_empty() {
            r.create_document(&format!("doc by {i}"), &word, now)
        } else {
            let (doc, len) = docs[(pick % docs.len() as u64) as usize];
            let at = (pick >> 20) % (len + 1);
            r.edit_text(&doc, at, 0, &word).and_then(|()| r.flush(now))
        };
        let made = made.expect("local edit");
        let ids: Vec<ChangeId> = made.iter().map(|c| c.id).collect();
        h.disk.extend(made.into_iter().map(|c| c.bytes));
        self.written.extend(ids.iter().copied());
        self.input(i, NodeInput::Local(&ids));
        ids
    }

    /// Crashes peer `i`: its memory is lost, its stored changes kept; its channels die.
    pub fn crash(&mut self, i: usize) {
        let slot = std::mem::replace(
            &mut self.slots[i],
            Slot::Down(Box::new(Stored {
                disk: vec![],
                secret: [0; 32],
                incarnation: 0,
            })),
        );
        let Slot::Honest(h) = slot else {
            self.slots[i] = slot;
            return;
        };
        self.ids.remove(&h.node.me());
        self.slots[i] = Slot::Down(Box::new(Stored {
            disk: h.disk,
            secret: h.secret,
            incarnation: h.incarnation,
        }));
        let conns: Vec<ConnId> = self
            .net
            .links
            .values()
            .filter(|l| l.up)
            .flat_map(|l| l.ends)
            .filter(|(p, _)| *p == i)
            .map(|(_, c)| c)
            .collect();
        for c in conns {
            self.close_conn(c, self.cfg.dead_detect_ms);
        }
    }

    /// Restarts a crashed peer from its stored changes, with a new peer id (a new tab).
    pub fn restart(&mut self, i: usize) {
        let Slot::Down(s) = &self.slots[i] else {
            return;
        };
        let incarnation = s.incarnation + 1;
        let secret = s.secret;
        let disk = s.disk.clone();
        let identity = Identity::from_secret(secret);
        let mut replica = Commons::join(self.commons, Some((identity, incarnation)));
        for b in &disk {
            let _ = replica.insert(b);
        }
        let keys = sync_keys(i, incarnation);
        let id = keys.peer();
        let node = Node::new(self.cfg.node.clone(), keys, replica, self.now);
        self.slots[i] = Slot::Honest(Box::new(Honest {
            node,
            disk,
            secret,
            incarnation,
            pending: BTreeSet::new(),
            next_wake: Time::MAX,
        }));
        self.ids.insert(id, i);
        self.input(i, NodeInput::Timeout);
        let k = self.cfg.bootstrap;
        self.bootstrap(i, k);
    }

    /// Puts peers on sides of a partition (peers not listed stay on side 0).
    pub fn partition(&mut self, groups: &[(usize, u32)]) {
        self.net.groups = groups.iter().copied().collect();
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.net.groups.clear();
    }
}
