//! Presence records and book: signing, refusals, ordering, expiry, bounds.

use super::*;

const COMMONS: [u8; 32] = [9; 32];

fn ident(i: u8) -> Identity {
    Identity::from_secret([i; 32])
}

fn cursor(doc: u8, at: u8) -> Option<Cursor> {
    Some(Cursor {
        doc: [doc; 32],
        anchor: vec![at],
        head: vec![at, 1],
    })
}

fn record(who: u8, peer: u8, seq: u64, c: Option<Cursor>) -> Vec<u8> {
    sign(&ident(who), COMMONS, PeerId([peer; 16]), seq, "Ada", c)
}

fn book() -> PresenceBook {
    PresenceBook::new(PresenceConfig::default())
}

const ME: PeerId = PeerId([0; 16]);

/// Signs an arbitrary body, bypassing the limits `sign` applies.
fn forge(body: &PresenceBody, by: &Identity) -> Vec<u8> {
    let body = postcard::to_allocvec(body).unwrap();
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&body);
    let mut out = by.sign(&msg).to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_signed_record_opens_to_what_was_signed() {
    let bytes = record(1, 2, 7, cursor(3, 4));
    let body = open(&bytes, &COMMONS).unwrap();
    assert_eq!(body.author, ident(1).author().0);
    assert_eq!(body.peer, [2; 16]);
    assert_eq!(body.seq, 7);
    assert_eq!(body.name, "Ada");
    assert_eq!(body.cursor, cursor(3, 4));
}

#[test]
fn malformed_forged_and_foreign_records_are_refused_with_a_reason() {
    let good = record(1, 2, 1, cursor(3, 4));
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(open(&flipped, &COMMONS), Err(PresenceError::Signature));
    let mut bad_sig = good.clone();
    bad_sig[0] ^= 1;
    assert_eq!(open(&bad_sig, &COMMONS), Err(PresenceError::Signature));
    assert_eq!(open(&good[..64], &COMMONS), Err(PresenceError::Truncated));
    assert_eq!(open(&good[..80], &COMMONS), Err(PresenceError::Malformed));
    assert_eq!(
        open(&vec![0; MAX_RECORD + 1], &COMMONS),
        Err(PresenceError::TooLarge(MAX_RECORD + 1))
    );
    assert_eq!(open(&good, &[8; 32]), Err(PresenceError::WrongCommons));

    // Signed by someone else than the author it names.
    let mut body = open(&good, &COMMONS).unwrap();
    let impostor = forge(&body, &ident(5));
    assert_eq!(open(&impostor, &COMMONS), Err(PresenceError::Signature));

    // Over the field limits, although correctly signed.
    body.name = "x".repeat(MAX_NAME + 1);
    assert_eq!(
        open(&forge(&body, &ident(1)), &COMMONS),
        Err(PresenceError::Limit {
            what: "name",
            len: MAX_NAME + 1,
            limit: MAX_NAME
        })
    );
    body.name = "ok".into();
    body.cursor = Some(Cursor {
        doc: [1; 32],
        anchor: vec![0; MAX_POSITION + 1],
        head: vec![],
    });
    assert!(matches!(
        open(&forge(&body, &ident(1)), &COMMONS),
        Err(PresenceError::Limit { what: "anchor", .. })
    ));

    // A refused record leaves the book as it was.
    let mut b = book();
    b.receive(&good, &COMMONS, ME, 0).unwrap();
    assert!(b.receive(&flipped, &COMMONS, ME, 1).is_err());
    assert_eq!(b.all().next().unwrap().seq, 1);
}

#[test]
fn sign_cuts_long_names_on_a_character_boundary() {
    let long = "é".repeat(100);
    let bytes = sign(&ident(1), COMMONS, PeerId([2; 16]), 1, &long, None);
    let body = open(&bytes, &COMMONS).unwrap();
    assert!(body.name.len() <= MAX_NAME);
    assert!(long.starts_with(&body.name));
}

#[test]
fn stale_and_duplicate_sequence_numbers_are_dropped() {
    let mut b = book();
    let r2 = record(1, 2, 2, cursor(3, 20));
    let r1 = record(1, 2, 1, cursor(3, 10));
    assert!(matches!(
        b.receive(&r2, &COMMONS, ME, 0),
        Ok(Received::Fresh(_))
    ));
    assert_eq!(b.receive(&r1, &COMMONS, ME, 5), Ok(Received::Stale));
    assert_eq!(b.receive(&r2, &COMMONS, ME, 6), Ok(Received::Stale));
    let live: Vec<_> = b.all().collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].cursor, cursor(3, 20));
    // Another tab of the same author is another entry.
    let other_tab = record(1, 7, 1, cursor(3, 30));
    assert!(matches!(
        b.receive(&other_tab, &COMMONS, ME, 6),
        Ok(Received::Fresh(_))
    ));
    assert_eq!(b.len(), 2);
    // Our own record coming back is not shown.
    let mine = record(4, 0, 9, cursor(3, 1));
    assert_eq!(b.receive(&mine, &COMMONS, ME, 6), Ok(Received::Stale));
    assert_eq!(b.len(), 2);
}

