//! Framing: splits protocol messages into chunks that each fit one data-channel message, and puts
//! them back together on the other side.
//!
//! A chunk is `[FRAME_VERSION][seq][index][count][payload…]` where the three numbers are postcard
//! varints (u32). Chunks of different messages may interleave (a small control message can overtake
//! a large transfer), may arrive out of order, twice, or never: the reassembler copes with all of
//! these within fixed memory bounds, and anything that breaks the format is an error that closes
//! the connection.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// First byte of every chunk: the framing version.
pub const FRAME_VERSION: u8 = 1;

/// The largest header a chunk can have: the version byte and three u32 varints of five bytes.
pub const MAX_HEADER: usize = 1 + 3 * 5;

/// Default chunk size: 16 KiB fits every browser's data channels.
pub const DEFAULT_CHUNK_SIZE: usize = 16 * 1024;

/// The smallest chunk size accepted by [`Outbox::new`], so each chunk carries some payload.
pub const MIN_CHUNK_SIZE: usize = 64;

/// Why a received chunk was refused. Each is the peer's fault and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The chunk was empty or its header did not parse.
    #[error("chunk header is truncated or not valid")]
    BadHeader,
    /// The chunk's version byte is not one this build speaks.
    #[error("chunk framing version {0} is not supported")]
    BadVersion(u8),
    /// The chunk's index is not below its count, or the count is zero or too large.
    #[error("chunk index {index} of {count} is out of range")]
    BadIndex {
        /// The chunk's index.
        index: u32,
        /// The message's chunk count.
        count: u32,
    },
    /// Two chunks of one message disagree on the message's chunk count.
    #[error("chunks of one message disagree on its length")]
    CountMismatch,
    /// The message would exceed the receiver's size limit.
    #[error("message exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

#[derive(Serialize, Deserialize)]
struct Header {
    seq: u32,
    index: u32,
    count: u32,
}

/// Which queue a message waits in: control messages go out before any bulk chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Handshake, reconciliation, requests, keepalives: small and latency-sensitive.
    Control,
    /// Change transfers: large, sent when nothing more urgent waits.
    Bulk,
}

struct Pending {
    seq: u32,
    bytes: Vec<u8>,
    offset: usize,
    index: u32,
    count: u32,
}

/// Outgoing messages waiting to be cut into chunks, control first.
pub struct Outbox {
    chunk_size: usize,
    next_seq: u32,
    control: VecDeque<Pending>,
    bulk: VecDeque<Pending>,
    queued: usize,
}

impl Outbox {
    /// An empty outbox producing chunks of at most `chunk_size` bytes (at least [`MIN_CHUNK_SIZE`]).
    pub fn new(chunk_size: usize) -> Self {
        Outbox {
            chunk_size: chunk_size.max(MIN_CHUNK_SIZE),
            next_seq: 0,
            control: VecDeque::new(),
            bulk: VecDeque::new(),
            queued: 0,
        }
    }

    /// Payload bytes that fit in one chunk after the worst-case header.
    pub fn payload_per_chunk(&self) -> usize {
        self.chunk_size - MAX_HEADER
    }

    /// Queues one encoded message.
    pub fn push(&mut self, bytes: Vec<u8>, priority: Priority) {
        let per = self.payload_per_chunk();
        let count = bytes.len().div_ceil(per).max(1);
        let pending = Pending {
            seq: self.next_seq,
            offset: 0,
            index: 0,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            bytes,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        self.queued += pending.bytes.len();
        match priority {
            Priority::Control => self.control.push_back(pending),
            Priority::Bulk => self.bulk.push_back(pending),
        }
    }

    /// The next chunk to transmit, if any.
    pub fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let per = self.payload_per_chunk();
        let queue = if self.control.is_empty() {
            &mut self.bulk
        } else {
            &mut self.control
        };
        let pending = queue.front_mut()?;
        let end = (pending.offset + per).min(pending.bytes.len());
        let header = Header {
            seq: pending.seq,
            index: pending.index,
            count: pending.count,
        };
        let mut chunk = Vec::with_capacity(MAX_HEADER + end - pending.offset);
        chunk.push(FRAME_VERSION);
        // Writing three varints into a Vec cannot fail.
        let mut chunk = postcard::to_extend(&header, chunk).unwrap_or_default();
        chunk.extend_from_slice(&pending.bytes[pending.offset..end]);
        self.queued -= end - pending.offset;
        pending.offset = end;
        pending.index += 1;
        if pending.index >= pending.count {
            queue.pop_front();
        }
        Some(chunk)
    }

