//! Scenario tests of peer governance (issue 7, item 6): sybils, late joiners, blocks, vandalism
//! reverted and restored, and a founder who cannot override the members.

mod governance_support;

use governance_support::*;
use peer_commons::change::{ChangeId, Op, ProposalKind, VoteChoice};
use peer_commons::commons::governance::{Outcome, ValidationState, VoteNote};
use peer_commons::commons::Commons;
use peer_commons::identity::AuthorId;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn me(c: &Commons) -> AuthorId {
    c.local_author().expect("writer")
}

fn say(c: &mut Commons, what: &str) -> ChangeId {
    c.act(vec![Op::SetProfile { name: what.into() }], 1)
        .expect("act")
        .last()
        .expect("one change")
        .id
}

fn raw_vote(c: &mut Commons, p: ChangeId, choice: VoteChoice) -> ChangeId {
    c.act(
        vec![Op::Vote {
            proposal: p,
            choice,
        }],
        9,
    )
    .expect("act")
    .last()
    .expect("one change")
    .id
}

/// A founder and two members (bootstrapped by the founder's endorsements), all synced.
fn three_members() -> (Commons, Commons, Commons) {
    let mut f = founder();
    let mut a = join(&f, 2);
    let mut b = join(&f, 3);
    let ca = say(&mut a, "Ana");
    let cb = say(&mut b, "Bo");
    sync(&a, &mut f);
    sync(&b, &mut f);
    f.endorse(&ca, 2).expect("endorse");
    f.endorse(&cb, 2).expect("endorse");
    sync(&f, &mut a);
    sync(&f, &mut b);
    assert_eq!(f.members().len(), 3);
    (f, a, b)
}

fn everyone_agrees(replicas: &mut [&mut Commons]) {
    let all = union(&replicas.iter().map(|r| &**r).collect::<Vec<_>>());
    for r in replicas.iter_mut() {
        for c in &all {
            r.insert(&c.bytes).expect("valid");
        }
    }
    let first = snapshot(replicas[0]);
    for r in replicas.iter().skip(1) {
        assert_same(&snapshot(r), &first, "replicas disagree");
    }
}

#[test]
fn sybils_that_endorse_each_other_never_become_members_nor_swing_a_vote() {
    let (mut f, mut a, mut b) = three_members();
    let mut sybils: Vec<Commons> = (20..26).map(|s| join(&f, s)).collect();
    let posts: Vec<ChangeId> = sybils.iter_mut().map(|s| say(s, "sybil")).collect();
    // Every sybil endorses every other sybil's post.
    for i in 0..sybils.len() {
        for j in 0..sybils.len() {
            let (src, dst) = (j, i);
            if src != dst {
                let post = posts[src];
                let from = sybils[src]
                    .changes_in_causal_order()
                    .cloned()
                    .collect::<Vec<_>>();
                for c in from {
                    sybils[dst].insert(&c.bytes).expect("valid");
                }
                sybils[dst].endorse(&post, 3).expect("endorse");
            }
        }
    }
    // One real member is fooled into endorsing one sybil: still not enough (2 needed now).
    for s in &sybils {
        sync(s, &mut a);
    }
    a.endorse(&posts[0], 4).expect("endorse");
    for s in &sybils {
        sync(s, &mut f);
    }
    sync(&a, &mut f);
    for s in &sybils {
        assert!(!f.governance().is_member(&me(s)), "a sybil became a member");
        let v = f.validation(&posts[1]).expect("held");
        assert!(v.endorsements.iter().all(|e| !e.counted));
    }
    assert_eq!(f.members().len(), 3);
    // A proposal of the members: the sybils' yes votes do not count.
    let (p, _) = f
        .propose(ProposalKind::Decision, "close the commons", 5)
        .expect("propose");
    sync(&f, &mut b);
    b.vote(&p, VoteChoice::No, 6).expect("vote");
    for s in sybils.iter_mut() {
        sync(&f, s);
        raw_vote(s, p, VoteChoice::Yes);
        assert_eq!(
            s.vote(&p, VoteChoice::Yes, 7).unwrap_err().to_string(),
            "you may not vote on this proposal: its electorate is the members in its causal past, and you were not one"
        );
    }
    for s in &sybils {
        sync(s, &mut f);
    }
    sync(&b, &mut f);
    let view = f.governance().proposal(&p).expect("proposal");
    assert_eq!(view.yes, 0);
    assert!(view
        .votes
        .iter()
        .filter(|v| v.choice == "yes")
        .all(|v| v.note == VoteNote::NotInElectorate));
    // The sybils' own block of the founder never passes either.
    let mut s0 = sybils.remove(0);
    let (blk, _) = s0
        .propose(ProposalKind::Block { key: me(&f) }, "coup", 8)
        .expect("propose");
    for s in sybils.iter_mut() {
        sync(&s0, s);
        raw_vote(s, blk, VoteChoice::Yes);
        sync(s, &mut f);
    }
    sync(&s0, &mut f);
    assert_eq!(f.governance().outcome(&blk), Some(Outcome::Open));
    assert!(f.blocked_keys().is_empty());
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut s0];
    refs.extend(sybils.iter_mut());
    everyone_agrees(&mut refs);
}

