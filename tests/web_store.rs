//! Browser tests (headless Chromium) of the IndexedDB store: the identity survives closing and
//! reopening the database, damaged records are reported and left intact, and the JS API's
//! `loadOrCreate` returns the same identity every time.
#![cfg(target_arch = "wasm32")]

use peer_commons::identity::Identity;
use peer_commons::store::idb::{
    IdbStore, StoreError, CHANGES_STORE, COMMONS_STORE, DB_VERSION, IDENTITY_STORE, SNAPSHOTS_STORE,
};
use peer_commons::web::WebIdentity;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh database per test, so tests do not see each other's records.
async fn fresh(name: &str) -> IdbStore {
    IdbStore::delete_database(name).await.unwrap();
    IdbStore::open_named(name).await.unwrap()
}

/// Writes `value` under the identity key without going through the store's checks.
async fn put_raw(name: &str, value: &JsValue) {
    let db = idb::Factory::new()
        .unwrap()
        .open(name, None)
        .unwrap()
        .await
        .unwrap();
    let tx = db
        .transaction(&[IDENTITY_STORE], idb::TransactionMode::ReadWrite)
        .unwrap();
    let store = tx.object_store(IDENTITY_STORE).unwrap();
    store
        .put(value, Some(&JsValue::from_str("self")))
        .unwrap()
        .await
        .unwrap();
    tx.commit().unwrap().await.unwrap();
    db.close();
}

#[wasm_bindgen_test]
async fn new_database_has_the_current_schema_and_no_identity() {
    let store = fresh("test-schema").await;
    assert!(matches!(store.load_identity().await, Ok(None)));
    drop(store);
    let db = idb::Factory::new()
        .unwrap()
        .open("test-schema", None)
        .unwrap()
        .await
        .unwrap();
    assert_eq!(db.version().unwrap(), DB_VERSION);
    let mut names = db.store_names();
    names.sort();
    let mut want = [
        CHANGES_STORE,
        COMMONS_STORE,
        IDENTITY_STORE,
        SNAPSHOTS_STORE,
    ];
    want.sort();
    assert_eq!(names, want.map(String::from).to_vec());
    db.close();
}

#[wasm_bindgen_test]
async fn identity_survives_closing_and_reopening() {
    let id = Identity::from_secret([42; 32]);
    let store = fresh("test-reload").await;
    store.save_identity(&id).await.unwrap();
    drop(store);

    let reopened = IdbStore::open_named("test-reload").await.unwrap();
    let loaded = reopened
        .load_identity()
        .await
        .unwrap()
        .expect("identity was saved");
    assert_eq!(loaded.author(), id.author());
    assert_eq!(loaded.secret(), id.secret());
}

#[wasm_bindgen_test]
async fn save_replaces_and_insert_keeps_the_first() {
    let first = Identity::from_secret([1; 32]);
    let second = Identity::from_secret([2; 32]);
    let store = fresh("test-insert").await;
    assert_eq!(
        store
            .load_or_insert_identity(first.clone())
            .await
            .unwrap()
            .author(),
        first.author()
    );
    // A second candidate (another tab) gets the identity already there.
    assert_eq!(
        store
            .load_or_insert_identity(second.clone())
            .await
            .unwrap()
            .author(),
        first.author()
    );
    store.save_identity(&second).await.unwrap();
    assert_eq!(
        store.load_identity().await.unwrap().unwrap().author(),
        second.author()
    );
}

#[wasm_bindgen_test]
async fn damaged_identity_is_reported_and_left_intact() {
    drop(fresh("test-corrupt").await);
    let short = js_sys::Object::new();
    js_sys::Reflect::set(
        &short,
        &"secret".into(),
        &js_sys::Uint8Array::new_with_length(31),
    )
    .unwrap();
    put_raw("test-corrupt", &short).await;

    let store = IdbStore::open_named("test-corrupt").await.unwrap();
    let err = store.load_identity().await.unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptIdentity(ref m) if m.contains("31 bytes")),
        "{err}"
    );
    let err = store
        .load_or_insert_identity(Identity::from_secret([3; 32]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CorruptIdentity(_)), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    // Still the damaged record, not the candidate.
    assert!(matches!(
        store.load_identity().await,
        Err(StoreError::CorruptIdentity(_))
    ));

    put_raw("test-corrupt", &JsValue::from_str("not a record")).await;
    assert!(matches!(
        store.load_identity().await,
        Err(StoreError::CorruptIdentity(_))
    ));
}

#[wasm_bindgen_test]
async fn js_api_load_or_create_is_persistent() {
    IdbStore::delete_database(peer_commons::store::idb::DB_NAME)
        .await
        .unwrap();
    assert!(WebIdentity::load().await.unwrap().is_none());
    let created = WebIdentity::load_or_create().await.unwrap();
    let again = WebIdentity::load_or_create().await.unwrap();
    assert_eq!(created.public_key(), again.public_key());
    let loaded = WebIdentity::load()
        .await
        .unwrap()
        .expect("saved by loadOrCreate");
    assert_eq!(loaded.public_key(), created.public_key());

    let replacement = WebIdentity::generate().unwrap();
    wasm_bindgen_futures::JsFuture::from(replacement.save())
        .await
        .unwrap();
    let loaded = WebIdentity::load().await.unwrap().unwrap();
    assert_eq!(loaded.public_key(), replacement.public_key());
    assert_ne!(loaded.public_key(), created.public_key());
}
