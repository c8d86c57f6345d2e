//! Blame goes to keys that authenticated, never to ids someone claimed.

use super::*;

#[test]
fn garbage_under_a_claimed_id_does_not_ban_the_real_peer() {
    let mut m = Mesh::new(3, NodeConfig::default());
    m.open(0, 1);
    m.run(200);
    assert!(m.nodes[0].neighbours().contains(&pid(1)));
    // An attacker opens channels to node 0 whose signals claimed to come from peer 1, and sends
    // malformed bytes before any hello: on the old rule, twice 50 points banned peer 1.
    for round in 0..4u64 {
        let conn = ConnId(900 + round);
        m.input(
            0,
            NodeInput::Connected {
                conn,
                dialer: false,
                peer: Some(pid(1)),
            },
        );
        m.input(
            0,
            NodeInput::Receive {
                conn,
                bytes: &[0xde, 0xad, 0xbe, 0xef],
            },
        );
        m.run(50);
        assert!(
            m.has_event(
                0,
                |e| matches!(e, NodeEvent::Closed { conn: c, .. } if *c == conn)
            ),
            "the attacker's channel {round} is closed"
        );
    }
    assert!(!m.has_event(0, |e| matches!(e, NodeEvent::Banned { .. })));
    assert_eq!(m.nodes[0].score(&key(1)), 0);
    m.run(500);
    assert!(
        m.nodes[0].neighbours().contains(&pid(1)),
        "the real peer 1 keeps its connection"
    );
}

#[test]
fn a_peer_that_authenticates_as_itself_under_a_claimed_id_is_dropped_unblamed() {
    let mut m = Mesh::new(3, NodeConfig::default());
    m.open(0, 1);
    m.run(200);
    // Peer 2 opens a channel that node 0 was told is peer 1's: its hello proves it is peer 2.
    m.next_conn += 2;
    let (c0, c2) = (ConnId(m.next_conn), ConnId(m.next_conn + 1));
    m.links.insert((0, c0), (2, c2));
    m.links.insert((2, c2), (0, c0));
    m.input(
        0,
        NodeInput::Connected {
            conn: c0,
            dialer: false,
            peer: Some(pid(1)),
        },
    );
    m.input(
        2,
        NodeInput::Connected {
            conn: c2,
            dialer: true,
            peer: Some(pid(0)),
        },
    );
    m.run(200);
    assert!(m.has_event(
        0,
        |e| matches!(e, NodeEvent::Closed { conn, .. } if *conn == c0)
    ));
    assert_eq!(m.nodes[0].score(&key(1)), 0);
    assert!(m.nodes[0].neighbours().contains(&pid(1)));
}
