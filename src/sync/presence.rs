//! Presence: who has which document open and where their cursor is, like Yjs awareness.
//!
//! Presence is ephemeral: it is never stored, never part of the replica and never part of
//! `state_hash`. Each running replica (one per tab, named by its [`PeerId`]) publishes a signed
//! [record](PresenceBody) now and then; nodes gossip records to their neighbours that asked for
//! them in their hello, keep the newest one per (author, peer), and forget it when no newer one
//! came for a while ([`PresenceConfig::expiry_ms`]). Time comes in from the shell.
//!
//! A record is signed by its author's key, so nobody can show a cursor under someone else's
//! name, and carries a sequence number, so a record replayed or overtaken on the way is dropped.
//! Cursor positions are yrs sticky indices (Yjs relative positions): they name the characters
//! they sit next to, so they stay in place while others edit before them.
//!
//! docs/PROTOCOL.md ("Presence") defines the bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PeerId;
use crate::identity::{AuthorId, Identity};

/// Most bytes of one signed record.
pub const MAX_RECORD: usize = 512;
/// Most bytes of the display name in a record (longer names are cut).
pub const MAX_NAME: usize = 64;
/// Most bytes of an encoded cursor position.
pub const MAX_POSITION: usize = 96;
/// Most records in one presence message.
pub const MAX_RECORDS_PER_MESSAGE: usize = 64;

const SIGNATURE_LEN: usize = 64;
const DOMAIN: &[u8] = b"peer-commons/presence/v1\0";

/// Where someone's cursor is: a document and a selection from `anchor` to `head` (equal for a
/// plain caret), each an encoded yrs sticky index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The document (its id).
    pub doc: [u8; 32],
    /// Where the selection starts (Yjs v1 encoding of a relative position).
    pub anchor: Vec<u8>,
    /// Where it ends, the caret's side.
    pub head: Vec<u8>,
}

/// The signed content of a presence record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceBody {
    /// The commons it is about.
    pub commons: [u8; 32],
    /// The running replica (tab) that publishes it.
    pub peer: [u8; 16],
    /// Its author's key, which signs the record.
    pub author: [u8; 32],
    /// Grows with every record of this (author, peer): older ones are dropped.
    pub seq: u64,
    /// The author's display name, as they claim it.
    pub name: String,
    /// The cursor, or `None` when the author has no document open (this clears their presence).
    pub cursor: Option<Cursor>,
}

/// Who a record is from: one entry per (author, running replica).
pub type PresenceKey = ([u8; 32], [u8; 16]);

impl PresenceBody {
    /// The entry this record updates.
    pub fn key(&self) -> PresenceKey {
        (self.author, self.peer)
    }

    /// The peer that published it.
    pub fn peer_id(&self) -> PeerId {
        PeerId(self.peer)
    }

    /// The author.
    pub fn author_id(&self) -> AuthorId {
        AuthorId(self.author)
    }
}

/// Why a presence record was refused. A refused record changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// Larger than [`MAX_RECORD`].
    #[error("presence record of {0} bytes is over the {MAX_RECORD}-byte limit")]
    TooLarge(usize),
    /// Shorter than a signature.
    #[error("presence record is truncated")]
    Truncated,
    /// The body does not decode.
    #[error("presence record does not decode")]
    Malformed,
    /// A field is over its limit.
    #[error("presence {what} of {len} bytes is over the {limit}-byte limit")]
    Limit {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// About another commons.
    #[error("presence record is about another commons")]
    WrongCommons,
    /// The signature does not match the author's key.
    #[error("presence record is not signed by its author")]
    Signature,
}

impl PresenceError {
    /// True when a correct peer could not have sent it (forged, broken or over the limits), so
    /// it counts against the sender. A record about another commons is only dropped.
    pub fn is_abusive(&self) -> bool {
        !matches!(self, PresenceError::WrongCommons)
    }
}

/// Signs a record: `signature || body`, the signature over `DOMAIN || body`. The name is cut to
/// [`MAX_NAME`] bytes; positions longer than [`MAX_POSITION`] are dropped (no cursor shown).
pub fn sign(
    identity: &Identity,
    commons: [u8; 32],
    peer: PeerId,
    seq: u64,
    name: &str,
    cursor: Option<Cursor>,
) -> Vec<u8> {
    let cursor = cursor.filter(|c| c.anchor.len() <= MAX_POSITION && c.head.len() <= MAX_POSITION);
    let body = PresenceBody {
        commons,
        peer: peer.0,
        author: identity.author().0,
        seq,
        name: super::wire::truncate(name, MAX_NAME).to_string(),
        cursor,
    };
    // Serializing a plain struct into a Vec cannot fail.
    let body = postcard::to_allocvec(&body).unwrap_or_default();
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&body);
    let mut out = identity.sign(&msg).to_vec();
    out.extend_from_slice(&body);
    out
}

