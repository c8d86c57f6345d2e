//! Forks keep the history, credits and licence of what they carry; licences are checked; a
//! fork replicates like any commons and verifies against its parent.

use peer_commons::archive::{ForkError, ForkOptions};
use peer_commons::change::{Carry, ChangeError, ChangeId, Charter, GovernanceParams, Op};
use peer_commons::commons::property::{Credits, ValidationStatus};
use peer_commons::commons::{Commons, CommonsError};
use peer_commons::identity::Identity;

fn charter(licence: &str) -> Charter {
    Charter {
        title: "Parent".into(),
        purpose: "Recipes".into(),
        licence: licence.into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

fn sync(from: &Commons, to: &mut Commons) {
    for c in from.changes_in_causal_order() {
        if !to.contains(&c.id) {
            to.insert(&c.bytes).unwrap();
        }
    }
}

/// A parent commons: Ana and Bo write two documents together.
fn parent(licence: &str) -> (Commons, ChangeId, ChangeId) {
    let (mut a, _) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter(licence), 1).unwrap();
    a.act(vec![Op::SetProfile { name: "Ana".into() }], 2)
        .unwrap();
    let soup = a.create_document("Soup", "water, salt", 3).unwrap()[0].id;
    let bread = a.create_document("Bread", "flour", 4).unwrap()[0].id;
    let mut b = Commons::join(a.id(), Some((Identity::from_secret([2; 32]), 2)));
    sync(&a, &mut b);
    b.act(vec![Op::SetProfile { name: "Bo".into() }], 5)
        .unwrap();
    b.edit_text(&soup, 11, 0, ", leeks").unwrap();
    b.edit_text(&soup, 0, 5, "stock").unwrap();
    b.edit_text(&bread, 5, 0, ", yeast").unwrap();
    b.flush(6).unwrap();
    b.act(
        vec![Op::Comment {
            doc: soup,
            text: "more leeks".into(),
        }],
        7,
    )
    .unwrap();
    sync(&b, &mut a);
    (a, soup, bread)
}

fn forker() -> Identity {
    Identity::from_secret([7; 32])
}

/// Credits without the document id (which a carried document changes).
fn portable(c: Credits) -> Vec<(String, u64, u64, u64, u64, u64)> {
    c.authors
        .into_iter()
        .map(|a| {
            (
                a.author,
                a.changes,
                a.text.inserted,
                a.text.surviving,
                a.text.deleted,
                a.comments,
            )
        })
        .collect()
}

fn carried_doc(fork: &Commons, source: &ChangeId) -> ChangeId {
    fork.documents_iter()
        .find(|d| fork.credits(&d.id).unwrap().carried_from.last() == Some(&source.to_hex()))
        .map(|d| d.id)
        .unwrap()
}

#[test]
fn fork_keeps_text_history_credits_and_licence() {
    let (p, soup, bread) = parent("CC-BY-SA-4.0");
    let opts = ForkOptions {
        title: "Soups only".into(),
        documents: Some(vec![soup]),
        ..Default::default()
    };
    let forked = p.fork(opts, forker(), 1, 100).unwrap();
    let f = &forked.commons;
    let charter = f.genesis_charter().unwrap();
    assert_eq!(charter.licence, "CC-BY-SA-4.0");
    let fork_of = charter.fork_of.as_ref().unwrap();
    assert_eq!(
        (fork_of.commons, &fork_of.heads, &fork_of.documents),
        (p.id(), &p.heads(), &vec![soup])
    );
    assert_eq!(f.documents().len(), 1, "only the chosen document");
    let fsoup = carried_doc(f, &soup);
    assert_eq!(f.text(&fsoup), p.text(&soup));
    assert_eq!(f.document(&fsoup).unwrap().title(), "Soup");
    assert_eq!(
        portable(f.credits(&fsoup).unwrap()),
        portable(p.credits(&soup).unwrap())
    );
    // The history is the parent's changes, under their own ids, marked as carried.
    let hist = f.change_history(&fsoup);
    let parent_ids: Vec<String> = p
        .change_history(&soup)
        .iter()
        .map(|h| h.change.clone())
        .collect();
    assert_eq!(
        hist.iter().map(|h| h.change.clone()).collect::<Vec<_>>(),
        parent_ids
    );
    assert!(hist
        .iter()
        .all(|h| h.validation.status == ValidationStatus::Carried));
    assert!(hist
        .iter()
        .all(|h| h.carried_from.as_deref() == Some(p.id().to_hex().as_str())));
    assert!(!f.text(&fsoup).unwrap().contains("yeast"));
    let carried_bread = f
        .documents_iter()
        .any(|d| f.credits(&d.id).unwrap().carried_from.last() == Some(&bread.to_hex()));
    assert!(!carried_bread, "unchosen documents stay behind");
    // The ledger credits the parent's authors for what was carried.
    let ledger = f.ledger();
    let bo = Identity::from_secret([2; 32]).author().to_hex();
    let row = ledger.rows.iter().find(|r| r.author == bo).unwrap();
    let parent_bo = p
        .credits(&soup)
        .unwrap()
        .authors
        .into_iter()
        .find(|a| a.author == bo)
        .unwrap();
    assert_eq!(row.surviving, parent_bo.text.surviving);
    assert_eq!((row.changes, row.carried_changes, row.comments), (0, 2, 1));
    assert_eq!(f.verify_fork(&p), Ok(()));
}

#[test]
fn a_fork_replicates_and_grows_like_any_commons() {
    let (p, soup, _) = parent("CC-BY-4.0");
    let forked = p
        .fork(
            ForkOptions {
                title: "All".into(),
                ..Default::default()
            },
            forker(),
            1,
            100,
        )
        .unwrap();
    let mut f = forked.commons;
    assert_eq!(f.documents().len(), 2);
    assert_eq!(
        f.genesis_charter()
            .unwrap()
            .fork_of
            .as_ref()
            .unwrap()
            .documents,
        Vec::<ChangeId>::new()
    );
    let fsoup = carried_doc(&f, &soup);
    f.edit_text(&fsoup, 0, 0, "hot ").unwrap();
    f.flush(101).unwrap();
    let mut peer = Commons::join(f.id(), Some((Identity::from_secret([2; 32]), 5)));
    for c in &forked.changes {
        peer.insert(&c.bytes).unwrap();
    }
    sync(&f, &mut peer);
    assert_eq!(peer.state_hash(), f.state_hash());
    assert_eq!(
        peer.text(&fsoup).unwrap(),
        format!("hot {}", p.text(&soup).unwrap())
    );
    // Bo edits the carried document in the fork: the same author, new changes.
    peer.edit_text(&fsoup, 0, 0, "!").unwrap();
    peer.flush(102).unwrap();
    sync(&peer, &mut f);
    let bo = Identity::from_secret([2; 32]).author().to_hex();
    let fc = f.credits(&fsoup).unwrap();
    let pc = p.credits(&soup).unwrap();
    let surviving = |c: &Credits, k: &str| {
        c.authors
            .iter()
            .find(|a| a.author == k)
            .unwrap()
            .text
            .surviving
    };
    assert_eq!(surviving(&fc, &bo), surviving(&pc, &bo) + 1);
    assert_eq!(surviving(&fc, &forker().author().to_hex()), 4);
    // The archive of a fork round-trips like any other.
    let copy = Commons::import_archive(&f.export_archive(), None).unwrap();
    assert_eq!(copy.state_hash(), f.state_hash());
    assert_eq!(copy.verify_fork(&p), Ok(()));
}

#[test]
fn licences_are_checked_at_fork_time() {
    let (sa, soup, _) = parent("CC-BY-SA-4.0");
    let opts = |l: &str| ForkOptions {
        title: "F".into(),
        licence: Some(l.into()),
        ..Default::default()
    };
    for other in ["CC-BY-4.0", "CC0-1.0", "GPL-3.0-or-later"] {
        let err = sa.fork(opts(other), forker(), 1, 1).err().unwrap();
        assert!(
            matches!(err, ForkError::LicenceNotAllowed { reason, .. } if reason.contains("share-alike")),
            "{other}"
        );
    }
    assert!(matches!(
        sa.fork(opts("Beerware"), forker(), 1, 1),
        Err(ForkError::UnknownLicence(_))
    ));
    let (by, _, _) = parent("CC-BY-4.0");
    let f = by.fork(opts("CC-BY-SA-4.0"), forker(), 1, 1).unwrap();
    assert_eq!(f.commons.licence().spdx, "CC-BY-SA-4.0");
    assert!(matches!(
        by.fork(opts("ODbL-1.0"), forker(), 1, 1),
        Err(ForkError::LicenceNotAllowed { .. })
    ));
    assert!(matches!(
        by.fork(opts("CC0-1.0"), forker(), 1, 1),
        Err(ForkError::LicenceNotAllowed { .. })
    ));
    let missing = ForkOptions {
        title: "F".into(),
        documents: Some(vec![soup, ChangeId([5; 32])]),
        ..Default::default()
    };
    assert!(matches!(
        sa.fork(missing, forker(), 1, 1),
        Err(ForkError::UnknownDocument(_))
    ));
}

#[test]
fn a_fork_of_a_fork_keeps_the_original_credits() {
    let (p, soup, _) = parent("CC-BY-SA-4.0");
    let mut f1 = p
        .fork(
            ForkOptions {
                title: "F1".into(),
                ..Default::default()
            },
            forker(),
            1,
            10,
        )
        .unwrap()
        .commons;
    let s1 = carried_doc(&f1, &soup);
    f1.edit_text(&s1, 0, 0, "Q").unwrap();
    f1.flush(11).unwrap();
    let f2 = f1
        .fork(
            ForkOptions {
                title: "F2".into(),
                documents: Some(vec![s1]),
                ..Default::default()
            },
            Identity::from_secret([8; 32]),
            1,
            12,
        )
        .unwrap()
        .commons;
    let s2 = carried_doc(&f2, &s1);
    assert_eq!(f2.text(&s2), f1.text(&s1));
    assert_eq!(
        portable(f2.credits(&s2).unwrap()),
        portable(f1.credits(&s1).unwrap())
    );
    assert_eq!(
        f2.credits(&s2).unwrap().carried_from,
        vec![soup.to_hex(), s1.to_hex()]
    );
    assert_eq!(f2.verify_fork(&f1), Ok(()));
    assert_eq!(f2.verify_fork(&p), Err(ForkError::NotAForkOf));
    // Checked against a parent that lacks the history, verification fails.
    let (other, _, _) = parent("CC-BY-SA-4.0");
    assert_eq!(f1.verify_fork(&other), Ok(()), "same changes: same commons");
    let mut short = Commons::join(p.id(), None);
    let first: Vec<_> = p.changes_in_causal_order().take(3).cloned().collect();
    for c in &first {
        short.insert(&c.bytes).unwrap();
    }
    assert!(matches!(
        f1.verify_fork(&short),
        Err(ForkError::NotInParentHistory(_))
    ));
}

#[test]
fn long_histories_are_carried_in_several_parts() {
    let (mut a, _) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter("CC0-1.0"), 1).unwrap();
    let big: String = "abcdefghij".repeat(90_000);
    let doc = a.create_document("Big", &big, 2).unwrap()[0].id;
    let forked = a
        .fork(
            ForkOptions {
                title: "F".into(),
                ..Default::default()
            },
            forker(),
            1,
            3,
        )
        .unwrap();
    let carries = forked
        .changes
        .iter()
        .filter(|c| c.body.ops.iter().any(|o| matches!(o, Op::CarryDocument(_))))
        .count();
    assert!(carries >= 2, "{carries} carry changes");
    let fdoc = carried_doc(&forked.commons, &doc);
    assert_eq!(forked.commons.text(&fdoc).unwrap(), big);
    assert_eq!(
        portable(forked.commons.credits(&fdoc).unwrap()),
        portable(a.credits(&doc).unwrap())
    );
}

