//! A signalling envelope from a relay (`src/signal`): the sealed text opened with the room key,
//! and an opened payload read as a signal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::change::ChangeId;
use peer_commons::signal::{RoomKey, Signal};

fuzz_target!(|data: &[u8]| {
    let _ = Signal::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let room = RoomKey::for_commons(&ChangeId([1; 32]));
        if let Ok(plain) = room.open(text) {
            let _ = Signal::from_bytes(&plain);
        }
    }
});
