//! Attacks on governance by what a change cites (issue 13, item 1): a proposal or a vote signed by
//! hand with chosen, old deps ("backdated") must not shrink an electorate, reorder votes against
//! earlier ones, or reverse a decided outcome (docs/GOVERNANCE.md, Part 2 §3 and §3a). Every
//! attack is delivered to replicas in several orders: they must also agree.

mod governance_support;

use governance_support::*;
use peer_commons::change::{Change, ChangeBody, ChangeId, Op, ProposalKind, VoteChoice};
use peer_commons::commons::governance::Outcome;
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Signs `ops` by the identity of `secret`, citing exactly `deps`.
fn forge(secret: u8, commons: ChangeId, deps: Vec<ChangeId>, seq: u64, ops: Vec<Op>) -> Change {
    let who = Identity::from_secret([secret; 32]);
    Change::sign(
        &who,
        ChangeBody {
            format: 1,
            commons: Some(commons),
            author: who.author(),
            seq,
            deps,
            time: 0,
            ops,
        },
    )
}

fn say(c: &mut Commons, what: &str) -> ChangeId {
    c.act(vec![Op::SetProfile { name: what.into() }], 1)
        .expect("act")
        .last()
        .expect("one change")
        .id
}

/// Replicas fed the union of `replicas` in random orders agree with each other and with the
/// first replica fed in causal order; returns that one.
fn everywhere(replicas: &[&Commons], seed: u64) -> Commons {
    let all = union(replicas);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let reference = shuffled_replica(replicas[0].id(), &all, &mut rng);
    for i in 0..4 {
        let r = shuffled_replica(replicas[0].id(), &all, &mut rng);
        assert_same(&snapshot(&r), &snapshot(&reference), &format!("order {i}"));
    }
    reference
}

/// The founder signs a block of a member citing only the genesis, so that the proposal's causal
/// past holds one member (the founder), and votes yes on it. Under "the electorate is the
/// members of the proposal's past" that single yes passed it and the member's whole history was
/// left out everywhere.
#[test]
fn a_backdated_proposal_cannot_shrink_its_electorate() {
    let mut f = founder();
    let genesis = f.id();
    let mut a = join(&f, 2);
    let mut b = join(&f, 3);
    let ca = say(&mut a, "Ana");
    let cb = say(&mut b, "Bo");
    sync(&a, &mut f);
    sync(&b, &mut f);
    f.endorse(&ca, 2).expect("endorse");
    f.endorse(&cb, 2).expect("endorse");
    sync(&f, &mut a);
    sync(&f, &mut b);
    let doc = a.create_document("Notes", "Ana's notes", 3).expect("doc");
    let doc = doc.last().expect("doc").id;
    sync(&a, &mut f);
    assert_eq!(f.members().len(), 3);

    let block = forge(
        1,
        genesis,
        vec![genesis],
        90,
        vec![Op::Propose {
            kind: ProposalKind::Block { key: key(2) },
            text: "backdated".into(),
        }],
    );
    let yes = forge(
        1,
        genesis,
        vec![block.id],
        91,
        vec![Op::Vote {
            proposal: block.id,
            choice: VoteChoice::Yes,
        }],
    );
    for c in [&block, &yes] {
        f.insert(&c.bytes).expect("valid");
    }
    let view = f.governance().proposal(&block.id).expect("proposal");
    assert_eq!(
        view.electorate.len(),
        3,
        "the members concurrent with a proposal count"
    );
    assert_eq!(view.outcome, Outcome::Open, "one yes of three is not 1/2");
    assert!(f.blocked_keys().is_empty());
    assert!(!f.governance().is_excluded(&doc));
    assert_eq!(f.text(&doc).as_deref(), Some("Ana's notes"));
    let r = everywhere(&[&f, &a, &b], 13);
    assert!(r.blocked_keys().is_empty() && !r.governance().is_excluded(&ca));
}

