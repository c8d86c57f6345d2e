//! Governance converges across 50 peers with message loss and partitions.
//!
//! The sync helper's network simulator is not on main yet, so this test carries its own small
//! network: every change a peer makes is sent to every other peer, each copy lost with some
//! probability or delayed by a random number of rounds; for a stretch of rounds the peers are
//! split into groups that cannot reach each other. Meanwhile the peers govern: they endorse each
//! other into membership, edit a shared document, a vandal scribbles, members revert, propose,
//! vote and block the vandal. At the end the partitions heal and every peer receives what it
//! missed (anti-entropy, in random order): all 50 must agree on everything governance derives.

mod governance_support;

use governance_support::*;
use peer_commons::change::{Change, ChangeId, Op, ProposalKind, VoteChoice};
use peer_commons::commons::Commons;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PEERS: usize = 50;
const VANDAL: usize = PEERS - 1;

struct Net {
    peers: Vec<Commons>,
    /// Per peer: (round of delivery, change).
    inbox: Vec<Vec<(u32, Change)>>,
    rng: ChaCha8Rng,
    loss: f64,
    /// Group of each peer while partitioned.
    group: Option<Vec<usize>>,
}

impl Net {
    fn send(&mut self, from: usize, changes: Vec<Change>, round: u32) {
        for c in changes {
            for to in 0..PEERS {
                if to == from {
                    continue;
                }
                if let Some(g) = &self.group {
                    if g[to] != g[from] {
                        continue;
                    }
                }
                if self.rng.gen_bool(self.loss) {
                    continue;
                }
                let at = round + self.rng.gen_range(0..3);
                self.inbox[to].push((at, c.clone()));
            }
        }
    }

    /// Anti-entropy, as the sync protocol's reconciliation does: each peer pulls what it lacks
    /// from one random peer it can reach (losses are thereby repaired, partitions are not).
    fn gossip(&mut self) {
        for p in 0..PEERS {
            let q = self.rng.gen_range(0..PEERS);
            let reachable = self.group.as_ref().is_none_or(|g| g[p] == g[q]);
            if q == p || !reachable || self.rng.gen_bool(self.loss) {
                continue;
            }
            let missing: Vec<Change> = self.peers[q]
                .changes_in_causal_order()
                .filter(|c| !self.peers[p].contains(&c.id))
                .cloned()
                .collect();
            for c in missing {
                self.peers[p].insert(&c.bytes).expect("valid change");
            }
        }
    }

    fn deliver(&mut self, round: u32) {
        for p in 0..PEERS {
            let (due, later): (Vec<_>, Vec<_>) =
                self.inbox[p].drain(..).partition(|(at, _)| *at <= round);
            self.inbox[p] = later;
            let mut due = due;
            due.shuffle(&mut self.rng);
            for (_, c) in due {
                self.peers[p].insert(&c.bytes).expect("valid change");
            }
        }
    }
}

fn doc_of(c: &Commons) -> Option<ChangeId> {
    c.documents().first().map(|d| d.id)
}

/// One round of peer `p`: what it does depends on who it is and what it has seen.
fn act(net: &mut Net, p: usize, round: u32, block: &mut Option<ChangeId>) -> Vec<Change> {
    let t = u64::from(round) * 100 + p as u64;
    let rng = &mut net.rng;
    let c = &mut net.peers[p];
    let me = c.local_author().expect("writer");
    let is_member = c.governance().is_member(&me);
    let mut out = Vec::new();
    if p == VANDAL {
        if let Some(d) = doc_of(c) {
            let len = c.document(&d).map_or(0, |x| x.len_utf16());
            if c.edit_text(&d, 0, len.min(3), "spam").is_ok() {
                out.extend(c.flush(t).unwrap_or_default());
            }
        }
        return out;
    }
    // Members endorse the posts of people they have seen and who are not members yet.
    if is_member && rng.gen_bool(0.6) {
        let vandal = key((VANDAL + 1) as u8);
        let mut candidates: Vec<(ChangeId, ChangeId)> = c
            .participant_views()
            .into_iter()
            .filter(|v| v.key != me && v.key != vandal && !v.member && !v.blocked)
            .map(|v| (v.first_change, v.first_change))
            .filter(|(_, first)| {
                c.validation(first)
                    .is_some_and(|val| val.endorsements.iter().all(|e| e.by != me))
            })
            .collect();
        candidates.sort_by_key(|(_, first)| c.dag().get(first).map(|n| n.depth));
        let candidates: Vec<ChangeId> = candidates.into_iter().map(|(id, _)| id).collect();
        // Mostly the earliest newcomer: endorsements concentrate, as when people answer a
        // newcomer's request one after the other.
        let pick = if rng.gen_bool(0.7) {
            candidates.first()
        } else {
            candidates.choose(rng)
        };
        if let Some(&ch) = pick {
            out.extend(c.endorse(&ch, t).unwrap_or_default());
        }
    }
    // Everyone edits the shared document now and then.
    if let Some(d) = doc_of(c) {
        if rng.gen_bool(0.2) {
            let len = c.document(&d).map_or(0, |x| x.len_utf16());
            let at = rng.gen_range(0..=len);
            if c.edit_text(&d, at, 0, &format!("[{p}]")).is_ok() {
                out.extend(c.flush(t).unwrap_or_default());
            }
        }
    }
    // Members revert the vandal's edits they see.
    if is_member && rng.gen_bool(0.3) {
        let vandal = key((VANDAL + 1) as u8);
        let target = c
            .changes_in_causal_order()
            .filter(|ch| ch.body.author == vandal)
            .map(|ch| ch.id)
            .find(|id| !c.governance().is_reverted(id) && !c.governance().is_excluded(id));
        if let Some(id) = target {
            out.extend(c.revert(&id, t).unwrap_or_default());
        }
    }
    // A member proposes to block the vandal; members vote on the proposals they see.
    if is_member && block.is_none() && round >= 8 && rng.gen_bool(0.5) {
        if let Ok((id, made)) = c.propose(
            ProposalKind::Block {
                key: key((VANDAL + 1) as u8),
            },
            "vandal",
            t,
        ) {
            *block = Some(id);
            out.extend(made);
        }
    } else if is_member && round >= 6 && rng.gen_bool(0.1) {
        if let Ok((_, made)) = c.propose(ProposalKind::Decision, &format!("idea {t}"), t) {
            out.extend(made);
        }
    }
    if is_member {
        let open: Vec<ChangeId> = c
            .proposals()
            .iter()
            .filter(|v| v.electorate.iter().any(|e| e.key == me))
            .map(|v| v.id)
            .collect();
        if let Some(&pid) = open.choose(rng) {
            let choice = if rng.gen_bool(0.75) {
                VoteChoice::Yes
            } else {
                VoteChoice::No
            };
            out.extend(c.vote(&pid, choice, t).unwrap_or_default());
        }
    }
    out
}

