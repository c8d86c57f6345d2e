//! A commons replica: the causal graph of signed changes plus the state derived from it.
//!
//! The derived state is a deterministic function of the *set* of changes: whatever order they
//! arrive in, with duplicates, every replica holding the same changes has the same
//! [`Commons::state_hash`]. Sequence data (text) lives in a yrs CRDT; registers (titles, names)
//! are last-writer-wins by the causal order `(depth, id)`; task statuses are folds of their events
//! in that order, computed on read.

mod claims;
mod cursor;
pub mod documents;
pub mod governance;
mod hash;
pub mod property;
mod read;
mod session;
pub mod snapshot;
pub mod tasks;
mod writer;

use std::collections::{BTreeMap, BTreeSet};

use crate::change::{Change, ChangeError, ChangeId, Charter, CommonsId, Op};
use crate::dag::{Added, Dag};
use crate::identity::{AuthorId, Identity};
pub use documents::{Comment, DocAction, DocEvent, Document, Stamp};
pub use governance::Governance;
pub use read::{DocSummary, HistoryEntry};
pub use tasks::{Task, TaskEvent, TaskStatus};
pub use writer::CommonsError;

/// What inserting a change from outside did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Changes applied to the state (this one and any it unblocked), in causal order.
    pub applied: Vec<ChangeId>,
    /// The change was already held.
    pub duplicate: bool,
    /// The change waits for these changes.
    pub missing: Vec<ChangeId>,
}

/// What a participant is known for, from the changes alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Their first change in causal order.
    pub first: Stamp,
    /// Number of changes they authored.
    pub changes: u64,
}

/// The local author of a replica: who signs local changes, and the batch being typed.
pub(crate) struct LocalAuthor {
    pub identity: Identity,
    pub nonce: u32,
    pub client: u64,
    pub seq: u64,
    pub batch: writer::Batch,
    /// Nonces this key's changes used (seen in the graph): a new session nonce avoids them.
    pub used_nonces: BTreeSet<u32>,
    /// A change not signed by this session claimed ids under this session's client id: the
    /// nonce is taken (another tab or device drew it), so switch before typing more.
    pub nonce_taken: bool,
    /// The last change this session signed (it is applied right after signing).
    pub signing: Option<ChangeId>,
}

/// One replica of a commons.
pub struct Commons {
    id: CommonsId,
    dag: Dag,
    charter: Option<Charter>,
    /// Name claims per author by causal stamp: the latest counts (a reverted claim is removed).
    profiles: BTreeMap<AuthorId, BTreeMap<Stamp, String>>,
    participants: BTreeMap<AuthorId, Participant>,
    documents: BTreeMap<ChangeId, Document>,
    tasks: BTreeMap<ChangeId, Task>,
    local: Option<LocalAuthor>,
    /// Provenance of text and carried history, for attribution and the ledger.
    property: property::PropertyIndex,
    gov: Governance,
    /// Which change owns which CRDT ids; changes that claimed ids already claimed are voided.
    claims: claims::IdClaims,
    /// The derived state must be re-derived from the graph once the ready changes are applied.
    stale: bool,
}

impl Commons {
    /// A replica of commons `id` that holds nothing yet (joining: the genesis arrives by sync).
    /// `local` is who writes from this replica, with a per-session nonce chosen by the shell
    /// (randomly, or anything not used before by this key).
    pub fn join(id: CommonsId, local: Option<(Identity, u32)>) -> Self {
        let local = local.map(|(identity, nonce)| LocalAuthor {
            client: crate::change::client_id(&identity.author(), nonce),
            identity,
            nonce,
            seq: 0,
            batch: writer::Batch::default(),
            used_nonces: BTreeSet::new(),
            nonce_taken: false,
            signing: None,
        });
        Commons {
            id,
            dag: Dag::new(),
            charter: None,
            profiles: BTreeMap::new(),
            participants: BTreeMap::new(),
            documents: BTreeMap::new(),
            tasks: BTreeMap::new(),
            local,
            property: property::PropertyIndex::default(),
            gov: Governance::default(),
            claims: claims::IdClaims::default(),
            stale: false,
        }
    }

