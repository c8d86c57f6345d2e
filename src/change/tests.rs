use super::*;

fn body(author: AuthorId, ops: Vec<Op>) -> ChangeBody {
    ChangeBody {
        format: CHANGE_FORMAT,
        commons: Some(ChangeId([9; 32])),
        author,
        seq: 1,
        deps: vec![ChangeId([9; 32])],
        time: 1,
        ops,
    }
}

#[test]
fn sign_decode_roundtrip() {
    let id = Identity::from_secret([3; 32]);
    let c = Change::sign(
        &id,
        body(id.author(), vec![Op::SetProfile { name: "ada".into() }]),
    );
    let d = Change::decode(&c.bytes).unwrap();
    assert_eq!(d, c);
}

#[test]
fn tampered_body_is_refused() {
    let id = Identity::from_secret([3; 32]);
    let c = Change::sign(
        &id,
        body(id.author(), vec![Op::SetProfile { name: "ada".into() }]),
    );
    let mut bytes = c.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // flips a character of the name
    assert!(matches!(
        Change::decode(&bytes),
        Err(ChangeError::Signature(_))
    ));
    assert_eq!(Change::decode(&bytes[..10]), Err(ChangeError::Truncated));
}

#[test]
fn trailing_bytes_are_non_canonical() {
    let id = Identity::from_secret([3; 32]);
    let c = Change::sign(
        &id,
        body(id.author(), vec![Op::SetProfile { name: "ada".into() }]),
    );
    let mut bytes = c.bytes.clone();
    bytes.push(0);
    assert_eq!(Change::decode(&bytes), Err(ChangeError::NonCanonical));
}

#[test]
fn limits_name_what_was_exceeded() {
    let id = Identity::from_secret([3; 32]);
    let c = Change::sign(
        &id,
        body(
            id.author(),
            vec![Op::SetProfile {
                name: "x".repeat(5000),
            }],
        ),
    );
    assert_eq!(
        Change::decode(&c.bytes),
        Err(ChangeError::Limit {
            what: "name",
            value: 5000,
            limit: 1024
        })
    );
    let mut b = body(id.author(), vec![Op::SetProfile { name: "a".into() }]);
    b.deps = vec![ChangeId([1; 32]); 65];
    let c = Change::sign(&id, b);
    assert!(matches!(
        Change::decode(&c.bytes),
        Err(ChangeError::Limit { what: "deps", .. })
    ));
    let big = vec![0u8; limits::MAX_CHANGE_BYTES + 1];
    assert!(matches!(
        Change::decode(&big),
        Err(ChangeError::TooLarge { .. })
    ));
}

#[test]
fn foreign_client_update_is_refused() {
    use yrs::{Doc, GetString, Text, Transact};
    let id = Identity::from_secret([3; 32]);
    let other = Identity::from_secret([4; 32]);
    let doc = Doc::with_client_id(client_id(&other.author(), 1));
    let text = doc.get_or_insert_text("t");
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, "forged");
    let update = txn.encode_update_v2();
    drop(txn);
    assert_eq!(text.get_string(&doc.transact()), "forged");
    let op = Op::EditDocument {
        doc: ChangeId([1; 32]),
        edit: TextEdit { nonce: 1, update },
    };
    let c = Change::sign(&id, body(id.author(), vec![op]));
    assert!(matches!(
        Change::decode(&c.bytes),
        Err(ChangeError::ForeignClient { .. })
    ));
}

#[test]
fn client_ids_fit_53_bits_and_differ_by_nonce() {
    let a = Identity::from_secret([3; 32]).author();
    assert!(client_id(&a, 1) < (1 << 53));
    assert_ne!(client_id(&a, 1), client_id(&a, 2));
}
