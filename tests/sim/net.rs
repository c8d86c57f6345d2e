//! The simulated network: an event queue in simulated time, and links that model latency,
//! bandwidth (with a send buffer the node sees as `bufferedAmount`), loss, reordering (jitter),
//! duplication and partitions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use peer_commons::sync::{ConnId, PeerId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Simulated milliseconds.
pub type Time = u64;

/// How a link behaves (each direction alike).
#[derive(Debug, Clone, Copy)]
pub struct LinkSpec {
    /// One-way delay.
    pub latency_ms: u64,
    /// Extra random delay in [0, jitter]: reorders chunks.
    pub jitter_ms: u64,
    /// Bytes per millisecond (1000 = 1 MB/s).
    pub bandwidth: u64,
    /// Probability a chunk is lost.
    pub loss: f64,
    /// Probability a chunk arrives twice.
    pub dup: f64,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            latency_ms: 20,
            jitter_ms: 5,
            bandwidth: 2_000,
            loss: 0.0,
            dup: 0.0,
        }
    }
}

/// Something that happens at a time.
#[derive(Debug)]
pub enum Ev {
    /// A chunk arrives.
    Chunk {
        to: usize,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// A send buffer drained some bytes: report the buffered amount.
    Buffered { at: usize, conn: ConnId, link: u64 },
    /// A signal through the relay arrives.
    RelaySignal {
        to: usize,
        from: PeerId,
        dialer: bool,
        payload: Vec<u8>,
    },
    /// A channel opens.
    Open {
        at: usize,
        conn: ConnId,
        dialer: bool,
        peer: PeerId,
    },
    /// A channel closed at the other end (or died).
    Disconnect { at: usize, conn: ConnId },
    /// A connection attempt failed.
    DialFailed { at: usize, peer: PeerId },
    /// A node's timer.
    Wake { at: usize },
}

struct Entry {
    time: Time,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// Events in time order; ties in insertion order, so a run is a function of its seed.
#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Queue {
    pub fn push(&mut self, time: Time, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            time,
            seq: self.seq,
            ev,
        });
    }

    /// The next event at or before `until`.
    pub fn pop_until(&mut self, until: Time) -> Option<(Time, Ev)> {
        if self.heap.peek().is_some_and(|e| e.time <= until) {
            self.heap.pop().map(|e| (e.time, e.ev))
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

/// One direction of a link: its send buffer.
#[derive(Default)]
struct Dir {
    busy_until: Time,
    inflight: VecDeque<(Time, usize)>,
}

/// A channel between two peers.
pub struct Link {
    pub ends: [(usize, ConnId); 2],
    pub up: bool,
    dirs: [Dir; 2],
}

/// Every link, and the rules chunks travel by.
#[derive(Default)]
pub struct Net {
    pub links: BTreeMap<u64, Link>,
    pub by_conn: BTreeMap<ConnId, u64>,
    next: u64,
    /// Per peer index: its side of a partition (peers on different sides cannot talk).
    pub groups: BTreeMap<usize, u32>,
    /// Bytes put on the wire (lost ones included).
    pub bytes: u64,
    /// The same, by protocol message type (see `peer_commons::sync::wire`).
    pub by_type: BTreeMap<u8, u64>,
    /// The type of multi-chunk messages being sent, by (conn, message number).
    types: BTreeMap<(ConnId, u32), u8>,
}

impl Net {
    pub fn partitioned(&self, a: usize, b: usize) -> bool {
        self.groups.get(&a).copied().unwrap_or(0) != self.groups.get(&b).copied().unwrap_or(0)
    }

    /// Creates a link; returns the conn ids at `a` and `b`.
    pub fn open(&mut self, a: usize, b: usize) -> (ConnId, ConnId) {
        self.next += 1;
        let id = self.next;
        let (ca, cb) = (ConnId(id * 2), ConnId(id * 2 + 1));
        self.links.insert(
            id,
            Link {
                ends: [(a, ca), (b, cb)],
                up: true,
                dirs: [Dir::default(), Dir::default()],
            },
        );
        self.by_conn.insert(ca, id);
        self.by_conn.insert(cb, id);
        (ca, cb)
    }

    /// Takes a link down; returns the other end, if the link was up.
    pub fn close(&mut self, conn: ConnId) -> Option<(usize, ConnId)> {
        let id = *self.by_conn.get(&conn)?;
        let link = self.links.get_mut(&id)?;
        if !link.up {
            return None;
        }
        link.up = false;
        link.ends.iter().copied().find(|(_, c)| *c != conn)
    }

    /// Forgets a link once both ends know it is gone.
    pub fn forget(&mut self, conn: ConnId) {
        if let Some(id) = self.by_conn.remove(&conn) {
            if let Some(l) = self.links.get(&id) {
                if l.ends.iter().all(|(_, c)| !self.by_conn.contains_key(c)) {
                    self.links.remove(&id);
                }
            }
        }
    }

    /// Sends a chunk from the `conn` end; schedules its arrival (unless lost) and the buffer
    /// report at the end of its transmission.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        now: Time,
        conn: ConnId,
        bytes: Vec<u8>,
        spec: &LinkSpec,
        rng: &mut ChaCha8Rng,
        q: &mut Queue,
    ) {
        let Some(&id) = self.by_conn.get(&conn) else {
            return;
        };
        let partitioned = match self.links.get(&id) {
            Some(l) if l.up => self.partitioned(l.ends[0].0, l.ends[1].0),
            _ => return,
        };
        self.account(conn, &bytes);
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        if !link.up {
            return;
        }
        let side = usize::from(link.ends[1].1 == conn);
        let (to, to_conn) = link.ends[1 - side];
        let (from, _) = link.ends[side];
        let dir = &mut link.dirs[side];
        let start = now.max(dir.busy_until);
        let tx = (bytes.len() as u64).div_ceil(spec.bandwidth.max(1));
        dir.busy_until = start + tx;
        dir.inflight.push_back((dir.busy_until, bytes.len()));
        self.bytes += bytes.len() as u64;
        q.push(
            dir.busy_until,
            Ev::Buffered {
                at: from,
                conn,
                link: id,
            },
        );
        if partitioned || rng.gen_bool(spec.loss) {
            return;
        }
        let arrive = dir.busy_until + spec.latency_ms + rng.gen_range(0..=spec.jitter_ms);
        if rng.gen_bool(spec.dup) {
            let again = arrive + rng.gen_range(0..=spec.jitter_ms + 1);
            q.push(
                again,
                Ev::Chunk {
                    to,
                    conn: to_conn,
                    bytes: bytes.clone(),
                },
            );
        }
        q.push(
            arrive,
            Ev::Chunk {
                to,
                conn: to_conn,
                bytes,
            },
        );
    }

    /// Adds a chunk's bytes to its message type's total.
    fn account(&mut self, conn: ConnId, chunk: &[u8]) {
        let header = chunk
            .get(1..)
            .and_then(|rest| postcard::take_from_bytes::<(u32, u32, u32)>(rest).ok());
        let Some(((seq, index, count), payload)) = header else {
            *self.by_type.entry(0xff).or_default() += chunk.len() as u64;
            return;
        };
        let ty = if index == 0 {
            let ty = payload.first().copied().unwrap_or(0xff);
            if count > 1 {
                self.types.insert((conn, seq), ty);
            }
            ty
        } else if index + 1 == count {
            self.types.remove(&(conn, seq)).unwrap_or(0xff)
        } else {
            self.types.get(&(conn, seq)).copied().unwrap_or(0xff)
        };
        *self.by_type.entry(ty).or_default() += chunk.len() as u64;
    }

    /// Bytes by message type, named.
    pub fn breakdown(&self) -> String {
        breakdown(&self.by_type)
    }

    /// The send buffer of `conn`'s end at `now`.
    pub fn buffered(&mut self, now: Time, link: u64, conn: ConnId) -> Option<usize> {
        let l = self.links.get_mut(&link)?;
        let side = usize::from(l.ends[1].1 == conn);
        let dir = &mut l.dirs[side];
        while dir.inflight.front().is_some_and(|(end, _)| *end <= now) {
            dir.inflight.pop_front();
        }
        Some(dir.inflight.iter().map(|(_, n)| n).sum())
    }
}

/// Bytes by message type, named.
pub fn breakdown(by_type: &BTreeMap<u8, u64>) -> String {
    let name = |t: u8| match t {
        0x01 => "hello",
        0x02 => "close",
        0x03 | 0x04 => "ping/pong",
        0x10 | 0x11 => "reconcile",
        0x12 => "done",
        0x20 => "want",
        0x21 => "push",
        0x22 => "deliver",
        0x23 => "have",
        0x24 => "prune",
        0x30 => "peers",
        0x31 | 0x32 => "signal",
        _ => "other",
    };
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (t, n) in by_type {
        *totals.entry(name(*t)).or_default() += n;
    }
    totals
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
