//! A Yjs update (v2) as a change carries it, decoded and checked as every replica does on receipt
//! (`src/change/validate.rs`). A signature does not protect this path: any key signs whatever
//! update bytes it likes, and the checks run before membership is known.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peer_commons::change::{validate_ops, ChangeId, Op, TextEdit};
use peer_commons::identity::AuthorId;

fuzz_target!(|data: &[u8]| {
    let edit = TextEdit {
        nonce: 7,
        update: data.to_vec(),
    };
    let ops = [Op::EditDocument {
        doc: ChangeId([2; 32]),
        edit,
    }];
    let _ = validate_ops(&AuthorId([3; 32]), &ops, false);
});
