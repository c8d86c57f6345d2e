//! A change from a peer (`Change::decode`), and as reopened from storage without its signature
//! checked (`Change::decode_trusted`), which lets the fuzzer reach every op check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::change::Change;

fuzz_target!(|data: &[u8]| {
    let _ = Change::decode(data);
    let _ = Change::decode_trusted(data);
});
