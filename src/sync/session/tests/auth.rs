//! Signed hellos, attacked: forged keys, signatures by another key, replays from another
//! connection, and older peers.

use super::*;
use crate::sync::auth::{transcript, HelloFields};
use crate::sync::frame::{Outbox, Priority, Reassembler};
use crate::sync::wire::{Hello, Sig};

/// The hellos among a side's chunks.
fn hellos(chunks: &[Vec<u8>]) -> Vec<Hello> {
    let mut r = Reassembler::new(ReassemblyLimits::default());
    chunks
        .iter()
        .filter_map(|c| r.push(0, c).ok().flatten())
        .filter_map(|m| match Message::decode(&m) {
            Ok(Some(Message::Hello(h))) => Some(h),
            _ => None,
        })
        .collect()
}

/// Feeds messages to a side as a peer would send them (its own message numbers).
fn feed(x: &mut Side, now: u64, msgs: &[Vec<u8>]) {
    let mut outbox = Outbox::new(16 * 1024);
    for m in msgs {
        outbox.push(m.clone(), Priority::Control);
    }
    while let Some(c) = outbox.next_chunk() {
        x.s.handle_input(now, Input::Receive(&c), x.store.view());
    }
    drain(x);
}

fn established(x: &Side) -> bool {
    x.events
        .iter()
        .any(|e| matches!(e, Event::Established { .. }))
}

/// A hello from `who`, signed with `signer`, for a target with `to` and `to_nonce`.
fn signed_hello(who: &SyncKeys, signer: &SyncKeys, to: PeerId, to_nonce: [u8; 32]) -> Hello {
    let (key, salt, nonce) = (who.key().0, who.salt(), [77; 32]);
    let commons = ChangeId([9; 32]);
    let t = transcript(&HelloFields {
        version: PROTOCOL_VERSION,
        commons: &commons,
        key: &key,
        salt: &salt,
        nonce: &nonce,
        to: &to,
        to_nonce: &to_nonce,
        items: 0,
        features: 0,
    });
    Hello {
        version: PROTOCOL_VERSION,
        commons: commons.0,
        peer: who.peer().0,
        ack: true,
        items: 0,
        features: 0,
        nonce,
        key,
        salt,
        proof: Some(Sig(signer.sign(&t))),
    }
}

/// The target's own hello (to learn its nonce, as an attacker on the wire would).
fn target_nonce(x: &mut Side) -> [u8; 32] {
    hellos(&drain(x))[0].nonce
}

fn refused_unauthenticated(x: &Side) -> bool {
    !established(x)
        && x.s.remote_key().is_none()
        && closed_reason(x) == Some((CloseReason::Unauthenticated, false))
        && x.events
            .iter()
            .any(|e| matches!(e, Event::Offence(Offence::Malformed(_))))
}

#[test]
fn an_honest_signed_hello_authenticates() {
    // The control for the attacks below: the same construction with the right key works.
    let mut target = side(3, 9, false, SessionConfig::default());
    let nonce = target_nonce(&mut target);
    let victim = keys(1);
    let h = signed_hello(&victim, &victim, pid(3), nonce);
    feed(&mut target, 10, &[Message::Hello(h).encode()]);
    assert!(established(&target));
    assert_eq!(target.s.remote(), Some(victim.peer()));
    assert_eq!(target.s.remote_key(), Some(victim.key()));
}

#[test]
fn a_hello_signed_by_another_key_is_refused() {
    let mut target = side(3, 9, false, SessionConfig::default());
    let nonce = target_nonce(&mut target);
    // The attacker names the victim's key, salt and peer id, but can only sign with its own key.
    let h = signed_hello(&keys(1), &keys(6), pid(3), nonce);
    feed(&mut target, 10, &[Message::Hello(h).encode()]);
    assert!(refused_unauthenticated(&target));
}

#[test]
fn a_claimed_peer_id_with_the_wrong_key_is_refused() {
    let mut target = side(3, 9, false, SessionConfig::default());
    let nonce = target_nonce(&mut target);
    // The attacker signs properly with its own key but claims the victim's peer id.
    let mut h = signed_hello(&keys(6), &keys(6), pid(3), nonce);
    h.peer = pid(1).0;
    feed(&mut target, 10, &[Message::Hello(h).encode()]);
    assert!(refused_unauthenticated(&target));
}

#[test]
fn a_hello_replayed_on_another_connection_is_refused() {
    // The victim (1) connects honestly to peer 2; the attacker records the victim's signed hello.
    let mut victim = side(1, 9, true, SessionConfig::default());
    let mut first = side(2, 9, false, SessionConfig::default());
    let mut now = 0;
    let mut captured = Vec::new();
    run(&mut victim, &mut first, &mut now, |c| {
        captured.push(c.to_vec());
        false
    });
    assert!(established(&first) && established(&victim));
    let proof = hellos(&captured)
        .into_iter()
        .find(|h| h.peer == pid(1).0 && h.proof.is_some())
        .expect("the victim's signed hello");
    // Replayed to the same peer on a new connection (a new nonce): refused.
    let mut again = side_nonce(2, 9, false, SessionConfig::default(), [42; 32]);
    drain(&mut again);
    feed(&mut again, now, &[Message::Hello(proof.clone()).encode()]);
    assert!(refused_unauthenticated(&again));
    // Replayed to another peer: refused too (another addressee, another nonce).
    let mut other = side(3, 9, false, SessionConfig::default());
    drain(&mut other);
    feed(&mut other, now, &[Message::Hello(proof).encode()]);
    assert!(refused_unauthenticated(&other));
}

#[test]
fn a_hello_that_changes_key_midway_is_refused() {
    let mut target = side(3, 9, false, SessionConfig::default());
    let nonce = target_nonce(&mut target);
    // First an unsigned hello as the victim, then a signed one under another key.
    let mut first = signed_hello(&keys(1), &keys(1), pid(3), nonce);
    first.proof = None;
    first.ack = false;
    let second = signed_hello(&keys(6), &keys(6), pid(3), nonce);
    feed(
        &mut target,
        10,
        &[
            Message::Hello(first).encode(),
            Message::Hello(second).encode(),
        ],
    );
    assert!(refused_unauthenticated(&target));
}

#[test]
fn an_older_peer_gets_a_refusal_naming_both_versions() {
    let mut target = side(3, 9, false, SessionConfig::default());
    drain(&mut target);
    // A version 1 hello, byte for byte as version 1 peers send it.
    let v1 =
        postcard::to_extend(&(1u16, [9u8; 32], [4u8; 16], false, 0u64, 1u32), vec![0x01]).unwrap();
    feed(&mut target, 10, &[v1]);
    let detail = target.events.iter().find_map(|e| match e {
        Event::Closed {
            reason: CloseReason::VersionMismatch,
            detail,
            ..
        } => Some(detail.clone()),
        _ => None,
    });
    let detail = detail.expect("a version mismatch close");
    assert!(
        detail.contains("protocol 1") && detail.contains("speaks 2"),
        "{detail}"
    );
    assert!(!established(&target));
}
