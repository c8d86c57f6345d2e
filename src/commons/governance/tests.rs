//! Unit tests of governance through replicas (scenario tests live in tests/governance_*.rs).

use crate::change::{Change, ChangeId, Charter, GovernanceParams, ProposalKind, VoteChoice};
use crate::commons::governance::{ValidationState, VoteNote};
use crate::commons::Commons;
use crate::identity::{AuthorId, Identity};

fn charter() -> Charter {
    Charter {
        title: "t".into(),
        purpose: "p".into(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

fn founder() -> Commons {
    Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0)
        .unwrap()
        .0
}

fn join(c: &Commons, secret: u8) -> Commons {
    let mut r = Commons::join(
        c.id(),
        Some((Identity::from_secret([secret; 32]), u32::from(secret))),
    );
    sync(c, &mut r);
    r
}

/// Delivers every change `from` holds to `to`.
fn sync(from: &Commons, to: &mut Commons) {
    let all: Vec<Change> = from.changes_in_causal_order().cloned().collect();
    for c in all {
        to.insert(&c.bytes).unwrap();
    }
}

fn me(c: &Commons) -> AuthorId {
    c.local_author().unwrap()
}

fn post(c: &mut Commons, what: &str) -> ChangeId {
    c.act(vec![crate::change::Op::SetProfile { name: what.into() }], 1)
        .unwrap()
        .last()
        .unwrap()
        .id
}

#[test]
fn bootstrap_then_two_endorsements() {
    let mut f = founder();
    let mut b = join(&f, 2);
    let mut c = join(&f, 3);
    let mut d = join(&f, 4);
    let cb = post(&mut b, "b");
    let cc = post(&mut c, "c");
    let cd = post(&mut d, "d");
    for r in [&b, &c, &d] {
        sync(r, &mut f);
    }
    f.endorse(&cb, 2).unwrap();
    assert!(
        f.governance().is_member(&me(&b)),
        "1 endorsement while fewer than 3 members"
    );
    f.endorse(&cc, 3).unwrap();
    assert!(f.governance().is_member(&me(&c)));
    f.endorse(&cd, 4).unwrap();
    assert!(
        !f.governance().is_member(&me(&d)),
        "3 members now: 2 endorsements needed"
    );
    let v = f.validation(&cd).unwrap();
    assert_eq!(v.state, ValidationState::Endorsed);
    sync(&f, &mut b);
    b.endorse(&cd, 5).unwrap();
    assert!(b.governance().is_member(&me(&d)));
    let m = b.governance().member(&me(&d)).unwrap().clone();
    assert_eq!(m.endorsers.len(), 2);
    assert_eq!(b.members().len(), 4);
    // Order independence: a fresh replica fed in reverse causal order agrees.
    let mut late = Commons::join(f.id(), None);
    let all: Vec<Change> = b.changes_in_causal_order().cloned().collect();
    for ch in all.iter().rev() {
        late.insert(&ch.bytes).unwrap();
    }
    assert_eq!(late.state_hash(), b.state_hash());
    assert_eq!(late.members(), b.members());
}

#[test]
fn proposal_passes_and_founder_cannot_override() {
    let mut f = founder();
    let mut b = join(&f, 2);
    let cb = post(&mut b, "b");
    sync(&b, &mut f);
    f.endorse(&cb, 2).unwrap();
    let mut c = join(&f, 3);
    let cc = post(&mut c, "c");
    sync(&c, &mut f);
    f.endorse(&cc, 3).unwrap();
    sync(&f, &mut b);
    sync(&f, &mut c);
    let (p, _) = b
        .propose(ProposalKind::Decision, "paint it green", 4)
        .unwrap();
    let view = b.governance().proposal(&p).unwrap();
    assert_eq!(view.electorate.len(), 3);
    assert_eq!(view.quorum_weight, 2);
    b.vote(&p, VoteChoice::Yes, 5).unwrap();
    sync(&b, &mut c);
    c.vote(&p, VoteChoice::Yes, 6).unwrap();
    assert!(c.governance().outcome(&p).unwrap().passed());
    sync(&c, &mut f);
    // The founder is one vote among others: voting no after the decision changes nothing, and
    // the replica refuses to cast it.
    assert_eq!(
        f.vote(&p, VoteChoice::No, 7).unwrap_err(),
        super::GovernanceError::Decided("passed")
    );
    let forced = f
        .act(
            vec![crate::change::Op::Vote {
                proposal: p,
                choice: VoteChoice::No,
            }],
            7,
        )
        .unwrap();
    assert_eq!(forced.len(), 1);
    let view = f.governance().proposal(&p).unwrap();
    assert!(view.outcome.passed());
    assert_eq!(view.votes.last().unwrap().note, VoteNote::AfterDecision);
    sync(&f, &mut b);
    assert_eq!(b.state_hash(), f.state_hash());
}

#[test]
fn revert_and_revert_of_revert_restore_text() {
    let mut f = founder();
    let doc = f
        .create_document("D", "hello world", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let mut v = join(&f, 9);
    v.edit_text(&doc, 5, 6, " VANDAL").unwrap();
    let vandal = v.flush(2).unwrap().pop().unwrap().id;
    sync(&v, &mut f);
    f.edit_text(&doc, 0, 0, ">").unwrap();
    assert_eq!(f.text(&doc).unwrap(), ">hello VANDAL");
    let r1 = f.revert(&vandal, 3).unwrap();
    assert_eq!(f.text(&doc).unwrap(), ">hello world");
    assert_eq!(r1.len(), 2, "flushed typing, then the revert");
    let r1 = r1.last().unwrap().id;
    assert_eq!(
        f.validation(&vandal).unwrap().state,
        ValidationState::Reverted
    );
    assert_eq!(
        f.revert(&vandal, 4).unwrap_err(),
        super::GovernanceError::AlreadyReverted
    );
    sync(&f, &mut v);
    assert_eq!(v.text(&doc).unwrap(), ">hello world");
    let _r2 = f.revert(&r1, 5).unwrap();
    assert_eq!(f.text(&doc).unwrap(), ">hello VANDAL");
    assert_ne!(
        f.validation(&vandal).unwrap().state,
        ValidationState::Reverted
    );
    // Reverting the change again undoes the re-done text.
    f.revert(&vandal, 6).unwrap();
    assert_eq!(f.text(&doc).unwrap(), ">hello world");
    sync(&f, &mut v);
    assert_eq!(v.text(&doc).unwrap(), ">hello world");
    assert_eq!(v.state_hash(), f.state_hash());
    // A non-member cannot revert.
    assert_eq!(
        v.revert(&doc, 7).unwrap_err(),
        super::GovernanceError::NotAMember("revert")
    );
}

#[test]
fn reverted_title_and_task_claim_stop_counting() {
    let mut f = founder();
    let doc = f
        .create_document("Title", "x", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let task = f
        .act(
            vec![crate::change::Op::PostTask {
                title: "t".into(),
                description: String::new(),
                skills: vec![],
            }],
            1,
        )
        .unwrap()
        .last()
        .unwrap()
        .id;
    let mut v = join(&f, 9);
    let bad = v
        .act(
            vec![
                crate::change::Op::RetitleDocument {
                    doc,
                    title: "spam".into(),
                },
                crate::change::Op::ClaimTask { task },
            ],
            2,
        )
        .unwrap()
        .last()
        .unwrap()
        .id;
    sync(&v, &mut f);
    assert_eq!(f.document(&doc).unwrap().title(), "spam");
    let r = f.revert(&bad, 3).unwrap().last().unwrap().id;
    assert_eq!(f.document(&doc).unwrap().title(), "Title");
    assert_eq!(
        f.task(&task).unwrap().status(),
        crate::commons::TaskStatus::Open
    );
    f.revert(&r, 4).unwrap();
    assert_eq!(f.document(&doc).unwrap().title(), "spam");
    assert!(matches!(
        f.task(&task).unwrap().status(),
        crate::commons::TaskStatus::Claimed(_)
    ));
    let mut late = Commons::join(f.id(), None);
    sync(&f, &mut late);
    assert_eq!(late.state_hash(), f.state_hash());
}

#[test]
fn block_leaves_out_later_changes_and_keeps_earlier_ones() {
    let mut f = founder();
    let doc = f
        .create_document("D", "base", 1)
        .unwrap()
        .last()
        .unwrap()
        .id;
    let mut b = join(&f, 2);
    let cb = post(&mut b, "b");
    sync(&b, &mut f);
    f.endorse(&cb, 2).unwrap();
    let mut k = join(&f, 7);
    k.edit_text(&doc, 4, 0, " early").unwrap();
    let early = k.flush(3).unwrap().pop().unwrap().id;
    sync(&k, &mut f);
    let (p, _) = f
        .propose(ProposalKind::Block { key: me(&k) }, "vandal", 4)
        .unwrap();
    // The vandal keeps writing, concurrently with the vote.
    k.edit_text(&doc, 0, 0, "LATE ").unwrap();
    let late_edit = k.flush(5).unwrap().pop().unwrap().id;
    sync(&k, &mut f);
    assert_eq!(f.text(&doc).unwrap(), "LATE base early");
    f.vote(&p, VoteChoice::Yes, 6).unwrap();
    assert!(f.governance().outcome(&p).unwrap().passed());
    assert_eq!(f.text(&doc).unwrap(), "base early");
    assert!(f.governance().is_excluded(&late_edit));
    assert!(!f.governance().is_excluded(&early));
    assert_eq!(f.blocked_keys()[0].key, me(&k));
    assert!(
        f.participants().contains_key(&me(&k)),
        "earlier changes stay attributed"
    );
    // Any replica, any order.
    let mut other = Commons::join(f.id(), None);
    let all: Vec<Change> = f.changes_in_causal_order().cloned().collect();
    for ch in all.iter().rev() {
        other.insert(&ch.bytes).unwrap();
    }
    assert_eq!(other.text(&doc).unwrap(), "base early");
    assert_eq!(other.state_hash(), f.state_hash());
    // Unblocking lets later changes (made after the unblock) in; those made while blocked stay out.
    let (u, _) = f
        .propose(ProposalKind::Unblock { key: me(&k) }, "sorry", 7)
        .unwrap();
    sync(&f, &mut b);
    b.vote(&u, VoteChoice::Yes, 8).unwrap();
    sync(&b, &mut f);
    assert!(
        f.governance().outcome(&u).unwrap().passed(),
        "1 of 2 reaches one half"
    );
    assert_eq!(
        f.vote(&u, VoteChoice::Yes, 9).unwrap_err(),
        super::GovernanceError::Decided("passed")
    );
    assert!(f.blocked_keys().is_empty());
    assert!(f.governance().is_excluded(&late_edit));
    sync(&f, &mut k);
    k.edit_text(&doc, 0, 0, "ok ").unwrap();
    k.flush(10).unwrap();
    sync(&k, &mut f);
    assert_eq!(f.text(&doc).unwrap(), "ok base early");
}

#[test]
fn parameter_change_applies_to_later_proposals_only() {
    let mut f = founder();
    let (p, _) = f
        .propose(
            ProposalKind::ChangeParameter {
                name: "quorum".into(),
                value: "1/1".into(),
            },
            "unanimity",
            1,
        )
        .unwrap();
    let (before, _) = f.propose(ProposalKind::Decision, "before", 2).unwrap();
    f.vote(&p, VoteChoice::Yes, 3).unwrap();
    let ch = f.charter().unwrap();
    assert_eq!(ch.quorum.value, "1/1");
    assert_eq!(ch.quorum.set_by, Some(p));
    let (after, _) = f.propose(ProposalKind::Decision, "after", 4).unwrap();
    let pv = f.governance().proposal(&before).unwrap();
    assert_eq!((pv.quorum_num, pv.quorum_den), (1, 2));
    let av = f.governance().proposal(&after).unwrap();
    assert_eq!((av.quorum_num, av.quorum_den), (1, 1));
    assert!(matches!(
        f.propose(
            ProposalKind::ChangeParameter {
                name: "admin".into(),
                value: "me".into()
            },
            "",
            5
        ),
        Err(super::GovernanceError::InvalidParameter(_))
    ));
    assert!(matches!(
        f.propose(ProposalKind::ChangeLicence { spdx: "MIT".into() }, "", 5),
        Err(super::GovernanceError::Licence(_))
    ));
    let (l, _) = f
        .propose(
            ProposalKind::ChangeLicence {
                spdx: "GPL-3.0-or-later".into(),
            },
            "",
            6,
        )
        .unwrap();
    f.vote(&l, VoteChoice::Yes, 7).unwrap();
    assert_eq!(f.governance().licence(), "GPL-3.0-or-later");
    assert_eq!(f.charter().unwrap().licence.set_by, Some(l));
}