/// Checks a received record (size, encoding, limits, commons, signature) and returns its body.
pub fn open(bytes: &[u8], commons: &[u8; 32]) -> Result<PresenceBody, PresenceError> {
    if bytes.len() > MAX_RECORD {
        return Err(PresenceError::TooLarge(bytes.len()));
    }
    if bytes.len() <= SIGNATURE_LEN {
        return Err(PresenceError::Truncated);
    }
    let (sig, body_bytes) = bytes.split_at(SIGNATURE_LEN);
    let body: PresenceBody =
        postcard::from_bytes(body_bytes).map_err(|_| PresenceError::Malformed)?;
    let limit = |what, len, limit| {
        if len > limit {
            Err(PresenceError::Limit { what, len, limit })
        } else {
            Ok(())
        }
    };
    limit("name", body.name.len(), MAX_NAME)?;
    if let Some(c) = &body.cursor {
        limit("anchor", c.anchor.len(), MAX_POSITION)?;
        limit("head", c.head.len(), MAX_POSITION)?;
    }
    if &body.commons != commons {
        return Err(PresenceError::WrongCommons);
    }
    let mut sig_bytes = [0u8; SIGNATURE_LEN];
    sig_bytes.copy_from_slice(sig);
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(body_bytes);
    body.author_id()
        .verify(&msg, &sig_bytes)
        .map_err(|_| PresenceError::Signature)?;
    Ok(body)
}

/// Tunables of presence.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    /// A record not refreshed for this long is forgotten.
    pub expiry_ms: u64,
    /// The local replica republishes its cursor this often while it has one.
    pub refresh_ms: u64,
    /// The local replica publishes at most one record per this interval (later cursor moves
    /// are coalesced into the next one).
    pub min_interval_ms: u64,
    /// Most records kept (beyond, the least recently refreshed is dropped).
    pub max_entries: usize,
    /// How long the sequence number of a forgotten entry is remembered, so a replay of its old
    /// records does not bring it back.
    pub remember_ms: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            expiry_ms: 30_000,
            refresh_ms: 10_000,
            min_interval_ms: 100,
            max_entries: 256,
            remember_ms: 10 * 60_000,
        }
    }
}

/// What receiving a valid record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Newer than what was known: kept (or, for a clearing record, the entry removed); forward it.
    Fresh(PresenceKey),
    /// Not newer than what is known (a duplicate, a replay, a record overtaken on the way, or
    /// our own echoed back): dropped.
    Stale,
}

struct Entry {
    body: PresenceBody,
    bytes: Vec<u8>,
    seen: u64,
}

/// The presence records known to one node. Bounded in entries and memory.
pub struct PresenceBook {
    cfg: PresenceConfig,
    live: BTreeMap<PresenceKey, Entry>,
    /// Highest sequence number seen per key, and until when it is remembered.
    marks: BTreeMap<PresenceKey, (u64, u64)>,
}

impl PresenceBook {
    /// An empty book.
    pub fn new(cfg: PresenceConfig) -> Self {
        PresenceBook {
            cfg,
            live: BTreeMap::new(),
            marks: BTreeMap::new(),
        }
    }

    /// Tunables.
    pub fn config(&self) -> &PresenceConfig {
        &self.cfg
    }

