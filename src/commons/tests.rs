use super::*;
use crate::change::{GovernanceParams, ProposalKind};

pub(crate) fn charter(title: &str) -> Charter {
    Charter {
        title: title.into(),
        purpose: "test".into(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

fn founder() -> (Commons, Change) {
    Commons::create(Identity::from_secret([1; 32]), 1, charter("t"), 1000).unwrap()
}

fn replica_of(c: &Commons, secret: u8, nonce: u32) -> Commons {
    let mut r = Commons::join(c.id(), Some((Identity::from_secret([secret; 32]), nonce)));
    for ch in c.changes_in_causal_order() {
        r.insert(&ch.bytes).unwrap();
    }
    r
}

#[test]
fn create_edit_flush_and_replicate() {
    let (mut a, genesis) = founder();
    assert_eq!(a.id(), genesis.id);
    let made = a.create_document("Notes", "hello", 1001).unwrap();
    let doc = made.last().unwrap().id;
    a.edit_text(&doc, 5, 0, " world").unwrap();
    a.edit_text(&doc, 0, 1, "H").unwrap();
    assert_eq!(a.text(&doc).unwrap(), "Hello world");
    assert!(a.has_unflushed());
    let flushed = a.flush(1002).unwrap();
    assert_eq!(flushed.len(), 1, "one typing pause, one change");
    assert!(!a.has_unflushed());

    let b = replica_of(&a, 2, 7);
    assert_eq!(b.text(&doc).unwrap(), "Hello world");
    assert_eq!(b.state_hash(), a.state_hash());
    let hist = b.history(&doc);
    assert_eq!(
        hist.first().unwrap().action,
        DocAction::Created {
            title: "Notes".into()
        }
    );
    assert!(hist.iter().any(|h| h.action
        == DocAction::Edited {
            inserted: 7,
            deleted: 1
        }));
}

#[test]
fn concurrent_edits_converge_both_ways() {
    let (mut a, _) = founder();
    let doc = a.create_document("D", "abc", 1).unwrap().last().unwrap().id;
    let mut b = replica_of(&a, 2, 2);
    a.edit_text(&doc, 0, 0, "X").unwrap();
    b.edit_text(&doc, 3, 0, "Y").unwrap();
    b.edit_text(&doc, 1, 1, "").unwrap();
    let ca = a.flush(2).unwrap();
    let cb = b.flush(2).unwrap();
    for c in &cb {
        a.insert(&c.bytes).unwrap();
    }
    for c in &ca {
        b.insert(&c.bytes).unwrap();
    }
    assert_eq!(a.text(&doc), b.text(&doc));
    assert_eq!(a.text(&doc).unwrap(), "XacY");
    assert_eq!(a.state_hash(), b.state_hash());
    assert_eq!(a.heads().len(), 2);
}

#[test]
fn out_of_order_delivery_buffers_until_deps_arrive() {
    let (mut a, genesis) = founder();
    let c1 = a.create_document("D", "1", 1).unwrap();
    let doc = c1.last().unwrap().id;
    a.edit_text(&doc, 1, 0, "2").unwrap();
    let c2 = a.flush(2).unwrap();
    let mut b = Commons::join(a.id(), None);
    let r = b.insert(&c2[0].bytes).unwrap();
    assert!(r.applied.is_empty());
    assert_eq!(r.missing, vec![doc]);
    assert!(
        b.insert(&c1[0].bytes).unwrap().applied.is_empty(),
        "genesis still missing"
    );
    let r = b.insert(&genesis.bytes).unwrap();
    assert_eq!(r.applied.len(), 3);
    assert_eq!(b.text(&doc).unwrap(), "12");
    assert!(b.insert(&genesis.bytes).unwrap().duplicate);
    assert_eq!(b.state_hash(), a.state_hash());
}

#[test]
fn wrong_commons_is_refused_and_leaves_state_untouched() {
    let (mut a, _) = founder();
    let (mut other, _) =
        Commons::create(Identity::from_secret([5; 32]), 1, charter("other"), 1).unwrap();
    let c = other.create_document("X", "x", 2).unwrap();
    let before = a.state_hash();
    assert_eq!(a.insert(&c[0].bytes), Err(ChangeError::WrongCommons));
    assert_eq!(a.state_hash(), before);
    let _ = a.create_document("Y", "y", 3).unwrap();
}

#[test]
fn local_edit_errors_are_typed() {
    let (mut a, _) = founder();
    let doc = a.create_document("D", "ab", 1).unwrap().last().unwrap().id;
    assert_eq!(
        a.edit_text(&doc, 1, 5, "").unwrap_err(),
        CommonsError::OutOfRange {
            index: 1,
            delete: 5,
            len: 2
        }
    );
    assert!(matches!(
        a.edit_text(&ChangeId([7; 32]), 0, 0, "x"),
        Err(CommonsError::UnknownDocument(_))
    ));
    let mut ro = Commons::join(a.id(), None);
    assert_eq!(
        ro.edit_text(&doc, 0, 0, "x").unwrap_err(),
        CommonsError::ReadOnly
    );
    let mut early = Commons::join(a.id(), Some((Identity::from_secret([3; 32]), 1)));
    assert_eq!(
        early
            .act(vec![Op::SetProfile { name: "x".into() }], 1)
            .unwrap_err(),
        CommonsError::NotReady
    );
}

#[test]
fn utf16_indices_match_javascript() {
    let (mut a, _) = founder();
    let doc = a
        .create_document("D", "a😀b", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    // "😀" is two UTF-16 units: "b" is at index 3.
    a.edit_text(&doc, 3, 1, "c").unwrap();
    assert_eq!(a.text(&doc).unwrap(), "a😀c");
}

#[test]
fn large_paste_is_split_under_the_limits() {
    let (mut a, _) = founder();
    let big = "é".repeat(300_000);
    let made = a.create_document("Big", &big, 1).unwrap();
    assert!(made.len() > 2);
    for c in &made {
        assert!(c.bytes.len() <= crate::change::limits::MAX_CHANGE_BYTES);
    }
    let b = replica_of(&a, 2, 2);
    let doc = made[0].id;
    assert_eq!(b.text(&doc).unwrap(), big);
    assert_eq!(b.state_hash(), a.state_hash());
}

#[test]
fn tasks_profiles_and_titles() {
    let (mut a, _) = founder();
    let task = a
        .act(
            vec![Op::PostTask {
                title: "Translate".into(),
                description: "to Catalan".into(),
                skills: vec!["ca".into()],
            }],
            1,
        )
        .unwrap()
        .last()
        .unwrap()
        .id;
    let mut b = replica_of(&a, 2, 2);
    b.act(
        vec![
            Op::SetProfile { name: "Bea".into() },
            Op::ClaimTask { task },
        ],
        2,
    )
    .unwrap();
    let doc = b
        .create_document("Traducció", "hola", 3)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let done = b
        .act(
            vec![Op::CompleteTask {
                task,
                contributions: vec![doc],
            }],
            4,
        )
        .unwrap();
    let a2 = replica_of(&b, 1, 9);
    assert!(
        matches!(a2.task(&task).unwrap().status(), TaskStatus::Done { contributions, .. } if contributions == vec![doc])
    );
    assert_eq!(a2.name_of(&b.local_author().unwrap()), Some("Bea"));
    assert_eq!(a2.state_hash(), b.state_hash());
    assert_eq!(done.len(), 1);
    b.act(
        vec![Op::RetitleDocument {
            doc,
            title: "Traducció 2".into(),
        }],
        5,
    )
    .unwrap();
    assert_eq!(b.document(&doc).unwrap().title(), "Traducció 2");
    let _ = ProposalKind::Decision;
}

#[test]
fn references_must_be_held_locally() {
    let (mut a, _) = founder();
    let err = a
        .act(
            vec![Op::Endorse {
                change: ChangeId([3; 32]),
            }],
            1,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        CommonsError::Change(ChangeError::InvalidOp(_))
    ));
}

#[test]
fn rebuild_without_a_change_drops_its_text_but_keeps_unflushed_typing() {
    let (mut a, _) = founder();
    let doc = a
        .create_document("D", "base", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let mut b = replica_of(&a, 2, 2);
    b.edit_text(&doc, 4, 0, " vandal").unwrap();
    let vandal = b.flush(2).unwrap();
    a.insert(&vandal[0].bytes).unwrap();
    a.edit_text(&doc, 0, 0, ">").unwrap();
    assert_eq!(a.text(&doc).unwrap(), ">base vandal");
    a.rebuild_documents(&[vandal[0].id].into());
    assert_eq!(a.text(&doc).unwrap(), ">base");
    let flushed = a.flush(3).unwrap();
    assert_eq!(flushed.len(), 1);
}

#[test]
fn snapshot_restore_gives_the_same_state_without_replaying_text() {
    let (mut a, _) = founder();
    let doc = a.create_document("D", "one", 1).unwrap().last().unwrap().id;
    a.edit_text(&doc, 3, 0, " two").unwrap();
    a.flush(2).unwrap();
    let stored: Vec<Vec<u8>> = a
        .changes_in_causal_order()
        .map(|c| c.bytes.clone())
        .collect();
    let snap = a.snapshot(stored.len() as u64);
    // More arrives after the snapshot.
    a.edit_text(&doc, 0, 0, "zero ").unwrap();
    let later = a.flush(3).unwrap();
    let mut all = stored.clone();
    all.extend(later.iter().map(|c| c.bytes.clone()));
    let r = Commons::restore(a.id(), None, Some(&snap), all.iter().map(|b| b.as_slice()))
        .unwrap()
        .commons;
    assert_eq!(r.text(&doc).unwrap(), "zero one two");
    assert_eq!(r.state_hash(), a.state_hash());
    let plain = Commons::restore(a.id(), None, None, all.iter().map(|b| b.as_slice()))
        .unwrap()
        .commons;
    assert_eq!(plain.state_hash(), a.state_hash());
    assert!(matches!(
        Commons::restore(
            a.id(),
            None,
            Some(b"junk"),
            all.iter().map(|b| b.as_slice())
        ),
        Err(snapshot::RestoreError::BadSnapshot(_))
    ));
    let (other, _) = Commons::create(Identity::from_secret([9; 32]), 1, charter("x"), 1).unwrap();
    assert!(matches!(
        Commons::restore(other.id(), None, Some(&snap), std::iter::empty()),
        Err(snapshot::RestoreError::WrongCommons)
    ));
}

#[test]
fn typing_batches_into_one_compact_update() {
    let (mut a, _) = founder();
    let doc = a.create_document("D", "", 1).unwrap().last().unwrap().id;
    let mut b = replica_of(&a, 2, 2);
    for (i, ch) in "the quick brown fox jumps over it".chars().enumerate() {
        a.edit_text(&doc, i as u64, 0, &ch.to_string()).unwrap();
        if i == 10 {
            // A remote edit lands in the middle of the typing pause.
            b.edit_text(&doc, 0, 0, ">").unwrap();
            for c in b.flush(2).unwrap() {
                a.insert(&c.bytes).unwrap();
            }
        }
    }
    a.edit_text(&doc, 4, 6, "").unwrap(); // and a deletion
    let made = a.flush(3).unwrap();
    let Op::EditDocument { edit, .. } = &made[0].body.ops[0] else {
        panic!()
    };
    assert!(
        edit.update.len() < 120,
        "compact update is {} bytes",
        edit.update.len()
    );
    for c in &made {
        b.insert(&c.bytes).unwrap();
    }
    assert_eq!(a.text(&doc), b.text(&doc));
    assert_eq!(a.state_hash(), b.state_hash());
}
