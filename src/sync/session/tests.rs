use std::collections::BTreeMap;

use super::*;
use crate::sync::{frame::FRAME_VERSION, ChangeSource, SyncIndex};

/// A replica stand-in: changes are `[64-byte fake signature][depth as 8 bytes][tag][filler]`.
#[derive(Default)]
struct Store {
    changes: BTreeMap<ChangeId, Vec<u8>>,
    index: SyncIndex,
    arrival_depths: Vec<u64>,
}

impl ChangeSource for Store {
    fn change_bytes(&self, id: &ChangeId) -> Option<&[u8]> {
        self.changes.get(id).map(Vec::as_slice)
    }
}

fn make_change(depth: u64, tag: u32, size: usize) -> Vec<u8> {
    let mut b = vec![0x5a; 64];
    b.extend_from_slice(&depth.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.resize(size.max(76), 0xab);
    b
}

impl Store {
    fn add(&mut self, bytes: Vec<u8>) {
        let depth = u64::from_le_bytes(bytes[64..72].try_into().unwrap());
        let id = change_id(&bytes);
        if self.index.insert(depth, id) {
            self.arrival_depths.push(depth);
            self.changes.insert(id, bytes);
        }
    }
    fn view(&self) -> View<'_> {
        View {
            index: &self.index,
            changes: self,
        }
    }
}

fn keys(me: u8) -> SyncKeys {
    SyncKeys::new(crate::identity::Identity::from_secret([me; 32]), [me; 32])
}

fn pid(me: u8) -> PeerId {
    keys(me).peer()
}

struct Side {
    s: Session,
    store: Store,
    events: Vec<Event>,
}

fn side(me: u8, commons: u8, dialer: bool, cfg: SessionConfig) -> Side {
    side_nonce(me, commons, dialer, cfg, [me; 32])
}

/// A side with a chosen connection nonce (a second connection of the same peer).
fn side_nonce(me: u8, commons: u8, dialer: bool, cfg: SessionConfig, nonce: [u8; 32]) -> Side {
    Side {
        s: Session::new(
            cfg,
            Local {
                keys: keys(me),
                nonce,
                commons: ChangeId([commons; 32]),
                items: 0,
            },
            dialer,
            0,
        ),
        store: Store::default(),
        events: Vec::new(),
    }
}

/// Drains one side's output: returns its chunks, applies its change events to its store.
fn drain(x: &mut Side) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        x.store.index.flush();
        match x.s.poll_output(x.store.view()) {
            Output::Transmit(c) => chunks.push(c),
            Output::Event(e) => {
                if let Event::Changes { changes, .. } = &e {
                    for (_, bytes) in changes {
                        x.store.add(bytes.clone());
                    }
                }
                x.events.push(e);
            }
            Output::Timeout(_) => return chunks,
        }
    }
}

/// Runs both sides until quiet, dropping chunks for which `lose` says so; returns half round trips.
fn run(a: &mut Side, b: &mut Side, now: &mut u64, mut lose: impl FnMut(&[u8]) -> bool) -> u32 {
    for flights in 0..10_000 {
        let to_b = drain(a);
        let to_a = drain(b);
        if to_b.is_empty() && to_a.is_empty() {
            return flights;
        }
        *now += 10;
        for c in to_b.iter().filter(|c| !lose(c)) {
            b.s.handle_input(*now, Input::Receive(c), b.store.view());
        }
        for c in to_a.iter().filter(|c| !lose(c)) {
            a.s.handle_input(*now, Input::Receive(c), a.store.view());
        }
        a.s.handle_input(*now, Input::Buffered(0), a.store.view());
        b.s.handle_input(*now, Input::Buffered(0), b.store.view());
    }
    panic!("sessions never went quiet");
}

fn closed_reason(x: &Side) -> Option<(CloseReason, bool)> {
    x.events.iter().find_map(|e| match e {
        Event::Closed {
            reason, by_peer, ..
        } => Some((*reason, *by_peer)),
        _ => None,
    })
}

#[test]
fn handshake_establishes_both_sides() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    assert!(a.s.is_established() && b.s.is_established());
    assert_eq!(a.s.remote(), Some(pid(2)));
    assert_eq!(b.s.remote(), Some(pid(1)));
    assert_eq!(a.s.remote_key(), Some(keys(2).key()));
    assert!(a.events.contains(&Event::Synced {
        sent: 0,
        received: 0
    }));
}

#[test]
fn different_commons_close_with_a_clear_reason() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 8, false, SessionConfig::default());
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    assert!(a.s.is_closed() && b.s.is_closed());
    let reasons = [closed_reason(&a), closed_reason(&b)];
    assert!(reasons.contains(&Some((CloseReason::CommonsMismatch, false))));
}

