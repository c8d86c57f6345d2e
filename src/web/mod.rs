//! The browser shell (wasm32 only): the API exported to JavaScript through wasm-bindgen.
//!
//! Every export that can fail returns `Result<_, JsError>`, so JavaScript receives an `Error`
//! whose message says what to do; nothing is meant to panic across the boundary, and should a bug
//! panic anyway, the panic hook prints it to the console instead of an opaque `unreachable` and
//! poisons the instance ([`poison`]): every later call fails with a message offering a reload.

pub mod api;
mod app_extras;
mod identity;
pub mod poison;
pub mod runtime;

pub use api::WebCommons;
pub use identity::WebIdentity;

use wasm_bindgen::prelude::*;

/// Runs when the module is instantiated: installs the panic hook.
#[wasm_bindgen(start)]
fn start() {
    poison::install();
}

/// The version of peer-commons compiled into this module, e.g. `"0.1.0"`.
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}
