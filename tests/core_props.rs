//! Property tests of the core: replicas that receive the same changes in any order, with
//! duplicates and gaps filled later, reach the same state; bad input is refused without panics
//! and leaves the state untouched.
//!
//! `PROPTEST_CASES` raises the case count for a soak run (default here: 1000 for convergence).

use peer_commons::change::{
    Change, ChangeBody, ChangeError, ChangeId, Charter, GovernanceParams, Op, TextEdit,
};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn charter() -> Charter {
    Charter {
        title: "props".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

const ALPHABET: &[&str] = &["a", "b", "é", "😀", " ", "\n", "xyz"];

/// Several authors, each on their own replica, editing concurrently and syncing now and then.
/// Returns every change made, and the reference replica that holds all of them.
fn concurrent_history(seed: u64, authors: usize, steps: usize) -> (Vec<Change>, Commons) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (founder, genesis) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
    let mut replicas = vec![founder];
    for i in 1..authors {
        let mut r = Commons::join(
            genesis.id,
            Some((Identity::from_secret([i as u8 + 1; 32]), i as u32)),
        );
        r.insert(&genesis.bytes).unwrap();
        replicas.push(r);
    }
    let mut all: Vec<Change> = vec![genesis];
    let mut docs: Vec<ChangeId> = Vec::new();
    for step in 0..steps {
        let who = rng.gen_range(0..authors);
        let now = step as u64;
        let r = &mut replicas[who];
        let made = match rng.gen_range(0..10) {
            0 => r
                .create_document(
                    &format!("doc {step}"),
                    ALPHABET[rng.gen_range(0..ALPHABET.len())],
                    now,
                )
                .unwrap(),
            1 => {
                // Sync: this replica receives everything made so far (in a shuffled order).
                let mut some = all.clone();
                some.shuffle(&mut rng);
                for c in &some {
                    r.insert(&c.bytes).unwrap();
                }
                vec![]
            }
            2 => r
                .act(
                    vec![Op::SetProfile {
                        name: format!("n{step}"),
                    }],
                    now,
                )
                .unwrap(),
            _ => {
                let known: Vec<ChangeId> = docs
                    .iter()
                    .filter(|d| r.document(d).is_some())
                    .copied()
                    .collect();
                if let Some(doc) = known.choose(&mut rng) {
                    for _ in 0..rng.gen_range(1..4) {
                        // Stay on character boundaries: pick among the text's UTF-16 offsets.
                        let text = r.text(doc).unwrap();
                        let bounds: Vec<u64> = std::iter::once(0)
                            .chain(text.chars().scan(0u64, |acc, c| {
                                *acc += c.len_utf16() as u64;
                                Some(*acc)
                            }))
                            .collect();
                        let i = rng.gen_range(0..bounds.len());
                        let at = bounds[i];
                        if rng.gen_bool(0.3) && i + 1 < bounds.len() {
                            let j = rng.gen_range(i + 1..bounds.len());
                            r.edit_text(doc, at, bounds[j] - at, "").unwrap();
                        } else {
                            r.edit_text(doc, at, 0, ALPHABET[rng.gen_range(0..ALPHABET.len())])
                                .unwrap();
                        }
                    }
                    r.flush(now).unwrap()
                } else {
                    vec![]
                }
            }
        };
        for c in made {
            if matches!(c.body.ops.first(), Some(Op::CreateDocument { .. })) {
                docs.push(c.id);
            }
            all.push(c);
        }
    }
    let mut reference = Commons::join(all[0].id, None);
    for c in &all {
        reference.insert(&c.bytes).unwrap();
    }
    assert_eq!(reference.dag().pending_len(), 0);
    (all, reference)
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000)))]

    /// Any delivery order, with duplicates, gives the same texts and state hash.
    #[test]
    fn replicas_converge_whatever_the_order(seed in any::<u64>(), authors in 2usize..5, steps in 5usize..40) {
        let (all, reference) = concurrent_history(seed, authors, steps);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let mut delivery = all.clone();
        // Duplicates: some changes are delivered twice.
        for _ in 0..rng.gen_range(0..5) {
            let c = all[rng.gen_range(0..all.len())].clone();
            delivery.push(c);
        }
        delivery.shuffle(&mut rng);
        let mut replica = Commons::join(all[0].id, None);
        for c in &delivery {
            replica.insert(&c.bytes).unwrap();
        }
        prop_assert_eq!(replica.dag().pending_len(), 0);
        prop_assert_eq!(replica.len(), all.len());
        prop_assert_eq!(replica.state_hash(), reference.state_hash());
        for d in reference.documents() {
            prop_assert_eq!(replica.text(&d.id), reference.text(&d.id));
            prop_assert_eq!(replica.document(&d.id).unwrap().title(), reference.document(&d.id).unwrap().title());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    /// Random bytes never panic any decoder, and never change a replica.
    #[test]
    fn random_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (mut c, _) = Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
        let before = c.state_hash();
        prop_assert!(Change::decode(&bytes).is_err());
        prop_assert!(c.insert(&bytes).is_err());
        prop_assert_eq!(c.state_hash(), before);
    }

    /// Flipping any byte of a valid change makes it invalid (or, for the unused bits of the
    /// signature, still the same change): never a different accepted change.
    #[test]
    fn bit_flips_are_detected(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let id = Identity::from_secret([2; 32]);
        let body = ChangeBody {
            format: 1, commons: Some(ChangeId([9; 32])), author: id.author(), seq: 1,
            deps: vec![ChangeId([8; 32])], time: 5, ops: vec![Op::SetProfile { name: "flip".into() }],
        };
        let c = Change::sign(&id, body);
        let mut bytes = c.bytes.clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(d) = Change::decode(&bytes) {
            prop_assert_eq!(d.id, c.id);
            prop_assert_eq!(d.body, c.body);
        }
    }
}

