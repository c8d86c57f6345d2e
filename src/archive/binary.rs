//! The portable archive: one binary file holding every signed change of a commons, verifiable
//! on import (docs/ACCOUNTING.md, "Archive format"; docs/PROTOCOL.md when present).
//!
//! ```text
//! magic      8 bytes   "PCARCHIV"
//! version    u16 LE    1
//! flags      u16 LE    0 (reserved; anything else is refused)
//! commons    32 bytes  the commons id (its genesis change id)
//! count      u64 LE    number of change records
//! records    count x { length u32 LE, change bytes (signature || body) }, in causal order
//! checksum   32 bytes  blake3 derive_key("peer-commons archive v1 checksum") of all bytes before
//! ```
//!
//! An archive is verified whole before anything is imported: the checksum (catches truncation
//! and accidental damage), then every record decoded and signature-checked as if received from
//! a peer, of this commons, not repeated, and with its dependencies earlier in the archive or
//! already held. The first verification failure refuses the archive and nothing is imported.

use std::collections::HashSet;

use super::ArchiveError;
use crate::change::limits::MAX_CHANGE_BYTES;
use crate::change::{Change, ChangeId, CommonsId};
use crate::commons::Commons;
use crate::identity::Identity;

/// The first bytes of every archive.
pub const MAGIC: &[u8; 8] = b"PCARCHIV";
/// The archive format version this code writes and reads.
pub const VERSION: u16 = 1;
const CHECKSUM_CONTEXT: &str = "peer-commons archive v1 checksum";
const HEADER_LEN: usize = 8 + 2 + 2 + 32 + 8;
const CHECKSUM_LEN: usize = 32;
/// The smallest record: a length and a signature.
const MIN_RECORD: usize = 4 + 64;

/// What merging an archive into a replica did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Changes in the archive.
    pub changes: u64,
    /// Changes the replica did not hold before.
    pub new: u64,
    /// Changes applied to the state (new ones and any they unblocked).
    pub applied: u64,
}

fn checksum(bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(CHECKSUM_CONTEXT);
    h.update(bytes);
    *h.finalize().as_bytes()
}

/// Writes an archive of `changes` (which must be in causal order) of commons `id`.
pub fn write_archive<'a>(id: CommonsId, changes: impl Iterator<Item = &'a Change>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&id.0);
    let count_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut count: u64 = 0;
    for c in changes {
        // A change is at most MAX_CHANGE_BYTES (512 KiB): its length fits in a u32.
        out.extend_from_slice(&(c.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&c.bytes);
        count += 1;
    }
    out[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    out
}

/// A verified archive: its commons and its changes, decoded and checked, in archive order.
#[derive(Debug)]
pub struct Verified {
    pub commons: CommonsId,
    pub changes: Vec<Change>,
}

/// Reads and verifies a whole archive. `expect` is the commons it must belong to (when merging
/// into a replica); `held` says whether the target already holds a change (dependencies it
/// holds need not be in the archive).
pub fn verify_archive(
    bytes: &[u8],
    expect: Option<CommonsId>,
    held: impl Fn(&ChangeId) -> bool,
) -> Result<Verified, ArchiveError> {
    let (header, body) = split_checked(bytes)?;
    let mut id = [0u8; 32];
    id.copy_from_slice(&header[12..44]);
    let commons = ChangeId(id);
    if let Some(e) = expect.filter(|e| *e != commons) {
        return Err(ArchiveError::ForeignCommons {
            expected: e.to_hex(),
            found: commons.to_hex(),
        });
    }
    let mut count_bytes = [0u8; 8];
    count_bytes.copy_from_slice(&header[44..52]);
    let count = u64::from_le_bytes(count_bytes);
    // Refuse a count the bytes cannot hold before allocating for it.
    if count > (body.len() / MIN_RECORD) as u64 {
        return Err(ArchiveError::Malformed(format!(
            "claims {count} changes in {} bytes",
            body.len()
        )));
    }
    let changes = read_records(body, count as usize, commons, held)?;
    Ok(Verified { commons, changes })
}

/// Checks magic, version, flags and checksum; returns the header and the record bytes.
fn split_checked(bytes: &[u8]) -> Result<(&[u8], &[u8]), ArchiveError> {
    if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
        return Err(ArchiveError::NotAnArchive);
    }
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(ArchiveError::Truncated);
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
    if version != VERSION || flags != 0 {
        return Err(ArchiveError::UnsupportedVersion { version, flags });
    }
    let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if checksum(content) != sum {
        return Err(ArchiveError::ChecksumMismatch);
    }
    Ok(content.split_at(HEADER_LEN))
}

