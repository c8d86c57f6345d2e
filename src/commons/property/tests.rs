use super::export::csv_field;
use super::ledger::shares;
use super::*;
use crate::change::{GovernanceParams, VoteChoice};
use crate::commons::CommonsError;
use crate::identity::Identity;

fn charter(licence: &str) -> Charter {
    Charter {
        title: "t".into(),
        purpose: "p".into(),
        licence: licence.into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

fn founded(licence: &str) -> Commons {
    Commons::create(Identity::from_secret([1; 32]), 1, charter(licence), 10)
        .unwrap()
        .0
}

fn replica(c: &Commons, secret: u8) -> Commons {
    let mut r = Commons::join(c.id(), Some((Identity::from_secret([secret; 32]), 7)));
    sync(c, &mut r);
    r
}

fn sync(from: &Commons, to: &mut Commons) {
    for ch in from.changes_in_causal_order() {
        to.insert(&ch.bytes).unwrap();
    }
}

fn count(s: &str, ch: char) -> u64 {
    s.chars().filter(|c| *c == ch).count() as u64
}

#[test]
fn unknown_licence_is_refused_at_creation_and_case_is_canonical() {
    let err = Commons::create(
        Identity::from_secret([1; 32]),
        1,
        charter("CC-BY-NC-4.0"),
        1,
    )
    .err()
    .unwrap();
    assert!(matches!(err, ChangeError::UnknownLicence(ref id, ref list)
        if id == "CC-BY-NC-4.0" && list.contains("CC-BY-SA-4.0")));
    let c = founded("cc0-1.0");
    assert_eq!(c.genesis_charter().unwrap().licence, "CC0-1.0");
    assert_eq!(c.licence().name, "Creative Commons Zero v1.0 Universal");
}

#[test]
fn surviving_characters_match_the_text() {
    let mut a = founded(DEFAULT_LICENCE);
    let doc = a.create_document("D", "aaaa", 11).unwrap()[0].id;
    let mut b = replica(&a, 2);
    b.edit_text(&doc, 2, 0, "bbb").unwrap();
    b.edit_text(&doc, 0, 1, "").unwrap();
    let cb = b.flush(12).unwrap();
    a.edit_text(&doc, 4, 0, "aa").unwrap();
    a.edit_text(&doc, 1, 2, "").unwrap(); // concurrent with b's edits
    let ca = a.flush(12).unwrap();
    for c in &cb {
        a.insert(&c.bytes).unwrap();
    }
    for c in &ca {
        b.insert(&c.bytes).unwrap();
    }
    let text = a.text(&doc).unwrap();
    assert_eq!(text, b.text(&doc).unwrap());
    let credits = a.credits(&doc).unwrap();
    assert_eq!(credits, b.credits(&doc).unwrap());
    let of = |who: &Commons| {
        let key = who.local_author().unwrap().to_hex();
        credits
            .authors
            .iter()
            .find(|c| c.author == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(of(&a).text.surviving, count(&text, 'a'));
    assert_eq!(of(&b).text.surviving, count(&text, 'b'));
    assert_eq!(of(&a).text.inserted, 6);
    assert_eq!(of(&b).text.inserted, 3);
    // b deleted one 'a'; a deleted two others.
    assert_eq!(of(&b).text.deleted, 1);
    assert_eq!(of(&a).text.deleted, 2);
    assert_eq!(credits.length, text.len() as u64);
    assert_eq!(credits.unattributed, 0);
}

#[test]
fn unflushed_typing_is_unattributed_until_signed() {
    let mut a = founded(DEFAULT_LICENCE);
    let doc = a.create_document("D", "xy", 11).unwrap()[0].id;
    a.edit_text(&doc, 2, 0, "zz").unwrap();
    assert_eq!(a.credits(&doc).unwrap().unattributed, 2);
    a.flush(12).unwrap();
    let c = a.credits(&doc).unwrap();
    assert_eq!((c.unattributed, c.authors[0].text.surviving), (0, 4));
}

#[test]
fn mark_licence_accepts_permissive_offers_of_own_changes_only() {
    let mut a = founded(DEFAULT_LICENCE);
    let doc = a.create_document("D", "x", 11).unwrap()[0].id;
    assert_eq!(
        a.mark_licence(&doc, "GPL-3.0-or-later", 12).unwrap_err(),
        PropertyError::IncompatibleOffer {
            offer: "GPL-3.0-or-later".into(),
            commons: "CC-BY-SA-4.0".into()
        }
    );
    assert!(matches!(
        a.mark_licence(&doc, "nope", 12),
        Err(PropertyError::UnknownLicence(_))
    ));
    a.mark_licence(&doc, "cc0-1.0", 12).unwrap();
    let mut b = replica(&a, 2);
    assert_eq!(
        b.mark_licence(&doc, "CC0-1.0", 13).unwrap_err(),
        PropertyError::NotYourChange
    );
    // A forged offer on someone else's change is ignored by every replica.
    b.act(
        vec![Op::MarkLicence {
            change: doc,
            spdx: "CC-BY-4.0".into(),
        }],
        13,
    )
    .unwrap();
    let hist = b.change_history(&doc);
    assert_eq!(hist[0].offered_licences, vec!["CC0-1.0".to_string()]);
}

#[test]
fn ledger_counts_social_acts_and_shares_sum_to_one() {
    let mut a = founded(DEFAULT_LICENCE);
    let doc = a.create_document("D", "hello", 11).unwrap()[0].id;
    let mut b = replica(&a, 2);
    let comment = b
        .act(
            vec![Op::Comment {
                doc,
                text: "nice".into(),
            }],
            12,
        )
        .unwrap()[0]
        .id;
    // b is no member yet: this endorsement validates nothing.
    b.act(vec![Op::Endorse { change: doc }], 13).unwrap();
    b.act(vec![Op::Endorse { change: comment }], 13).unwrap(); // own change: never counts
    sync(&b, &mut a);
    for _ in 0..2 {
        // The same pair twice counts once.
        a.act(vec![Op::Endorse { change: comment }], 14).unwrap();
    }
    sync(&a, &mut b);
    // Endorsed by the founder while there are fewer than 3 members, b is a member now.
    b.act(vec![Op::Endorse { change: doc }], 15).unwrap();
    let prop = b
        .act(
            vec![Op::Propose {
                kind: crate::change::ProposalKind::Decision,
                text: "x".into(),
            }],
            16,
        )
        .unwrap()[0]
        .id;
    for choice in [VoteChoice::Yes, VoteChoice::No] {
        b.act(
            vec![Op::Vote {
                proposal: prop,
                choice,
            }],
            17,
        )
        .unwrap();
    }
    sync(&b, &mut a);
    let l = a.ledger();
    assert_eq!(l, b.ledger());
    let row = |c: &Commons| {
        let k = c.local_author().unwrap().to_hex();
        l.rows.iter().find(|r| r.author == k).cloned().unwrap()
    };
    let (ra, rb) = (row(&a), row(&b));
    assert_eq!(
        (ra.documents_created, ra.surviving, ra.text_share_ppm),
        (1, 5, 1_000_000)
    );
    assert_eq!((ra.endorsements_given, ra.endorsements_received), (1, 1));
    assert_eq!((rb.endorsements_given, rb.endorsements_received), (1, 1));
    assert_eq!((rb.comments, rb.proposals, rb.votes), (1, 1, 1));
    assert_eq!((ra.changes, rb.changes), (4, 7));
    assert_eq!(
        (ra.participant_since, ra.member_since),
        (Some(10), Some(10))
    );
    assert_eq!(
        (rb.participant_since, rb.member_since),
        (Some(12), Some(14))
    );
    let total: u64 = l.rows.iter().map(|r| r.contribution_share_ppm).sum();
    assert_eq!(total, 1_000_000);
    // Kinds of work done: writing (all a), discussion (all b), review (half each), governance
    // (all b): a = (1 + 0 + 1/2 + 0) / 4, b = (0 + 1 + 1/2 + 1) / 4.
    assert_eq!(
        (ra.contribution_share_ppm, rb.contribution_share_ppm),
        (375_000, 625_000)
    );
    assert_eq!(l.rows[0].author, rb.author, "largest share first");
    // The history shows the governance verdict: the comment is endorsed by a member.
    let hist = a.change_history(&doc);
    let c = hist.iter().find(|h| h.change == comment.to_hex()).unwrap();
    assert_eq!(c.validation.status, ValidationStatus::Endorsed);
    assert_eq!(c.validation.endorsed_by, vec![ra.author.clone()]);
}

#[test]
fn shares_apportion_exactly() {
    assert_eq!(shares(&[1, 1, 1]), vec![333_334, 333_333, 333_333]);
    assert_eq!(shares(&[0, 0]), vec![0, 0]);
    assert_eq!(shares(&[2, 1]).iter().sum::<u64>(), 1_000_000);
}

#[test]
fn csv_fields_are_escaped_and_formulas_neutralised() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
}

#[test]
fn ledger_is_in_the_state_hash() {
    let mut a = founded(DEFAULT_LICENCE);
    let doc = a.create_document("D", "x", 11).unwrap()[0].id;
    let before = a.state_hash();
    let d1 = a.ledger_digest();
    let mut b = replica(&a, 2);
    b.act(vec![Op::Endorse { change: doc }], 12).unwrap();
    sync(&b, &mut a);
    assert_ne!(a.ledger_digest(), d1);
    assert_ne!(a.state_hash(), before);
    assert_eq!(a.state_hash(), b.state_hash());
}

#[test]
fn read_only_replica_edit_is_refused_in_mark_licence() {
    let a = founded(DEFAULT_LICENCE);
    let mut ro = Commons::join(a.id(), None);
    sync(&a, &mut ro);
    let err = ro.mark_licence(&a.id(), "CC0-1.0", 1).unwrap_err();
    assert_eq!(err, PropertyError::NotYourChange);
    let _ = CommonsError::ReadOnly;
}
