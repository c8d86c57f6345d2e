//! Browser tests (headless Chromium) of the JS API's `Commons`: writes stored before they
//! resolve, reopening from IndexedDB, two commons in one page syncing over real
//! RTCPeerConnections (signalled through an in-page relay), a full storage surfacing as a clear
//! error, and arguments refused with messages a person can act on.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use peer_commons::store::idb::IdbStore;
use peer_commons::store::memory::MemoryStore;
use peer_commons::store::Store;
use peer_commons::web::api::options::Options;
use peer_commons::web::runtime::js::sleep;
use peer_commons::web::WebCommons;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Guard against a wedged test (not a speed check): generous on a loaded machine.
const GUARD_MS: u64 = 60_000;

async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let mut waited = 0;
    while !ready() {
        assert!(waited < GUARD_MS, "gave up waiting for {what}");
        sleep(50).await;
        waited += 50;
    }
}

fn opts(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn message(e: JsValue) -> String {
    e.dyn_into::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|v| format!("{v:?}"))
}

fn err(e: wasm_bindgen::JsError) -> String {
    message(e.into())
}

async fn resolved(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.unwrap()
}

/// Chromium offers usable (loopback) ICE candidates only to a page with media access; the test
/// browser fakes the device and the prompt (webdriver.json), so asking once is enough.
async fn allow_webrtc() {
    let ask = js_sys::Function::new_no_args(
        "return navigator.mediaDevices.getUserMedia({ audio: true })\
           .then((s) => s.getTracks().forEach((t) => t.stop()))",
    );
    let promise: js_sys::Promise = ask.call0(&JsValue::NULL).unwrap().unchecked_into();
    JsFuture::from(promise).await.unwrap();
}

