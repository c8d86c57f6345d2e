//! A signed presence record from a peer (`src/sync/presence.rs`, `open`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::sync::presence;

fuzz_target!(|data: &[u8]| {
    let _ = presence::open(data, &[5; 32]);
});