    /// Bytes of message payload still waiting to be chunked.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// True when a bulk message is waiting or partly sent.
    pub fn has_bulk(&self) -> bool {
        !self.bulk.is_empty()
    }

    /// True when nothing waits at all.
    pub fn is_empty(&self) -> bool {
        self.control.is_empty() && self.bulk.is_empty()
    }

    /// Drops every queued message (used when the connection closes).
    pub fn clear(&mut self) {
        self.control.clear();
        self.bulk.clear();
        self.queued = 0;
    }
}

/// Memory bounds of a [`Reassembler`]; every one holds whatever the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Largest whole message accepted (bigger is an error).
    pub max_message: usize,
    /// Most messages partly received at once; beyond it the oldest partial is dropped.
    pub max_partials: usize,
    /// Most bytes held in partial messages; beyond it the oldest partials are dropped.
    pub max_partial_bytes: usize,
    /// A partial message not completed within this many milliseconds is dropped (lost chunks).
    pub partial_timeout_ms: u64,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_message: 4 << 20,
            max_partials: 8,
            max_partial_bytes: 8 << 20,
            partial_timeout_ms: 30_000,
        }
    }
}

struct Partial {
    count: u32,
    parts: BTreeMap<u32, Vec<u8>>,
    bytes: usize,
    started: u64,
}

/// How many completed message numbers are remembered to drop duplicated chunks.
const RECENT: usize = 1024;

