//! Storage of a browser's data: its identity now; the changes, heads and snapshots of each
//! commons later (behind a `Store` trait with an in-memory and an IndexedDB implementation).

#[cfg(target_arch = "wasm32")]
pub mod idb;