    /// Founds a new commons: signs its genesis with `charter`. Returns the replica and the genesis
    /// change (to be stored and announced). The licence must be one of the offered SPDX ids
    /// ([`property::licences`]); it is stored in its canonical spelling.
    pub fn create(
        identity: Identity,
        nonce: u32,
        mut charter: Charter,
        now: u64,
    ) -> Result<(Self, Change), ChangeError> {
        charter.licence = property::canonical_licence(&charter.licence)?;
        let body = crate::change::ChangeBody {
            format: crate::change::CHANGE_FORMAT,
            commons: None,
            author: identity.author(),
            seq: 0,
            deps: vec![],
            time: now,
            ops: vec![Op::Genesis(charter)],
        };
        crate::change::validate_ops(&body.author, &body.ops, true)?;
        let genesis = Change::sign(&identity, body);
        let mut commons = Commons::join(genesis.id, Some((identity, nonce)));
        commons.insert_change(genesis.clone())?;
        Ok((commons, genesis))
    }

    /// The commons id (its genesis change id).
    pub fn id(&self) -> CommonsId {
        self.id
    }

    /// The local author's key, if this replica writes.
    pub fn local_author(&self) -> Option<AuthorId> {
        self.local.as_ref().map(|l| l.identity.author())
    }

    /// Inserts a change received from outside (a peer, storage, an archive): decodes and checks
    /// it, then applies it and whatever it unblocks. On error nothing changes.
    pub fn insert(&mut self, bytes: &[u8]) -> Result<Inserted, ChangeError> {
        let change = Change::decode(bytes)?;
        self.insert_change(change)
    }

    /// [`Commons::insert`] for a change peer `peer` sent at time `now` (ms): if it has to wait
    /// for missing dependencies, it counts against that peer's budget and expires (docs/PROTOCOL.md,
    /// "What a peer can make a replica hold"). `peer` is whatever names the sender (its key).
    pub fn insert_from(
        &mut self,
        peer: &[u8],
        bytes: &[u8],
        now: u64,
    ) -> Result<Inserted, ChangeError> {
        let change = Change::decode(bytes)?;
        self.insert_inner(change, Some(crate::dag::origin_of(peer)), now)
    }

    /// Drops changes from peers that waited for their dependencies past their time to live
    /// (call now and then with the current time, in ms). Returns how many were dropped.
    pub fn expire_pending(&mut self, now: u64) -> usize {
        self.dag.expire(now)
    }

    /// Inserts a change already decoded and checked by [`Change::decode`] or signed locally.
    pub fn insert_change(&mut self, change: Change) -> Result<Inserted, ChangeError> {
        self.insert_inner(change, None, 0)
    }

    fn insert_inner(
        &mut self,
        change: Change,
        origin: Option<crate::dag::Origin>,
        now: u64,
    ) -> Result<Inserted, ChangeError> {
        self.check_commons(&change)?;
        let Added {
            ready,
            duplicate,
            missing,
        } = self.dag.add_from(change, origin, now)?;
        for id in &ready {
            self.apply(id, false);
        }
        self.catch_up();
        self.settle();
        self.refresh_nonce();
        Ok(Inserted {
            applied: ready,
            duplicate,
            missing,
        })
    }

    fn check_commons(&self, change: &Change) -> Result<(), ChangeError> {
        let ok = match change.body.commons {
            None => change.id == self.id,
            Some(c) => c == self.id,
        };
        if ok {
            Ok(())
        } else {
            Err(ChangeError::WrongCommons)
        }
    }