/// Electorate {F, A}, quorum 1/2: F's yes passes a decision. A sees it and acts (an endorsement
/// and an edit), then signs a "no" citing only the proposal: it sorts before F's yes in causal
/// order, and under "first deciding vote in causal order" it turned the pass into a fail.
#[test]
fn a_backdated_vote_cannot_reverse_an_acknowledged_decision() {
    let mut f = founder();
    let genesis = f.id();
    let mut a = join(&f, 2);
    let ca = say(&mut a, "Ana");
    sync(&a, &mut f);
    f.endorse(&ca, 2).expect("endorse");
    let (p, _) = f
        .propose(ProposalKind::Decision, "meet on Fridays", 3)
        .expect("propose");
    // F's yes comes two changes after the proposal, so a "no" citing the proposal sorts first.
    say(&mut f, "Founder");
    f.vote(&p, VoteChoice::Yes, 4).expect("vote");
    assert!(f.governance().outcome(&p).expect("p").passed());
    sync(&f, &mut a);
    let fc = say(&mut f, "F again");
    sync(&f, &mut a);
    a.endorse(&fc, 5)
        .expect("A acknowledges, having seen the decision");
    say(&mut a, "Ana, later");
    sync(&a, &mut f);

    let no = forge(
        2,
        genesis,
        vec![p],
        2,
        vec![Op::Vote {
            proposal: p,
            choice: VoteChoice::No,
        }],
    );
    f.insert(&no.bytes).expect("valid");
    let view = f.governance().proposal(&p).expect("p");
    assert!(view.outcome.passed(), "{:?}", view.outcome);
    assert!(view.confirmed, "F and A acknowledged the pass: final");
    let r = everywhere(&[&f, &a], 7);
    assert!(r.governance().outcome(&p).expect("p").passed());
}

/// The limit, stated in docs/GOVERNANCE.md: a member who never acknowledged a decision can still
/// contest it while it is provisional. Same history, but A signs the backdated "no" without
/// having made any change since F's yes.
#[test]
fn a_silent_member_can_contest_a_provisional_outcome() {
    let mut f = founder();
    let genesis = f.id();
    let mut a = join(&f, 2);
    let ca = say(&mut a, "Ana");
    sync(&a, &mut f);
    f.endorse(&ca, 2).expect("endorse");
    let (p, _) = f
        .propose(ProposalKind::Decision, "meet on Fridays", 3)
        .expect("propose");
    say(&mut f, "Founder");
    f.vote(&p, VoteChoice::Yes, 4).expect("vote");
    let view = f.governance().proposal(&p).expect("p");
    assert!(
        view.outcome.passed() && !view.confirmed,
        "only F has seen it"
    );
    let no = forge(
        2,
        genesis,
        vec![p],
        2,
        vec![Op::Vote {
            proposal: p,
            choice: VoteChoice::No,
        }],
    );
    f.insert(&no.bytes).expect("valid");
    let view = f.governance().proposal(&p).expect("p");
    assert_eq!(view.outcome, Outcome::Failed { at: no.id });
    assert!(!view.confirmed);
    // A's later act sees both contrary decisions: it acknowledges neither, the fail stays
    // provisional (it can still be overtaken by acknowledgements of the pass, see the docs).
    let mut a2 = join(&f, 2);
    let fc = say(&mut f, "F again");
    sync(&f, &mut a2);
    a2.endorse(&fc, 6).expect("endorse");
    sync(&a2, &mut f);
    let view = f.governance().proposal(&p).expect("p");
    assert_eq!(view.outcome, Outcome::Failed { at: no.id });
    assert!(!view.confirmed);
    everywhere(&[&f, &a2], 3);
}

// ---- Property: random adversarial histories ----

use proptest::prelude::*;
use rand::Rng;

/// Changes `c` holds, in causal order.
fn held(c: &Commons) -> Vec<Change> {
    c.changes_in_causal_order().cloned().collect()
}

