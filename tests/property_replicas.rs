//! Attribution and the ledger are the same on every replica, whatever order the changes arrive
//! in, and surviving-character counts match a brute-force recount of the text.
//!
//! Each author writes only their own character ('a', 'b', ... and one author an emoji, two
//! UTF-16 units), so counting that character in the final text is an independent measure of
//! what of theirs survives.

use std::collections::{BTreeMap, HashSet};

use peer_commons::change::{Change, ChangeId, Charter, GovernanceParams, Op};
use peer_commons::commons::{Commons, DocAction};
use peer_commons::identity::Identity;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const AUTHORS: usize = 4;

fn glyph(author: usize) -> &'static str {
    ["a", "b", "😀", "d"][author]
}

#[derive(Clone, Debug)]
enum Action {
    Insert {
        author: usize,
        doc: usize,
        at: u16,
        n: u8,
    },
    Delete {
        author: usize,
        doc: usize,
        at: u16,
        n: u8,
    },
    Flush {
        author: usize,
    },
    Sync {
        from: usize,
        to: usize,
    },
    Comment {
        author: usize,
        doc: usize,
    },
    Endorse {
        author: usize,
        pick: u16,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let a = 0..AUTHORS;
    prop_oneof![
        4 => (a.clone(), 0..2usize, any::<u16>(), 1..6u8)
            .prop_map(|(author, doc, at, n)| Action::Insert { author, doc, at, n }),
        2 => (a.clone(), 0..2usize, any::<u16>(), 1..4u8)
            .prop_map(|(author, doc, at, n)| Action::Delete { author, doc, at, n }),
        2 => a.clone().prop_map(|author| Action::Flush { author }),
        3 => (a.clone(), a.clone()).prop_map(|(from, to)| Action::Sync { from, to }),
        1 => (a.clone(), 0..2usize).prop_map(|(author, doc)| Action::Comment { author, doc }),
        1 => (a, any::<u16>()).prop_map(|(author, pick)| Action::Endorse { author, pick }),
    ]
}

/// UTF-16 offset of the `k`-th character boundary (clamped), so edits never split an emoji.
fn boundary(text: &str, k: usize) -> u64 {
    text.chars().take(k).map(|c| c.len_utf16() as u64).sum()
}

fn sync(from: &Commons, to: &mut Commons) {
    for c in from.changes_in_causal_order() {
        if !to.contains(&c.id) {
            to.insert(&c.bytes).unwrap();
        }
    }
}

/// Runs the scenario; returns the commons id, the documents and every change made.
fn run(actions: &[Action]) -> (ChangeId, Vec<ChangeId>, Vec<Change>) {
    let charter = Charter {
        title: "prop".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    };
    let (mut founder, _) = Commons::create(Identity::from_secret([1; 32]), 1, charter, 1).unwrap();
    let d0 = founder.create_document("zero", "aa", 2).unwrap()[0].id;
    let d1 = founder.create_document("one", "", 3).unwrap()[0].id;
    let docs = vec![d0, d1];
    let mut reps = vec![founder];
    for i in 1..AUTHORS {
        let mut r = Commons::join(
            reps[0].id(),
            Some((Identity::from_secret([i as u8 + 1; 32]), 9)),
        );
        sync(&reps[0], &mut r);
        reps.push(r);
    }
    let mut t = 10;
    for act in actions {
        t += 1;
        apply(&mut reps, &docs, act, t);
    }
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    for r in &mut reps {
        r.flush(t + 1).unwrap();
    }
    for r in &reps {
        for c in r.changes_in_causal_order() {
            if seen.insert(c.id) {
                all.push(c.clone());
            }
        }
    }
    (reps[0].id(), docs, all)
}

fn apply(reps: &mut [Commons], docs: &[ChangeId], act: &Action, t: u64) {
    match *act {
        Action::Insert { author, doc, at, n } => {
            let r = &mut reps[author];
            let text = r.text(&docs[doc]).unwrap();
            let k = at as usize % (text.chars().count() + 1);
            let s = glyph(author).repeat(n as usize);
            r.edit_text(&docs[doc], boundary(&text, k), 0, &s).unwrap();
        }
        Action::Delete { author, doc, at, n } => {
            let r = &mut reps[author];
            let text = r.text(&docs[doc]).unwrap();
            let chars = text.chars().count();
            if chars == 0 {
                return;
            }
            let k = at as usize % chars;
            let end = (k + n as usize).min(chars);
            let (from, to) = (boundary(&text, k), boundary(&text, end));
            r.edit_text(&docs[doc], from, to - from, "").unwrap();
        }
        Action::Flush { author } => {
            reps[author].flush(t).unwrap();
        }
        Action::Sync { from, to } if from != to => {
            let (src, dst) = if from < to {
                let (l, r) = reps.split_at_mut(to);
                (&l[from], &mut r[0])
            } else {
                let (l, r) = reps.split_at_mut(from);
                (&r[0], &mut l[to])
            };
            sync(src, dst);
        }
        Action::Comment { author, doc } => {
            let op = Op::Comment {
                doc: docs[doc],
                text: format!("from {author}"),
            };
            reps[author].act(vec![op], t).unwrap();
        }
        Action::Endorse { author, pick } => {
            let r = &mut reps[author];
            let ids: Vec<ChangeId> = r.changes_in_causal_order().map(|c| c.id).collect();
            let change = ids[pick as usize % ids.len()];
            r.act(vec![Op::Endorse { change }], t).unwrap();
        }
        Action::Sync { .. } => {}
    }
}

/// A fresh read-only replica fed `changes` in the order given.
fn deliver(id: ChangeId, changes: &[Change]) -> Commons {
    let mut c = Commons::join(id, None);
    for ch in changes {
        c.insert(&ch.bytes).unwrap();
    }
    assert_eq!(c.len(), changes.len(), "every change applied");
    c
}

/// Attribution checked against the text and against the CRDT's own insert counts.
fn check_against_text(c: &Commons, docs: &[ChangeId]) {
    let keys: Vec<String> = (0..AUTHORS)
        .map(|i| Identity::from_secret([i as u8 + 1; 32]).author().to_hex())
        .collect();
    let mut ledger_surviving: BTreeMap<String, u64> = BTreeMap::new();
    for doc in docs {
        let text = c.text(doc).unwrap();
        let credits = c.credits(doc).unwrap();
        assert_eq!(credits.unattributed, 0);
        for (i, key) in keys.iter().enumerate() {
            let g = glyph(i);
            let brute = (text.matches(g).count() * g.encode_utf16().count()) as u64;
            let got = credits
                .authors
                .iter()
                .find(|a| &a.author == key)
                .map_or(0, |a| a.text.surviving);
            assert_eq!(got, brute, "author {i} in {text:?}");
            *ledger_surviving.entry(key.clone()).or_default() += got;
        }
        let claimed: u64 = c
            .history(doc)
            .iter()
            .map(|h| match h.action {
                DocAction::Edited { inserted, .. } => inserted,
                _ => 0,
            })
            .sum();
        let inserted: u64 = credits.authors.iter().map(|a| a.text.inserted).sum();
        assert_eq!(inserted, claimed, "every CRDT item is attributed once");
        let deleted: u64 = credits.authors.iter().map(|a| a.text.deleted).sum();
        let len = text.encode_utf16().count() as u64;
        assert_eq!(
            deleted,
            inserted - len,
            "each deleted unit has exactly one first deleter"
        );
    }
    for row in c.ledger().rows {
        assert_eq!(
            row.surviving,
            ledger_surviving.get(&row.author).copied().unwrap_or(0)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn attribution_and_ledger_agree_in_any_delivery_order(
        actions in prop::collection::vec(action(), 10..50),
        seeds in prop::collection::vec(any::<u64>(), 3),
    ) {
        let (id, docs, changes) = run(&actions);
        let reference = deliver(id, &changes);
        check_against_text(&reference, &docs);
        let ledger = reference.ledger();
        for seed in seeds {
            let mut order = changes.clone();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            // Duplicates too: a change delivered twice changes nothing.
            order.extend(order.clone().into_iter().take(3));
            let mut r = Commons::join(id, None);
            for ch in &order {
                r.insert(&ch.bytes).unwrap();
            }
            prop_assert_eq!(r.state_hash(), reference.state_hash());
            prop_assert_eq!(&r.ledger(), &ledger);
            for doc in &docs {
                prop_assert_eq!(r.credits(doc), reference.credits(doc));
                prop_assert_eq!(r.change_history(doc), reference.change_history(doc));
            }
        }
    }
}

/// Signs a change by `who` editing `doc` with `update`, after every change `c` holds.
fn crafted(c: &Commons, who: &Identity, doc: ChangeId, update: Vec<u8>) -> Change {
    let body = peer_commons::change::ChangeBody {
        format: peer_commons::change::CHANGE_FORMAT,
        commons: Some(c.id()),
        author: who.author(),
        seq: 99,
        deps: c.heads(),
        time: 99,
        ops: vec![Op::EditDocument {
            doc,
            edit: peer_commons::change::TextEdit { nonce: 9, update },
        }],
    };
    Change::sign(who, body)
}

#[test]
fn re_sent_items_and_deletions_earn_nothing() {
    use yrs::{ReadTxn, StateVector, Transact};
    let (id, docs, changes) = run(&[
        Action::Insert {
            author: 1,
            doc: 0,
            at: 0,
            n: 4,
        },
        Action::Flush { author: 1 },
        Action::Delete {
            author: 0,
            doc: 0,
            at: 0,
            n: 2,
        },
        Action::Flush { author: 0 },
    ]);
    let mut c = deliver(id, &changes);
    let doc = docs[0];
    let before = c.credits(&doc).unwrap();
    let bo = Identity::from_secret([2; 32]);
    let client = yrs::ClientID::new(peer_commons::change::client_id(&bo.author(), 9));
    // Bo re-sends his own items from the middle (shifted ranges), and with them every deletion
    // in the document, someone else's included.
    let update = {
        let ydoc = c.document(&doc).unwrap().ydoc();
        let txn = ydoc.transact();
        let mut since = StateVector::default();
        for (k, clock) in txn.state_vector().iter() {
            since.set_max(*k, if *k == client { 2 } else { *clock });
        }
        txn.encode_state_as_update_v2(&since)
    };
    assert!(
        c.insert(&crafted(&c, &bo, doc, update).bytes)
            .unwrap()
            .applied
            .len()
            == 1
    );
    let after = c.credits(&doc).unwrap();
    assert_eq!(
        after.authors.iter().map(|a| a.text).collect::<Vec<_>>(),
        before.authors.iter().map(|a| a.text).collect::<Vec<_>>()
    );
    let text = c.text(&doc).unwrap();
    let b = after
        .authors
        .iter()
        .find(|a| a.author == bo.author().to_hex())
        .unwrap();
    assert_eq!(b.text.surviving, text.matches('b').count() as u64);
    assert_eq!(b.text.inserted, 4);
}
