//! Signed changes: the unit of contribution.
//!
//! Wire and storage form of a change (format 1, docs/PROTOCOL.md):
//! `signature (64 bytes) || body`, where `body` is the postcard encoding of [`ChangeBody`].
//! The change id is `blake3(body)`; the signature is ed25519 over `SIGNING_DOMAIN || id`.

pub mod carry;
pub mod limits;
pub mod ops;
pub(crate) mod update_bound;
mod validate;

use serde::{Deserialize, Serialize};

use crate::identity::{AuthorId, Identity, IdentityError};
pub use ops::*;
pub use validate::validate_ops;

/// Version of the change format written in every body.
pub const CHANGE_FORMAT: u8 = 1;
/// Domain separation for change signatures.
pub const SIGNING_DOMAIN: &[u8] = b"peer-commons/change/v1\0";
const SIG_LEN: usize = 64;

/// The id of a change: blake3 of its encoded body. The genesis change's id is the commons id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct ChangeId(pub [u8; 32]);

/// The id of a commons: the id of its genesis change.
pub type CommonsId = ChangeId;

impl ChangeId {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, ChangeError> {
        let v = hex::decode(s).map_err(|_| ChangeError::BadId)?;
        Ok(ChangeId(v.try_into().map_err(|_| ChangeError::BadId)?))
    }

    /// First 8 hex characters, for logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl std::fmt::Debug for ChangeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChangeId({})", self.short())
    }
}

/// Everything a change says; signed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeBody {
    /// [`CHANGE_FORMAT`].
    pub format: u8,
    /// The commons this change belongs to; `None` only in a genesis change.
    pub commons: Option<CommonsId>,
    pub author: AuthorId,
    /// The author's sequence number: one more than the highest of the author's changes the author
    /// had seen. Informative (one key on two devices may reuse a number); ids identify changes.
    pub seq: u64,
    /// The heads the author had when writing: ids of changes this one causally follows.
    pub deps: Vec<ChangeId>,
    /// Milliseconds since the Unix epoch, as the author's clock claims. Informative only.
    pub time: u64,
    pub ops: Vec<Op>,
}

/// A decoded, signature-checked change with its id and exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub id: ChangeId,
    pub body: ChangeBody,
    /// The exact bytes received or produced (`signature || body`).
    pub bytes: Vec<u8>,
}

/// Why a change was refused. Every variant leaves the replica untouched.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ChangeError {
    #[error("change is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("change is truncated: shorter than a signature")]
    Truncated,
    #[error("change body is not valid: {0}")]
    Malformed(String),
    #[error("change body is not canonically encoded")]
    NonCanonical,
    #[error("unsupported change format {0}")]
    UnsupportedFormat(u8),
    #[error("signature does not verify: {0}")]
    Signature(#[from] IdentityError),
    #[error("change belongs to another commons")]
    WrongCommons,
    #[error("limit exceeded: {what} is {value}, over the limit of {limit}")]
    Limit {
        what: &'static str,
        value: u64,
        limit: u64,
    },
    #[error("invalid operation: {0}")]
    InvalidOp(String),
    #[error(
        "CRDT update writes under client id {found}, but the author's client id is {expected}"
    )]
    ForeignClient { expected: u64, found: u64 },
    #[error("malformed change id: expected 64 hex characters")]
    BadId,
    #[error("too many changes waiting for missing dependencies")]
    PendingFull,
    #[error("unknown licence {0:?}: choose one of the offered SPDX ids ({1})")]
    UnknownLicence(String, String),
}

impl Change {
    /// Signs `body` as `identity`. The body's author must be the identity's key.
    pub fn sign(identity: &Identity, body: ChangeBody) -> Change {
        debug_assert_eq!(body.author, identity.author());
        let body_bytes = postcard::to_allocvec(&body).expect("encoding to a Vec cannot fail");
        let id = ChangeId(*blake3::hash(&body_bytes).as_bytes());
        let sig = identity.sign(&signing_message(&id));
        let mut bytes = Vec::with_capacity(SIG_LEN + body_bytes.len());
        bytes.extend_from_slice(&sig);
        bytes.extend_from_slice(&body_bytes);
        Change { id, body, bytes }
    }