#[test]
fn every_bad_change_gets_its_own_error_and_leaves_state_untouched() {
    let (mut c, genesis) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
    let doc = c
        .create_document("d", "text", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let before = c.state_hash();
    let mallory = Identity::from_secret([66; 32]);
    let body = |ops: Vec<Op>, commons: ChangeId, deps: Vec<ChangeId>| ChangeBody {
        format: 1,
        commons: Some(commons),
        author: mallory.author(),
        seq: 1,
        deps,
        time: 1,
        ops,
    };

    // Forged signature: Mallory's body signed by someone else.
    let forged = Change::sign(
        &mallory,
        body(
            vec![Op::SetProfile { name: "x".into() }],
            genesis.id,
            vec![doc],
        ),
    );
    let mut bytes = forged.bytes.clone();
    let other = Identity::from_secret([67; 32]).sign(b"not this");
    bytes[..64].copy_from_slice(&other);
    assert!(matches!(c.insert(&bytes), Err(ChangeError::Signature(_))));

    // Wrong commons.
    let foreign = Change::sign(
        &mallory,
        body(
            vec![Op::SetProfile { name: "x".into() }],
            ChangeId([3; 32]),
            vec![doc],
        ),
    );
    assert_eq!(c.insert(&foreign.bytes), Err(ChangeError::WrongCommons));

    // Oversize.
    let big = Change::sign(
        &mallory,
        body(
            vec![Op::Comment {
                doc,
                text: "x".repeat(20_000),
            }],
            genesis.id,
            vec![doc],
        ),
    );
    assert!(matches!(
        c.insert(&big.bytes),
        Err(ChangeError::Limit {
            what: "comment",
            ..
        })
    ));

    // Unknown deps: held back, not applied.
    let orphan = Change::sign(
        &mallory,
        body(
            vec![Op::SetProfile { name: "x".into() }],
            genesis.id,
            vec![ChangeId([4; 32])],
        ),
    );
    let r = c.insert(&orphan.bytes).unwrap();
    assert!(r.applied.is_empty());
    assert_eq!(r.missing, vec![ChangeId([4; 32])]);

    // A CRDT update under another client id.
    let victim = Identity::from_secret([1; 32]).author();
    let doc_y = yrs::Doc::with_client_id(peer_commons::change::client_id(&victim, 1));
    let update = {
        use yrs::{Text, Transact};
        let t = doc_y.get_or_insert_text("text");
        let mut txn = doc_y.transact_mut();
        t.insert(&mut txn, 0, "impersonated");
        txn.encode_update_v2()
    };
    let forged_edit = Change::sign(
        &mallory,
        body(
            vec![Op::EditDocument {
                doc,
                edit: TextEdit { nonce: 1, update },
            }],
            genesis.id,
            vec![doc],
        ),
    );
    assert!(matches!(
        c.insert(&forged_edit.bytes),
        Err(ChangeError::ForeignClient { .. })
    ));

    assert_eq!(c.state_hash(), before);
    assert_eq!(c.text(&doc).unwrap(), "text");
}
