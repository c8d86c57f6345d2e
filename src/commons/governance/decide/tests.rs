//! Unit tests of the capture-proof decision: per-vote tallies, acknowledgements, equivocators.

use super::*;
use crate::change::{ProposalKind, VoteWeight};

fn a(n: u8) -> AuthorId {
    AuthorId([n; 32])
}

fn cid(n: u8) -> ChangeId {
    ChangeId([n; 32])
}

/// A proposal (anchor 0) with `n` electors of weight 1, and a reach where each vote follows
/// the previous one unless `deps` says otherwise.
struct Fixture {
    p: Proposal,
    el: Arc<Electorate>,
    reach: Reach,
    anchors: HashMap<AuthorId, Vec<u32>>,
}

impl Fixture {
    fn new(n: u8, quorum: (u32, u32)) -> Self {
        let mut reach = Reach::default();
        reach.add(cid(0), &[], true, false);
        let p = Proposal {
            id: cid(0),
            author: a(0),
            stamp: (1, cid(0)),
            anchor: 0,
            time: 0,
            kind: ProposalKind::Decision,
            text: String::new(),
            quorum,
            weight: VoteWeight::Equal,
            void: None,
            votes: vec![],
            conc: vec![],
        };
        let weights: BTreeMap<AuthorId, u64> = (0..n).map(|i| (a(i), 1)).collect();
        let el = Arc::new(Electorate {
            total: weights.len() as u64,
            weights,
        });
        Fixture {
            p,
            el,
            reach,
            anchors: HashMap::new(),
        }
    }

    /// A vote by `who` as change `id`, citing `deps` (change ids).
    fn vote(&mut self, id: u8, deps: &[u8], depth: u64, who: u8, choice: VoteChoice) {
        let deps: Vec<ChangeId> = deps.iter().map(|d| cid(*d)).collect();
        let anchor = self.reach.add(cid(id), &deps, true, false);
        if let Some(x) = anchor {
            self.anchors.entry(a(who)).or_default().push(x);
        }
        self.p.add_vote(VoteRec {
            stamp: (depth, cid(id)),
            op: 0,
            change: cid(id),
            voter: a(who),
            choice,
            anchor,
        });
    }

    fn decide(&self) -> Tally {
        let cv = CutView {
            reach: &self.reach,
            anchors_of: &self.anchors,
            cut: Cut::All,
        };
        decide(&self.p, self.el.clone(), &cv, |_| true, true)
    }
}

#[test]
fn passes_at_quorum_and_later_votes_change_nothing() {
    let mut f = Fixture::new(4, (1, 2));
    f.vote(2, &[0], 1, 0, VoteChoice::Yes);
    assert_eq!(f.decide().outcome, Outcome::Open);
    f.vote(3, &[2], 2, 1, VoteChoice::Yes);
    f.vote(4, &[3], 3, 0, VoteChoice::No);
    f.vote(5, &[4], 4, 2, VoteChoice::No);
    let t = f.decide();
    assert_eq!(t.outcome, Outcome::Passed { at: cid(3) });
    assert_eq!(t.notes[2], VoteNote::AfterDecision);
    assert_eq!((t.yes, t.no), (2, 0));
    assert_eq!(f.p.quorum_weight(f.el.total), 2);
}

#[test]
fn ties_fail_and_latest_vote_counts() {
    let mut f = Fixture::new(3, (1, 2));
    f.vote(2, &[0], 1, 0, VoteChoice::No);
    f.vote(3, &[2], 2, 0, VoteChoice::Yes);
    assert_eq!(f.decide().outcome, Outcome::Open);
    f.vote(4, &[3], 3, 1, VoteChoice::Yes);
    let t = f.decide();
    assert_eq!((t.yes, t.no), (2, 0));
    assert_eq!(t.notes[0], VoteNote::Superseded);
    assert_eq!(t.outcome, Outcome::Passed { at: cid(4) });
    let mut q = Fixture::new(2, (1, 1));
    q.vote(2, &[0], 1, 0, VoteChoice::Yes);
    q.vote(3, &[2], 2, 1, VoteChoice::No);
    assert_eq!(
        q.decide().outcome,
        Outcome::Failed { at: cid(3) },
        "everyone voted, 1-1 with a unanimity quorum: failed"
    );
}

/// Two concurrent votes each see only themselves: a "no" that did not see the "yes" cannot
/// add up with it, and a vote that saw both is tallied with both.
#[test]
fn a_vote_is_tallied_with_what_it_saw() {
    let mut f = Fixture::new(4, (1, 2));
    f.vote(2, &[0], 1, 0, VoteChoice::Yes);
    f.vote(3, &[0], 1, 1, VoteChoice::Yes);
    assert_eq!(
        f.decide().outcome,
        Outcome::Open,
        "each saw one yes of four"
    );
    f.vote(4, &[2, 3], 2, 2, VoteChoice::Abstain);
    assert_eq!(f.decide().outcome, Outcome::Passed { at: cid(4) });
}

/// Contrary deciding votes: the verdict acknowledged by a strict majority wins, even when its
/// deciding vote sorts later.
#[test]
fn the_acknowledged_verdict_wins() {
    let mut f = Fixture::new(3, (1, 3));
    f.vote(5, &[0], 1, 0, VoteChoice::Yes); // passes (1 of 3 at 1/3)
    f.vote(2, &[0], 1, 1, VoteChoice::No); // fails, concurrently, sorts first
    let t = f.decide();
    assert_eq!(t.outcome, Outcome::Failed { at: cid(2) });
    assert_eq!(t.confirmed, Some(false));
    // Elector 2 votes having seen only the pass: 2 of 3 acknowledge it.
    f.vote(6, &[5], 2, 2, VoteChoice::Abstain);
    let t = f.decide();
    assert_eq!(t.outcome, Outcome::Passed { at: cid(5) });
    assert_eq!(t.confirmed, Some(true));
    assert_eq!(t.yes, 1);
}

/// A member who signs forked chains may acknowledge both verdicts, but each verdict counts
/// them once, however many of their anchors acknowledge it.
#[test]
fn an_equivocator_counts_once_per_verdict() {
    let mut f = Fixture::new(3, (1, 3));
    f.vote(5, &[0], 1, 0, VoteChoice::Yes); // passes
    f.vote(2, &[0], 1, 1, VoteChoice::No); // fails
    f.vote(6, &[5], 2, 1, VoteChoice::Abstain); // elector 1 again, on a fork: saw the pass
    f.vote(7, &[6], 3, 1, VoteChoice::Abstain); // and again
    let t = f.decide();
    let cv = CutView {
        reach: &f.reach,
        anchors_of: &f.anchors,
        cut: Cut::All,
    };
    assert_eq!(acknowledged(&f.el, &t.deciding, &cv), (2, 1));
    assert_eq!(t.outcome, Outcome::Passed { at: cid(5) });
    assert_eq!(t.confirmed, Some(true));
}

#[test]
fn outsiders_do_not_count() {
    let mut f = Fixture::new(3, (1, 2));
    f.vote(2, &[0], 1, 9, VoteChoice::Yes);
    f.vote(3, &[2], 2, 1, VoteChoice::Yes);
    let t = f.decide();
    assert_eq!(t.outcome, Outcome::Open);
    assert_eq!(t.notes, vec![VoteNote::NotInElectorate, VoteNote::Counted]);
}