/// Decodes and checks `count` records filling `body` exactly.
fn read_records(
    mut body: &[u8],
    count: usize,
    commons: CommonsId,
    held: impl Fn(&ChangeId) -> bool,
) -> Result<Vec<Change>, ArchiveError> {
    let mut seen: HashSet<ChangeId> = HashSet::with_capacity(count);
    let mut changes = Vec::with_capacity(count);
    for index in 0..count {
        let (len, rest) = body
            .split_first_chunk::<4>()
            .ok_or(ArchiveError::Malformed(format!(
                "record {index} is cut off"
            )))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > MAX_CHANGE_BYTES || len > rest.len() {
            return Err(ArchiveError::Malformed(format!(
                "record {index} claims {len} bytes"
            )));
        }
        let (record, rest) = rest.split_at(len);
        body = rest;
        let change =
            Change::decode(record).map_err(|error| ArchiveError::BadChange { index, error })?;
        check_record(&change, index, commons, &seen, &held)?;
        seen.insert(change.id);
        changes.push(change);
    }
    if !body.is_empty() {
        return Err(ArchiveError::Malformed(format!(
            "{} bytes after the last record",
            body.len()
        )));
    }
    Ok(changes)
}

/// One record must belong to the commons, be new, and follow everything it depends on.
fn check_record(
    change: &Change,
    index: usize,
    commons: CommonsId,
    seen: &HashSet<ChangeId>,
    held: &impl Fn(&ChangeId) -> bool,
) -> Result<(), ArchiveError> {
    let belongs = match change.body.commons {
        None => change.id == commons,
        Some(c) => c == commons,
    };
    if !belongs {
        return Err(ArchiveError::ForeignChange { index });
    }
    if seen.contains(&change.id) {
        return Err(ArchiveError::Duplicate { index });
    }
    let refs = change.references();
    for d in change.body.deps.iter().chain(refs.iter()) {
        if !seen.contains(d) && !held(d) {
            return Err(ArchiveError::MissingDependency {
                index,
                missing: d.to_hex(),
            });
        }
    }
    Ok(())
}

impl Commons {
    /// The portable archive of every applied change, in the deterministic causal order (two
    /// replicas holding the same changes write the same bytes). Changes still waiting for their
    /// dependencies are not included.
    pub fn export_archive(&self) -> Vec<u8> {
        write_archive(self.id(), self.changes_in_causal_order())
    }

    /// A new replica from an archive (`Commons.importArchive` in the JS API): verified whole,
    /// then applied. `local` is who writes from the new replica, as in [`Commons::join`].
    pub fn import_archive(
        bytes: &[u8],
        local: Option<(Identity, u32)>,
    ) -> Result<Commons, ArchiveError> {
        let v = verify_archive(bytes, None, |_| false)?;
        if v.changes.first().map(|c| c.id) != Some(v.commons) {
            return Err(ArchiveError::NoGenesis);
        }
        let mut commons = Commons::join(v.commons, local);
        for c in v.changes {
            commons.insert_change(c)?;
        }
        Ok(commons)
    }

    /// Merges an archive of this same commons into this replica: verified whole first (a
    /// foreign, tampered or truncated archive changes nothing), then every change it lacks is
    /// applied.
    pub fn merge_archive(&mut self, bytes: &[u8]) -> Result<ImportReport, ArchiveError> {
        let v = verify_archive(bytes, Some(self.id()), |id| self.contains(id))?;
        let mut report = ImportReport {
            changes: v.changes.len() as u64,
            ..ImportReport::default()
        };
        for c in v.changes {
            let r = self.insert_change(c)?;
            if !r.duplicate {
                report.new += 1;
            }
            report.applied += r.applied.len() as u64;
        }
        Ok(report)
    }
}
