//! Chunks from a data channel into the reassembler (`src/sync/frame.rs`): the input is split into
//! chunks by a length byte before each; held bytes must stay within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::sync::frame::{Reassembler, ReassemblyLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ReassemblyLimits {
        max_message: 4096,
        max_partials: 4,
        max_partial_bytes: 8192,
        partial_timeout_ms: 1000,
    };
    let mut reassembler = Reassembler::new(limits.clone());
    let mut rest = data;
    let mut now = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        let (chunk, next) = tail.split_at(take);
        rest = next;
        now += 100;
        if let Ok(Some(message)) = reassembler.push(now, chunk) {
            assert!(message.len() <= limits.max_message);
        }
        assert!(reassembler.partial_count() <= limits.max_partials);
        assert!(reassembler.held_bytes() <= limits.max_partial_bytes);
        reassembler.expire(now);
    }
});
