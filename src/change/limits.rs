//! Protocol limits. They are part of the protocol: every replica checks them on receipt, so a
//! change that one replica accepts is accepted by all.

/// Largest encoded change (signature + body), in bytes.
pub const MAX_CHANGE_BYTES: usize = 512 * 1024;
/// Most operations in one change.
pub const MAX_OPS_PER_CHANGE: usize = 1024;
/// Most dependencies (heads cited) in one change.
pub const MAX_DEPS_PER_CHANGE: usize = 64;
/// Longest short text field (titles, names, reasons, task titles), in bytes.
pub const MAX_SHORT_TEXT_BYTES: usize = 1024;
/// Longest long text field (comments, purposes, proposals, task descriptions), in bytes.
pub const MAX_LONG_TEXT_BYTES: usize = 16 * 1024;
/// Most text one change may insert into one document, in UTF-16 code units.
pub const MAX_INSERT_PER_CHANGE: u64 = 256 * 1024;
/// Longest document, in UTF-16 code units. Checked by the local writer (see docs/PROTOCOL.md:
/// a receiver cannot check it deterministically, because a document's length depends on which
/// concurrent changes it has seen; the per-change insert limit bounds what a receiver accepts).
pub const MAX_DOCUMENT_LEN: u64 = 4 * 1024 * 1024;
/// Most changes a replica buffers while their dependencies are missing.
pub const MAX_PENDING_CHANGES: usize = 200_000;
/// Most bytes a replica buffers while dependencies are missing, counted as
/// [`crate::dag::pending_cost`] (the decoded structures, not only the raw bytes).
pub const MAX_PENDING_BYTES: usize = 256 * 1024 * 1024;
/// Most bytes (same count) one sending peer can make a replica buffer while dependencies are
/// missing: one peer cannot take the whole buffer.
pub const MAX_PENDING_BYTES_PER_PEER: usize = 16 * 1024 * 1024;
/// How long a change received from a peer waits for its dependencies before it is dropped
/// (it can be fetched again by sync once they arrive), in milliseconds.
pub const PENDING_TTL_MS: u64 = 10 * 60 * 1000;
/// Most items in a list inside one op (e.g. contributions linked by a completed task).
pub const MAX_LIST_ITEMS: usize = 256;
