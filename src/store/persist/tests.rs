use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::change::{Charter, GovernanceParams};
use crate::store::memory::MemoryStore;
use crate::store::StoredSnapshot;

/// Runs a future that never waits (the memory store completes at once).
fn run<T>(f: impl Future<Output = T>) -> T {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

fn charter() -> Charter {
    Charter {
        title: "stored".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

fn alice() -> Identity {
    Identity::from_secret([1; 32])
}

/// Reopened replica and bookkeeping; panics if reopening failed.
fn parts(r: Result<Reopened, OpenError>) -> (Commons, Persistence) {
    let r = r.unwrap();
    assert!(r.damaged.is_empty(), "nothing damaged: {:?}", r.damaged);
    (r.commons, r.persistence)
}

/// A commons with a document, stored in `store` with snapshots every `every` changes.
fn founded(store: &MemoryStore, every: u64) -> (Commons, Persistence, ChangeId) {
    let (mut c, genesis) = Commons::create(alice(), 1, charter(), 0).unwrap();
    let mut p = Persistence::new(c.id(), 0, 0, 0, every);
    run(save(store, &mut p, &c, &[genesis])).unwrap();
    let made = c.create_document("notes", "hello", 1).unwrap();
    let doc = made.last().unwrap().id;
    run(save(store, &mut p, &c, &made)).unwrap();
    (c, p, doc)
}

/// Types `n` edits, flushing and saving each as its own change.
fn type_changes(store: &MemoryStore, c: &mut Commons, p: &mut Persistence, doc: &ChangeId, n: u64) {
    for i in 0..n {
        c.edit_text(doc, 0, 0, &format!("{i} ")).unwrap();
        let changes = c.flush(10 + i).unwrap();
        run(save(store, p, c, &changes)).unwrap();
    }
}

#[test]
fn reopening_gives_the_same_replica() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1000);
    type_changes(&store, &mut c, &mut p, &doc, 5);
    assert_eq!(p.stored(), 7);
    let (again, p2) = parts(run(open_replica(&store, c.id(), Some((alice(), 2)), 1000)));
    assert_eq!(again.state_hash(), c.state_hash());
    assert_eq!(again.text(&doc), c.text(&doc));
    assert_eq!(again.heads(), c.heads());
    assert_eq!(p2.stored(), 7);
    // The reopened replica writes on: its author's sequence continues.
    let mut again = again;
    again.edit_text(&doc, 0, 0, "more ").unwrap();
    assert_eq!(again.flush(99).unwrap()[0].body.seq, 7);
}

#[test]
fn a_flush_is_one_write_whatever_its_size() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1000);
    let before = store.write_count();
    for i in 0..50 {
        c.edit_text(&doc, i, 0, "x").unwrap();
    }
    let changes = c.flush(5).unwrap();
    run(save(&store, &mut p, &c, &changes)).unwrap();
    assert_eq!(store.write_count(), before + 1);
}

#[test]
fn snapshots_are_taken_every_n_changes_and_used_on_reopen() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 5);
    type_changes(&store, &mut c, &mut p, &doc, 9); // 11 stored changes
    let stored = run(store.load(c.id())).unwrap();
    let snap = stored.snapshot.expect("a snapshot after 5 and 10 changes");
    assert_eq!(snap.covered, 10);
    assert_eq!(p.covered(), 10);

    let (again, p2) = parts(run(open_replica(&store, c.id(), None, 5)));
    assert_eq!(again.state_hash(), c.state_hash());
    assert_eq!(again.text(&doc), c.text(&doc));
    assert_eq!(p2.covered(), 10);

    // The text comes from the snapshot: a snapshot holding a word that no stored change wrote
    // shows it on reopening (slot 10, "8 ", is replayed on top of it).
    let slots = stored.changes.iter().take(10).map(|b| &b[..]);
    let mut marked = Commons::restore(c.id(), Some((alice(), 9)), None, slots)
        .unwrap()
        .commons;
    marked.edit_text(&doc, 0, 0, "SNAP ").unwrap();
    let fake = StoredSnapshot {
        covered: 10,
        bytes: marked.snapshot(10),
    };
    run(store.put_snapshot(c.id(), fake)).unwrap();
    let (shown, _) = parts(run(open_replica(&store, c.id(), None, 5)));
    let text = shown.text(&doc).unwrap();
    assert!(
        text.contains("SNAP ") && text.contains("8 7 6 5 4 3 2 1 0 hello"),
        "{text}"
    );
}

