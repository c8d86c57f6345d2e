//! A stored batch of changes read back from IndexedDB (`src/store/mod.rs`, `decode_batch`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::store::decode_batch;

fuzz_target!(|data: &[u8]| {
    if let Ok(changes) = decode_batch(data) {
        let total: usize = changes.iter().map(Vec::len).sum();
        assert!(total <= data.len());
    }
});