/// Puts chunks back together into messages, within [`ReassemblyLimits`].
pub struct Reassembler {
    limits: ReassemblyLimits,
    partials: BTreeMap<u32, Partial>,
    partial_bytes: usize,
    recent: VecDeque<u32>,
    recent_set: BTreeSet<u32>,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            partials: BTreeMap::new(),
            partial_bytes: 0,
            recent: VecDeque::new(),
            recent_set: BTreeSet::new(),
        }
    }

    /// Takes one received chunk; returns a message when this chunk completed one.
    pub fn push(&mut self, now: u64, chunk: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let (&version, rest) = chunk.split_first().ok_or(FrameError::BadHeader)?;
        if version != FRAME_VERSION {
            return Err(FrameError::BadVersion(version));
        }
        let (h, payload): (Header, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|_| FrameError::BadHeader)?;
        if h.count == 0 || h.index >= h.count || h.count as usize > self.limits.max_message.max(1) {
            return Err(FrameError::BadIndex {
                index: h.index,
                count: h.count,
            });
        }
        if payload.len() > self.limits.max_message {
            return Err(FrameError::TooLarge {
                limit: self.limits.max_message,
            });
        }
        if self.recent_set.contains(&h.seq) {
            return Ok(None); // a duplicate of a message already delivered
        }
        if h.count == 1 {
            self.remember(h.seq);
            return Ok(Some(payload.to_vec()));
        }
        self.add_part(now, h, payload)
    }

    fn add_part(
        &mut self,
        now: u64,
        h: Header,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, FrameError> {
        let partial = self.partials.entry(h.seq).or_insert_with(|| Partial {
            count: h.count,
            parts: BTreeMap::new(),
            bytes: 0,
            started: now,
        });
        if partial.count != h.count {
            return Err(FrameError::CountMismatch);
        }
        if partial.parts.contains_key(&h.index) {
            return Ok(None); // duplicated chunk
        }
        if partial.bytes + payload.len() > self.limits.max_message {
            return Err(FrameError::TooLarge {
                limit: self.limits.max_message,
            });
        }
        partial.bytes += payload.len();
        partial.parts.insert(h.index, payload.to_vec());
        self.partial_bytes += payload.len();
        if partial.parts.len() as u64 == u64::from(partial.count) {
            let done = self.partials.remove(&h.seq);
            self.remember(h.seq);
            let Some(done) = done else { return Ok(None) };
            self.partial_bytes -= done.bytes;
            let mut message = Vec::with_capacity(done.bytes);
            for part in done.parts.into_values() {
                message.extend_from_slice(&part);
            }
            return Ok(Some(message));
        }
        self.enforce_bounds(h.seq);
        Ok(None)
    }

    /// Drops the oldest partials (not `keep`) while over the count or byte bound.
    fn enforce_bounds(&mut self, keep: u32) {
        while self.partials.len() > self.limits.max_partials
            || self.partial_bytes > self.limits.max_partial_bytes
        {
            let oldest = self
                .partials
                .iter()
                .filter(|(seq, _)| **seq != keep)
                .min_by_key(|(seq, p)| (p.started, **seq))
                .map(|(seq, _)| *seq);
            match oldest {
                Some(seq) => self.drop_partial(seq),
                None => break,
            }
        }
    }

    fn drop_partial(&mut self, seq: u32) {
        if let Some(p) = self.partials.remove(&seq) {
            self.partial_bytes -= p.bytes;
        }
    }

    fn remember(&mut self, seq: u32) {
        if self.recent_set.insert(seq) {
            self.recent.push_back(seq);
        }
        while self.recent.len() > RECENT {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
    }

    /// Drops partial messages whose chunks stopped arriving.
    pub fn expire(&mut self, now: u64) {
        let timeout = self.limits.partial_timeout_ms;
        let stale: Vec<u32> = self
            .partials
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.started) >= timeout)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in stale {
            self.drop_partial(seq);
        }
    }

    /// When the oldest partial message expires, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.partials
            .values()
            .map(|p| p.started + self.limits.partial_timeout_ms)
            .min()
    }

    /// Bytes currently held in partial messages.
    pub fn held_bytes(&self) -> usize {
        self.partial_bytes
    }

    /// Number of partial messages currently held.
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks_of(outbox: &mut Outbox) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| outbox.next_chunk()).collect()
    }

    #[test]
    fn large_message_is_split_and_reassembled_in_any_order() {
        let mut out = Outbox::new(100);
        let msg: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        out.push(msg.clone(), Priority::Bulk);
        let mut chunks = chunks_of(&mut out);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| c.len() <= 100));
        chunks.reverse();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut got = None;
        for c in &chunks {
            if let Some(m) = r.push(0, c).unwrap() {
                got = Some(m);
            }
        }
        assert_eq!(got, Some(msg));
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn control_overtakes_bulk_between_chunks() {
        let mut out = Outbox::new(64);
        out.push(vec![7; 500], Priority::Bulk);
        let first = out.next_chunk().unwrap();
        out.push(vec![1, 2, 3], Priority::Control);
        let second = out.next_chunk().unwrap();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(0, &first).unwrap(), None);
        assert_eq!(r.push(0, &second).unwrap(), Some(vec![1, 2, 3]));
    }

    #[test]
    fn duplicated_chunks_deliver_once() {
        let mut out = Outbox::new(64);
        out.push(vec![9; 200], Priority::Bulk);
        out.push(vec![5], Priority::Bulk);
        let chunks = chunks_of(&mut out);
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut delivered = 0;
        for c in chunks.iter().chain(chunks.iter()) {
            if r.push(0, c).unwrap().is_some() {
                delivered += 1;
            }
        }
        assert_eq!(delivered, 2);
    }

    #[test]
    fn garbage_headers_are_errors() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(0, &[]), Err(FrameError::BadHeader));
        assert_eq!(r.push(0, &[9, 0, 0, 1]), Err(FrameError::BadVersion(9)));
        assert_eq!(r.push(0, &[1, 0xff]), Err(FrameError::BadHeader));
        assert!(matches!(
            r.push(0, &[1, 0, 3, 2]),
            Err(FrameError::BadIndex { .. })
        ));
        assert!(matches!(
            r.push(0, &[1, 0, 0, 0]),
            Err(FrameError::BadIndex { .. })
        ));
        r.push(0, &[1, 4, 0, 3, 1]).unwrap();
        assert_eq!(r.push(0, &[1, 4, 1, 2, 1]), Err(FrameError::CountMismatch));
    }

    #[test]
    fn oversized_message_is_refused() {
        let limits = ReassemblyLimits {
            max_message: 300,
            ..ReassemblyLimits::default()
        };
        let mut out = Outbox::new(100);
        out.push(vec![0; 1000], Priority::Bulk);
        let mut r = Reassembler::new(limits);
        let result: Result<Vec<_>, _> = chunks_of(&mut out).iter().map(|c| r.push(0, c)).collect();
        assert_eq!(result, Err(FrameError::TooLarge { limit: 300 }));
    }

    #[test]
    fn partials_stay_within_bounds_and_expire() {
        let limits = ReassemblyLimits {
            max_message: 10_000,
            max_partials: 3,
            max_partial_bytes: 1_000,
            partial_timeout_ms: 50,
        };
        let mut r = Reassembler::new(limits);
        // Many messages whose last chunk never arrives.
        for seq in 0..20u8 {
            let mut chunk = vec![1, seq, 0, 4];
            chunk.extend_from_slice(&[0; 200]);
            r.push(u64::from(seq), &chunk).unwrap();
            assert!(r.partial_count() <= 3);
            assert!(r.held_bytes() <= 1_000);
        }
        assert_eq!(r.next_expiry(), Some(17 + 50));
        r.expire(100);
        assert_eq!(r.partial_count(), 0);
        assert_eq!(r.held_bytes(), 0);
    }
}