fn run(seed: u64) {
    let f = founder();
    let id = f.id();
    let mut peers = vec![f];
    for s in 2..=PEERS as u8 {
        peers.push(writer(id, s));
    }
    let mut net = Net {
        peers,
        inbox: vec![Vec::new(); PEERS],
        rng: ChaCha8Rng::seed_from_u64(seed),
        loss: 0.2,
        group: None,
    };
    // Round 0: the founder creates the commons' document; everyone hears of the genesis and
    // introduces themselves (a name claim is their first contribution).
    let genesis: Vec<Change> = net.peers[0].changes_in_causal_order().cloned().collect();
    let made = net.peers[0]
        .create_document("Notes", "shared notes", 1)
        .expect("doc");
    for p in 1..PEERS {
        for c in genesis.iter().chain(&made) {
            net.peers[p].insert(&c.bytes).expect("valid");
        }
    }
    for p in 1..PEERS {
        let made = net.peers[p]
            .act(
                vec![Op::SetProfile {
                    name: format!("peer {p}"),
                }],
                2,
            )
            .expect("act");
        net.send(p, made, 0);
    }
    let mut block = None;
    for round in 1..=30 {
        // Rounds 10-20: three partitions.
        if round == 10 {
            net.group = Some((0..PEERS).map(|p| p % 3).collect());
        }
        if round == 21 {
            net.group = None;
        }
        net.deliver(round);
        net.gossip();
        for p in 0..PEERS {
            let made = act(&mut net, p, round, &mut block);
            net.send(p, made, round);
        }
    }
    // Heal: everyone gets everything it missed, in its own random order.
    let refs: Vec<&Commons> = net.peers.iter().collect();
    let all = union(&refs);
    for p in 0..PEERS {
        let mut v = all.clone();
        v.shuffle(&mut net.rng);
        for c in &v {
            net.peers[p].insert(&c.bytes).expect("valid");
        }
        assert_eq!(net.peers[p].dag().pending_len(), 0);
    }
    // Every peer, and a replica that only ever received the changes (in a random order), agree.
    let fresh = shuffled_replica(net.peers[0].id(), &all, &mut net.rng);
    let first = snapshot(&fresh);
    for p in 0..PEERS {
        assert_same(
            &snapshot(&net.peers[p]),
            &first,
            &format!("seed {seed}: peer {p} disagrees"),
        );
    }
    // The run exercised what it claims to.
    let c = &net.peers[0];
    let vandal = key((VANDAL + 1) as u8);
    eprintln!(
        "{} changes, {} members, {} proposals ({} passed), {} reverted, {} left out",
        all.len(),
        c.members().len(),
        c.proposals().len(),
        c.proposals().iter().filter(|p| p.outcome.passed()).count(),
        c.governance().reverted().len(),
        all.iter()
            .filter(|ch| c.governance().is_excluded(&ch.id))
            .count()
    );
    assert!(c.members().len() >= 10, "members: {}", c.members().len());
    assert!(c.governance().is_blocked(&vandal), "the vandal was blocked");
    assert!(
        !c.governance().reverted().is_empty(),
        "some vandalism was reverted"
    );
    let text = c.text(&doc_of(c).expect("doc")).expect("text");
    let later_vandalism = all
        .iter()
        .filter(|ch| ch.body.author == vandal && c.governance().is_excluded(&ch.id))
        .count();
    assert!(
        later_vandalism > 0,
        "the vandal kept writing after the block"
    );
    assert!(c.proposals().iter().filter(|p| p.outcome.passed()).count() >= 2);
    assert!(!text.is_empty());
}

#[test]
fn fifty_peers_with_loss_and_partitions_converge() {
    run(11);
}
