//! Property: random histories of contributions, endorsements, flags, reverts, proposals (of every
//! kind, some invalid), votes (some by outsiders or after the decision) and blocks, made by a few
//! writers who sync irregularly, give identical governance state on every replica whatever the
//! order the changes arrive in (with duplicates), and on the writers themselves once synced.

mod governance_support;

use governance_support::*;
use peer_commons::change::{ChangeId, Op, ProposalKind, TextEdit, VoteChoice};
use peer_commons::commons::Commons;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random pick from a slice.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, v: &[T]) -> Option<T> {
    (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())])
}

fn changes_of_others(c: &Commons) -> Vec<ChangeId> {
    let me = c.local_author();
    c.changes_in_causal_order()
        .filter(|ch| !ch.is_genesis() && Some(ch.body.author) != me)
        .map(|ch| ch.id)
        .collect()
}

fn proposals(c: &Commons) -> Vec<ChangeId> {
    c.proposals().iter().map(|p| p.id).collect()
}

fn random_kind(rng: &mut ChaCha8Rng, writers: usize) -> ProposalKind {
    // Mostly non-founders: a blocked founder is possible, but should not end every history.
    let k = if rng.gen_bool(0.1) {
        key(1)
    } else {
        key(rng.gen_range(2..=writers as u8))
    };
    match rng.gen_range(0..10) {
        0..=2 => ProposalKind::Block { key: k },
        3 => ProposalKind::Unblock { key: k },
        4 => ProposalKind::ChangeParameter {
            name: "member_endorsements".into(),
            value: rng.gen_range(0..4).to_string(),
        },
        5 => ProposalKind::ChangeParameter {
            name: "quorum".into(),
            value: format!("{}/{}", rng.gen_range(0..4), rng.gen_range(1..4)),
        },
        6 => ProposalKind::ChangeParameter {
            name: "vote_weight".into(),
            value: ["equal", "reputation", "money"][rng.gen_range(0..3)].into(),
        },
        7 => ProposalKind::ChangeLicence {
            spdx: ["GPL-3.0-or-later", "MIT", "CC-BY-SA-4.0"][rng.gen_range(0..3)].into(),
        },
        _ => ProposalKind::Decision,
    }
}

/// One random action of writer `c`. Refusals are fine: they change nothing.
fn act(c: &mut Commons, rng: &mut ChaCha8Rng, writers: usize, t: u64) {
    let roll = rng.gen_range(0..100);
    match roll {
        0..=7 => {
            let _ = c.act(
                vec![Op::SetProfile {
                    name: format!("n{t}"),
                }],
                t,
            );
        }
        8..=13 => {
            let _ = c.create_document(&format!("d{t}"), "seed text", t);
        }
        14..=24 => {
            let docs: Vec<ChangeId> = c.documents().iter().map(|d| d.id).collect();
            if let Some(d) = pick(rng, &docs) {
                let len = c.document(&d).map_or(0, |x| x.len_utf16());
                let at = rng.gen_range(0..=len);
                let del = if len > at && rng.gen_bool(0.3) { 1 } else { 0 };
                if c.edit_text(&d, at, del, &format!("<{t}>")).is_ok() {
                    let _ = c.flush(t);
                }
            }
        }
        25..=27 => {
            let docs: Vec<ChangeId> = c.documents().iter().map(|d| d.id).collect();
            if let Some(doc) = pick(rng, &docs) {
                let title = format!("T{t}");
                let op = if rng.gen_bool(0.5) {
                    Op::RetitleDocument { doc, title }
                } else {
                    Op::Comment { doc, text: title }
                };
                let _ = c.act(vec![op], t);
            }
        }
        28..=42 => {
            if let Some(ch) = pick(rng, &changes_of_others(c)) {
                let _ = c.act(vec![Op::Endorse { change: ch }], t);
            }
        }
        43..=45 => {
            if let Some(ch) = pick(rng, &changes_of_others(c)) {
                let _ = c.flag(&ch, "looks wrong", t);
            }
        }
        46..=54 => {
            let kind = random_kind(rng, writers);
            let _ = c.act(
                vec![Op::Propose {
                    kind,
                    text: format!("p{t}"),
                }],
                t,
            );
        }
        55..=82 => {
            let me = c.local_author();
            let mine: Vec<ChangeId> = c
                .proposals()
                .iter()
                .filter(|p| p.electorate.iter().any(|e| Some(e.key) == me))
                .map(|p| p.id)
                .collect();
            let pool = if rng.gen_bool(0.8) && !mine.is_empty() {
                mine
            } else {
                proposals(c)
            };
            if let Some(p) = pick(rng, &pool) {
                let choice = match rng.gen_range(0..10) {
                    0..=6 => VoteChoice::Yes,
                    7..=8 => VoteChoice::No,
                    _ => VoteChoice::Abstain,
                };
                // Raw: also outsiders' votes and votes after the decision.
                let _ = c.act(
                    vec![Op::Vote {
                        proposal: p,
                        choice,
                    }],
                    t,
                );
            }
        }
        83..=92 => {
            let all: Vec<ChangeId> = c
                .changes_in_causal_order()
                .filter(|ch| !ch.is_genesis())
                .map(|ch| ch.id)
                .collect();
            if let Some(ch) = pick(rng, &all) {
                if c.revert(&ch, t).is_err() && rng.gen_bool(0.3) {
                    // A bare revert op, as a non-member or a modified client would send.
                    let _ = c.act(vec![Op::Revert { change: ch }], t);
                }
            }
        }
        _ => {
            // A self-endorsement and an edit under a foreign-looking but valid client: noise.
            let me: Vec<ChangeId> = c
                .changes_in_causal_order()
                .filter(|ch| Some(ch.body.author) == c.local_author() && !ch.is_genesis())
                .map(|ch| ch.id)
                .collect();
            if let Some(ch) = pick(rng, &me) {
                let _ = c.act(vec![Op::Endorse { change: ch }], t);
            }
            let _ = TextEdit {
                nonce: 0,
                update: vec![],
            };
        }
    }
}