#[test]
fn carries_by_others_or_with_forged_changes_are_refused_or_ignored() {
    let (p, soup, _) = parent("CC-BY-SA-4.0");
    let forked = p
        .fork(
            ForkOptions {
                title: "F".into(),
                documents: Some(vec![soup]),
                ..Default::default()
            },
            forker(),
            1,
            10,
        )
        .unwrap();
    let mut f = forked.commons;
    let history: Vec<Vec<u8>> = p
        .changes_in_causal_order()
        .map(|c| c.bytes.clone())
        .collect();
    // A tampered carried change fails its signature: the carrying change is refused.
    let create = p.change(&soup).unwrap().bytes.clone();
    let mut tampered = create.clone();
    let n = tampered.len() - 1;
    tampered[n] ^= 1;
    let bad = Carry {
        sources: vec![soup],
        into: None,
        title: "x".into(),
        changes: vec![tampered],
    };
    let err = f.act(vec![Op::CarryDocument(bad)], 11).unwrap_err();
    assert!(
        matches!(
            err,
            CommonsError::Change(
                ChangeError::Signature(_) | ChangeError::Malformed(_) | ChangeError::NonCanonical
            )
        ),
        "{err:?}"
    );
    // A change that does not touch the carried document is refused.
    let unrelated = Carry {
        sources: vec![soup],
        into: None,
        title: "x".into(),
        changes: vec![history[1].clone()],
    };
    assert!(matches!(
        f.act(vec![Op::CarryDocument(unrelated)], 11),
        Err(CommonsError::Change(ChangeError::InvalidOp(_)))
    ));
    // A valid carry by someone other than the fork's founder changes nothing.
    let mut mallory = Commons::join(f.id(), Some((Identity::from_secret([9; 32]), 9)));
    sync(&f, &mut mallory);
    let docs_before = mallory.documents().len();
    let sneaky = Carry {
        sources: vec![soup],
        into: None,
        title: "again".into(),
        changes: vec![create],
    };
    mallory.act(vec![Op::CarryDocument(sneaky)], 12).unwrap();
    assert_eq!(mallory.documents().len(), docs_before);
    sync(&mallory, &mut f);
    assert_eq!(f.documents().len(), docs_before);
    assert_eq!(f.state_hash(), mallory.state_hash());
}

