//! Tasks: needs broadcast to everyone, picked up by whoever fits. A task's status is a fold of its
//! events in causal order, recomputed on read, so it does not depend on arrival order.

use std::collections::{BTreeMap, BTreeSet};

use super::documents::Stamp;
use crate::change::{ChangeId, ObjectId};
use crate::identity::AuthorId;

/// Something that happened to a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskEvent {
    Claim(AuthorId),
    Release(AuthorId),
    Complete {
        by: AuthorId,
        contributions: Vec<ChangeId>,
    },
}

/// Where a task stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Nobody has it.
    Open,
    /// Taken on by these people (several may work on one task).
    Claimed(BTreeSet<AuthorId>),
    /// Done, by whom, with the contributions that did it.
    Done {
        by: AuthorId,
        contributions: Vec<ChangeId>,
        change: ChangeId,
    },
}

/// A task.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: ObjectId,
    pub title: String,
    pub description: String,
    pub skills: Vec<String>,
    pub posted_by: AuthorId,
    /// The author's claimed time of posting.
    pub time: u64,
    events: BTreeMap<Stamp, TaskEvent>,
}

impl Task {
    pub(crate) fn new(
        id: ObjectId,
        posted_by: AuthorId,
        title: String,
        description: String,
        skills: Vec<String>,
        time: u64,
    ) -> Self {
        Task {
            id,
            title,
            description,
            skills,
            posted_by,
            time,
            events: BTreeMap::new(),
        }
    }

    pub(crate) fn event(&mut self, stamp: Stamp, event: TaskEvent) {
        self.events.insert(stamp, event);
    }

    /// Withdraws the event at `stamp` (its change was reverted).
    pub(crate) fn remove_event(&mut self, stamp: &Stamp) {
        self.events.remove(stamp);
    }

    /// Events in causal order.
    pub fn events(&self) -> impl Iterator<Item = (&Stamp, &TaskEvent)> {
        self.events.iter()
    }

    /// The status: claims add a worker, a release removes its author, the first completion
    /// (in causal order) closes the task and later events are ignored.
    pub fn status(&self) -> TaskStatus {
        let mut claimed = BTreeSet::new();
        for ((_, change), ev) in &self.events {
            match ev {
                TaskEvent::Claim(a) => {
                    claimed.insert(*a);
                }
                TaskEvent::Release(a) => {
                    claimed.remove(a);
                }
                TaskEvent::Complete { by, contributions } => {
                    return TaskStatus::Done {
                        by: *by,
                        contributions: contributions.clone(),
                        change: *change,
                    };
                }
            }
        }
        if claimed.is_empty() {
            TaskStatus::Open
        } else {
            TaskStatus::Claimed(claimed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> AuthorId {
        AuthorId([n; 32])
    }

    #[test]
    fn status_folds_in_causal_order_whatever_the_insertion_order() {
        let mut t1 = Task::new(
            ChangeId([0; 32]),
            a(1),
            "t".into(),
            String::new(),
            vec![],
            0,
        );
        let mut t2 = t1.clone();
        let evs = [
            ((1, ChangeId([1; 32])), TaskEvent::Claim(a(2))),
            ((2, ChangeId([2; 32])), TaskEvent::Claim(a(3))),
            ((3, ChangeId([3; 32])), TaskEvent::Release(a(2))),
        ];
        for (s, e) in evs.iter().cloned() {
            t1.event(s, e);
        }
        for (s, e) in evs.iter().rev().cloned() {
            t2.event(s, e);
        }
        assert_eq!(t1.status(), TaskStatus::Claimed([a(3)].into()));
        assert_eq!(t1.status(), t2.status());
        t1.event(
            (4, ChangeId([4; 32])),
            TaskEvent::Complete {
                by: a(3),
                contributions: vec![],
            },
        );
        t1.event((5, ChangeId([5; 32])), TaskEvent::Claim(a(9)));
        assert!(matches!(t1.status(), TaskStatus::Done { by, .. } if by == a(3)));
    }
}