/// What a history exercised, to check the generator reaches the interesting cases.
#[derive(Debug, Default)]
struct Coverage {
    members: usize,
    passed: usize,
    blocked: usize,
    excluded: usize,
    reverted: usize,
}

fn run(seed: u64, writers: usize, steps: usize) -> Coverage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = founder();
    let id = f.id();
    let mut ws: Vec<Commons> = vec![f];
    for s in 2..=writers as u8 {
        ws.push(writer(id, s));
    }
    // Everyone starts from the genesis and posts something; the founder endorses some of them
    // early so that there are members to vote (the rest is random).
    for i in 1..ws.len() {
        let (a, b) = ws.split_at_mut(i);
        sync(&a[0], &mut b[0]);
        let _ = b[0].act(
            vec![Op::SetProfile {
                name: format!("w{i}"),
            }],
            0,
        );
    }
    for i in 1..ws.len() {
        let (a, b) = ws.split_at_mut(i);
        sync(&b[0], &mut a[0]);
        if rng.gen_bool(0.7) {
            if let Some(ch) = b[0].changes_in_causal_order().last().map(|c| c.id) {
                let _ = a[0].endorse(&ch, 0);
            }
        }
    }
    for t in 1..=steps as u64 {
        let w = rng.gen_range(0..ws.len());
        if rng.gen_bool(0.4) {
            let from = rng.gen_range(0..ws.len());
            if from != w {
                let src: Vec<_> = ws[from].changes_in_causal_order().cloned().collect();
                // A prefix in causal order: a partial sync (half the time).
                let n = if rng.gen_bool(0.5) {
                    src.len()
                } else {
                    rng.gen_range(0..=src.len())
                };
                for ch in &src[..n] {
                    ws[w].insert(&ch.bytes).expect("valid");
                }
            }
        }
        act(&mut ws[w], &mut rng, writers, t);
    }
    let refs: Vec<&Commons> = ws.iter().collect();
    let all = union(&refs);
    let first = shuffled_replica(id, &all, &mut rng);
    let expected = snapshot(&first);
    for _ in 0..2 {
        let r = shuffled_replica(id, &all, &mut rng);
        assert_same(
            &snapshot(&r),
            &expected,
            &format!("seed {seed}: replicas disagree"),
        );
    }
    for w in &mut ws {
        for ch in &all {
            w.insert(&ch.bytes).expect("valid");
        }
        assert_same(
            &snapshot(w),
            &expected,
            &format!("seed {seed}: a writer disagrees"),
        );
    }
    let g = first.governance();
    let scratch = peer_commons::commons::Governance::evaluate(first.dag());
    assert_eq!(
        scratch.state_digest(),
        g.state_digest(),
        "seed {seed}: incremental and from-scratch evaluation disagree"
    );
    let ps = first.proposals();
    eprintln!(
        "seed {seed}: {} changes, {} proposals, {} votes counted, electorates {:?}",
        all.len(),
        ps.len(),
        ps.iter()
            .flat_map(|p| &p.votes)
            .filter(|v| v.note == peer_commons::commons::governance::VoteNote::Counted)
            .count(),
        ps.iter().map(|p| p.electorate.len()).collect::<Vec<_>>()
    );
    Coverage {
        members: first.members().len(),
        passed: first
            .proposals()
            .iter()
            .filter(|p| p.outcome.passed())
            .count(),
        blocked: first.blocked_keys().len(),
        excluded: all.iter().filter(|c| g.is_excluded(&c.id)).count(),
        reverted: g.reverted().len(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn governance_is_a_function_of_the_set_of_changes(
        seed in any::<u64>(),
        writers in 2usize..6,
        steps in 20usize..90,
    ) {
        run(seed, writers, steps);
    }
}

#[test]
fn seed_regression_1() {
    run(5656313091082864047, 3, 37);
}

/// Many short histories: print what they covered (run with --nocapture to see it).
#[test]
fn coverage_of_short_histories() {
    let mut total = Coverage::default();
    for seed in 0..12 {
        let c = run(seed, 4, 80);
        total.members += usize::from(c.members >= 3);
        total.passed += usize::from(c.passed > 0);
        total.blocked += usize::from(c.blocked > 0);
        total.excluded += usize::from(c.excluded > 0);
        total.reverted += usize::from(c.reverted > 0);
    }
    eprintln!("histories (of 12) with >=3 members, a passed proposal, a block, exclusions, reverts: {total:?}");
    assert!(
        total.members >= 6 && total.passed >= 6 && total.blocked >= 1 && total.reverted >= 6,
        "{total:?}"
    );
}

/// A fixed long history, so the properties are exercised at a size proptest's cases do not reach.
#[test]
fn a_long_history_converges() {
    let seed: u64 = std::env::var("GOV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        // A seed whose history reaches every rule (re-pick it when the change format changes:
        // other bytes, other ids, another random history).
        .unwrap_or(6);
    let c = run(seed, 5, 300);
    eprintln!("{c:?}");
    assert!(
        c.members >= 3 && c.passed >= 3 && c.blocked >= 1 && c.excluded >= 1 && c.reverted >= 1,
        "{c:?}"
    );
}
