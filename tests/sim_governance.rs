//! Governance under attack in the deterministic simulator (issue 13): five members forge
//! backdated proposals (blocks of honest members citing only old changes) and backdated votes
//! (citing only the proposal) among fifty honest peers, over lossy links and through a
//! partition. Every replica must end with the same state hash, no honest key blocked, and no
//! pass below the quorum of the electorate. `SIM_SEEDS=k` runs more seeds (pkg-scripts/soak).

mod sim;

use peer_commons::change::{Change, ChangeBody, ChangeId, Op, ProposalKind, VoteChoice};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use peer_commons::sync::NodeInput;
use rand::Rng;
use sim::{for_seeds, LinkSpec, Slot, World, WorldConfig};

const ADVERSARIES: usize = 5;
const HONEST: usize = 50;
/// Honest peers made members (besides the founder, peer 0).
const HONEST_MEMBERS: usize = 10;

fn replica(w: &mut World, i: usize) -> Option<&mut Commons> {
    match &mut w.slots[i] {
        Slot::Honest(h) => Some(h.node.replica_mut()),
        _ => None,
    }
}

/// Records changes peer `i` made locally and hands them to its node.
fn publish(w: &mut World, i: usize, made: Vec<Change>) {
    let ids: Vec<ChangeId> = made.iter().map(|c| c.id).collect();
    if let Slot::Honest(h) = &mut w.slots[i] {
        h.disk.extend(made.into_iter().map(|c| c.bytes));
    }
    w.written.extend(ids.iter().copied());
    w.input(i, NodeInput::Local(&ids));
}

/// Peer `i`'s first non-genesis change, if it holds it.
fn first_change_of(w: &World, holder: usize, author_of: usize) -> Option<ChangeId> {
    let author = w.author_of(author_of);
    let r = w.honest(holder)?.node.replica();
    r.changes_in_causal_order()
        .find(|c| !c.is_genesis() && c.body.author.0 == author)
        .map(|c| c.id)
}

fn endorse(w: &mut World, by: usize, of: usize) {
    let now = w.now;
    let Some(target) = first_change_of(w, by, of) else {
        return;
    };
    if let Some(made) = replica(w, by).and_then(|r| r.endorse(&target, now).ok()) {
        publish(w, by, made);
    }
}

/// Adversary `i` signs, with its own key, a change citing exactly `deps`.
fn forge(w: &mut World, i: usize, deps: Vec<ChangeId>, ops: Vec<Op>) {
    let Some(secret) = w.secret(i) else { return };
    let who = Identity::from_secret(secret);
    let c = Change::sign(
        &who,
        ChangeBody {
            format: 1,
            commons: Some(w.commons),
            author: who.author(),
            seq: w.rng.gen_range(1..1000),
            deps,
            time: w.now,
            ops,
        },
    );
    if replica(w, i).is_some_and(|r| r.insert(&c.bytes).is_ok()) {
        publish(w, i, vec![c]);
    }
}

/// One adversarial act of peer `i`: a block of an honest member citing only the genesis, or a
/// vote citing only the proposal ("no" on what passed, "yes" on its own blocks).
fn attack(w: &mut World, i: usize) {
    let Some(r) = w.honest(i).map(|h| h.node.replica()) else {
        return;
    };
    let ps = r.proposals();
    let genesis = w.commons;
    if ps.is_empty() || w.rng.gen_bool(0.3) {
        let victim = w
            .rng
            .gen_range(ADVERSARIES + 1..=ADVERSARIES + HONEST_MEMBERS);
        let key = Identity::from_secret(secret_key(w, victim)).author();
        let ops = vec![Op::Propose {
            kind: ProposalKind::Block { key },
            text: "backdated".into(),
        }];
        forge(w, i, vec![genesis], ops);
        return;
    }
    // A passed proposal when there is one: that is what a backdated "no" tries to reverse.
    let passed: Vec<_> = ps.iter().filter(|p| p.outcome.passed()).collect();
    let p = if !passed.is_empty() && w.rng.gen_bool(0.7) {
        passed[w.rng.gen_range(0..passed.len())]
    } else {
        &ps[w.rng.gen_range(0..ps.len())]
    };
    let choice = if p.kind == "block" && p.text == "backdated" {
        VoteChoice::Yes
    } else {
        VoteChoice::No
    };
    let id = p.id;
    forge(
        w,
        i,
        vec![id],
        vec![Op::Vote {
            proposal: id,
            choice,
        }],
    );
}

fn secret_key(w: &World, i: usize) -> [u8; 32] {
    w.secret(i).unwrap_or_default()
}