async fn fresh_db(name: &str) {
    IdbStore::delete_database(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_commons_reopens_from_indexeddb_with_its_documents() {
    fresh_db("rt-reopen").await;
    let c = WebCommons::create(opts(
        r#"{"title":"Recipes","database":"rt-reopen","tabSync":false,"name":"Ada"}"#,
    ))
    .await
    .unwrap();
    let doc = resolved(c.create_document("Bread".into(), "flour".into()).unwrap())
        .await
        .as_string()
        .unwrap();
    // Reads see a typed edit at once; the promise resolves once it is stored.
    let typed = c
        .edit_document(doc.clone(), 5.0, 0.0, ", water 🌊".into())
        .unwrap();
    assert_eq!(c.document_text(doc.clone()).unwrap(), "flour, water 🌊");
    resolved(typed).await;
    // UTF-16 indices, as JavaScript counts: the emoji is two units.
    resolved(
        c.edit_document(doc.clone(), 13.0, 2.0, "salt".into())
            .unwrap(),
    )
    .await;
    assert_eq!(c.document_text(doc.clone()).unwrap(), "flour, water salt");
    let hash = c.state_hash();
    let id = c.id();
    resolved(c.close()).await;
    assert!(c.create_document("x".into(), "y".into()).is_err(), "closed");

    let again = WebCommons::open(
        id.clone(),
        opts(r#"{"database":"rt-reopen","tabSync":false}"#),
    )
    .await
    .unwrap();
    assert_eq!(again.state_hash(), hash);
    assert_eq!(
        again.document_text(doc.clone()).unwrap(),
        "flour, water salt"
    );
    assert_eq!(
        again.name(None).unwrap().as_string().as_deref(),
        Some("Ada")
    );
    let history: js_sys::Array = again.history(doc).unwrap().unchecked_into();
    assert!(history.length() >= 2, "created and edited");
    let joined: js_sys::Array = WebCommons::joined(opts(r#"{"database":"rt-reopen"}"#))
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(joined.length(), 1);
    let title = js_sys::Reflect::get(&joined.get(0), &"title".into()).unwrap();
    assert_eq!(title.as_string().as_deref(), Some("Recipes"));
    resolved(again.close()).await;
}

#[wasm_bindgen_test]
async fn two_commons_in_one_page_sync_over_webrtc() {
    allow_webrtc().await;
    fresh_db("rt-a").await;
    fresh_db("rt-b").await;
    let a = WebCommons::create(opts(
        r#"{"title":"Mesh","database":"rt-a","tabSync":false,"relays":["inpage:mesh-test"]}"#,
    ))
    .await
    .unwrap();
    let doc = resolved(a.create_document("Shared".into(), "hello".into()).unwrap())
        .await
        .as_string()
        .unwrap();
    let b = WebCommons::open(
        a.id(),
        opts(r#"{"database":"rt-b","tabSync":false,"relays":["inpage:mesh-test"],"name":"Bo"}"#),
    )
    .await
    .unwrap();
    assert!(a.me() != b.me(), "two databases, two people");
    until("B to receive A's document", || {
        b.document_text(doc.clone()).is_ok()
    })
    .await;
    let via: js_sys::Array = b.peers().unchecked_into();
    let via = js_sys::Reflect::get(&via.get(0), &"via".into()).unwrap();
    assert_eq!(via.as_string().as_deref(), Some("webrtc"));

    // Concurrent edits on both sides converge.
    let pa = a
        .edit_document(doc.clone(), 0.0, 0.0, "A says ".into())
        .unwrap();
    let pb = b
        .edit_document(doc.clone(), 5.0, 0.0, " world".into())
        .unwrap();
    resolved(pa).await;
    resolved(pb).await;
    until("both texts to converge", || {
        a.document_text(doc.clone()).ok() == b.document_text(doc.clone()).ok()
            && a.state_hash() == b.state_hash()
    })
    .await;
    assert_eq!(a.document_text(doc.clone()).unwrap(), "A says hello world");
    until("B's name to reach A", || {
        a.name(Some(b.me())).unwrap().as_string().as_deref() == Some("Bo")
    })
    .await;
    resolved(a.close()).await;
    resolved(b.close()).await;
}

#[wasm_bindgen_test]
async fn a_full_storage_rejects_the_write_with_a_clear_message_and_retries() {
    let store = Rc::new(MemoryStore::with_quota(4_000));
    let options = Options::parse(opts(r#"{"title":"Full","tabSync":false}"#), true).unwrap();
    let c = WebCommons::create_with_store(store.clone(), options)
        .await
        .unwrap();
    let doc = resolved(c.create_document("d".into(), "small".into()).unwrap())
        .await
        .as_string()
        .unwrap();
    let big = "x".repeat(8_000);
    let rejected = JsFuture::from(c.create_document("big".into(), big).unwrap())
        .await
        .unwrap_err();
    let text = message(rejected);
    assert!(text.contains("storage for this site is full"), "{text}");
    let progress = c.sync_progress();
    let unsaved = js_sys::Reflect::get(&progress, &"unsaved".into()).unwrap();
    assert!(
        unsaved.as_f64().unwrap() >= 1.0,
        "the refused change waits for a retry"
    );
    // What was stored before is intact.
    let stored = store.load(peer_commons::change::ChangeId::from_hex(&c.id()).unwrap());
    assert_eq!(stored.await.unwrap().changes.len(), 2);
    // The local replica still shows the text, and a later write retries (and fails again).
    assert_eq!(c.document_text(doc).unwrap(), "small");
    assert!(JsFuture::from(c.flush().unwrap()).await.is_err());

    // Space is freed; nobody writes again: the timer's retry (with backoff) stores the batch.
    store.set_quota(None);
    let unsaved = || {
        let progress = c.sync_progress();
        js_sys::Reflect::get(&progress, &"unsaved".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(-1.0)
    };
    until("the failed batch to be stored by the retry timer", || {
        unsaved() == 0.0
    })
    .await;
    let id = peer_commons::change::ChangeId::from_hex(&c.id()).unwrap();
    assert_eq!(store.load(id).await.unwrap().changes.len(), 3);
}

#[wasm_bindgen_test]
async fn bad_arguments_get_messages_a_person_can_act_on() {
    let e = err(WebCommons::open("not-an-id".into(), JsValue::UNDEFINED)
        .await
        .err()
        .unwrap());
    assert!(e.contains("64 hex characters"), "{e}");
    let e = err(
        WebCommons::create(opts(r#"{"title":"x","relay":["ws://x"]}"#))
            .await
            .err()
            .unwrap(),
    );
    assert!(
        e.contains("unknown option \"relay\"") && e.contains("relays"),
        "{e}"
    );
    let e = err(
        WebCommons::create(opts(r#"{"title":"x","relays":["http://x"]}"#))
            .await
            .err()
            .unwrap(),
    );
    assert!(e.contains("ws://"), "{e}");
    let e = err(WebCommons::create(opts(
        r#"{"title":"x","iceServers":[{"urls":"turn:turn.example.org"}]}"#,
    ))
    .await
    .err()
    .unwrap());
    assert!(e.contains("iceServers"), "{e}");

    fresh_db("rt-args").await;
    let c = WebCommons::create(opts(
        r#"{"title":"Args","database":"rt-args","tabSync":false}"#,
    ))
    .await
    .unwrap();
    let doc = resolved(c.create_document("d".into(), "abc".into()).unwrap())
        .await
        .as_string()
        .unwrap();
    let e = err(c
        .edit_document(doc.clone(), 2.0, 5.0, "".into())
        .err()
        .unwrap());
    assert!(e.contains("out of range"), "{e}");
    let e = err(c
        .edit_document(doc.clone(), -1.0, 0.0, "".into())
        .err()
        .unwrap());
    assert!(e.contains("whole number"), "{e}");
    let e = err(c.document_text("ab".repeat(32)).err().unwrap());
    assert!(e.contains("no document"), "{e}");
    assert_eq!(c.document_text(doc).unwrap(), "abc", "nothing changed");
    resolved(c.close()).await;
}

fn field(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

#[wasm_bindgen_test]
async fn licence_offers_and_change_history_reach_javascript() {
    fresh_db("rt-property").await;
    let c = WebCommons::create(opts(
        r#"{"title":"Songs","database":"rt-property","tabSync":false,"name":"Ada"}"#,
    ))
    .await
    .unwrap();
    let licence = c.licence();
    assert_eq!(
        field(&licence, "spdx").as_string().as_deref(),
        Some("CC-BY-SA-4.0")
    );
    assert_eq!(field(&licence, "known").as_bool(), Some(true));
    let doc = resolved(c.create_document("Tune".into(), "la la".into()).unwrap())
        .await
        .as_string()
        .unwrap();
    let history: js_sys::Array = c.change_history(doc.clone()).unwrap().unchecked_into();
    assert_eq!(history.length(), 1);
    let created = field(&history.get(0), "change").as_string().unwrap();
    assert_eq!(
        created, doc,
        "a document's id is the change that created it"
    );
    // The author offers their own change under CC0 too; an incompatible offer is refused.
    let refused = c.mark_licence(created.clone(), "ODbL-1.0".into()).unwrap();
    let e = message(JsFuture::from(refused).await.unwrap_err());
    assert!(e.contains("ODbL-1.0"), "{e}");
    resolved(c.mark_licence(created.clone(), "CC0-1.0".into()).unwrap()).await;
    let history: js_sys::Array = c.change_history(doc.clone()).unwrap().unchecked_into();
    let offered: js_sys::Array = field(&history.get(0), "offered_licences").unchecked_into();
    assert_eq!(offered.to_vec(), vec![JsValue::from_str("CC0-1.0")]);
    assert!(err(c.change_history("nonsense".into()).unwrap_err()).contains("document id"));
    resolved(c.close()).await;
}
