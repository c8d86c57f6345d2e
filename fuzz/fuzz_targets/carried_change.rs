//! A change carried inside a fork's history (`src/change/carry.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::change::carry::decode_carried;

fuzz_target!(|data: &[u8]| {
    let _ = decode_carried(data);
});
