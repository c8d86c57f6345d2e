//! What governance does to the rest of the derived state: reverted changes' register values stop
//! counting (and count again when the revert is reverted), and a change in the set of changes
//! blocks leave out re-derives the state from the graph.

use crate::change::{ChangeId, Op};
use crate::commons::Commons;

impl Commons {
    /// Brings governance up to date after changes were applied, and carries its effects over.
    pub(crate) fn settle(&mut self) {
        let s = self.gov.settle(&self.dag);
        if s.rederive {
            self.rederive();
            return;
        }
        for (id, reverted) in s.flips {
            self.register_effects(&id, !reverted);
        }
    }

    /// Re-derives documents, tasks, names and participants from the graph, leaving out what blocks
    /// exclude and the register values of reverted changes; typing not yet flushed is put back.
    /// Cost: one replay of every change (text included); it runs only when the set of changes
    /// left out by blocks changes, which is rare.
    pub(crate) fn rederive(&mut self) {
        self.charter = None;
        self.profiles.clear();
        self.participants.clear();
        self.documents.clear();
        self.tasks.clear();
        // Provenance is recorded as changes apply: start afresh so that what a change no longer
        // contributes (blocked, voided) is not left over from an earlier pass.
        self.property = Default::default();
        for (_, id) in self.dag.causal_order() {
            self.apply_state(&id, false);
        }
        let reverted: Vec<ChangeId> = self.gov.reverted().keys().copied().collect();
        for id in reverted {
            self.register_effects(&id, false);
        }
        if let Some(l) = &self.local {
            for d in self.documents.values_mut() {
                let id = d.id;
                for u in l.batch.updates_for(&id) {
                    d.reapply_local(u);
                }
            }
        }
    }

    /// Withdraws (`on == false`) or restores the register values a change set: titles, names,
    /// comments and task events. Text is not touched: a revert carries its own inverse edits.
    fn register_effects(&mut self, id: &ChangeId, on: bool) {
        if self.gov.is_excluded(id) {
            return;
        }
        let Some(node) = self.dag.get(id) else { return };
        let stamp = (node.depth, *id);
        let change = &node.change;
        let author = change.body.author;
        for op in &change.body.ops {
            match op {
                Op::CreateDocument { title, .. } => {
                    if let Some(d) = self.documents.get_mut(id) {
                        if on {
                            d.retitle(stamp, title.clone());
                        } else {
                            d.untitle(&stamp);
                        }
                    }
                }
                Op::RetitleDocument { doc, title } => {
                    if let Some(d) = self.documents.get_mut(doc) {
                        if on {
                            d.retitle(stamp, title.clone());
                        } else {
                            d.untitle(&stamp);
                        }
                    }
                }
                Op::Comment { doc, text } => {
                    if let Some(d) = self.documents.get_mut(doc) {
                        if on {
                            d.add_comment(
                                stamp,
                                crate::commons::Comment {
                                    id: *id,
                                    author,
                                    text: text.clone(),
                                    time: change.body.time,
                                },
                            );
                        } else {
                            d.remove_comment(&stamp);
                        }
                    }
                }
                Op::SetProfile { name } => {
                    let claims = self.profiles.entry(author).or_default();
                    if on {
                        claims.insert(stamp, name.clone());
                    } else {
                        claims.remove(&stamp);
                        if claims.is_empty() {
                            self.profiles.remove(&author);
                        }
                    }
                }
                Op::ClaimTask { task }
                | Op::ReleaseTask { task }
                | Op::CompleteTask { task, .. } => {
                    if let Some(t) = self.tasks.get_mut(task) {
                        if on {
                            if let Some(ev) = task_event(op, author) {
                                t.event(stamp, ev);
                            }
                        } else {
                            t.remove_event(&stamp);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn task_event(op: &Op, author: crate::identity::AuthorId) -> Option<crate::commons::TaskEvent> {
    use crate::commons::TaskEvent;
    match op {
        Op::ClaimTask { .. } => Some(TaskEvent::Claim(author)),
        Op::ReleaseTask { .. } => Some(TaskEvent::Release(author)),
        Op::CompleteTask { contributions, .. } => Some(TaskEvent::Complete {
            by: author,
            contributions: contributions.clone(),
        }),
        _ => None,
    }
}