    /// Applies a ready change: to the governance indexes, then (unless a block leaves it out) to
    /// the derived state. `local` marks a change written here, whose text edits are already
    /// integrated in the CRDT documents.
    fn apply(&mut self, id: &ChangeId, local: bool) {
        let mut claimed = claims::Recorded::default();
        if let Some(node) = self.dag.get(id) {
            self.gov.apply(&node.change, node.depth, &self.dag);
            let client = self.local.as_ref().map_or(0, |l| l.client);
            claimed = self.claims.record(&node.change, (node.depth, *id), client);
            if let Some(l) = &mut self.local {
                l.note(&node.change, claimed.clients);
            }
        }
        // A claim earlier (in causal order) than claims already integrated: yrs kept the later
        // one's items, so integrate everything again in causal order.
        let reorder = claimed.reorder;
        if reorder || (local && (self.gov.is_excluded(id) || claimed.voided)) {
            // Also when a blocked or voided change's text is already in the CRDT documents
            // (typed here, or restored from a snapshot): take it out.
            self.stale = true;
        }
        // Once stale, the rest of this batch of ready changes is covered by the re-derivation
        // (they are in the graph already): applying them now would count them twice.
        if !self.stale {
            self.apply_state(id, local);
        }
    }

    /// Re-derives the state if applying the last batch of ready changes asked for it.
    pub(crate) fn catch_up(&mut self) {
        if std::mem::take(&mut self.stale) {
            self.rederive();
        }
    }

    /// Applies a ready change's ops to the derived state (documents, tasks, names, participants),
    /// leaving out changes a block excludes and the text edits of reverts that do not count.
    fn apply_state(&mut self, id: &ChangeId, local: bool) {
        let Some(node) = self.dag.get(id) else { return };
        let voided = self.claims.is_voided(id);
        let void_text = |dag: &Dag, documents: &mut _, with_create| {
            governance::tombstone::apply_void_text(dag, documents, id, &self.claims, with_create)
        };
        if self.gov.is_excluded(id) {
            void_text(&self.dag, &mut self.documents, voided);
            return;
        }
        // A voided change (it lost a CRDT id claim) keeps its other ops: only its text is void.
        let edits = self.gov.text_applies(id) && !voided;
        let stamp = (node.depth, *id);
        let change = &node.change;
        let author = change.body.author;
        let p = self.participants.entry(author).or_insert(Participant {
            first: stamp,
            changes: 0,
        });
        p.first = p.first.min(stamp);
        p.changes += 1;
        if let Some(l) = &mut self.local {
            if l.identity.author() == author {
                l.seq = l.seq.max(change.body.seq);
            }
        }
        let client = self.local.as_ref().map_or(0, |l| l.client);
        let ops = change
            .body
            .ops
            .iter()
            .filter(|op| edits || !matches!(op, Op::EditDocument { .. }));
        for op in ops {
            apply_op(
                op,
                stamp,
                change,
                local || voided,
                client,
                &mut self.charter,
                &mut self.profiles,
                &mut self.documents,
                &mut self.tasks,
            );
        }
        if !edits {
            void_text(&self.dag, &mut self.documents, voided);
        }
        // After the ops, so that a document this change creates exists.
        let founder = self.dag.get(&self.id).map(|n| n.change.body.author);
        self.property.apply(
            change,
            stamp,
            self.charter.as_ref(),
            founder,
            &mut self.documents,
            property::Applied {
                client,
                local,
                edits,
            },
        );
    }

    /// Recomputes every document's text without the edits of `excluded` changes (used when
    /// governance decides some changes no longer apply, e.g. a blocked key's).
    pub fn rebuild_documents(&mut self, excluded: &BTreeSet<ChangeId>) {
        let client = self.local.as_ref().map_or(0, |l| l.client);
        let dag = &self.dag;
        for d in self.documents.values_mut() {
            let doc = d.id;
            d.rebuild(excluded, client, |id| text_updates(dag, id, &doc));
            // Edits typed but not yet flushed are not in the graph: put them back.
            if let Some(l) = &self.local {
                let id = d.id;
                for u in l.batch.updates_for(&id) {
                    d.reapply_local(u);
                }
            }
        }
    }