#[test]
fn no_snapshot_while_edits_are_unflushed_or_writes_pending() {
    let store = MemoryStore::new();
    let (mut c, p, doc) = founded(&store, 1000);
    assert!(p.snapshot_now(&c, true).is_none(), "a write is pending");
    assert!(p.snapshot_now(&c, false).is_some());
    c.edit_text(&doc, 0, 0, "typed").unwrap();
    assert!(p.snapshot_now(&c, false).is_none(), "an edit is unflushed");
}

#[test]
fn a_damaged_snapshot_falls_back_to_replaying() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1000);
    type_changes(&store, &mut c, &mut p, &doc, 3);
    run(store.put_snapshot(
        c.id(),
        StoredSnapshot {
            covered: 4,
            bytes: vec![9, 9, 9],
        },
    ))
    .unwrap();
    let (again, p2) = parts(run(open_replica(&store, c.id(), None, 1000)));
    assert_eq!(again.state_hash(), c.state_hash());
    assert_eq!(p2.covered(), 0);
}

#[test]
fn a_damaged_change_is_skipped_reported_and_left_untouched() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1000);
    type_changes(&store, &mut c, &mut p, &doc, 3); // slots 0..5: genesis, doc, "0 ", "1 ", "2 "
                                                   // Flip a bit inside the stored body of slot 3 ("1 "), and add a record too short to be one.
    store.damage(c.id(), 3, 70);
    run(store.append(c.id(), vec![vec![1, 2, 3]], vec![])).unwrap();
    let before = run(store.load(c.id())).unwrap();

    let r = run(open_replica(&store, c.id(), Some((alice(), 3)), 1000)).unwrap();
    let skipped: Vec<usize> = r.damaged.iter().map(|d| d.index).collect();
    assert_eq!(skipped, vec![3, 5]);
    let notice = r.notice().unwrap();
    assert!(
        notice.starts_with("2 stored changes of this commons are damaged (the first, record 3"),
        "{notice}"
    );
    assert!(
        notice.contains("peers that hold it send it again"),
        "{notice}"
    );
    // Everything before the damaged change shows; what depends on it waits for it.
    assert_eq!(r.commons.text(&doc).unwrap(), "0 hello");
    assert_eq!(
        run(store.load(c.id())).unwrap(),
        before,
        "storage left as it was"
    );

    // A peer sends the change again: the replica is whole, and stores it in a new slot.
    let mut again = r.commons;
    let mut p2 = r.persistence;
    let resent: Vec<Change> = c
        .changes_in_causal_order()
        .filter(|ch| again.change(&ch.id).is_none())
        .cloned()
        .collect();
    assert_eq!(
        resent.len(),
        2,
        "the damaged change and the one waiting for it"
    );
    for ch in &resent {
        again.insert(&ch.bytes).unwrap();
    }
    assert_eq!(again.state_hash(), c.state_hash());
    run(save(&store, &mut p2, &again, &resent)).unwrap();
    let (reopened, _) = {
        let r = run(open_replica(&store, c.id(), None, 1000)).unwrap();
        assert_eq!(r.damaged.len(), 2, "the damaged records stay, skipped");
        (r.commons, r.persistence)
    };
    assert_eq!(reopened.state_hash(), c.state_hash());
}

#[test]
fn a_snapshot_may_cover_a_skipped_slot_but_not_rely_on_it() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1000);
    type_changes(&store, &mut c, &mut p, &doc, 3);
    // A snapshot over all five slots, then slot 3 is damaged: the snapshot holds text that no
    // readable stored change explains, so it is not used.
    run(store.put_snapshot(
        c.id(),
        StoredSnapshot {
            covered: 5,
            bytes: c.snapshot(5),
        },
    ))
    .unwrap();
    store.damage(c.id(), 3, 70);
    let r = run(open_replica(&store, c.id(), None, 1000)).unwrap();
    assert_eq!(r.persistence.covered(), 0, "the snapshot was set aside");
    assert_eq!(r.commons.text(&doc).unwrap(), "0 hello");
    // The skipped slot does not end the known prefix (it holds nothing the replica shows): a
    // new snapshot may cover it. Slot 4 waits for the damaged change, so the prefix stops there.
    let snap = r.persistence.snapshot_now(&r.commons, false).unwrap();
    assert_eq!(snap.covered, 4);
}