#[test]
fn carried_history_survives_rebuilds_reverts_and_snapshots() {
    let (p, soup, _) = parent("CC-BY-SA-4.0");
    let forked = p
        .fork(
            ForkOptions {
                title: "F".into(),
                ..Default::default()
            },
            forker(),
            1,
            10,
        )
        .unwrap();
    let mut f = forked.commons;
    let fsoup = carried_doc(&f, &soup);
    let carried_text = f.text(&fsoup).unwrap();
    f.edit_text(&fsoup, 0, 0, "oops ").unwrap();
    let oops = f.flush(11).unwrap()[0].id;
    // A rebuild replays the carried history from the carry changes.
    f.rebuild_documents(&[oops].into());
    assert_eq!(f.text(&fsoup).unwrap(), carried_text);
    f.rebuild_documents(&Default::default());
    assert_eq!(f.text(&fsoup).unwrap(), format!("oops {carried_text}"));
    // Reverting an edit of a carried document computes its inverse over the carried history.
    f.revert(&oops, 12).unwrap();
    assert_eq!(f.text(&fsoup).unwrap(), carried_text);
    let credits = f.credits(&fsoup).unwrap();
    let portable_now = portable(credits.clone());
    assert!(portable_now
        .iter()
        .any(|a| a.0 == forker().author().to_hex() && a.3 == 0 && a.4 == 5));
    // Reopening from a snapshot does not apply the carried text twice.
    let stored: Vec<Vec<u8>> = f
        .changes_in_causal_order()
        .map(|c| c.bytes.clone())
        .collect();
    let snap = f.snapshot(stored.len() as u64);
    let back = Commons::restore(f.id(), None, Some(&snap), stored.iter().map(Vec::as_slice))
        .unwrap()
        .commons;
    assert_eq!(back.state_hash(), f.state_hash());
    assert_eq!(back.credits(&fsoup), f.credits(&fsoup));
    let cold = Commons::restore(f.id(), None, None, stored.iter().map(Vec::as_slice))
        .unwrap()
        .commons;
    assert_eq!(cold.state_hash(), f.state_hash());
}