    /// The causal graph.
    pub fn dag(&self) -> &Dag {
        &self.dag
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_op(
    op: &Op,
    stamp: Stamp,
    change: &Change,
    local: bool,
    client: u64,
    charter: &mut Option<Charter>,
    profiles: &mut BTreeMap<AuthorId, BTreeMap<Stamp, String>>,
    documents: &mut BTreeMap<ChangeId, Document>,
    tasks: &mut BTreeMap<ChangeId, Task>,
) {
    let author = change.body.author;
    let event = |action| DocEvent {
        change: change.id,
        author,
        action,
    };
    match op {
        Op::Genesis(c) => *charter = Some(c.clone()),
        Op::SetProfile { name } => {
            profiles
                .entry(author)
                .or_default()
                .insert(stamp, name.clone());
        }
        Op::CreateDocument { title, edit } => {
            let mut d = Document::new(change.id, author, title.clone(), stamp, client);
            d.record(
                stamp,
                event(DocAction::Created {
                    title: title.clone(),
                }),
            );
            let (inserted, deleted) = d.apply_update(stamp, &edit.update, local);
            if inserted + deleted > 0 {
                d.record(stamp, event(DocAction::Edited { inserted, deleted }));
            }
            documents.insert(change.id, d);
        }
        Op::RetitleDocument { doc, title } => {
            if let Some(d) = documents.get_mut(doc) {
                d.retitle(stamp, title.clone());
                d.record(
                    stamp,
                    event(DocAction::Retitled {
                        title: title.clone(),
                    }),
                );
            }
        }
        Op::EditDocument { doc, edit } => {
            if let Some(d) = documents.get_mut(doc) {
                let (inserted, deleted) = d.apply_update(stamp, &edit.update, local);
                d.record(stamp, event(DocAction::Edited { inserted, deleted }));
            }
        }
        Op::Comment { doc, text } => {
            if let Some(d) = documents.get_mut(doc) {
                d.add_comment(
                    stamp,
                    Comment {
                        id: change.id,
                        author,
                        text: text.clone(),
                        time: change.body.time,
                    },
                );
                d.record(stamp, event(DocAction::Commented));
            }
        }
        Op::PostTask {
            title,
            description,
            skills,
        } => {
            let t = Task::new(
                change.id,
                author,
                title.clone(),
                description.clone(),
                skills.clone(),
                change.body.time,
            );
            tasks.insert(change.id, t);
        }
        Op::ClaimTask { task } => task_event(tasks, task, stamp, TaskEvent::Claim(author)),
        Op::ReleaseTask { task } => task_event(tasks, task, stamp, TaskEvent::Release(author)),
        Op::CompleteTask {
            task,
            contributions,
        } => task_event(
            tasks,
            task,
            stamp,
            TaskEvent::Complete {
                by: author,
                contributions: contributions.clone(),
            },
        ),
        // Governance and property ops (endorse, flag, revert, propose, vote, mark-licence) are
        // evaluated over the whole graph by their own modules; their text edits, if any, travel
        // as EditDocument ops in the same change.
        Op::Endorse { .. }
        | Op::Flag { .. }
        | Op::Revert { .. }
        | Op::Propose { .. }
        | Op::Vote { .. }
        | Op::MarkLicence { .. } => {}
        // Carried history is applied by the property module.
        Op::CarryDocument(_) => {}
    }
}

/// The text updates change `id` carries for document `doc`.
pub(crate) fn text_updates<'a>(dag: &'a Dag, id: &ChangeId, doc: &ChangeId) -> Vec<&'a [u8]> {
    let Some(node) = dag.get(id) else {
        return vec![];
    };
    node.change
        .body
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CreateDocument { edit, .. } if id == doc => Some(edit.update.as_slice()),
            Op::EditDocument { doc: d, edit } if d == doc => Some(edit.update.as_slice()),
            _ => None,
        })
        .chain(
            // A fork's carried history: the updates inside its carry ops for this document.
            node.change.body.ops.iter().flat_map(|op| match op {
                Op::CarryDocument(c) if c.into.as_ref().unwrap_or(id) == doc => {
                    property::carried_text_updates(c)
                }
                _ => vec![],
            }),
        )
        .collect()
}

fn task_event(tasks: &mut BTreeMap<ChangeId, Task>, task: &ChangeId, stamp: Stamp, ev: TaskEvent) {
    if let Some(t) = tasks.get_mut(task) {
        t.event(stamp, ev);
    }
}

#[cfg(test)]
mod tests;
