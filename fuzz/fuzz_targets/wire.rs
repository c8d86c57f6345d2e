//! One sync message from a peer's data channel (`src/sync/wire.rs`); a decoded one must encode
//! back to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::sync::wire::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(message)) = Message::decode(data) {
        let again = message.encode();
        let decoded = Message::decode(&again);
        assert!(
            matches!(decoded, Ok(Some(_))),
            "a re-encoded message must decode"
        );
    }
});