    /// Checks and records a record received at `now`. `me` is this node's peer id: our own
    /// records coming back are stale.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        commons: &[u8; 32],
        me: PeerId,
        now: u64,
    ) -> Result<Received, PresenceError> {
        let body = open(bytes, commons)?;
        if body.peer == me.0 {
            return Ok(Received::Stale);
        }
        let key = body.key();
        if self
            .marks
            .get(&key)
            .is_some_and(|(seq, _)| body.seq <= *seq)
        {
            return Ok(Received::Stale);
        }
        self.marks
            .insert(key, (body.seq, now + self.cfg.remember_ms));
        if body.cursor.is_none() {
            self.live.remove(&key);
        } else {
            let bytes = bytes.to_vec();
            self.live.insert(
                key,
                Entry {
                    body,
                    bytes,
                    seen: now,
                },
            );
        }
        self.bound();
        Ok(Received::Fresh(key))
    }

    /// Drops the least recently refreshed entries and marks beyond the bounds.
    fn bound(&mut self) {
        while self.live.len() > self.cfg.max_entries {
            let oldest = self
                .live
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.live.remove(&k),
                None => break,
            };
        }
        while self.marks.len() > self.cfg.max_entries * 4 {
            let oldest = self.marks.iter().min_by_key(|(_, m)| m.1).map(|(k, _)| *k);
            match oldest {
                Some(k) => self.marks.remove(&k),
                None => break,
            };
        }
    }

    /// Forgets entries not refreshed within the expiry; true when any went.
    pub fn expire(&mut self, now: u64) -> bool {
        let before = self.live.len();
        let expiry = self.cfg.expiry_ms;
        self.live.retain(|_, e| now < e.seen + expiry);
        self.marks.retain(|_, m| now < m.1);
        self.live.len() != before
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<u64> {
        self.live
            .values()
            .map(|e| e.seen + self.cfg.expiry_ms)
            .min()
    }

    /// Every live record.
    pub fn all(&self) -> impl Iterator<Item = &PresenceBody> {
        self.live.values().map(|e| &e.body)
    }

    /// The live records whose cursor is in `doc`.
    pub fn on_doc<'a>(&'a self, doc: &'a [u8; 32]) -> impl Iterator<Item = &'a PresenceBody> + 'a {
        self.all()
            .filter(move |b| b.cursor.as_ref().is_some_and(|c| &c.doc == doc))
    }

    /// The signed bytes of every live record (to greet a new neighbour).
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.live.values().map(|e| e.bytes.as_slice())
    }

    /// Number of live records.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no record is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// The local replica's own presence: what to publish and when. Pure; the shell signs.
#[derive(Debug, Clone)]
pub struct LocalPresence {
    cursor: Option<Cursor>,
    seq: u64,
    last_sent: Option<u64>,
    dirty: bool,
    refresh_ms: u64,
    min_interval_ms: u64,
}

impl LocalPresence {
    /// Nothing to publish yet.
    pub fn new(cfg: &PresenceConfig) -> Self {
        LocalPresence {
            cursor: None,
            seq: 0,
            last_sent: None,
            dirty: false,
            refresh_ms: cfg.refresh_ms,
            min_interval_ms: cfg.min_interval_ms,
        }
    }

    /// Sets (or with `None` clears) the local cursor.
    pub fn set(&mut self, cursor: Option<Cursor>) {
        if cursor != self.cursor {
            // Clearing before anything was published needs no record.
            self.dirty = cursor.is_some() || self.last_sent.is_some();
            self.cursor = cursor;
        }
    }

    /// The current local cursor.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// When a record is due: soon after a change (rate-limited; a clearing record at once, as
    /// the page may be going away), else at the next refresh while a cursor is set.
    pub fn next_due(&self) -> Option<u64> {
        let last = self.last_sent;
        if self.dirty && self.cursor.is_none() {
            return Some(last.unwrap_or(0));
        }
        if self.dirty {
            return Some(last.map_or(0, |t| t + self.min_interval_ms));
        }
        match (&self.cursor, last) {
            (Some(_), Some(t)) => Some(t + self.refresh_ms),
            _ => None,
        }
    }

    /// Clears the cursor for good (the replica closes): the sequence number of the clearing
    /// record to publish at once, if a cursor may be showing elsewhere.
    pub fn leave(&mut self) -> Option<u64> {
        let showing = self.last_sent.is_some() && (self.cursor.is_some() || self.dirty);
        self.cursor = None;
        self.dirty = false;
        if !showing {
            return None;
        }
        self.seq += 1;
        Some(self.seq)
    }

    /// If a record is due at `now`: its sequence number and cursor, to sign and publish.
    pub fn poll(&mut self, now: u64) -> Option<(u64, Option<Cursor>)> {
        if self.next_due().is_none_or(|t| now < t) {
            return None;
        }
        self.seq += 1;
        self.last_sent = Some(now);
        self.dirty = false;
        Some((self.seq, self.cursor.clone()))
    }
}

#[cfg(test)]
mod tests;
