//! Wire messages: round trips, refusals, hello features, lengths.
use super::*;

fn samples() -> Vec<Message<'static>> {
    vec![
        Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            commons: [3; 32],
            peer: [4; 16],
            ack: true,
            items: 12345,
            features: features::ALL,
            nonce: [5; 32],
            key: [6; 32],
            salt: [7; 16],
            proof: Some(Sig([8; 64])),
        }),
        Message::Close {
            reason: CloseReason::CommonsMismatch,
            detail: "wrong commons",
        },
        Message::Ping(77),
        Message::Pong(u64::MAX),
        Message::Query {
            recon: 1,
            round: 2,
            payload: Bytes(b"neg"),
        },
        Message::Reply {
            recon: 1,
            round: 2,
            payload: Bytes(b""),
        },
        Message::Done(9),
        Message::Want {
            ids: vec![[1; 32], [2; 32]],
            graft: true,
        },
        Message::Push(vec![Bytes(b"a"), Bytes(&[0; 300])]),
        Message::Deliver(vec![]),
        Message::Have(vec![[5; 32]]),
        Message::Prune(vec![[8; 32]]),
        Message::Peers(vec![[6; 16], [7; 16]]),
        Message::Signal(Signal {
            from: [1; 16],
            to: [2; 16],
            dialer: true,
            payload: Bytes(b"{\"sdp\":1}"),
        }),
        Message::Refuse {
            from: [1; 16],
            to: [2; 16],
        },
        Message::Presence(vec![Bytes(b"rec"), Bytes(&[7; 100])]),
    ]
}

#[test]
fn every_message_round_trips() {
    for m in samples() {
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes).unwrap(), Some(m));
    }
}

#[test]
fn unknown_types_are_skipped_and_bad_bodies_refused() {
    assert_eq!(Message::decode(&[0x7f, 1, 2, 3]), Ok(None));
    assert_eq!(Message::decode(&[]), Err(WireError::Empty));
    assert_eq!(Message::decode(&[ty::HELLO, 2]), Err(WireError::BadBody(1)));
    // A Want announcing more id bytes than it carries.
    assert_eq!(
        Message::decode(&[ty::WANT, 200, 1]),
        Err(WireError::BadBody(ty::WANT))
    );
    // An id list that is not a whole number of ids.
    assert_eq!(
        Message::decode(&[ty::HAVE, 3, 1, 2, 3]),
        Err(WireError::BadBody(ty::HAVE))
    );
}

/// The version 1 hello fields, up to `items`.
type V1Fields = (u16, [u8; 32], [u8; 16], bool, u64);

/// A version 1 hello (version, commons, peer, ack, items, features), as an older peer sends it.
fn v1_hello() -> Vec<u8> {
    let mut b = vec![ty::HELLO];
    b = postcard::to_extend(&(1u16, [3u8; 32], [4u8; 16], false, 1u64, 1u32), b).unwrap();
    b
}

#[test]
fn hellos_of_other_versions_are_read_as_far_as_their_version() {
    // An older peer's hello decodes to its version, so the session can name both versions.
    assert_eq!(
        Message::decode(&v1_hello()),
        Ok(Some(Message::ForeignHello(1)))
    );
    // Our hello keeps the version 1 layout up to `items`: an older peer reads version 2 there
    // and refuses with its own version mismatch instead of calling it malformed.
    let ours = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        commons: [3; 32],
        peer: [4; 16],
        ack: true,
        items: 1,
        features: features::ALL,
        nonce: [1; 32],
        key: [2; 32],
        salt: [9; 16],
        proof: None,
    })
    .encode();
    let (v1, _): (V1Fields, _) = postcard::take_from_bytes(&ours[1..]).unwrap();
    assert_eq!(v1, (PROTOCOL_VERSION, [3; 32], [4; 16], true, 1));
    // A truncated version 2 hello is malformed.
    assert_eq!(
        Message::decode(&ours[..ours.len() - 5]),
        Err(WireError::BadBody(ty::HELLO))
    );
}

#[test]
fn trailing_fields_from_newer_versions_are_ignored() {
    let mut bytes = Message::Ping(5).encode();
    bytes.extend_from_slice(&[9, 9, 9]);
    assert_eq!(Message::decode(&bytes), Ok(Some(Message::Ping(5))));
}

#[test]
fn changes_length_formula_matches_encoding() {
    let a = vec![0u8; 5];
    let b = vec![1u8; 200];
    let m = Message::Push(vec![Bytes(&a), Bytes(&b)]);
    assert_eq!(
        m.encode().len(),
        changes_message_len([5usize, 200].into_iter())
    );
}

#[test]
fn long_close_detail_is_cut_on_a_char_boundary() {
    let long = "é".repeat(300);
    let m = Message::Close {
        reason: CloseReason::Normal,
        detail: &long,
    };
    match Message::decode(&m.encode()).unwrap() {
        Some(Message::Close { detail, .. }) => assert!(detail.len() <= MAX_CLOSE_DETAIL),
        other => panic!("unexpected {other:?}"),
    }
}