#[test]
fn a_full_store_refuses_the_write_and_keeps_what_was_stored() {
    let store = MemoryStore::with_quota(2_000);
    let (mut c, mut p, doc) = founded(&store, 1000);
    let before = run(store.load(c.id())).unwrap();
    c.edit_text(&doc, 0, 0, &"x".repeat(3_000)).unwrap();
    let changes = c.flush(9).unwrap();
    let err = run(save(&store, &mut p, &c, &changes)).unwrap_err();
    assert_eq!(err, StoreError::QuotaExceeded);
    assert!(err.to_string().contains("storage for this site is full"));
    assert_eq!(run(store.load(c.id())).unwrap(), before);
    assert_eq!(p.stored(), 2);
}

#[test]
fn two_tabs_writing_one_commons_keep_snapshots_correct() {
    let store = MemoryStore::new();
    let (mut a, mut pa, doc) = founded(&store, 1);
    // Tab B opens the same commons from storage, with its own session nonce.
    let (mut b, mut pb) = parts(run(open_replica(&store, a.id(), Some((alice(), 7)), 1)));
    b.edit_text(&doc, 0, 0, "from B ").unwrap();
    let from_b = b.flush(20).unwrap();
    run(save(&store, &mut pb, &b, &from_b)).unwrap(); // slot 2

    // A writes without having B's change: A must not claim slot 2 in a snapshot.
    a.edit_text(&doc, 5, 0, "!").unwrap();
    let from_a = a.flush(21).unwrap();
    run(save(&store, &mut pa, &a, &from_a)).unwrap(); // slot 3
    assert_eq!(pa.covered(), 2, "A may not cover B's slot 2 in a snapshot");
    assert_eq!(pb.covered(), 3, "B covers its own slot");

    // A receives B's change (through BroadcastChannel, say) and stores it again: slots 0..5 are
    // now all applied in A.
    for ch in &from_b {
        a.insert(&ch.bytes).unwrap();
    }
    run(save(&store, &mut pa, &a, &from_b)).unwrap(); // slot 4
    let stored = run(store.load(a.id())).unwrap();
    assert_eq!(stored.changes.len(), 5);
    assert_eq!(stored.snapshot.as_ref().unwrap().covered, 5);

    let (again, _) = parts(run(open_replica(&store, a.id(), None, 1)));
    assert_eq!(again.state_hash(), a.state_hash());
    assert_eq!(again.text(&doc).unwrap(), "from B hello!");
}

#[test]
fn the_applied_prefix_is_read_from_the_stored_bytes() {
    let store = MemoryStore::new();
    let (mut c, mut p, doc) = founded(&store, 1_000);
    type_changes(&store, &mut c, &mut p, &doc, 3);
    let stored = run(store.load(c.id())).unwrap().changes;
    for bytes in &stored {
        assert_eq!(
            stored_id(bytes),
            Some(Change::decode_trusted(bytes).unwrap().id)
        );
    }
    assert_eq!(applied_prefix(&c, &stored), stored.len() as u64);
    // A damaged slot ends the prefix, and so does a change this replica does not hold.
    let mut damaged = stored.clone();
    damaged[2][70] ^= 1;
    assert_eq!(applied_prefix(&c, &damaged), 2);
    assert_eq!(stored_id(&damaged[2][..64]), None);
    let (other, genesis) =
        Commons::create(Identity::from_secret([2; 32]), 1, charter(), 0).unwrap();
    let mut foreign = stored.clone();
    foreign.insert(1, genesis.bytes.clone());
    assert_eq!(applied_prefix(&c, &foreign), 1);
    assert_eq!(applied_prefix(&other, &stored), 0);
}

#[test]
fn a_failed_write_is_retried_with_a_doubling_delay_capped_at_a_minute() {
    let delays: Vec<u64> = (1..=9).map(super::retry_delay_ms).collect();
    assert_eq!(
        delays,
        [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
    );
    assert_eq!(super::retry_delay_ms(u32::MAX), 60_000);
    assert_eq!(super::retry_delay_ms(0), 1000);
}
