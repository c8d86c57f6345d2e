//! Browser tests (headless Chromium) of the JS-facing `Identity`: generation from the browser's
//! crypto, signing, verifying, and the errors malformed input gets.
#![cfg(target_arch = "wasm32")]

use peer_commons::web::{version, WebIdentity};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The message of the JS `Error` a failed call throws.
fn message(error: wasm_bindgen::JsError) -> String {
    let value: JsValue = error.into();
    js_sys::Error::from(value).message().into()
}

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn generated_identities_are_distinct_hex_keys() {
    let a = WebIdentity::generate().unwrap();
    let b = WebIdentity::generate().unwrap();
    assert_eq!(a.public_key().len(), 64);
    assert!(a.public_key().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(
        a.public_key(),
        b.public_key(),
        "crypto.getRandomValues must feed the keys"
    );
}

#[wasm_bindgen_test]
fn sign_then_verify_and_reject_tampering() {
    let id = WebIdentity::generate().unwrap();
    let other = WebIdentity::generate().unwrap();
    let sig = id.sign(b"a change");
    assert_eq!(sig.len(), 64);
    assert!(id.verify(b"a change", &sig).unwrap());
    assert!(!id.verify(b"a chAnge", &sig).unwrap(), "another message");
    assert!(!other.verify(b"a change", &sig).unwrap(), "another key");
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    assert!(
        !id.verify(b"a change", &flipped).unwrap(),
        "a damaged signature"
    );
    assert!(WebIdentity::verify_with(&id.public_key(), b"a change", &sig).unwrap());
}

#[wasm_bindgen_test]
fn malformed_input_throws_an_actionable_error() {
    let id = WebIdentity::generate().unwrap();
    let short = message(id.verify(b"m", &[0; 63]).unwrap_err());
    assert!(
        short.contains("64 bytes") && short.contains("63"),
        "{short}"
    );
    let bad_hex = message(WebIdentity::verify_with("xyz", b"m", &[0; 64]).unwrap_err());
    assert!(bad_hex.contains("64 hex characters"), "{bad_hex}");
}
