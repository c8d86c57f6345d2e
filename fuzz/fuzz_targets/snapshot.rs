//! A stored snapshot read back when a commons is reopened (`src/commons/snapshot.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::change::ChangeId;
use peer_commons::commons::Commons;

fuzz_target!(|data: &[u8]| {
    let _ = Commons::restore(ChangeId([9; 32]), None, Some(data), std::iter::empty());
});
