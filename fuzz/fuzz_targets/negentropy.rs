//! A reconciliation query from a peer, answered from our index as a session does
//! (`src/sync/session/recon.rs`, `respond`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use negentropy::Negentropy;
use peer_commons::change::ChangeId;
use peer_commons::sync::SyncIndex;

fuzz_target!(|data: &[u8]| {
    let index = SyncIndex::from_items((0..64u8).map(|i| (u64::from(i / 4), ChangeId([i; 32]))));
    if let Ok(mut neg) = Negentropy::borrowed(&index, 64 * 1024) {
        let _ = neg.reconcile(data);
    }
});
