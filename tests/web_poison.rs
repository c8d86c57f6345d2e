//! Browser test (headless Chromium): after a panic the instance is poisoned, and every later
//! call fails at once with a message offering a reload, instead of hanging on a runtime the
//! panicking call left borrowed. (A real panic aborts the test that raises it, so the poison is
//! set by hand; the panic hook that sets it in earnest is `peer_commons::web::poison::install`.)
//! Its own test binary: the poison lasts for the instance.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use peer_commons::store::memory::MemoryStore;
use peer_commons::web::api::options::Options;
use peer_commons::web::poison;
use peer_commons::web::WebCommons;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn message(e: JsValue) -> String {
    e.dyn_into::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|v| format!("{v:?}"))
}

#[wasm_bindgen_test]
async fn after_a_panic_every_call_fails_with_a_reload_message() {
    let options = Options::parse(
        js_sys::JSON::parse(r#"{"title":"Poison","tabSync":false}"#).unwrap(),
        true,
    )
    .unwrap();
    let c = WebCommons::create_with_store(Rc::new(MemoryStore::new()), options)
        .await
        .unwrap();
    assert!(c.set_name("before".into()).is_ok(), "works before");
    let id = c.id();

    poison::poison_for_tests();

    let e = message(c.set_name("after".into()).err().unwrap().into());
    assert!(e.contains("reload the page"), "{e}");
    let e = message(c.flush().err().unwrap().into());
    assert!(e.contains("reload the page"), "{e}");
    let e = message(
        WebCommons::open(id, JsValue::UNDEFINED)
            .await
            .err()
            .unwrap()
            .into(),
    );
    assert!(e.contains("reload the page"), "{e}");
}
