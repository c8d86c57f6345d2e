//! What a scenario reads of the world: convergence, presence seen, gossip trees, bytes, bans.

use super::*;

impl World {
    /// Authors whose presence honest peer `i` currently shows.
    pub fn presence_seen(&self, i: usize) -> BTreeSet<[u8; 32]> {
        self.honest(i)
            .map(|h| h.node.presence().all().map(|b| b.author).collect())
            .unwrap_or_default()
    }

    /// The author key of peer `i`.
    pub fn author_of(&self, i: usize) -> [u8; 32] {
        Identity::from_secret(secret_of(i)).author().0
    }

    /// The signing secret of honest peer `i` (scenarios that forge changes sign with it).
    pub fn secret(&self, i: usize) -> Option<[u8; 32]> {
        self.honest(i).map(|h| h.secret)
    }

    /// Chunks garbage peer `i` sent.
    pub fn garbage_sent(&self, i: usize) -> u64 {
        match &self.slots[i] {
            Slot::Garbage(g) => g.sent,
            _ => 0,
        }
    }

    /// How many honest nodes banned peer `i`.
    pub fn banned_by(&self, i: usize) -> usize {
        self.id_of(i)
            .and_then(|id| self.bans.get(&id).copied())
            .unwrap_or(0)
    }

    /// True when every live honest replica holds every change written by an honest peer and
    /// nothing else (same count).
    pub fn converged(&self) -> bool {
        let want = self.written.len();
        self.honest_indices().iter().all(|&i| {
            let r = self.honest(i).map(|h| h.node.replica());
            r.is_some_and(|r| r.len() == want && self.written.iter().all(|id| r.contains(id)))
        })
    }

    /// Runs until converged (checked every `step` ms) or `limit`; returns the time it converged.
    pub fn run_until_converged(&mut self, step: Time, limit: Time) -> Option<Time> {
        while self.now < limit {
            let next = self.now + step;
            self.run_until(next);
            if self.converged() {
                return Some(self.now);
            }
        }
        None
    }

    /// Asserts every live honest replica has the same state hash and every honest write.
    pub fn assert_converged(&self) {
        let honest = self.honest_indices();
        let first = honest[0];
        let want = self.honest(first).map(|h| h.node.replica().state_hash());
        for &i in &honest {
            let r = self.honest(i).map(|h| h.node.replica()).expect("honest");
            let missing = self.written.iter().filter(|id| !r.contains(id)).count();
            assert_eq!(missing, 0, "peer {i} lacks {missing} honest changes");
            assert_eq!(
                Some(r.state_hash()),
                want,
                "peer {i} state hash differs from peer {first}"
            );
        }
    }

    /// Links of the gossip tree of peer `i`'s author (eager for that origin at both ends).
    pub fn tree_links(&self, i: usize) -> usize {
        let Some(author) = self.honest(i).and_then(|h| h.node.replica().local_author()) else {
            return 0;
        };
        let directed: usize = self
            .honest_indices()
            .iter()
            .filter_map(|&j| self.honest(j))
            .map(|h| h.node.eager_neighbours(&author.0).len())
            .sum();
        directed / 2
    }

    /// Total bytes all nodes handed to the network.
    pub fn bytes_sent(&self) -> u64 {
        self.net.bytes
    }

    pub fn queue_len(&self) -> usize {
        self.q.len()
    }
}