/// One step of an attacker (secret `s`) on its replica `c`: a block or decision proposal citing a
/// random old change, or a vote on a random proposal citing only the proposal or a random old
/// point of the history. Forged changes are inserted into the attacker's replica (to be synced
/// on from there) and returned.
fn attack(c: &mut Commons, s: u8, rng: &mut ChaCha8Rng, seq: &mut u64) -> Option<Change> {
    let all = held(c);
    let old = all.get(rng.gen_range(0..all.len()))?.id;
    *seq += 1;
    let proposals: Vec<ChangeId> = c.proposals().iter().map(|p| p.id).collect();
    let ops = if proposals.is_empty() || rng.gen_bool(0.3) {
        let kind = if rng.gen_bool(0.6) {
            ProposalKind::Block {
                key: key(rng.gen_range(1..=5)),
            }
        } else {
            ProposalKind::Decision
        };
        vec![Op::Propose {
            kind,
            text: "backdated".into(),
        }]
    } else {
        let p = proposals[rng.gen_range(0..proposals.len())];
        let choice = if rng.gen_bool(0.5) {
            VoteChoice::Yes
        } else {
            VoteChoice::No
        };
        vec![Op::Vote {
            proposal: p,
            choice,
        }]
    };
    let deps = match &ops[0] {
        Op::Vote { proposal, .. } if rng.gen_bool(0.5) => vec![*proposal],
        Op::Vote { proposal, .. } => {
            let mut d = vec![*proposal, old];
            d.sort_unstable();
            d.dedup();
            d
        }
        _ => vec![old],
    };
    let forged = forge(s, c.id(), deps, *seq, ops);
    c.insert(&forged.bytes).ok()?;
    Some(forged)
}

/// One honest step: propose, vote (through the API: only while open and in the electorate),
/// endorse, or write.
fn honest(c: &mut Commons, rng: &mut ChaCha8Rng, t: u64) {
    match rng.gen_range(0..10) {
        0 => {
            let _ = c.propose(ProposalKind::Decision, "honest", t);
        }
        1..=5 => {
            let ps: Vec<ChangeId> = c.proposals().iter().map(|p| p.id).collect();
            if !ps.is_empty() {
                let p = ps[rng.gen_range(0..ps.len())];
                let choice = if rng.gen_bool(0.6) {
                    VoteChoice::Yes
                } else {
                    VoteChoice::No
                };
                let _ = c.vote(&p, choice, t);
            }
        }
        6..=7 => {
            let me = c.local_author();
            let others: Vec<ChangeId> = held(c)
                .iter()
                .filter(|ch| !ch.is_genesis() && Some(ch.body.author) != me)
                .map(|ch| ch.id)
                .collect();
            if !others.is_empty() {
                let _ = c.endorse(&others[rng.gen_range(0..others.len())], t);
            }
        }
        _ => {
            let _ = c.act(
                vec![Op::SetProfile {
                    name: format!("n{t}"),
                }],
                t,
            );
        }
    }
}

/// Replicas of `n` writers (secrets 1..=n, the founder first), all members, all synced.
fn members(n: u8) -> Vec<Commons> {
    let mut ws: Vec<Commons> = vec![founder()];
    let mut hello = vec![];
    for s in 2..=n {
        let mut w = join(&ws[0], s);
        hello.push(say(&mut w, "hello"));
        sync(&w, &mut ws[0]);
        ws.push(w);
    }
    // The founder endorses everyone; from the third member on, two endorsements are needed:
    // writer 2 adds the second.
    for c in &hello {
        ws[0].endorse(c, 0).expect("endorse");
    }
    let (first, rest) = ws.split_at_mut(1);
    sync(&first[0], &mut rest[0]);
    for c in hello.iter().skip(2) {
        rest[0].endorse(c, 0).expect("endorse");
    }
    sync(&rest[0], &mut first[0]);
    for w in rest.iter_mut() {
        sync(&first[0], w);
    }
    assert_eq!(ws[0].members().len(), usize::from(n));
    ws
}

/// Writer `i` receives everything the writers of `side` hold.
fn sync_side(ws: &mut [Commons], i: usize, side: std::ops::Range<usize>) {
    for j in side.filter(|j| *j != i) {
        for c in held(&ws[j]) {
            ws[i].insert(&c.bytes).expect("valid");
        }
    }
}

