//! Browser tests (headless Chromium) of the IndexedDB store of commons: batches of changes stored
//! in one transaction each and read back in order, snapshots, two tabs appending to one commons,
//! the list of joined commons, the upgrade of a version-1 database, and damaged records.
#![cfg(target_arch = "wasm32")]

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use peer_commons::change::{Charter, GovernanceParams};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use peer_commons::store::idb::{IdbStore, COMMONS_STORE, IDENTITY_STORE};
use peer_commons::store::persist::{open_replica, save, Persistence};
use peer_commons::store::{JoinedCommons, Store, StoreError, StoredSnapshot};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh(name: &str) -> IdbStore {
    IdbStore::delete_database(name).await.unwrap();
    IdbStore::open_named(name).await.unwrap()
}

fn founded() -> (Commons, peer_commons::change::Change) {
    let charter = Charter {
        title: "idb".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    };
    Commons::create(Identity::from_secret([5; 32]), 1, charter, 0).unwrap()
}

#[wasm_bindgen_test]
async fn changes_are_stored_in_order_and_reopen_to_the_same_state() {
    let store = fresh("test-commons-order").await;
    let (mut c, genesis) = founded();
    let mut p = Persistence::new(c.id(), 0, 0, 0, 1000);
    save(&store, &mut p, &c, &[genesis]).await.unwrap();
    let made = c.create_document("doc", "héllo 🌍", 1).unwrap();
    let doc = made.last().unwrap().id;
    save(&store, &mut p, &c, &made).await.unwrap();
    for i in 0..20u64 {
        c.edit_text(&doc, 0, 0, &format!("{i}.")).unwrap();
        let changes = c.flush(2 + i).unwrap();
        save(&store, &mut p, &c, &changes).await.unwrap();
    }
    drop(store);

    let store = IdbStore::open_named("test-commons-order").await.unwrap();
    let stored = store.load(c.id()).await.unwrap();
    assert_eq!(stored.changes.len(), 22);
    assert_eq!(stored.heads, c.heads());
    let order: Vec<_> = c
        .sync_items()
        .map(|(_, id)| c.change_bytes(&id).unwrap().to_vec())
        .collect();
    assert_eq!(
        stored.changes, order,
        "storage order is the order of writing"
    );

    let reopened = open_replica(&store, c.id(), None, 1000).await.unwrap();
    assert!(reopened.damaged.is_empty(), "nothing was damaged");
    let (again, p2) = (reopened.commons, reopened.persistence);
    assert_eq!(again.state_hash(), c.state_hash());
    assert_eq!(again.text(&doc), c.text(&doc));
    assert_eq!(p2.stored(), 22);
}

#[wasm_bindgen_test]
async fn snapshots_are_written_and_used() {
    let store = fresh("test-commons-snapshot").await;
    let (mut c, genesis) = founded();
    let mut p = Persistence::new(c.id(), 0, 0, 0, 4);
    save(&store, &mut p, &c, &[genesis]).await.unwrap();
    let made = c.create_document("doc", "x", 1).unwrap();
    let doc = made.last().unwrap().id;
    save(&store, &mut p, &c, &made).await.unwrap();
    for i in 0..7u64 {
        c.edit_text(&doc, 1, 0, "y").unwrap();
        let changes = c.flush(2 + i).unwrap();
        save(&store, &mut p, &c, &changes).await.unwrap();
    }
    let snap = store
        .load(c.id())
        .await
        .unwrap()
        .snapshot
        .expect("snapshots every 4");
    assert_eq!(snap.covered, 8);

    let reopened = open_replica(&store, c.id(), None, 4).await.unwrap();
    assert!(reopened.damaged.is_empty(), "nothing was damaged");
    let (again, p2) = (reopened.commons, reopened.persistence);
    assert_eq!(again.state_hash(), c.state_hash());
    assert_eq!(again.text(&doc).unwrap(), "xyyyyyyy");
    assert_eq!(p2.covered(), 8);

    // Replacing it works, and a damaged one is ignored on reopening (the changes are replayed).
    let damaged = StoredSnapshot {
        covered: 9,
        bytes: vec![0xff; 3],
    };
    store.put_snapshot(c.id(), damaged).await.unwrap();
    let reopened = open_replica(&store, c.id(), None, 4).await.unwrap();
    assert!(reopened.damaged.is_empty(), "nothing was damaged");
    let (again, p3) = (reopened.commons, reopened.persistence);
    assert_eq!(again.text(&doc).unwrap(), "xyyyyyyy");
    assert_eq!(p3.covered(), 0);
}

