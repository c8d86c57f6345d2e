//! Counts a Yjs v2 update declares, checked before yrs decodes it.
//!
//! yrs reserves memory for the number of clients an update declares, and for the number of
//! blocks of each client, before reading any of them: five bytes claiming four billion clients
//! make it ask for tens of gigabytes (found by the `yrs_update` fuzz target, docs/FUZZING.md). A
//! native build fails that allocation, but a smaller claim (a gigabyte) succeeds, and in the
//! browser it grows the wasm memory for good. So the two counts that come before any content
//! are read here first and held to what a text edit can need: one client (an edit writes only
//! under its author's client id, [`super::client_id`]) with at most one block per inserted
//! character ([`MAX_INSERT_PER_CHANGE`]).

use super::limits::MAX_INSERT_PER_CHANGE;
use super::validate::limit;
use super::ChangeError;

/// Column buffers that precede the update's own bytes in the v2 encoding (key clocks, clients,
/// left clocks, right clocks, infos, strings, parent infos, type refs, lengths).
const V2_COLUMNS: usize = 9;

/// Most clients one text edit's update may declare.
const MAX_CLIENTS: u64 = 1;

/// Checks the counts `update` declares before its content; a header that does not parse is an
/// update that does not decode.
pub(super) fn check_update_v2(update: &[u8]) -> Result<(), ChangeError> {
    let undecodable = || ChangeError::InvalidOp("CRDT update does not decode: bad header".into());
    // A feature-flag byte, then the columns, each a length and that many bytes.
    let mut at = usize::from(!update.is_empty());
    for _ in 0..V2_COLUMNS {
        let len = read_var(update, &mut at).ok_or_else(undecodable)?;
        at = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|end| *end <= update.len())
            .ok_or_else(undecodable)?;
    }
    let clients = read_var(update, &mut at).ok_or_else(undecodable)?;
    limit("CRDT clients in one update", clients, MAX_CLIENTS)?;
    if clients == 1 {
        let blocks = read_var(update, &mut at).ok_or_else(undecodable)?;
        limit("CRDT blocks in one update", blocks, MAX_INSERT_PER_CHANGE)?;
    }
    Ok(())
}

/// Whether the counts a Yjs **v1** update (a document state in a stored snapshot) declares ahead
/// of its content are possible for its length: in v1 every client costs at least three bytes
/// (its block count, id and first clock) and every block at least one (its info byte), so a
/// count larger than the bytes left cannot be honest. Many clients are normal in a document
/// state, so this bounds by size rather than by a protocol limit.
pub(crate) fn plausible_update_v1(update: &[u8]) -> bool {
    let mut at = 0;
    let Some(clients) = read_var(update, &mut at) else {
        return false;
    };
    let left = |at: usize| (update.len() - at) as u64;
    if clients.saturating_mul(3) > left(at) {
        return false;
    }
    if clients == 0 {
        return true;
    }
    read_var(update, &mut at).is_some_and(|blocks| blocks <= left(at))
}

/// Reads an unsigned LEB128 number (as lib0 writes them) at `at`; `None` when it is cut short or
/// does not fit 64 bits.
fn read_var(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact};

    /// The crash the fuzzer found: an update declaring 0xb4b4b4b4... clients.
    const CLIENT_BOMB: &[u8] = &[
        0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xb4, 0xb4, 0xb4, 0xb4, 0xb4, 0xb4, 0xb4, 0, 0,
    ];

    fn edit(text: &str) -> Vec<u8> {
        let doc = Doc::with_client_id(42);
        let body = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        body.insert(&mut txn, 0, text);
        assert_eq!(body.get_string(&txn), text);
        txn.encode_update_v2()
    }

    #[test]
    fn a_real_edit_passes() {
        assert_eq!(check_update_v2(&edit("hello")), Ok(()));
    }

    #[test]
    fn the_client_count_bomb_is_refused_before_yrs_sees_it() {
        assert!(matches!(
            check_update_v2(CLIENT_BOMB),
            Err(ChangeError::Limit {
                what: "CRDT clients in one update",
                ..
            })
        ));
    }

    #[test]
    fn a_block_count_bomb_is_refused() {
        let mut update = edit("x");
        // The same header, then one client claiming 2^32-1 blocks.
        let mut at = 1;
        for _ in 0..V2_COLUMNS {
            let len = read_var(&update, &mut at).expect("column length");
            at += usize::try_from(len).expect("small");
        }
        update.truncate(at);
        update.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            check_update_v2(&update),
            Err(ChangeError::Limit {
                what: "CRDT blocks in one update",
                ..
            })
        ));
    }

    #[test]
    fn v1_counts_must_fit_the_bytes() {
        let doc = Doc::with_client_id(42);
        let body = doc.get_or_insert_text("t");
        body.insert(&mut doc.transact_mut(), 0, "hello");
        let state = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        assert!(plausible_update_v1(&state));
        assert!(plausible_update_v1(&[0, 0]), "an empty update");
        // The crash the snapshot fuzz target found: billions of clients in a few bytes.
        assert!(!plausible_update_v1(&[
            0x89, 0x89, 0x89, 0x89, 0x09, 1, 2, 3
        ]));
        // One client claiming more blocks than bytes follow.
        assert!(!plausible_update_v1(&[1, 0xff, 0xff, 0x03, 42, 0, 0, 0]));
        assert!(!plausible_update_v1(&[]));
    }

    #[test]
    fn truncated_headers_do_not_decode() {
        let whole = edit("hello");
        for cut in [0, 1, 2, 5] {
            assert!(
                matches!(
                    check_update_v2(&whole[..cut]),
                    Err(ChangeError::InvalidOp(_))
                ),
                "cut at {cut}"
            );
        }
        // A column claiming more bytes than there are.
        assert!(check_update_v2(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        // A varint longer than 64 bits.
        assert!(
            check_update_v2(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .is_err()
        );
    }
}