#[test]
fn a_proposal_cannot_be_passed_by_keys_that_joined_after_it() {
    let (mut f, mut a, mut b) = three_members();
    let (p, _) = b
        .propose(ProposalKind::Decision, "move the meeting", 3)
        .expect("propose");
    sync(&b, &mut f);
    sync(&b, &mut a);
    // Three newcomers join after the proposal and are properly endorsed by two members each.
    let mut newcomers: Vec<Commons> = (30..33).map(|s| join(&f, s)).collect();
    for n in newcomers.iter_mut() {
        let c = say(n, "new");
        sync(n, &mut f);
        sync(n, &mut a);
        f.endorse(&c, 4).expect("endorse");
        a.endorse(&c, 4).expect("endorse");
    }
    sync(&a, &mut f);
    for n in &newcomers {
        assert!(f.governance().is_member(&me(n)), "newcomer is a member now");
    }
    assert_eq!(f.governance().proposal(&p).expect("p").electorate.len(), 3);
    // The founder votes no; the newcomers vote yes: their votes do not count.
    f.vote(&p, VoteChoice::No, 5).expect("vote");
    for n in newcomers.iter_mut() {
        sync(&f, n);
        raw_vote(n, p, VoteChoice::Yes);
        sync(n, &mut f);
    }
    let view = f.governance().proposal(&p).expect("p");
    assert_eq!((view.yes, view.no), (0, 1));
    assert_eq!(view.outcome, Outcome::Open);
    // A proposal made after they joined counts them.
    let (p2, _) = f
        .propose(ProposalKind::Decision, "welcome", 6)
        .expect("propose");
    assert_eq!(
        f.governance().proposal(&p2).expect("p2").electorate.len(),
        6
    );
    // A member endorsed concurrently with the proposal (not in its causal past) votes: the
    // electorate is not what the proposer cites, so a proposer cannot leave a member out by
    // citing old changes (docs/GOVERNANCE.md, Part 2 §3).
    let mut c = join(&f, 40);
    let cc = say(&mut c, "c");
    sync(&c, &mut a);
    sync(&c, &mut b);
    let (p3, _) = a.propose(ProposalKind::Decision, "p3", 7).expect("propose");
    b.endorse(&cc, 7).expect("endorse");
    sync(&c, &mut f);
    f.endorse(&cc, 7).expect("endorse");
    sync(&a, &mut f);
    sync(&b, &mut f);
    assert!(f.governance().is_member(&me(&c)));
    assert!(f
        .governance()
        .proposal(&p3)
        .expect("p3")
        .electorate
        .iter()
        .any(|e| e.key == me(&c)));
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut c];
    refs.extend(newcomers.iter_mut());
    everyone_agrees(&mut refs);
}

