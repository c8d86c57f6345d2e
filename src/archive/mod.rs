//! Export, import and fork: the circulation of the common (DESIGN.md §1, peer property).
//!
//! - [`binary`]: the portable archive of every signed change, verified whole before import.
//! - [`markdown`]: a human export, a zip of Markdown files with licence and credits.
//! - [`fork`]: a new commons carrying a parent's documents with their history and credits.

pub mod binary;
pub mod fork;
pub mod markdown;

pub use binary::{verify_archive, write_archive, ImportReport, Verified};
pub use fork::{ForkError, ForkOptions, Forked};

use crate::change::ChangeError;

/// Why an archive was refused. Nothing was imported.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ArchiveError {
    #[error("this file is not a peer-commons archive")]
    NotAnArchive,
    #[error("the archive is truncated")]
    Truncated,
    #[error("archive format version {version} (flags {flags}) is not supported by this version")]
    UnsupportedVersion { version: u16, flags: u16 },
    #[error("the archive is damaged or was altered: its checksum does not match")]
    ChecksumMismatch,
    #[error("the archive is malformed: {0}")]
    Malformed(String),
    #[error("the archive belongs to another commons ({found}, not {expected})")]
    ForeignCommons { expected: String, found: String },
    #[error("change {index} of the archive belongs to another commons")]
    ForeignChange { index: usize },
    #[error("change {index} of the archive is not valid: {error}")]
    BadChange { index: usize, error: ChangeError },
    #[error("change {index} of the archive appears twice")]
    Duplicate { index: usize },
    #[error("change {index} of the archive depends on {missing}, which is neither earlier in the archive nor held")]
    MissingDependency { index: usize, missing: String },
    #[error("the archive does not start with its commons' genesis")]
    NoGenesis,
    #[error("applying the archive failed: {0}")]
    Apply(#[from] ChangeError),
    #[error("writing the zip failed: {0}")]
    Zip(String),
}