#[wasm_bindgen_test]
async fn two_connections_appending_at_once_never_overwrite() {
    drop(fresh("test-commons-tabs").await);
    let tab_a = IdbStore::open_named("test-commons-tabs").await.unwrap();
    let tab_b = IdbStore::open_named("test-commons-tabs").await.unwrap();
    let (c, genesis) = founded();
    let id = c.id();
    let a = tab_a.append(id, vec![genesis.bytes.clone(), vec![1]], vec![]);
    let b = tab_b.append(id, vec![vec![2], vec![3], vec![4]], vec![genesis.id]);
    let (a, b) = futures_join(a, b).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    // Each batch got its own slots, whichever went first.
    let mut ranges = [(a.first, a.end), (b.first, b.end)];
    ranges.sort();
    assert!(
        ranges == [(0, 2), (2, 5)] || ranges == [(0, 3), (3, 5)],
        "{ranges:?}"
    );
    let stored = tab_a.load(id).await.unwrap();
    assert_eq!(stored.changes.len(), 5);
    assert_eq!(tab_a.read_slots(id, 1, 3).await.unwrap().len(), 2);
    assert_eq!(tab_a.read_slots(id, 4, 99).await.unwrap().len(), 1);
    assert!(tab_a.read_slots(id, 3, 3).await.unwrap().is_empty());
}

/// Runs two futures concurrently, as two tabs would.
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(move |cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

#[wasm_bindgen_test]
async fn joined_commons_are_listed_updated_and_forgotten() {
    let store = fresh("test-commons-joined").await;
    let (c, genesis) = founded();
    let id = c.id();
    assert!(store.joined().await.unwrap().is_empty());
    store
        .remember(JoinedCommons {
            id,
            title: String::new(),
            joined_at: 1000,
        })
        .await
        .unwrap();
    store
        .append(id, vec![genesis.bytes], vec![id])
        .await
        .unwrap();
    store
        .remember(JoinedCommons {
            id,
            title: "idb".into(),
            joined_at: 2000,
        })
        .await
        .unwrap();
    let joined = store.joined().await.unwrap();
    assert_eq!(
        joined,
        vec![JoinedCommons {
            id,
            title: "idb".into(),
            joined_at: 1000
        }]
    );
    assert_eq!(store.load(id).await.unwrap().changes.len(), 1, "kept");

    store.forget(id).await.unwrap();
    assert!(store.joined().await.unwrap().is_empty());
    assert!(store.load(id).await.unwrap().changes.is_empty());
}

#[wasm_bindgen_test]
async fn a_version_one_database_is_upgraded_with_its_identity_kept() {
    let name = "test-commons-upgrade";
    IdbStore::delete_database(name).await.unwrap();
    // What the first release created: version 1, the identity store only.
    let mut request = idb::Factory::new().unwrap().open(name, Some(1)).unwrap();
    request.on_upgrade_needed(|event| {
        use idb::DatabaseEvent;
        let db = event.database().unwrap();
        db.create_object_store(IDENTITY_STORE, idb::ObjectStoreParams::new())
            .unwrap();
    });
    request.await.unwrap().close();
    let v1 = IdbStore::open_named(name).await.unwrap();
    let me = Identity::from_secret([8; 32]);
    v1.save_identity(&me).await.unwrap();
    drop(v1);

    let upgraded = IdbStore::open_named(name).await.unwrap();
    let kept = upgraded.load_identity().await.unwrap().unwrap();
    assert_eq!(kept.author(), me.author());
    assert!(upgraded.joined().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn a_damaged_commons_record_is_reported() {
    let name = "test-commons-corrupt";
    drop(fresh(name).await);
    let (c, _) = founded();
    let db = idb::Factory::new()
        .unwrap()
        .open(name, None)
        .unwrap()
        .await
        .unwrap();
    let tx = db
        .transaction(&[COMMONS_STORE], idb::TransactionMode::ReadWrite)
        .unwrap();
    tx.object_store(COMMONS_STORE)
        .unwrap()
        .put(
            &JsValue::from_str("not a record"),
            Some(&JsValue::from_str(&c.id().to_hex())),
        )
        .unwrap()
        .await
        .unwrap();
    tx.commit().unwrap().await.unwrap();
    db.close();

    let store = IdbStore::open_named(name).await.unwrap();
    let err = store.joined().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let err = store
        .append(c.id(), vec![vec![1]], vec![])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("left untouched"), "{err}");
}

#[wasm_bindgen_test]
async fn a_database_from_a_newer_version_is_refused_with_a_clear_message() {
    let name = "test-commons-newer";
    IdbStore::delete_database(name).await.unwrap();
    idb::Factory::new()
        .unwrap()
        .open(name, Some(99))
        .unwrap()
        .await
        .unwrap()
        .close();
    let err = IdbStore::open_named(name).await.unwrap_err();
    assert_eq!(err, StoreError::NewerVersion);
    assert!(err.to_string().contains("newer version"), "{err}");
}
