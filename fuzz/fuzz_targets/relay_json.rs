//! A text message from a relay client (`src/relay/protocol.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::relay::protocol::{parse, parse_bounded, ClientMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let bounded = parse_bounded(text, 256);
    if let Ok(ClientMessage::Publish { topic }) = &bounded {
        assert!(topic.len() <= 256);
    }
    if bounded.is_ok() {
        assert_eq!(bounded, parse(text), "the bound only refuses");
    }
});
