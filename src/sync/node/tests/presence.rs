//! Presence over the mesh: forwarding over several hops, greeting newcomers, expiry, old peers,
//! refusals.

use super::*;
use crate::sync::presence::{sign, Cursor, PresenceConfig};
use crate::sync::wire::features;

/// A quick expiry, and no introductions (a node at its target of one neighbour dials no one
/// else), so records must be forwarded hop by hop.
fn cfg() -> NodeConfig {
    NodeConfig {
        max_peers: 3,
        target_peers: 1,
        presence: PresenceConfig {
            expiry_ms: 3_000,
            ..PresenceConfig::default()
        },
        ..NodeConfig::default()
    }
}

/// Node `i`'s record (its identity is `[i + 1; 32]`, as in `Mesh::new`).
fn record(m: &Mesh, i: usize, seq: u64, at: u8) -> Vec<u8> {
    let commons = m.nodes[0].replica().id().0;
    let cursor = Cursor {
        doc: [7; 32],
        anchor: vec![at],
        head: vec![at],
    };
    let who = Identity::from_secret([i as u8 + 1; 32]);
    sign(&who, commons, pid(i), seq, "Ada", Some(cursor))
}

fn seen(m: &Mesh, at: usize) -> Vec<(PeerId, u64)> {
    m.nodes[at]
        .presence()
        .all()
        .map(|b| (b.peer_id(), b.seq))
        .collect()
}

#[test]
fn presence_travels_hop_by_hop_and_expires_without_refresh() {
    let mut m = Mesh::new(3, cfg());
    // The middle node keeps both its neighbours (at its target it does not trim one away, which
    // would make the path depend on which one its pseudo-random choice drops).
    let id = m.nodes[0].replica().id();
    let mut r = Commons::join(id, Some((Identity::from_secret([2; 32]), 0)));
    r.insert(&m.genesis).unwrap();
    let middle = NodeConfig {
        target_peers: 2,
        ..cfg()
    };
    m.nodes[1] = Node::new(middle, keys(1), r, 0);
    m.open(0, 1);
    m.open(2, 1);
    m.run(500);
    assert!(!m.nodes[0].neighbours().contains(&pid(2)));
    let r = record(&m, 2, 1, 5);
    m.nodes[2].publish_presence(r);
    m.drain(2);
    m.run(200);
    assert_eq!(seen(&m, 1), vec![(pid(2), 1)]);
    assert_eq!(seen(&m, 0), vec![(pid(2), 1)]);
    // Our own record is not among the others'.
    assert!(seen(&m, 2).is_empty());
    assert!(m.has_event(0, |e| *e == NodeEvent::Presence));
    // Never stored: the replica is untouched.
    assert_eq!(
        m.nodes[0].replica().state_hash(),
        m.nodes[2].replica().state_hash()
    );

    // A refresh keeps it; then silence lets it expire everywhere.
    m.run(2_000);
    let r = record(&m, 2, 2, 6);
    m.nodes[2].publish_presence(r);
    m.drain(2);
    m.run(2_000);
    assert_eq!(seen(&m, 0), vec![(pid(2), 2)]);
    m.events.clear();
    m.run(1_500);
    assert!(seen(&m, 0).is_empty());
    assert!(seen(&m, 1).is_empty());
    assert!(m.has_event(0, |e| *e == NodeEvent::Presence));
}

#[test]
fn a_newcomer_is_greeted_with_known_cursors_and_stale_records_lose() {
    let mut m = Mesh::new(3, cfg());
    m.open(0, 1);
    m.run(300);
    let r = record(&m, 0, 5, 1);
    m.nodes[0].publish_presence(r);
    m.drain(0);
    // An older record arriving later (overtaken on the way) changes nothing.
    let r = record(&m, 0, 4, 9);
    m.nodes[0].publish_presence(r);
    m.drain(0);
    m.run(200);
    assert_eq!(seen(&m, 1), vec![(pid(0), 5)]);
    // Node 2 connects after the fact: node 1 tells it what it knows.
    m.open(2, 1);
    m.run(300);
    assert_eq!(seen(&m, 2), vec![(pid(0), 5)]);
}

#[test]
fn peers_that_predate_presence_are_not_sent_any() {
    let mut old = cfg();
    old.session.features = 0;
    let mut m = Mesh::new(2, cfg());
    let id = m.nodes[0].replica().id();
    let mut r = Commons::join(id, Some((Identity::from_secret([2; 32]), 0)));
    r.insert(&m.genesis).unwrap();
    m.nodes[1] = Node::new(old, keys(1), r, 0);
    m.open(0, 1);
    m.run(300);
    let r = record(&m, 0, 1, 1);
    m.nodes[0].publish_presence(r);
    m.drain(0);
    m.run(300);
    // Node 1 would have counted an unknown message against node 0.
    assert_eq!(m.nodes[1].score(&key(0)), 0);
    assert!(seen(&m, 1).is_empty());
    assert!(m.nodes[0].neighbours().contains(&pid(1)));
}

#[test]
fn forged_and_broken_records_are_dropped_and_counted() {
    let mut m = Mesh::new(2, cfg());
    m.open(0, 1);
    m.run(300);
    // Node 1 sends a record signed by someone else than the author it names, and junk.
    let mut forged = record(&m, 1, 1, 1);
    forged[3] ^= 0x40;
    m.nodes[1].publish_presence(forged);
    m.nodes[1].publish_presence(vec![1, 2, 3]);
    m.drain(1);
    m.run(100);
    assert!(seen(&m, 0).is_empty());
    assert_eq!(m.nodes[0].stats().presence_refused, 2);
    let score = m.nodes[0].score(&key(1));
    assert!((15..=20).contains(&score), "score {score}");
    // Not enough to drop the connection: presence is not worth a ban.
    assert!(m.nodes[0].neighbours().contains(&pid(1)));
    assert_ne!(features::ALL & features::PRESENCE, 0);
}