#[test]
fn disjoint_histories_merge_in_dependency_order() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    for i in 0..2000u32 {
        let depth = u64::from(i / 4);
        let c = make_change(depth, i, 100 + (i as usize % 300));
        if i % 3 != 2 {
            a.store.add(c.clone());
        }
        if i % 3 != 1 {
            b.store.add(c);
        }
    }
    a.store.arrival_depths.clear();
    b.store.arrival_depths.clear();
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    assert_eq!(a.store.changes.len(), 2000);
    assert_eq!(b.store.changes.len(), 2000);
    for x in [&a, &b] {
        let d = &x.store.arrival_depths;
        assert!(!d.is_empty());
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "out of order: {d:?}");
    }
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, Event::Synced { received, .. } if *received > 0)));
    assert!(b.events.iter().any(|e| matches!(e, Event::Synced { .. })));
}

#[test]
fn lossy_link_still_syncs() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    for i in 0..500u32 {
        let c = make_change(u64::from(i), i, 200);
        if i % 2 == 0 {
            a.store.add(c)
        } else {
            b.store.add(c)
        }
    }
    let mut now = 0;
    let mut n = 0u32;
    // Drop every 7th chunk, then let timers retransmit.
    for _ in 0..200 {
        run(&mut a, &mut b, &mut now, |_| {
            n += 1;
            n % 7 == 0
        });
        now += 500;
        a.s.handle_input(now, Input::Timeout, a.store.view());
        b.s.handle_input(now, Input::Timeout, b.store.view());
        if a.store.changes.len() == 500 && b.store.changes.len() == 250 + 250 {
            break;
        }
    }
    assert_eq!(a.store.changes.len(), 500);
    assert_eq!(b.store.changes.len(), 500);
    assert!(!a.s.is_closed());
}

#[test]
fn garbage_closes_as_malformed_and_counts_as_offence() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    b.s.handle_input(now, Input::Receive(&[0xde, 0xad]), b.store.view());
    drain(&mut b);
    assert_eq!(closed_reason(&b), Some((CloseReason::Malformed, false)));
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e, Event::Offence(Offence::Malformed(_)))));
}

#[test]
fn unknown_message_types_are_ignored() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    // One whole chunk (seq 999, index 0, count 1) carrying message type 0x7e.
    let chunk = [FRAME_VERSION, 0xe7, 0x07, 0, 1, 0x7e, 1, 2, 3];
    b.s.handle_input(now, Input::Receive(&chunk), b.store.view());
    drain(&mut b);
    assert!(b.s.is_established());
    assert!(b.events.contains(&Event::Offence(Offence::UnknownMessage)));
}

#[test]
fn in_flight_bytes_respect_the_limit_until_drained() {
    let cfg = SessionConfig {
        max_in_flight: 40_000,
        ..SessionConfig::default()
    };
    let mut a = side(1, 9, true, cfg.clone());
    let mut b = side(2, 9, false, cfg);
    for i in 0..300u32 {
        a.store.add(make_change(u64::from(i), i, 1000));
    }
    let mut now = 0;
    // Handshake and reconciliation, with the shell draining its buffer.
    for _ in 0..20 {
        let to_b = drain(&mut a);
        for c in &to_b {
            b.s.handle_input(now, Input::Receive(c), b.store.view());
        }
        for c in drain(&mut b) {
            a.s.handle_input(now, Input::Receive(&c), a.store.view());
        }
        now += 10;
        let unsent: usize = to_b.iter().map(Vec::len).sum();
        assert!(
            unsent <= 40_000 + 16 * 1024,
            "{unsent} bytes handed over at once"
        );
        if a.s.stats().changes_sent > 0 {
            break;
        }
        a.s.handle_input(now, Input::Buffered(0), a.store.view());
    }
    // Without a drain report the session holds back.
    let held = drain(&mut a);
    assert!(held.is_empty());
    assert!(a.s.backlog() >= 40_000);
    a.s.handle_input(now, Input::Buffered(0), a.store.view());
    assert!(!drain(&mut a).is_empty());
}

#[test]
fn silent_peer_times_out() {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    now += 60_000;
    a.s.handle_input(now, Input::Timeout, a.store.view());
    drain(&mut a);
    assert_eq!(closed_reason(&a), Some((CloseReason::Timeout, false)));
}

#[test]
fn message_floods_are_dropped_and_reported() {
    let cfg = SessionConfig {
        max_messages_per_sec: 50,
        ..SessionConfig::default()
    };
    let mut a = side(1, 9, true, cfg.clone());
    let mut b = side(2, 9, false, cfg);
    let mut now = 0;
    run(&mut a, &mut b, &mut now, |_| false);
    let mut outbox = crate::sync::frame::Outbox::new(1024);
    for n in 0..300u64 {
        outbox.push(
            crate::sync::wire::Message::Ping(n).encode(),
            crate::sync::frame::Priority::Control,
        );
    }
    // (The first few message numbers repeat a's and are dropped as duplicates.)
    while let Some(chunk) = outbox.next_chunk() {
        b.s.handle_input(now, Input::Receive(&chunk), b.store.view());
    }
    let pongs = drain(&mut b).len();
    let floods = b
        .events
        .iter()
        .filter(|e| **e == Event::Offence(Offence::Flood))
        .count();
    assert!(pongs <= 60, "{pongs} messages answered");
    assert_eq!(floods, 3, "one report per hundred dropped");
    assert!(b.s.is_established());
}

mod auth;
mod flood;
