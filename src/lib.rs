//! peer-commons: a commons produced together from the browser.
//!
//! The crate is a sans-IO core (identity, signed changes, the causal graph, the derived state of a
//! commons, the sync protocol) shared by every platform, plus thin platform shells: the browser
//! (`web`, wasm32 only) and the signalling relay (`relay`, native only).

pub mod archive;
pub mod change;
pub mod commons;
pub mod dag;
pub mod identity;
#[cfg(not(target_arch = "wasm32"))]
pub mod relay;
pub mod signal;
pub mod sync;

/// The crate version, as shown in the app.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pub mod store;

#[cfg(target_arch = "wasm32")]
pub mod web;
