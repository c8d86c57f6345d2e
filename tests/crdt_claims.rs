//! Exclusive CRDT id claims (docs/PROTOCOL.md, "CRDT client ids"): an author who signs two
//! changes claiming the same (client id, clock) range of a document — by reusing a session
//! nonce — must not be able to split replicas. Written as the attacker would: the changes are
//! signed by hand, with chosen nonces, clocks and deps, and delivered in opposite orders.

use peer_commons::change::{
    client_id, Change, ChangeBody, ChangeId, Charter, GovernanceParams, Op, TextEdit,
};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Options, Text, Transact, Update};

fn charter() -> Charter {
    Charter {
        title: "claims".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// A commons with one document holding "base", and its changes (genesis, document).
fn commons_with_doc() -> (Commons, Vec<Change>, ChangeId) {
    let (mut c, genesis) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
    let made = c.create_document("d", "base", 1).unwrap();
    let doc = made.last().unwrap().id;
    let mut all = vec![genesis];
    all.extend(made);
    (c, all, doc)
}

/// A yrs document under `client` holding the state `state` (a Yjs v1 update), as the attacker's
/// hand-made editor would.
fn editor(client: u64, state: &[u8]) -> Doc {
    let mut opts = Options::with_client_id(yrs::block::ClientID::new(client));
    opts.offset_kind = yrs::OffsetKind::Utf16;
    opts.skip_gc = true;
    let d = Doc::with_options(opts);
    d.get_or_insert_text("text");
    d.transact_mut()
        .apply_update(Update::decode_v1(state).unwrap())
        .unwrap();
    d
}

/// An update inserting `text` at `index` of a fresh editor under `client` on top of `state`:
/// two calls with the same client and state claim the same clocks.
fn insert_update(client: u64, state: &[u8], index: u32, text: &str) -> Vec<u8> {
    let d = editor(client, state);
    let t = d.get_or_insert_text("text");
    let mut txn = d.transact_mut();
    t.insert(&mut txn, index, text);
    txn.encode_update_v2()
}

/// Signs an edit of `doc` by `who` under `nonce`, citing `deps`.
fn edit(
    who: &Identity,
    commons: ChangeId,
    doc: ChangeId,
    deps: Vec<ChangeId>,
    nonce: u32,
    update: Vec<u8>,
    seq: u64,
) -> Change {
    Change::sign(
        who,
        ChangeBody {
            format: 1,
            commons: Some(commons),
            author: who.author(),
            seq,
            deps,
            time: seq,
            ops: vec![Op::EditDocument {
                doc,
                edit: TextEdit { nonce, update },
            }],
        },
    )
}

fn replica(changes: &[&Change]) -> Commons {
    let mut r = Commons::join(changes[0].id, None);
    for c in changes {
        r.insert(&c.bytes).unwrap();
    }
    r
}

/// The attack of issue 13: Mallory signs two edits under the same nonce, both inserting at clock
/// 0 of her client id, with different text. Two replicas receive them in opposite orders.
#[test]
fn two_edits_reusing_a_nonce_cannot_split_replicas() {
    let (founder, all, doc) = commons_with_doc();
    let state = founder.document(&doc).unwrap().encode_state();
    let mallory = Identity::from_secret([66; 32]);
    let client = client_id(&mallory.author(), 7);
    let m1 = edit(
        &mallory,
        all[0].id,
        doc,
        vec![doc],
        7,
        insert_update(client, &state, 0, "TRUE "),
        1,
    );
    let m2 = edit(
        &mallory,
        all[0].id,
        doc,
        vec![doc],
        7,
        insert_update(client, &state, 4, " LIES"),
        1,
    );
    // Both are valid on their own: same author, her own client id.
    assert!(Change::decode(&m1.bytes).is_ok() && Change::decode(&m2.bytes).is_ok());

    let a = replica(&[&all[0], &all[1], &m1, &m2]);
    let b = replica(&[&all[0], &all[1], &m2, &m1]);
    assert_eq!(a.text(&doc), b.text(&doc));
    assert_eq!(a.state_hash(), b.state_hash());

    // The winner is the claim of the change first in causal order (same depth here: smaller id);
    // the other's text is left out and the founder's text is untouched.
    let (win, lose) = if m1.id < m2.id {
        ("TRUE ", " LIES")
    } else {
        (" LIES", "TRUE ")
    };
    let text = a.text(&doc).unwrap();
    assert!(text.contains(win.trim()), "{text:?}");
    assert!(!text.contains(lose.trim()), "{text:?}");
    assert!(text.contains("base"), "{text:?}");
    let loser = if m1.id < m2.id { m2.id } else { m1.id };
    assert!(a.is_voided(&loser) && b.is_voided(&loser));
    assert!(a.is_equivocating(&mallory.author()));
    assert!(!a.is_equivocating(&founder.local_author().unwrap()));
}

/// A claim that causally follows another claim on the same ids never wins, whatever the ids:
/// Mallory cannot replace text others have seen by citing it and reusing its clocks.
#[test]
fn a_later_claim_on_seen_ids_loses_and_neighbours_keep_their_anchors() {
    let (founder, all, doc) = commons_with_doc();
    let state = founder.document(&doc).unwrap().encode_state();
    let mallory = Identity::from_secret([66; 32]);
    let client = client_id(&mallory.author(), 7);
    let m1 = edit(
        &mallory,
        all[0].id,
        doc,
        vec![doc],
        7,
        insert_update(client, &state, 4, "!!"),
        1,
    );
    // Bob sees m1 and types right after Mallory's text.
    let mut bob = Commons::join(all[0].id, Some((Identity::from_secret([5; 32]), 3)));
    for c in all.iter().chain([&m1]) {
        bob.insert(&c.bytes).unwrap();
    }
    bob.edit_text(&doc, 6, 0, "?").unwrap();
    let b1 = bob.flush(2).unwrap().pop().unwrap();
    // Mallory then claims the same clocks again (with a longer text), citing both.
    let mut deps = vec![m1.id, b1.id];
    deps.sort();
    let m2 = edit(
        &mallory,
        all[0].id,
        doc,
        deps,
        7,
        insert_update(client, &state, 0, "XXXXXX"),
        2,
    );
    let orders: [Vec<&Change>; 3] = [
        vec![&all[0], &all[1], &m1, &b1, &m2],
        vec![&all[0], &all[1], &m2, &b1, &m1],
        vec![&all[0], &all[1], &b1, &m2, &m1],
    ];
    for order in &orders {
        let r = replica(order);
        assert_eq!(r.text(&doc).unwrap(), "base!!?");
        assert!(r.is_voided(&m2.id) && !r.is_voided(&m1.id));
        assert!(r.is_equivocating(&mallory.author()));
        assert!(!r.is_equivocating(&bob.local_author().unwrap()));
    }
    let first = replica(&orders[0]).state_hash();
    for order in &orders[1..] {
        assert_eq!(replica(order).state_hash(), first);
    }
}

/// The flag reaches the participants view and the ledger (and so the JS API, which serializes
/// these views), and the ledger CSV.
#[test]
fn the_equivocating_author_is_flagged_in_views_and_ledger() {
    let (founder, all, doc) = commons_with_doc();
    let state = founder.document(&doc).unwrap().encode_state();
    let mallory = Identity::from_secret([66; 32]);
    let client = client_id(&mallory.author(), 7);
    let m1 = edit(
        &mallory,
        all[0].id,
        doc,
        vec![doc],
        7,
        insert_update(client, &state, 0, "a"),
        1,
    );
    let m2 = edit(
        &mallory,
        all[0].id,
        doc,
        vec![doc],
        7,
        insert_update(client, &state, 0, "b"),
        1,
    );
    let honest = replica(&[&all[0], &all[1], &m1]);
    assert!(!honest.is_equivocating(&mallory.author()));
    let r = replica(&[&all[0], &all[1], &m1, &m2]);
    let views = r.participant_views();
    let flag = |k: &peer_commons::identity::AuthorId| {
        views.iter().find(|v| v.key == *k).map(|v| v.equivocating)
    };
    assert_eq!(flag(&mallory.author()), Some(true));
    assert_eq!(flag(&founder.local_author().unwrap()), Some(false));
    let ledger = r.ledger();
    let row = ledger
        .rows
        .iter()
        .find(|x| x.author == mallory.author().to_hex())
        .unwrap();
    assert!(row.equivocating);
    assert_eq!(r.voided_changes(&mallory.author()).len(), 1);
    // Her voided change still counts as a change she signed: only its text is void.
    assert_eq!(row.changes, 2);
}

/// An honest key never equivocates with itself: a session that reopens with a nonce one of its
/// earlier sessions used (a restart, or another tab or device with the same key) moves to a
/// fresh nonce before typing, and the edits of both sessions are kept.
#[test]
fn a_session_that_drew_a_used_nonce_moves_to_a_fresh_one() {
    let key = Identity::from_secret([1; 32]);
    let (mut first, genesis) = Commons::create(key.clone(), 9, charter(), 0).unwrap();
    let made = first.create_document("d", "", 1).unwrap();
    let doc = made.last().unwrap().id;
    first.edit_text(&doc, 0, 0, "one").unwrap();
    let e1 = first.flush(2).unwrap();
    let mut history = vec![genesis];
    history.extend(made);
    history.extend(e1);

    // Restart: a new session that drew the same nonce, reopening the stored changes.
    let mut again = Commons::join(history[0].id, Some((key.clone(), 9)));
    for c in &history {
        again.insert(&c.bytes).unwrap();
    }
    assert_ne!(again.session_nonce(), Some(9), "the used nonce was left");
    again.edit_text(&doc, 3, 0, " two").unwrap();
    let e2 = again.flush(3).unwrap();

    // Another tab with the same key and (by chance) the same nonce, typing concurrently.
    let mut tab = Commons::join(history[0].id, Some((key.clone(), 9)));
    for c in &history[..2] {
        tab.insert(&c.bytes).unwrap();
    }
    tab.edit_text(&doc, 0, 0, "tab ").unwrap();
    let e3 = tab.flush(4).unwrap();
    // The tab's claim collides with the first session's (same client, clock 0): one loses,
    // deterministically. From then on the tab moves away from the nonce.
    for c in history.iter().chain(&e2) {
        tab.insert(&c.bytes).unwrap();
    }
    assert_ne!(tab.session_nonce(), Some(9));
    tab.edit_text(&doc, 0, 0, "x").unwrap();
    let e4 = tab.flush(5).unwrap();

    let everything: Vec<&Change> = history.iter().chain(&e2).chain(&e3).chain(&e4).collect();
    let mut rev = everything.clone();
    rev[2..].reverse();
    let a = replica(&everything);
    let b = replica(&rev);
    assert_eq!(a.state_hash(), b.state_hash());
    // The restarted session's edit collided with nothing; the later tab edit neither.
    assert!(!a.is_voided(&e2[0].id) && !a.is_voided(&e4[0].id));
    assert!(a.text(&doc).unwrap().contains("one two"));
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A random history in which a few authors sign edits by hand from random points of the history,
/// with nonces drawn from a tiny set, so that many edits claim the same or overlapping ids.
fn adversarial_history(seed: u64, steps: usize) -> (Vec<Change>, ChangeId) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (_, mut all, doc) = commons_with_doc();
    let authors: Vec<Identity> = (0..3u8)
        .map(|i| Identity::from_secret([70 + i; 32]))
        .collect();
    for step in 0..steps {
        // A causally closed view: a prefix of the history in creation order.
        let k = rng.gen_range(2..=all.len());
        let view: Vec<&Change> = all[..k].iter().collect();
        let r = replica(&view);
        let state = r.document(&doc).unwrap().encode_state();
        let len = r.document(&doc).unwrap().len_utf16() as u32;
        let who = &authors[rng.gen_range(0..authors.len())];
        let nonce = rng.gen_range(0..2u32);
        let d = editor(client_id(&who.author(), nonce), &state);
        let t = d.get_or_insert_text("text");
        let update = {
            let mut txn = d.transact_mut();
            if len > 0 && rng.gen_bool(0.2) {
                let at = rng.gen_range(0..len);
                t.remove_range(&mut txn, at, 1);
            }
            let len = t.len(&txn);
            let text = ["a", "bc", "def", "ghij"][rng.gen_range(0..4)];
            t.insert(&mut txn, rng.gen_range(0..=len), text);
            txn.encode_update_v2()
        };
        let mut deps = r.heads();
        deps.sort();
        all.push(edit(
            who,
            all[0].id,
            doc,
            deps,
            nonce,
            update,
            step as u64 + 1,
        ));
    }
    (all, doc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    /// Duplicate and overlapping claims, delivered in any order with duplicates: every replica
    /// reaches the same text, the same voided changes and the same state hash.
    #[test]
    fn duplicate_claims_converge_whatever_the_order(seed in any::<u64>(), steps in 2usize..14) {
        let (all, doc) = adversarial_history(seed, steps);
        let reference = replica(&all.iter().collect::<Vec<_>>());
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xc1a1);
        for _ in 0..2 {
            let mut delivery: Vec<&Change> = all.iter().collect();
            for _ in 0..rng.gen_range(0..4) {
                delivery.push(&all[rng.gen_range(0..all.len())]);
            }
            delivery[1..].shuffle(&mut rng);
            let r = replica(&delivery);
            prop_assert_eq!(r.len(), all.len());
            prop_assert_eq!(r.text(&doc), reference.text(&doc));
            for c in &all {
                prop_assert_eq!(r.is_voided(&c.id), reference.is_voided(&c.id));
            }
            prop_assert_eq!(r.state_hash(), reference.state_hash());
        }
    }
}
