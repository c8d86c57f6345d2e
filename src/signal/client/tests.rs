use super::*;
use crate::change::ChangeId;
use crate::signal::SignalBody;

fn drain(c: &mut SignalClient) -> Vec<SignalOutput> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn room() -> RoomKey {
    RoomKey::for_commons(&ChangeId([5; 32]))
}

/// Two clients joined through a perfect relay that forwards every publish to everyone.
#[test]
fn two_peers_meet_through_relays_and_ignore_echoes_and_duplicates() {
    let mut a = SignalClient::new(room(), "a".into(), vec!["ws://r1".into(), "ws://r2".into()]);
    let mut b = SignalClient::new(room(), "b".into(), vec!["ws://r1".into()]);
    a.tick(0);
    b.tick(0);
    assert_eq!(
        drain(&mut a),
        vec![
            SignalOutput::Connect(0, "ws://r1".into()),
            SignalOutput::Connect(1, "ws://r2".into())
        ]
    );
    assert_eq!(drain(&mut b).len(), 1);
    a.on_open(0, 1, [1; 24]);
    a.on_open(1, 1, [1; 24]);
    b.on_open(0, 1, [2; 24]);
    drain(&mut b);
    let a_out = drain(&mut a);
    let sub = RelayMessage::Subscribe {
        topics: vec![room().topic().to_string()],
    }
    .to_json();
    assert_eq!(a_out[0], SignalOutput::Send(0, sub));
    // The relay delivers a's announcement (sent on both relays) to b, and echoes it to a.
    let published: Vec<String> = a_out
        .iter()
        .filter_map(|o| match o {
            SignalOutput::Send(_, t) if t.contains("publish") => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(published.len(), 2);
    for p in &published {
        b.on_text(0, 2, p);
        a.on_text(0, 2, p);
    }
    let got = drain(&mut b);
    assert_eq!(
        got,
        vec![SignalOutput::Signal(Signal {
            from: "a".into(),
            to: None,
            body: SignalBody::Announce
        })]
    );
    assert!(drain(&mut a).is_empty(), "own echo is not surfaced");
    // b answers a directly; a gets it once.
    b.publish(
        &Signal {
            from: "b".into(),
            to: Some("a".into()),
            body: SignalBody::Offer { sdp: "v=0".into() },
        },
        [3; 24],
    );
    let offer = drain(&mut b);
    let SignalOutput::Send(0, text) = &offer[0] else {
        panic!("{offer:?}")
    };
    a.on_text(0, 3, text);
    a.on_text(1, 3, text);
    assert_eq!(drain(&mut a).len(), 1);
}

#[test]
fn signals_for_others_forgeries_and_junk_are_dropped() {
    let mut a = SignalClient::new(room(), "a".into(), vec!["ws://r".into()]);
    a.tick(0);
    a.on_open(0, 0, [1; 24]);
    drain(&mut a);
    let other_room = RoomKey::for_commons(&ChangeId([6; 32]));
    let s = Signal {
        from: "m".into(),
        to: Some("a".into()),
        body: SignalBody::Bye,
    };
    let forged = RelayMessage::Publish {
        topic: room().topic().into(),
        data: other_room.seal([9; 24], &s.to_bytes()).into(),
    };
    a.on_text(0, 1, &forged.to_json());
    assert_eq!(
        drain(&mut a),
        vec![SignalOutput::Dropped(0, SignalError::Forged)]
    );
    let to_c = Signal {
        from: "m".into(),
        to: Some("c".into()),
        body: SignalBody::Bye,
    };
    let msg = RelayMessage::Publish {
        topic: room().topic().into(),
        data: room().seal([8; 24], &to_c.to_bytes()).into(),
    };
    a.on_text(0, 1, &msg.to_json());
    a.on_text(0, 1, "{not json");
    assert_eq!(
        drain(&mut a),
        vec![SignalOutput::Dropped(0, SignalError::BadRelayMessage)]
    );
    a.on_text(0, 1, r#"{"type":"ping"}"#);
    assert_eq!(
        drain(&mut a),
        vec![SignalOutput::Send(0, r#"{"type":"pong"}"#.into())]
    );
    // y-webrtc clients publish objects in `data`: ignored quietly.
    a.on_text(
        0,
        1,
        &format!(
            r#"{{"type":"publish","topic":"{}","data":{{"x":1}}}}"#,
            room().topic()
        ),
    );
    assert!(drain(&mut a).is_empty());
}

#[test]
fn backoff_doubles_and_silence_triggers_reconnect() {
    let mut a = SignalClient::new(room(), "a".into(), vec!["ws://r".into()]);
    a.tick(0);
    drain(&mut a);
    a.on_close(0, 10);
    assert_eq!(a.next_timeout(), Some(10 + MIN_BACKOFF_MS));
    a.tick(10 + MIN_BACKOFF_MS);
    drain(&mut a);
    a.on_close(0, 2000);
    assert_eq!(a.next_timeout(), Some(2000 + 2 * MIN_BACKOFF_MS));
    a.tick(5000);
    a.on_open(0, 5000, [0; 24]);
    assert!(a.online());
    drain(&mut a);
    a.tick(5000 + PING_INTERVAL_MS);
    assert_eq!(
        drain(&mut a),
        vec![SignalOutput::Send(0, r#"{"type":"ping"}"#.into())]
    );
    a.tick(5000 + DEAD_AFTER_MS);
    assert_eq!(drain(&mut a), vec![SignalOutput::Close(0)]);
    assert!(!a.online());
}

/// A sync node's opaque message (any bytes) and its dialer flag cross the relay intact, sealed.
#[test]
fn mesh_messages_carry_opaque_bytes_and_the_dialer_flag() {
    let mut a = SignalClient::new(room(), "a".into(), vec!["ws://r".into()]);
    let mut b = SignalClient::new(room(), "b".into(), vec!["ws://r".into()]);
    for c in [&mut a, &mut b] {
        c.tick(0);
        c.on_open(0, 1, [3; 24]);
        drain(c);
    }
    let payload: Vec<u8> = (0..=255u8).chain([0x01, 0xff, 0x00]).collect();
    let signal = Signal {
        from: "a".into(),
        to: Some("b".into()),
        body: SignalBody::mesh(true, &payload),
    };
    a.publish(&signal, [9; 24]);
    let sent: Vec<String> = drain(&mut a)
        .into_iter()
        .filter_map(|o| match o {
            SignalOutput::Send(_, t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].contains("mesh"),
        "the relay sees only the sealed payload"
    );
    b.on_text(0, 2, &sent[0]);
    match drain(&mut b).as_slice() {
        [SignalOutput::Signal(s)] => {
            assert_eq!(s.body, SignalBody::mesh(true, &payload));
            assert_eq!(s.body.mesh_payload(), Some(payload));
        }
        other => panic!("expected the signal, got {other:?}"),
    }
    assert_eq!(SignalBody::Announce.mesh_payload(), None);
    let bad = SignalBody::Mesh {
        dialer: false,
        data: "not base64!".into(),
    };
    assert_eq!(bad.mesh_payload(), None);
}

/// 1,024 forged 64 KiB publishes used to be stored in the dedup cache before they were
/// authenticated (+128 MiB). Now oversize text is dropped unread, forgeries are not remembered,
/// and what is remembered is a 32-byte digest.
#[test]
fn forged_and_oversize_publishes_leave_the_cache_empty() {
    let mut a = SignalClient::new(room(), "a".into(), vec!["ws://r".into()]);
    a.tick(0);
    a.on_open(0, 0, [1; 24]);
    drain(&mut a);
    let other_room = RoomKey::for_commons(&ChangeId([6; 32]));
    for n in 0..1024u32 {
        let big = Signal {
            from: format!("m{n}"),
            to: None,
            body: SignalBody::Offer {
                sdp: "x".repeat(64 * 1024),
            },
        };
        let oversize = RelayMessage::Publish {
            topic: room().topic().into(),
            data: room().seal([3; 24], &big.to_bytes()).into(),
        };
        a.on_text(0, 1, &oversize.to_json());
        let small = Signal {
            from: format!("m{n}"),
            to: None,
            body: SignalBody::Bye,
        };
        let forged = RelayMessage::Publish {
            topic: room().topic().into(),
            data: other_room.seal([4; 24], &small.to_bytes()).into(),
        };
        a.on_text(0, 1, &forged.to_json());
    }
    let out = drain(&mut a);
    assert_eq!(out.len(), 2048);
    assert!(out[..2].contains(&SignalOutput::Dropped(0, SignalError::TooLarge)));
    assert!(out[..2].contains(&SignalOutput::Dropped(0, SignalError::Forged)));
    assert_eq!(a.seen_len(), 0, "nothing unauthenticated is remembered");
    // A genuine one is remembered once, as a digest.
    let ok = RelayMessage::Publish {
        topic: room().topic().into(),
        data: room()
            .seal(
                [5; 24],
                &Signal {
                    from: "m".into(),
                    to: None,
                    body: SignalBody::Announce,
                }
                .to_bytes(),
            )
            .into(),
    };
    a.on_text(0, 1, &ok.to_json());
    a.on_text(0, 1, &ok.to_json());
    assert_eq!(drain(&mut a).len(), 1);
    assert_eq!(a.seen_len(), 1);
}