/// One honest member's act: propose a decision now and then, else vote (yes or no on
/// decisions, always no on blocks), through the API.
fn govern(w: &mut World, i: usize) {
    let now = w.now;
    let propose = w.rng.gen_bool(0.08);
    let pick: usize = w.rng.gen();
    let yes = w.rng.gen_bool(0.6);
    let Some(r) = replica(w, i) else { return };
    let made = if propose {
        r.propose(ProposalKind::Decision, "honest", now)
            .ok()
            .map(|(_, m)| m)
    } else {
        // Votes gather on the oldest open honest decision (as people answer the agenda), else
        // go anywhere.
        let ps = r.proposals();
        let agenda = ps.iter().find(|p| {
            p.text == "honest" && p.outcome == peer_commons::commons::governance::Outcome::Open
        });
        let Some(p) = agenda
            .filter(|_| pick % 5 != 0)
            .or(ps.get(pick % ps.len().max(1)))
        else {
            return;
        };
        let choice = if yes && p.kind == "decision" {
            VoteChoice::Yes
        } else {
            VoteChoice::No
        };
        let id = p.id;
        r.vote(&id, choice, now).ok()
    };
    if let Some(made) = made {
        publish(w, i, made);
    }
}

fn converge(w: &mut World, limit: u64) {
    if w.run_until_converged(200, w.now + limit).is_none() {
        panic!("no convergence by t={} ms", w.now);
    }
    w.assert_converged();
}

fn backdating_members(seed: u64) {
    let cfg = WorldConfig {
        link: LinkSpec {
            latency_ms: 30,
            jitter_ms: 40,
            loss: 0.05,
            dup: 0.02,
            ..LinkSpec::default()
        },
        ..WorldConfig::default()
    };
    let n = 1 + ADVERSARIES + HONEST;
    let mut w = World::new(seed, cfg, n);
    for i in w.honest_indices() {
        let k = w.cfg.bootstrap;
        w.bootstrap(i, k);
    }
    w.run_until(3_000);
    let members: Vec<usize> = (1..=ADVERSARIES + HONEST_MEMBERS).collect();
    for &i in &members {
        w.edit(i);
    }
    converge(&mut w, 120_000);
    // The founder endorses every future member; the first two need no more, the others a
    // second endorsement, from peer 1.
    for &i in &members {
        endorse(&mut w, 0, i);
    }
    converge(&mut w, 120_000);
    for &i in &members[1..] {
        endorse(&mut w, 1, i);
    }
    converge(&mut w, 120_000);
    let r0 = w.honest(0).map(|h| h.node.replica()).expect("founder");
    assert_eq!(r0.members().len(), members.len() + 1, "members made");
    // Twenty rounds of governance; a partition splits the peers for rounds 8 to 13.
    for round in 0..20 {
        if round == 8 {
            let sides: Vec<(usize, u32)> = (0..n).map(|i| (i, u32::from(i % 2 == 1))).collect();
            w.partition(&sides);
        }
        if round == 14 {
            w.heal();
        }
        for _ in 0..4 {
            for _ in 0..2 {
                let i = w
                    .rng
                    .gen_range(ADVERSARIES + 1..=ADVERSARIES + HONEST_MEMBERS);
                govern(&mut w, i);
            }
            let a = w.rng.gen_range(1..=ADVERSARIES);
            attack(&mut w, a);
            let e = w.rng.gen_range(0..n);
            w.edit(e);
        }
        w.run_until(w.now + 1_500);
    }
    converge(&mut w, 600_000);
    let r = w.honest(0).map(|h| h.node.replica()).expect("founder");
    for v in 0..=ADVERSARIES + HONEST_MEMBERS {
        if v > ADVERSARIES || v == 0 {
            let key = Identity::from_secret(secret_key(&w, v)).author();
            assert!(
                !r.governance().is_blocked(&key),
                "honest member {v} blocked"
            );
        }
    }
    let ps = r.proposals();
    for p in &ps {
        if p.text == "backdated" {
            assert_eq!(
                p.electorate.len(),
                members.len() + 1,
                "a backdated block's electorate is every member"
            );
        }
        if p.outcome.passed() {
            assert!(
                u128::from(p.yes) * u128::from(p.quorum_den)
                    >= u128::from(p.quorum_num) * u128::from(p.total_weight),
                "passed below quorum"
            );
        }
    }
    println!(
        "seed {seed}: {} changes, {} proposals ({} passed, {} failed, {} confirmed), converged at {} ms",
        w.written.len(),
        ps.len(),
        ps.iter().filter(|p| p.outcome.passed()).count(),
        ps.iter()
            .filter(|p| matches!(p.outcome, peer_commons::commons::governance::Outcome::Failed { .. }))
            .count(),
        ps.iter().filter(|p| p.confirmed).count(),
        w.now
    );
}

#[test]
fn backdating_members_among_fifty_honest_peers_under_loss_and_partition() {
    for_seeds(
        "backdating_members_among_fifty_honest_peers_under_loss_and_partition",
        2,
        backdating_members,
    );
}