/// A partition: sides vote contrary decisions, each side's members act having seen only their
/// side's. With 3 against 3 neither verdict is acknowledged by a majority: the earliest deciding
/// vote stands, provisional. With 4 against 3, the majority's verdict is final and wins, whichever
/// deciding vote sorts first.
#[test]
fn a_partition_yields_at_most_one_final_outcome() {
    for (n, left) in [(6u8, 3usize), (7, 4)] {
        let mut ws = members(n);
        let (p, _) = ws[0]
            .propose(ProposalKind::Decision, "split", 5)
            .expect("propose");
        let all = held(&ws[0]);
        for w in ws.iter_mut() {
            for c in &all {
                w.insert(&c.bytes).expect("valid");
            }
        }
        // Each side votes in turn, syncing within the side only; then everyone acts once.
        for side in [0..left, left..usize::from(n)] {
            let choice = if side.start == 0 {
                VoteChoice::Yes
            } else {
                VoteChoice::No
            };
            for i in side.clone() {
                sync_side(&mut ws, i, side.clone());
                let _ = ws[i].vote(&p, choice, 6);
            }
            for i in side.clone() {
                sync_side(&mut ws, i, side.clone());
            }
            for i in side.clone() {
                let target = held(&ws[i])
                    .iter()
                    .rev()
                    .find(|c| Some(c.body.author) != ws[i].local_author())
                    .map(|c| c.id)
                    .expect("someone else's change");
                ws[i].endorse(&target, 7).expect("endorse");
            }
        }
        let refs: Vec<&Commons> = ws.iter().collect();
        let r = everywhere(&refs, u64::from(n));
        let view = r.governance().proposal(&p).expect("p");
        if left * 2 > usize::from(n) {
            assert!(
                view.outcome.passed() && view.confirmed,
                "{:?}",
                view.outcome
            );
        } else {
            assert!(!view.confirmed, "3 against 3: nothing final");
            assert_ne!(view.outcome, Outcome::Open);
        }
    }
}

/// Writers 1..=5 (the founder is 1; 2..=5 are made members at the start); `attackers` of them
/// also forge backdated proposals and votes; everyone syncs irregularly (partial prefixes too).
fn adversarial_history(seed: u64, attackers: usize, steps: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ws = members(5);
    let id = ws[0].id();
    let mut seqs = [1000u64; 5];
    for t in 1..=steps {
        let w = rng.gen_range(0..ws.len());
        if rng.gen_bool(0.4) {
            let from = rng.gen_range(0..ws.len());
            let src = held(&ws[from]);
            let n = if rng.gen_bool(0.5) {
                src.len()
            } else {
                rng.gen_range(0..=src.len())
            };
            for ch in &src[..n] {
                ws[w].insert(&ch.bytes).expect("valid");
            }
        }
        if w < attackers && rng.gen_bool(0.5) {
            attack(&mut ws[w], w as u8 + 1, &mut rng, &mut seqs[w]);
        } else {
            honest(&mut ws[w], &mut rng, t);
        }
    }
    let refs: Vec<&Commons> = ws.iter().collect();
    let all = union(&refs);
    let reference = shuffled_replica(id, &all, &mut rng);
    let expected = snapshot(&reference);
    for _ in 0..2 {
        let r = shuffled_replica(id, &all, &mut rng);
        assert_same(&snapshot(&r), &expected, &format!("seed {seed}"));
    }
    let scratch = peer_commons::commons::Governance::evaluate(reference.dag());
    assert_eq!(
        scratch.state_digest(),
        reference.governance().state_digest(),
        "seed {seed}: incremental and from-scratch evaluation disagree"
    );
    for p in reference.proposals() {
        let (num, den, total) = (
            u128::from(p.quorum_num),
            u128::from(p.quorum_den),
            u128::from(p.total_weight),
        );
        if p.outcome.passed() {
            assert!(
                u128::from(p.yes) * den >= num * total && p.yes > p.no,
                "seed {seed}: passed with {} yes of {} ({}/{})",
                p.yes,
                p.total_weight,
                p.quorum_num,
                p.quorum_den
            );
        }
        // The electorate an honest replica counts holds every current member that was a member
        // before the proposal was made: here, the five writers unless blocked. Checked in
        // histories where no block passed (blocks leave endorsements out, see the report).
        let blocks_passed = reference
            .proposals()
            .iter()
            .any(|q| q.kind != "decision" && q.outcome.passed());
        for m in reference.members().into_iter().filter(|_| !blocks_passed) {
            let early = (1..=5u8).any(|s| key(s) == m.key);
            if early {
                assert!(
                    p.electorate.iter().any(|e| e.key == m.key),
                    "seed {seed}: a member left out of an electorate"
                );
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    /// Backdated proposals and votes, delivered in random orders with duplicates: one state
    /// everywhere, no pass below the quorum of the electorate an honest replica counts, and no
    /// early member left out of any electorate.
    #[test]
    fn backdating_neither_splits_replicas_nor_passes_below_quorum(
        seed in any::<u64>(),
        attackers in 1usize..3,
        steps in 20u64..70,
    ) {
        adversarial_history(seed, attackers, steps);
    }
}