#[test]
fn a_carry_change_carries_nothing_else() {
    let (p, soup, _) = parent("CC-BY-SA-4.0");
    let mut f = p
        .fork(
            ForkOptions {
                title: "F".into(),
                ..Default::default()
            },
            forker(),
            1,
            10,
        )
        .unwrap()
        .commons;
    let create = p.change(&soup).unwrap().bytes.clone();
    let carry = Carry {
        sources: vec![soup],
        into: None,
        title: "x".into(),
        changes: vec![create],
    };
    let mixed = vec![
        Op::CarryDocument(carry),
        Op::SetProfile { name: "x".into() },
    ];
    assert!(matches!(
        f.act(mixed, 11),
        Err(CommonsError::Change(ChangeError::InvalidOp(m))) if m.contains("only carry")
    ));
}

#[test]
fn a_fork_continues_the_charter_in_force_not_the_founding_one() {
    use peer_commons::change::{ProposalKind, VoteChoice};
    let (mut p, soup, _) = parent("CC-BY-SA-4.0");
    // Ana, the only member, passes a stricter quorum and a new purpose.
    let (quorum, _) = p
        .propose(
            ProposalKind::ChangeParameter {
                name: "quorum".into(),
                value: "2/3".into(),
            },
            "",
            20,
        )
        .unwrap();
    p.vote(&quorum, VoteChoice::Yes, 21).unwrap();
    let (purpose, _) = p
        .propose(
            ProposalKind::ChangeParameter {
                name: "purpose".into(),
                value: "Soups of the world".into(),
            },
            "",
            22,
        )
        .unwrap();
    p.vote(&purpose, VoteChoice::Yes, 23).unwrap();
    assert_eq!(p.charter().unwrap().quorum.value, "2/3");
    let opts = ForkOptions {
        title: "Soups".into(),
        documents: Some(vec![soup]),
        ..Default::default()
    };
    let forked = p.fork(opts, forker(), 1, 100).unwrap();
    let g = forked.commons.genesis_charter().unwrap();
    assert_eq!((g.params.quorum_num, g.params.quorum_den), (2, 3));
    assert_eq!(g.purpose, "Soups of the world");
    assert_eq!(forked.commons.charter().unwrap().quorum.value, "2/3");
}
