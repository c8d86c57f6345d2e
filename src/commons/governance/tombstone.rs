//! Text that must have no effect — the edits of a change a block leaves out, and of a revert that
//! does not count — is still integrated into the CRDT, as tombstones: its insertions arrive
//! already deleted and its deletions are dropped. Nothing is visible, what it deleted stays, and
//! edits others made next to it keep their anchors (dropping the update instead would leave such
//! edits waiting forever for items that never come). Deleting known items creates no new items,
//! so every replica computes the same document.

use std::collections::BTreeMap;

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{IdSet, Update};

use crate::change::{ChangeId, Op};
use crate::commons::claims::IdClaims;
use crate::commons::documents::Document;
use crate::dag::Dag;

/// The updates giving `update`'s items without its effect: its blocks with no deletions, then a
/// deletion of everything it inserted except `keep` (ids an earlier change claimed: yrs holds
/// that change's items under them, see `commons::claims`). Empty if the update does not decode
/// as expected.
pub(crate) fn tombstone(update: &[u8], keep: impl Fn(&IdSet) -> IdSet) -> Vec<Vec<u8>> {
    // Text edits travel in Yjs v2, which is columnar: the blocks and the delete set can only be
    // separated in the v1 layout, so work in v1 and hand back v2.
    let Ok(u) = Update::decode_v2(update) else {
        return vec![];
    };
    let whole = u.encode_v1();
    let own_ds = u.delete_set().encode_v1();
    let Some(blocks) = whole.strip_suffix(own_ds.as_slice()) else {
        return vec![];
    };
    let mut inserts = blocks.to_vec();
    inserts.extend_from_slice(&IdSet::new().encode_v1());
    let inserted = u.insertions(true);
    let gone = inserted.diff(&keep(&inserted));
    // An update with no blocks is one zero (no clients) followed by its delete set.
    let mut delete = vec![0u8];
    delete.extend_from_slice(&gone.encode_v1());
    match (Update::decode_v1(&inserts), Update::decode_v1(&delete)) {
        (Ok(i), Ok(d)) => vec![i.encode_v2(), d.encode_v2()],
        _ => vec![],
    }
}

/// Integrates the text edits of change `id` as tombstones into the documents they touch; with
/// `with_create`, also the first text of the document it creates (a voided change: its create op
/// made the document without text).
pub(crate) fn apply_void_text(
    dag: &Dag,
    documents: &mut BTreeMap<ChangeId, Document>,
    id: &ChangeId,
    claims: &IdClaims,
    with_create: bool,
) {
    let Some(node) = dag.get(id) else { return };
    let stamp = (node.depth, *id);
    for op in &node.change.body.ops {
        let (doc, edit) = match op {
            Op::EditDocument { doc, edit } => (doc, edit),
            Op::CreateDocument { edit, .. } if with_create => (id, edit),
            _ => continue,
        };
        let Some(d) = documents.get_mut(doc) else {
            continue;
        };
        let keep = |inserted: &IdSet| claims.claimed_before(doc, inserted, stamp);
        for piece in tombstone(&edit.update, keep) {
            d.apply_update(stamp, &piece, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commons::documents::{new_ydoc, TEXT_ROOT};
    use yrs::{GetString, Text, Transact};

    #[test]
    fn a_tombstoned_edit_leaves_no_trace_and_keeps_neighbours_anchored() {
        let a = new_ydoc(1);
        let ta = a.get_or_insert_text(TEXT_ROOT);
        let base = {
            let mut t = a.transact_mut();
            ta.insert(&mut t, 0, "hello world");
            t.encode_update_v2()
        };
        // The vandal replaces "world" with "junk" (four letters); a member then types right after it.
        let vandal = {
            let mut t = a.transact_mut();
            ta.remove_range(&mut t, 6, 5);
            ta.insert(&mut t, 6, "junk");
            t.encode_update_v2()
        };
        let b = new_ydoc(2);
        let tb = b.get_or_insert_text(TEXT_ROOT);
        b.transact_mut()
            .apply_update(Update::decode_v2(&base).unwrap())
            .unwrap();
        b.transact_mut()
            .apply_update(Update::decode_v2(&vandal).unwrap())
            .unwrap();
        let member = {
            let mut t = b.transact_mut();
            tb.insert(&mut t, 10, "!");
            t.encode_update_v2()
        };
        // A replica that must leave the vandal's edit out.
        let c = new_ydoc(3);
        let tc = c.get_or_insert_text(TEXT_ROOT);
        let apply = |u: &[u8]| {
            c.transact_mut()
                .apply_update(Update::decode_v2(u).unwrap())
                .unwrap()
        };
        apply(&base);
        for piece in tombstone(&vandal, |_| IdSet::new()) {
            apply(&piece);
        }
        apply(&member);
        assert_eq!(tc.get_string(&c.transact()), "hello world!");
    }
}
