//! The query flood: tiny negentropy queries that each ask for a 64 KiB reply, sent faster than
//! the victim's channel drains.

use super::recon::{Active, Limits};
use super::*;
use crate::sync::frame::{Outbox, Priority};

/// A victim holding enough changes that a query from an empty set is answered with a full frame.
fn victim() -> (Side, Side) {
    let mut a = side(1, 9, true, SessionConfig::default());
    let mut b = side(2, 9, false, SessionConfig::default());
    for i in 0..20_000u32 {
        b.store.add(make_change(u64::from(i), i, 80));
    }
    let mut now = 0;
    // Handshake only: the attacker's side never reads past it.
    for _ in 0..6 {
        let to_b = drain(&mut a);
        let to_a = drain(&mut b);
        now += 10;
        for c in &to_b {
            b.s.handle_input(now, Input::Receive(c), b.store.view());
        }
        for c in &to_a {
            a.s.handle_input(now, Input::Receive(c), a.store.view());
        }
    }
    assert!(a.s.is_established() && b.s.is_established());
    (a, b)
}

#[test]
fn a_query_flood_keeps_the_outbox_bounded_and_is_penalised() {
    let (_attacker, mut b) = victim();
    let cfg = SessionConfig::default();
    let empty = SyncIndex::default();
    let limits = Limits {
        frame: cfg.recon_frame,
        max_rounds: cfg.max_recon_rounds,
        max_ids: 1 << 20,
    };
    let query = Active::start(1, &empty, limits).unwrap().query;
    assert!(query.len() < 32, "a tiny query ({} bytes)", query.len());
    // The attacker's channel never drains: the victim's shell reports it full.
    b.s.handle_input(20, Input::Buffered(cfg.max_in_flight), b.store.view());
    let mut outbox = Outbox::new(16 * 1024);
    for round in 0..2_000u32 {
        let q = Message::Query {
            recon: 7,
            round,
            payload: Bytes(&query),
        };
        outbox.push(q.encode(), Priority::Control);
    }
    let mut max_backlog = 0;
    let mut sent = 0usize;
    while let Some(c) = outbox.next_chunk() {
        sent += c.len();
        b.s.handle_input(30, Input::Receive(&c), b.store.view());
        drain(&mut b);
        max_backlog = max_backlog.max(b.s.backlog());
    }
    let floods = b
        .events
        .iter()
        .filter(|e| matches!(e, Event::Offence(Offence::QueryFlood)))
        .count();
    println!("{sent} bytes of queries; victim backlog at most {max_backlog} bytes");
    // One reply (a 64 KiB frame) waits at most, beside what is in flight.
    assert!(
        max_backlog <= cfg.max_in_flight + cfg.recon_frame as usize + 1024,
        "backlog {max_backlog}"
    );
    assert!(max_backlog <= cfg.max_in_flight + cfg.max_outbox);
    // Every query past the first (and past the rate bound's drops) counts against the peer:
    // at 10 points each, the node bans it after 10.
    assert!(floods >= 10, "{floods} query floods reported");
}

#[test]
fn an_honest_reconciliation_with_the_same_victim_continues() {
    let (_attacker, b) = victim();
    // An honest peer reconciles with the victim's replica on another session meanwhile.
    let mut c = side(3, 9, true, SessionConfig::default());
    let mut b2 = side(2, 9, false, SessionConfig::default());
    b2.store = b.store;
    let mut now = 0;
    run(&mut c, &mut b2, &mut now, |_| false);
    assert_eq!(c.store.changes.len(), 20_000);
    assert!(!c
        .events
        .iter()
        .chain(b2.events.iter())
        .any(|e| matches!(e, Event::Offence(_))));
}
