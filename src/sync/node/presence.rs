//! Presence over the mesh: check what neighbours send, keep the newest record per author and
//! tab, forward fresh ones to the other neighbours (coalesced per key, so a link carries at most
//! one presence message per flush interval), greet new neighbours with what is known, expire.
//!
//! Nothing here touches the replica: presence is never stored nor part of the state hash.

use std::collections::BTreeMap;

use super::events::points;
use super::{ConnId, Node, NodeEvent};
use crate::sync::presence::{
    self, PresenceBook, PresenceConfig, PresenceKey, Received, MAX_RECORDS_PER_MESSAGE,
};
use crate::sync::Replica;

/// The node's presence state.
pub(super) struct NodePresence {
    pub book: PresenceBook,
    /// Fresh records waiting to be forwarded, the newest per key, with the link each came from.
    queue: BTreeMap<PresenceKey, (Vec<u8>, Option<ConnId>)>,
    flush_at: Option<u64>,
    /// Our own latest record, while it shows a cursor (to greet new neighbours with).
    own: Option<Vec<u8>>,
    /// Records taken from each link in the current second: (window start, count).
    rate: BTreeMap<ConnId, (u64, u32)>,
    /// When the next record expires (cached: the book is not scanned on every input).
    sweep_at: Option<u64>,
}

impl NodePresence {
    pub fn new(cfg: PresenceConfig) -> Self {
        NodePresence {
            book: PresenceBook::new(cfg),
            queue: BTreeMap::new(),
            flush_at: None,
            own: None,
            rate: BTreeMap::new(),
            sweep_at: None,
        }
    }

    /// When the presence timers want to run.
    pub fn deadline(&self) -> Option<u64> {
        match (self.flush_at, self.sweep_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn forget_conn(&mut self, conn: ConnId) {
        self.rate.remove(&conn);
    }

    /// Counts `n` records from `conn` against its per-second budget; how many may be taken.
    fn admit(&mut self, conn: ConnId, n: usize, now: u64, per_sec: u32) -> usize {
        let (start, count) = self.rate.entry(conn).or_insert((now, 0));
        if now >= *start + 1000 {
            *start = now;
            *count = 0;
        }
        let room = per_sec.saturating_sub(*count) as usize;
        let taken = n.min(room);
        *count += taken as u32;
        taken
    }
}

impl<R: Replica> Node<R> {
    /// The presence records known (other peers' cursors), already checked and not expired.
    pub fn presence(&self) -> &PresenceBook {
        &self.presence.book
    }

    /// Publishes this replica's own presence record (made with [`presence::sign`] by the
    /// shell, which holds the key): sent at once to every neighbour that takes presence.
    pub fn publish_presence(&mut self, record: Vec<u8>) {
        let commons = self.replica.commons_id().0;
        let shows_cursor = presence::open(&record, &commons).is_ok_and(|b| b.cursor.is_some());
        let conns: Vec<ConnId> = self.presence_links(None);
        for conn in conns {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session.send_presence(&[&record]);
                self.dirty.insert(conn);
            }
        }
        self.presence.own = shows_cursor.then_some(record);
    }

    /// Established links whose peer takes presence, but `except`.
    fn presence_links(&self, except: Option<ConnId>) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(id, c)| Some(**id) != except && c.session.takes_presence())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Records a neighbour sent: checked, kept when fresh, queued for forwarding.
    pub(super) fn on_presence(&mut self, conn: ConnId, mut records: Vec<Vec<u8>>) {
        if records.len() > MAX_RECORDS_PER_MESSAGE {
            // A correct peer never sends more in one message.
            self.penalize(conn, points::BAD_PRESENCE);
            records.truncate(MAX_RECORDS_PER_MESSAGE);
        }
        let per_sec = self.cfg.presence_per_sec;
        let taken = self.presence.admit(conn, records.len(), self.now, per_sec);
        // Beyond the budget, records are dropped without blame: a busy peer forwarding many
        // cursors is not misbehaving, and a newer record of each comes within seconds.
        records.truncate(taken);
        let commons = self.replica.commons_id().0;
        let mut changed = false;
        for bytes in records {
            match self
                .presence
                .book
                .receive(&bytes, &commons, self.me, self.now)
            {
                Ok(Received::Fresh(key)) => {
                    changed = true;
                    let expires = self.now + self.presence.book.config().expiry_ms;
                    let sweep = self.presence.sweep_at.map_or(expires, |t| t.min(expires));
                    self.presence.sweep_at = Some(sweep);
                    self.presence.queue.insert(key, (bytes, Some(conn)));
                }
                Ok(Received::Stale) => {}
                Err(e) => {
                    self.stats.presence_refused += 1;
                    if e.is_abusive() {
                        self.penalize(conn, points::BAD_PRESENCE);
                    }
                }
            }
        }
        if !self.presence.queue.is_empty() && self.presence.flush_at.is_none() {
            self.presence.flush_at = Some(self.now + self.cfg.presence_flush_ms);
        }
        if changed {
            self.event(NodeEvent::Presence);
        }
    }

    /// Sends what is known to a neighbour that just connected.
    pub(super) fn presence_greet(&mut self, conn: ConnId) {
        let mut records: Vec<&[u8]> = self.presence.book.records().collect();
        if let Some(own) = &self.presence.own {
            records.push(own);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            for batch in records.chunks(MAX_RECORDS_PER_MESSAGE) {
                c.session.send_presence(batch);
            }
        }
    }

    /// Forwards queued records and expires old ones when due.
    pub(super) fn presence_timers(&mut self) {
        let now = self.now;
        if self.presence.flush_at.is_some_and(|t| now >= t) {
            self.presence.flush_at = None;
            let queue = std::mem::take(&mut self.presence.queue);
            for conn in self.presence_links(None) {
                let batch: Vec<&[u8]> = queue
                    .values()
                    .filter(|(_, from)| *from != Some(conn))
                    .map(|(bytes, _)| bytes.as_slice())
                    .collect();
                if let Some(c) = self.conns.get_mut(&conn) {
                    for part in batch.chunks(MAX_RECORDS_PER_MESSAGE) {
                        c.session.send_presence(part);
                    }
                    self.dirty.insert(conn);
                }
            }
        }
        if self.presence.sweep_at.is_some_and(|t| now >= t) {
            let gone = self.presence.book.expire(now);
            self.presence.sweep_at = self.presence.book.next_expiry();
            if gone {
                self.event(NodeEvent::Presence);
            }
        }
    }
}