#[test]
fn records_expire_without_refresh_and_replays_stay_dropped() {
    let mut b = book();
    let r = record(1, 2, 5, cursor(3, 4));
    b.receive(&r, &COMMONS, ME, 1_000).unwrap();
    assert_eq!(b.next_expiry(), Some(31_000));
    assert!(!b.expire(30_999));
    assert_eq!(b.len(), 1);
    // A refresh (a newer record) pushes the expiry back.
    b.receive(&record(1, 2, 6, cursor(3, 4)), &COMMONS, ME, 20_000)
        .unwrap();
    assert!(!b.expire(49_999));
    assert!(b.expire(50_000));
    assert!(b.is_empty());
    assert_eq!(b.next_expiry(), None);
    // The old record replayed after expiry does not bring the cursor back.
    assert_eq!(b.receive(&r, &COMMONS, ME, 50_001), Ok(Received::Stale));
    assert!(b.is_empty());
}

#[test]
fn a_clearing_record_removes_the_cursor_and_is_forwarded() {
    let mut b = book();
    b.receive(&record(1, 2, 1, cursor(3, 4)), &COMMONS, ME, 0)
        .unwrap();
    assert_eq!(b.on_doc(&[3; 32]).count(), 1);
    assert_eq!(b.on_doc(&[4; 32]).count(), 0);
    assert_eq!(
        b.receive(&record(1, 2, 2, None), &COMMONS, ME, 1),
        Ok(Received::Fresh((ident(1).author().0, [2; 16])))
    );
    assert!(b.is_empty());
}

#[test]
fn the_book_is_bounded() {
    let mut b = PresenceBook::new(PresenceConfig {
        max_entries: 3,
        ..PresenceConfig::default()
    });
    for peer in 1..=5u8 {
        b.receive(
            &record(1, peer, 1, cursor(3, 4)),
            &COMMONS,
            ME,
            u64::from(peer),
        )
        .unwrap();
    }
    assert_eq!(b.len(), 3);
    // The least recently refreshed went.
    let peers: Vec<u8> = b.all().map(|r| r.peer[0]).collect();
    assert_eq!(peers, vec![3, 4, 5]);
    assert_eq!(b.records().count(), 3);
}

#[test]
fn local_presence_is_rate_limited_refreshed_and_cleared_once() {
    let cfg = PresenceConfig::default();
    let mut l = LocalPresence::new(&cfg);
    assert_eq!(l.next_due(), None);
    assert_eq!(l.poll(0), None);
    // Clearing before anything was published sends nothing.
    l.set(None);
    assert_eq!(l.next_due(), None);

    l.set(cursor(1, 1));
    assert_eq!(l.poll(1_000), Some((1, cursor(1, 1))));
    // Moves within the minimum interval wait, and coalesce into one record.
    l.set(cursor(1, 2));
    l.set(cursor(1, 3));
    assert_eq!(l.next_due(), Some(1_100));
    assert_eq!(l.poll(1_050), None);
    assert_eq!(l.poll(1_100), Some((2, cursor(1, 3))));
    // Unchanged, it is republished at the refresh interval.
    assert_eq!(l.next_due(), Some(11_100));
    assert_eq!(l.poll(11_099), None);
    assert_eq!(l.poll(11_100), Some((3, cursor(1, 3))));
    // Setting the same cursor is not a change.
    l.set(cursor(1, 3));
    assert_eq!(l.next_due(), Some(21_100));
    // Clearing publishes one clearing record at once (not rate-limited), then nothing.
    l.set(None);
    assert_eq!(l.next_due(), Some(11_100));
    assert_eq!(l.poll(11_101), Some((4, None)));
    assert_eq!(l.next_due(), None);
}

#[test]
fn leaving_clears_a_published_cursor_at_once() {
    let mut l = LocalPresence::new(&PresenceConfig::default());
    l.set(cursor(1, 1));
    // Nothing published yet: nothing to clear.
    assert_eq!(l.clone().leave(), None);
    assert!(l.poll(0).is_some());
    l.set(cursor(1, 2));
    // Within the minimum interval, leaving does not wait.
    assert_eq!(l.leave(), Some(2));
    assert_eq!(l.next_due(), None);
    assert_eq!(l.leave(), None);
}