#[test]
fn a_blocked_keys_later_edits_are_not_applied_anywhere_and_earlier_ones_stay_attributed() {
    let (mut f, mut a, mut b) = three_members();
    let doc = f
        .create_document("Charter", "We share.", 2)
        .expect("doc")
        .last()
        .expect("change")
        .id;
    let mut k = join(&f, 50);
    k.edit_text(&doc, 9, 0, " Really.").expect("edit");
    let early = k.flush(3).expect("flush").pop().expect("change").id;
    let early_title = k
        .act(
            vec![Op::RetitleDocument {
                doc,
                title: "Our charter".into(),
            }],
            3,
        )
        .expect("retitle");
    for r in [&mut f, &mut a, &mut b] {
        sync(&k, r);
    }
    let (blk, _) = a
        .propose(ProposalKind::Block { key: me(&k) }, "spam", 4)
        .expect("propose");
    // The key keeps going, concurrently with the vote: edits, a title, a task, an endorsement,
    // a proposal and a vote. Some reach b before the block passes.
    k.edit_text(&doc, 0, 0, "SPAM ").expect("edit");
    let late = k.flush(5).expect("flush").pop().expect("change").id;
    k.act(
        vec![Op::RetitleDocument {
            doc,
            title: "SPAM".into(),
        }],
        5,
    )
    .expect("retitle");
    let (kp, _) = k
        .propose(ProposalKind::Decision, "k's idea", 5)
        .expect("propose");
    sync(&k, &mut b);
    assert!(b.text(&doc).expect("doc").starts_with("SPAM "));
    sync(&a, &mut b);
    sync(&a, &mut f);
    a.vote(&blk, VoteChoice::Yes, 6).expect("vote");
    sync(&a, &mut f);
    f.vote(&blk, VoteChoice::Yes, 6).expect("vote");
    // After the block: the key votes on an older open proposal; it must not count.
    let (older, _) = b
        .propose(ProposalKind::Decision, "older", 6)
        .expect("propose");
    sync(&b, &mut k);
    sync(&f, &mut k);
    let after_vote = raw_vote(&mut k, older, VoteChoice::Yes);
    k.edit_text(&doc, 0, 0, "MORE ").expect("edit");
    let later = k.flush(7).expect("flush").pop().expect("change").id;
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut k];
    everyone_agrees(&mut refs);
    for r in [&f, &a, &b, &k] {
        assert!(r.governance().outcome(&blk).expect("blk").passed());
        assert_eq!(r.text(&doc).expect("doc"), "We share. Really.");
        assert_eq!(r.document(&doc).expect("doc").title(), "Our charter");
        for c in [late, later, after_vote, kp] {
            assert!(r.governance().is_excluded(&c));
        }
        assert!(!r.governance().is_excluded(&early));
        assert!(
            r.governance().proposal(&kp).is_none(),
            "the key's late proposal is left out"
        );
        let hist = r.history(&doc);
        assert!(hist.iter().any(|h| h.change == early && h.author == me(&k)));
        assert!(!hist.iter().any(|h| h.change == late));
        assert_eq!(
            r.validation(&early).expect("early").state,
            ValidationState::Unvalidated
        );
        assert!(r.validation(&late).expect("late").excluded);
        let older_view = r.governance().proposal(&older).expect("older");
        assert!(older_view
            .votes
            .iter()
            .any(|v| v.change == after_vote && v.note == VoteNote::Excluded));
        let p = r
            .participant_views()
            .into_iter()
            .find(|p| p.key == me(&k))
            .expect("still a participant");
        assert!(p.blocked && !p.member);
        assert_eq!(
            p.changes, 2,
            "the early edit and title count; nothing after the block"
        );
    }
    assert_eq!(early_title.len(), 1);
}

#[test]
fn a_vandals_edit_reverted_by_a_member_is_gone_everywhere_and_reverting_the_revert_brings_it_back()
{
    let (mut f, mut a, mut b) = three_members();
    let doc = a
        .create_document("Recipe", "Flour, water, salt.", 2)
        .expect("doc")
        .last()
        .expect("change")
        .id;
    let mut v = join(&a, 60);
    v.edit_text(&doc, 0, 5, "Sawdust").expect("edit");
    let vandal = v.flush(3).expect("flush").pop().expect("change").id;
    sync(&v, &mut b);
    // b keeps editing after the vandalism (its edit must survive the revert).
    let end = b.document(&doc).expect("doc").len_utf16();
    b.edit_text(&doc, end, 0, " Knead.").expect("edit");
    b.flush(4).expect("flush");
    sync(&b, &mut a);
    assert_eq!(a.text(&doc).expect("doc"), "Sawdust, water, salt. Knead.");
    let revert = a
        .revert(&vandal, 5)
        .expect("revert")
        .pop()
        .expect("change")
        .id;
    assert_eq!(a.text(&doc).expect("doc"), "Flour, water, salt. Knead.");
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut v];
    everyone_agrees(&mut refs);
    for r in [&f, &a, &b, &v] {
        assert_eq!(r.text(&doc).expect("doc"), "Flour, water, salt. Knead.");
        let val = r.validation(&vandal).expect("held");
        assert_eq!(val.state, ValidationState::Reverted);
        assert_eq!(val.reverted_by, Some(revert));
        // The revert is authored by the reverter: history is not rewritten.
        assert_eq!(r.change(&revert).expect("held").body.author, me(&a));
        assert!(r.history(&doc).iter().any(|h| h.change == vandal));
    }
    // Another member reverts the revert: the vandal's text is back everywhere.
    let unrevert = b
        .revert(&revert, 6)
        .expect("revert")
        .pop()
        .expect("change")
        .id;
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut v];
    everyone_agrees(&mut refs);
    for r in [&f, &a, &b, &v] {
        assert_eq!(r.text(&doc).expect("doc"), "Sawdust, water, salt. Knead.");
        assert_ne!(
            r.validation(&vandal).expect("held").state,
            ValidationState::Reverted
        );
        assert_eq!(
            r.validation(&revert).expect("held").reverted_by,
            Some(unrevert)
        );
    }
    // A fresh replica, fed the changes in a random order, sees the same.
    let all = union(&[&f]);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let fresh = shuffled_replica(f.id(), &all, &mut rng);
    assert_eq!(
        fresh.text(&doc).expect("doc"),
        "Sawdust, water, salt. Knead."
    );
    assert_eq!(fresh.state_hash(), f.state_hash());
}

