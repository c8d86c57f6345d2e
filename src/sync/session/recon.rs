//! Range-based set reconciliation of change ids over one connection, with negentropy.
//!
//! Either side may start a reconciliation (the dialer does at connect and periodically; either
//! does when it dropped gossip for the peer). The initiator keeps the state; the responder answers
//! each query from its index alone, so a lost or repeated query is simply asked again. Only the
//! initiator learns the difference: it pushes what the peer lacks and asks for what it lacks.

use negentropy::{Error as NegError, Negentropy};

use super::super::{ChangeId, SyncIndex};

/// An outcome of feeding a reply to the initiator.
pub(super) enum Step {
    /// Send the next query (kept in [`Active::query`]).
    Query,
    /// Reconciliation finished: ids the peer lacks, ids we lack.
    Finished {
        have: Vec<ChangeId>,
        need: Vec<ChangeId>,
    },
}

/// Why reconciliation failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReconError {
    /// The peer's negentropy message did not parse.
    #[error("reconciliation message: {0}")]
    Negentropy(#[from] NegError),
    /// The peer kept the reconciliation going past the round bound.
    #[error("reconciliation took more than {0} rounds")]
    TooManyRounds(u32),
    /// The peer's replies named more missing ids than the bound.
    #[error("reconciliation named more than {0} missing ids")]
    TooManyIds(usize),
}

/// A reconciliation this side started and has not finished.
pub(super) struct Active {
    /// Its number on the wire.
    pub id: u32,
    /// The round of the query in flight.
    pub round: u32,
    /// The query in flight, kept to ask again if it is lost.
    pub query: Vec<u8>,
    /// When the query was sent (for round-trip samples).
    pub sent_at: u64,
    /// When to ask again.
    pub deadline: u64,
    /// How many times this round was asked.
    pub attempt: u32,
    have: Vec<ChangeId>,
    need: Vec<ChangeId>,
}

/// Limits on one reconciliation, so a hostile peer cannot keep it going forever.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub frame: u64,
    pub max_rounds: u32,
    pub max_ids: usize,
}

impl Active {
    /// Starts reconciliation `id` over `index`; returns it with its first query.
    pub fn start(id: u32, index: &SyncIndex, limits: Limits) -> Result<Self, ReconError> {
        let mut neg = Negentropy::borrowed(index, limits.frame)?;
        let query = neg.initiate()?;
        Ok(Active {
            id,
            round: 0,
            query,
            sent_at: 0,
            deadline: 0,
            attempt: 0,
            have: Vec::new(),
            need: Vec::new(),
        })
    }

    /// Feeds the peer's reply to the current round.
    pub fn step(
        &mut self,
        index: &SyncIndex,
        reply: &[u8],
        limits: Limits,
    ) -> Result<Step, ReconError> {
        let mut neg = Negentropy::borrowed(index, limits.frame)?;
        neg.set_initiator();
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = neg.reconcile_with_ids(reply, &mut have, &mut need)?;
        self.have
            .extend(have.iter().map(|id| ChangeId(id.to_bytes())));
        self.need
            .extend(need.iter().map(|id| ChangeId(id.to_bytes())));
        if self.have.len() + self.need.len() > limits.max_ids {
            return Err(ReconError::TooManyIds(limits.max_ids));
        }
        match next {
            Some(query) => {
                self.round += 1;
                if self.round >= limits.max_rounds {
                    return Err(ReconError::TooManyRounds(limits.max_rounds));
                }
                self.query = query;
                self.attempt = 0;
                Ok(Step::Query)
            }
            None => Ok(Step::Finished {
                have: std::mem::take(&mut self.have),
                need: std::mem::take(&mut self.need),
            }),
        }
    }
}

/// Answers one query from the index alone.
pub(super) fn respond(index: &SyncIndex, query: &[u8], frame: u64) -> Result<Vec<u8>, NegError> {
    let mut neg = Negentropy::borrowed(index, frame)?;
    neg.reconcile(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ChangeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b[31] = 0xa5;
        ChangeId(blake3::hash(&b).into())
    }

    fn reconcile(a: &SyncIndex, b: &SyncIndex, frame: u64) -> (Vec<ChangeId>, Vec<ChangeId>, u32) {
        let limits = Limits {
            frame,
            max_rounds: 1000,
            max_ids: 1 << 20,
        };
        let mut active = Active::start(1, a, limits).unwrap();
        let mut query = active.query.clone();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let reply = respond(b, &query, frame).unwrap();
            match active.step(a, &reply, limits).unwrap() {
                Step::Query => query = active.query.clone(),
                Step::Finished { mut have, mut need } => {
                    have.sort();
                    need.sort();
                    return (have, need, rounds);
                }
            }
        }
    }

    #[test]
    fn finds_exactly_the_difference() {
        let shared = (0..3000).map(|n| (u64::from(n / 7), id(n)));
        let mut a = SyncIndex::from_items(shared.clone());
        let mut b = SyncIndex::from_items(shared);
        let mut only_a: Vec<_> = (5000..5040).map(id).collect();
        let mut only_b: Vec<_> = (6000..6300).map(id).collect();
        for (i, x) in only_a.iter().enumerate() {
            a.insert(400 + i as u64, *x);
        }
        for (i, x) in only_b.iter().enumerate() {
            b.insert(400 + i as u64 / 3, *x);
        }
        a.flush();
        b.flush();
        only_a.sort();
        only_b.sort();
        for frame in [0, 4096, 60_000] {
            let (have, need, rounds) = reconcile(&a, &b, frame);
            assert_eq!(have, only_a, "frame {frame}");
            assert_eq!(need, only_b, "frame {frame}");
            assert!(rounds >= 1);
        }
    }

    #[test]
    fn equal_sets_finish_in_one_round() {
        let a = SyncIndex::from_items((0..10_000).map(|n| (u64::from(n / 3), id(n))));
        let (have, need, rounds) = reconcile(&a, &a.clone(), 60_000);
        assert!(have.is_empty() && need.is_empty());
        assert_eq!(rounds, 1);
    }

    #[test]
    fn garbage_replies_are_errors_not_panics() {
        let a = SyncIndex::from_items((0..100).map(|n| (u64::from(n), id(n))));
        let limits = Limits {
            frame: 4096,
            max_rounds: 10,
            max_ids: 100,
        };
        let mut active = Active::start(1, &a, limits).unwrap();
        for junk in [&[][..], &[0x50], &[0x61, 0, 0, 2, 9], &[0x61, 0, 40]] {
            assert!(active.step(&a, junk, limits).is_err(), "{junk:?}");
            assert!(respond(&a, junk, 4096).is_err(), "{junk:?}");
        }
    }
}
