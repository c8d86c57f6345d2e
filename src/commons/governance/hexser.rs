//! Serde helpers: ids as lowercase hex in read views (JSON for JavaScript), while the wire format
//! keeps its own encoding of ids.

use serde::ser::{SerializeSeq, Serializer};

use crate::change::ChangeId;
use crate::identity::AuthorId;

/// Something with a 32-byte id.
pub trait HexId {
    /// Lowercase hex.
    fn hex(&self) -> String;
}

impl HexId for ChangeId {
    fn hex(&self) -> String {
        self.to_hex()
    }
}

impl HexId for AuthorId {
    fn hex(&self) -> String {
        self.to_hex()
    }
}

/// One id as hex.
pub fn id<T: HexId, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.hex())
}

/// An optional id as hex or null.
pub fn opt_id<T: HexId, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_str(&x.hex()),
        None => s.serialize_none(),
    }
}

/// A list of ids as hex.
pub fn ids<T: HexId, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&x.hex())?;
    }
    seq.end()
}