    /// Decodes and checks a change received from outside: size, canonical encoding, format,
    /// signature and the op limits. Commons membership and deps are checked by the replica.
    pub fn decode(bytes: &[u8]) -> Result<Change, ChangeError> {
        Self::decode_inner(bytes, true)
    }

    /// Decodes a change this device stored itself after checking it: everything but the
    /// signature is checked again (the signature check dominates the cost of reopening).
    pub fn decode_trusted(bytes: &[u8]) -> Result<Change, ChangeError> {
        Self::decode_inner(bytes, false)
    }

    fn decode_inner(bytes: &[u8], verify: bool) -> Result<Change, ChangeError> {
        let change = Self::decode_unvalidated(bytes, verify)?;
        validate::validate_body(&change.body, verify)?;
        Ok(change)
    }

    /// [`Change::decode_inner`] without the op checks: size, canonical encoding, format and (if
    /// `verify`) signature. Carried changes (a fork's history) look at their ops before
    /// validating them.
    fn decode_unvalidated(bytes: &[u8], verify: bool) -> Result<Change, ChangeError> {
        if bytes.len() > limits::MAX_CHANGE_BYTES {
            return Err(ChangeError::TooLarge {
                size: bytes.len(),
                limit: limits::MAX_CHANGE_BYTES,
            });
        }
        let (sig, body_bytes) = bytes
            .split_first_chunk::<SIG_LEN>()
            .ok_or(ChangeError::Truncated)?;
        let body: ChangeBody =
            postcard::from_bytes(body_bytes).map_err(|e| ChangeError::Malformed(e.to_string()))?;
        // postcard accepts overlong varints and trailing bytes; the id must name one byte string.
        let again =
            postcard::to_allocvec(&body).map_err(|e| ChangeError::Malformed(e.to_string()))?;
        if again != body_bytes {
            return Err(ChangeError::NonCanonical);
        }
        if body.format != CHANGE_FORMAT {
            return Err(ChangeError::UnsupportedFormat(body.format));
        }
        let id = ChangeId(*blake3::hash(body_bytes).as_bytes());
        if verify {
            body.author.verify(&signing_message(&id), sig)?;
        }
        Ok(Change {
            id,
            body,
            bytes: bytes.to_vec(),
        })
    }

    /// Whether this is a genesis change (it has no commons yet: its id becomes the commons id).
    pub fn is_genesis(&self) -> bool {
        self.body.commons.is_none()
    }

    /// Ids of other changes this change's ops refer to (targets of endorsements, documents edited,
    /// tasks claimed, ...). A replica applies a change only once its deps *and* these are present,
    /// so an op never finds its target missing on one replica and present on another.
    pub fn references(&self) -> Vec<ChangeId> {
        let mut refs: Vec<ChangeId> = self.body.ops.iter().filter_map(Op::target).collect();
        refs.sort_unstable();
        refs.dedup();
        refs
    }

    /// The charter, if this is a genesis change.
    pub fn charter(&self) -> Option<&Charter> {
        match self.body.ops.first() {
            Some(Op::Genesis(c)) if self.is_genesis() => Some(c),
            _ => None,
        }
    }
}

fn signing_message(id: &ChangeId) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + 32);
    m.extend_from_slice(SIGNING_DOMAIN);
    m.extend_from_slice(&id.0);
    m
}

/// The CRDT client id an author may write under with a given session nonce: 53 bits (so that
/// Yjs in JavaScript can read the same updates) of `blake3("peer-commons/client" || key || nonce)`.
pub fn client_id(author: &AuthorId, nonce: u32) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"peer-commons/client\0");
    h.update(&author.0);
    h.update(&nonce.to_le_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_bytes()[..8]);
    u64::from_le_bytes(first) & ((1u64 << 53) - 1)
}

#[cfg(test)]
mod tests;
