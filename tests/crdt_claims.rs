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