#[test]
fn the_founder_cannot_override_a_passed_vote() {
    let (mut f, mut a, mut b) = three_members();
    let mut k = join(&f, 70);
    say(&mut k, "troll");
    sync(&k, &mut a);
    let (blk, _) = a
        .propose(ProposalKind::Block { key: me(&k) }, "troll", 3)
        .expect("propose");
    sync(&a, &mut b);
    a.vote(&blk, VoteChoice::Yes, 4).expect("vote");
    sync(&a, &mut b);
    b.vote(&blk, VoteChoice::Yes, 4).expect("vote");
    sync(&b, &mut f);
    assert!(f.governance().outcome(&blk).expect("blk").passed());
    // The founder's client refuses a late vote; a modified client's vote changes nothing.
    assert!(f.vote(&blk, VoteChoice::No, 5).is_err());
    raw_vote(&mut f, blk, VoteChoice::No);
    assert!(f.governance().outcome(&blk).expect("blk").passed());
    // The founder alone cannot unblock: one half of 3 members is 1.5, so 2 yes-votes are needed.
    let (unblock, _) = f
        .propose(ProposalKind::Unblock { key: me(&k) }, "my friend", 6)
        .expect("propose");
    f.vote(&unblock, VoteChoice::Yes, 6).expect("vote");
    assert_eq!(f.governance().outcome(&unblock), Some(Outcome::Open));
    assert!(f.governance().is_blocked(&me(&k)));
    // Nor change the rules alone, nor the licence away from share-alike.
    let (rule, _) = f
        .propose(
            ProposalKind::ChangeParameter {
                name: "quorum".into(),
                value: "0/1".into(),
            },
            "",
            7,
        )
        .expect("propose");
    f.vote(&rule, VoteChoice::Yes, 7).expect("vote");
    assert_eq!(f.charter().expect("charter").quorum.value, "1/2");
    assert!(f
        .propose(
            ProposalKind::ChangeLicence {
                spdx: "CC0-1.0".into()
            },
            "",
            8
        )
        .is_err());
    // The members vote the unblock down; the founder's later yes does not revive it.
    sync(&f, &mut a);
    sync(&f, &mut b);
    a.vote(&unblock, VoteChoice::No, 9).expect("vote");
    sync(&a, &mut b);
    b.vote(&unblock, VoteChoice::No, 9).expect("vote");
    sync(&b, &mut f);
    assert!(matches!(
        f.governance().outcome(&unblock),
        Some(Outcome::Failed { .. })
    ));
    raw_vote(&mut f, unblock, VoteChoice::Yes);
    assert!(matches!(
        f.governance().outcome(&unblock),
        Some(Outcome::Failed { .. })
    ));
    let mut refs: Vec<&mut Commons> = vec![&mut f, &mut a, &mut b, &mut k];
    everyone_agrees(&mut refs);
    let blocked: Vec<AuthorId> = f.blocked_keys().iter().map(|b| b.key).collect();
    assert_eq!(blocked, vec![me(&k)]);
}
