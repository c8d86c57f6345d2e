//! An archive file someone hands us (`src/archive/binary.rs`): verified whole, then imported.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::archive::verify_archive;
use peer_commons::commons::Commons;

fuzz_target!(|data: &[u8]| {
    let _ = verify_archive(data, None, |_| false);
    let _ = Commons::import_archive(data, None);
});
