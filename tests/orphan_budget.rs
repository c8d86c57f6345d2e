//! Orphans (changes whose deps never arrive) are what a peer can make a replica hold without
//! anything being applied. Written as the attacker would: one peer floods hand-signed orphans
//! citing made-up deps. What it can make the replica hold is bounded per sending peer, counted
//! with the decoded structures (not the raw bytes alone), and expires (docs/PROTOCOL.md, "What a
//! peer can make a replica hold").

use peer_commons::change::limits::{MAX_PENDING_BYTES_PER_PEER, PENDING_TTL_MS};
use peer_commons::change::{
    Change, ChangeBody, ChangeError, ChangeId, Charter, GovernanceParams, Op,
};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;

fn commons() -> Commons {
    let charter = Charter {
        title: "orphans".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    };
    Commons::create(Identity::from_secret([1; 32]), 1, charter, 0)
        .unwrap()
        .0
}

/// A small valid change citing 64 deps nobody has: 64 entries in the waiting index for ~2 KiB.
fn orphan(who: &Identity, commons: ChangeId, n: u32) -> Change {
    let mut deps: Vec<ChangeId> = (0..64u32)
        .map(|k| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&n.to_le_bytes());
            id[4..8].copy_from_slice(&k.to_le_bytes());
            id[31] = 0xee;
            ChangeId(id)
        })
        .collect();
    deps.sort();
    Change::sign(
        who,
        ChangeBody {
            format: 1,
            commons: Some(commons),
            author: who.author(),
            seq: 1,
            deps,
            time: 0,
            ops: vec![Op::SetProfile { name: "x".into() }],
        },
    )
}

#[test]
fn one_peer_cannot_fill_the_orphan_buffer_and_its_orphans_expire() {
    let mut c = commons();
    let mallory = Identity::from_secret([66; 32]);
    let (flooder, honest) = (b"peer-mallory".as_slice(), b"peer-alice".as_slice());
    let mut sent = 0usize;
    let mut refused = 0;
    for n in 0..20_000u32 {
        let o = orphan(&mallory, c.id(), n);
        match c.insert_from(flooder, &o.bytes, 1_000) {
            Ok(_) => sent += o.bytes.len(),
            Err(ChangeError::PendingFull) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(refused > 0, "the flood was never refused");
    // What the flooder makes the replica hold, by the buffer's own accounting of the decoded
    // structures, stays under its per-peer budget...
    let held = c.dag().pending_cost_of(flooder);
    println!("flood: {sent} bytes buffered from the flooder, {refused} refused, {held} held by the buffer's count");
    assert!(held <= MAX_PENDING_BYTES_PER_PEER, "{held} held");
    // ...and within a constant of what it sent.
    assert!(held <= 8 * sent, "held {held} for {sent} sent");
    // Another peer's orphan is still buffered: the flood did not take the shared buffer.
    let a = orphan(&Identity::from_secret([5; 32]), c.id(), 1);
    assert!(
        c.insert_from(honest, &a.bytes, 1_000)
            .unwrap()
            .missing
            .len()
            == 64
    );
    // Orphans expire: after the time to live, the flooder's budget is free again.
    c.expire_pending(1_000 + PENDING_TTL_MS + 1);
    assert_eq!(c.dag().pending_cost_of(flooder), 0);
    assert_eq!(c.dag().pending_len(), 0);
    let late = orphan(&mallory, c.id(), 99_999);
    assert!(c
        .insert_from(flooder, &late.bytes, 2_000 + PENDING_TTL_MS)
        .is_ok());
}

/// Changes of tiny ops (2 bytes each on the wire, 168 bytes decoded) are counted at their decoded
/// size: a peer's budget holds few of them, not 80 times more than the raw bytes suggest.
#[test]
fn tiny_op_orphans_count_at_their_decoded_size() {
    let mut c = commons();
    let mallory = Identity::from_secret([66; 32]);
    let body = ChangeBody {
        format: 1,
        commons: Some(c.id()),
        author: mallory.author(),
        seq: 1,
        deps: vec![ChangeId([0xee; 32])],
        time: 0,
        ops: vec![
            Op::SetProfile {
                name: String::new()
            };
            1000
        ],
    };
    let o = Change::sign(&mallory, body);
    assert!(o.bytes.len() < 2_200, "{} bytes", o.bytes.len());
    c.insert_from(b"m", &o.bytes, 0).unwrap();
    let held = c.dag().pending_cost_of(b"m");
    assert!(held >= 1000 * std::mem::size_of::<Op>(), "counted {held}");
    assert!(
        held <= 100 * o.bytes.len(),
        "counted {held} for {}",
        o.bytes.len()
    );
}
