//! Cursor positions that survive concurrent edits: yrs sticky indices (Yjs relative
//! positions, v1 encoding) over a document's text, for presence. Nothing here changes the
//! replica.

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Assoc, Text, Transact};
use yrs::{IndexedSequence, StickyIndex};

use super::Commons;
use crate::change::ChangeId;
use crate::identity::Identity;

impl Commons {
    /// An encoded position at UTF-16 `index` of `doc`'s text (clamped to its length), tied to
    /// the character after it (or, at the end, the one before), so it moves with that
    /// character when others edit. `None` for an unknown document.
    pub fn sticky_position(&self, doc: &ChangeId, index: u64) -> Option<Vec<u8>> {
        let d = self.document(doc)?;
        let text = d.ytext();
        let txn = d.ydoc().transact();
        let len = text.len(&txn);
        let index = u32::try_from(index).unwrap_or(u32::MAX).min(len);
        let sticky = text
            .sticky_index(&txn, index, Assoc::After)
            .or_else(|| text.sticky_index(&txn, index, Assoc::Before))?;
        Some(sticky.encode_v1())
    }

    /// Where an encoded position is now, as a UTF-16 index into `doc`'s text. `None` when the
    /// position does not decode or names characters this replica does not hold (yet).
    pub fn resolve_position(&self, doc: &ChangeId, pos: &[u8]) -> Option<u64> {
        let d = self.document(doc)?;
        let sticky = StickyIndex::decode_v1(pos).ok()?;
        let txn = d.ydoc().transact();
        let offset = sticky.get_offset(&txn)?;
        let len = d.ytext().len(&txn);
        Some(u64::from(offset.index.min(len)))
    }

    /// The key that signs this replica's changes (and its presence records).
    pub fn local_identity(&self) -> Option<&Identity> {
        self.local.as_ref().map(|l| &l.identity)
    }
}

#[cfg(test)]
mod tests {
    use crate::change::{Charter, GovernanceParams};
    use crate::commons::Commons;
    use crate::identity::Identity;

    fn charter() -> Charter {
        Charter {
            title: "c".into(),
            purpose: String::new(),
            licence: "CC-BY-SA-4.0".into(),
            params: GovernanceParams::default(),
            fork_of: None,
        }
    }

    #[test]
    fn positions_follow_their_characters_through_concurrent_edits() {
        let (mut a, genesis) =
            Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
        let made = a.create_document("d", "hello world", 1).unwrap();
        let doc = made.last().unwrap().id;
        let mut b = Commons::join(a.id(), Some((Identity::from_secret([2; 32]), 1)));
        b.insert(&genesis.bytes).unwrap();
        for c in &made {
            b.insert(&c.bytes).unwrap();
        }
        // B's cursor before "world", and at the very end.
        let before_world = b.sticky_position(&doc, 6).unwrap();
        let at_end = b.sticky_position(&doc, 11).unwrap();
        let at_start = b.sticky_position(&doc, 0).unwrap();
        // A inserts at the front meanwhile; B receives it.
        a.edit_text(&doc, 0, 0, "Oh, ").unwrap();
        for c in a.flush(2).unwrap() {
            b.insert(&c.bytes).unwrap();
        }
        assert_eq!(b.document(&doc).unwrap().text(), "Oh, hello world");
        // The positions moved with their characters; read on A's replica too.
        for r in [&a, &b] {
            assert_eq!(r.resolve_position(&doc, &before_world), Some(10));
            assert_eq!(r.resolve_position(&doc, &at_end), Some(15));
        }
        assert_eq!(b.resolve_position(&doc, &at_start), Some(4));
        // Out of range is clamped; unknown documents and junk give None.
        assert!(b.sticky_position(&doc, 1_000).is_some());
        assert_eq!(b.sticky_position(&genesis.id, 0), None);
        assert_eq!(b.resolve_position(&doc, &[0xff, 0xff, 0xff]), None);
        assert_eq!(b.resolve_position(&doc, &[]), None);
    }
}
