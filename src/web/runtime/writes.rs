//! The storage writer: changes are stored in batches, one transaction per batch, by one task at a
//! time, in the order they were applied. A local change is announced to peers, and the promise of
//! the write that made it resolved, only once its batch is committed. A batch that fails (a full
//! quota) is kept and retried with the next one, or on a timer with exponential backoff
//! ([`retry_delay_ms`], decided in the core) if nothing else is written; its changes stay visible locally but are not
//! announced until they are stored.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use super::{enter, events, js, Runtime, Shared};
use crate::change::{Change, ChangeId};
use crate::store::persist::{applied_prefix, retry_delay_ms, Persistence};
use crate::store::{JoinedCommons, StoreError};
use crate::sync::NodeInput;

/// Someone waiting for a write: a JS promise's resolve and reject functions.
pub(crate) struct Waiter {
    resolve: Option<Function>,
    reject: Option<Function>,
    value: JsValue,
}

impl Waiter {
    /// A promise and the waiter that settles it.
    pub fn promise() -> (Promise, Waiter) {
        let mut waiter = Waiter::none();
        let promise = Promise::new(&mut |resolve, reject| {
            waiter.resolve = Some(resolve);
            waiter.reject = Some(reject);
        });
        (promise, waiter)
    }

    /// A waiter nobody listens to.
    pub fn none() -> Waiter {
        Waiter {
            resolve: None,
            reject: None,
            value: JsValue::UNDEFINED,
        }
    }

    /// The same waiter, resolving with `value`.
    pub fn with_value(mut self, value: JsValue) -> Waiter {
        self.value = value;
        self
    }

    /// Resolves the promise (with the value given by [`Waiter::with_value`]).
    pub fn resolve(self) {
        if let Some(f) = &self.resolve {
            let _ = f.call1(&JsValue::NULL, &self.value);
        }
    }

    /// Rejects the promise with an `Error` carrying `message`.
    pub fn reject(self, message: &str) {
        if let Some(f) = &self.reject {
            let _ = f.call1(&JsValue::NULL, &js_sys::Error::new(message));
        }
    }
}

/// A batch of changes to store.
#[derive(Default)]
struct Batch {
    bytes: Vec<Vec<u8>>,
    /// The batch's local changes, announced once stored.
    local: Vec<ChangeId>,
    waiters: Vec<Waiter>,
}

impl Batch {
    fn append(&mut self, other: Batch) {
        self.bytes.extend(other.bytes);
        self.local.extend(other.local);
        self.waiters.extend(other.waiters);
    }
}

/// The writer's state.
pub(crate) struct Writes {
    pub(crate) persist: Persistence,
    queue: Vec<Batch>,
    /// Changes whose write failed, retried first with the next batch.
    unsaved: Option<Batch>,
    typing_waiters: Vec<Waiter>,
    busy: bool,
    /// Changes in the batch being written now.
    in_flight: usize,
    /// Changes stored since the commons was opened.
    pub(crate) saved: u64,
    /// Failed writes in a row: sets the delay before the failed batch is tried again alone.
    failures: u32,
    /// Before this time (ms) a failed batch waits for the timer or for new changes.
    retry_at: u64,
}

impl Writes {
    pub fn new(persist: Persistence) -> Self {
        Writes {
            persist,
            queue: vec![],
            unsaved: None,
            typing_waiters: vec![],
            busy: false,
            in_flight: 0,
            saved: 0,
            failures: 0,
            retry_at: 0,
        }
    }

    /// Queues changes (already applied to the replica) for storage.
    pub fn enqueue(&mut self, changes: Vec<Change>, local: bool, waiters: Vec<Waiter>) {
        let ids = if local {
            changes.iter().map(|c| c.id).collect()
        } else {
            vec![]
        };
        self.queue.push(Batch {
            bytes: changes.into_iter().map(|c| c.bytes).collect(),
            local: ids,
            waiters,
        });
    }

    /// Registers a typist waiting for the next flush to be stored.
    pub fn wait_for_flush(&mut self, w: Waiter) {
        self.typing_waiters.push(w);
    }

    pub fn take_typing_waiters(&mut self) -> Vec<Waiter> {
        std::mem::take(&mut self.typing_waiters)
    }

    /// Whether the writer task runs.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Whether nothing waits to be stored.
    pub fn is_idle(&self) -> bool {
        !self.busy && self.queue.is_empty() && self.unsaved.is_none()
    }

    /// Changes waiting to be stored (or being stored), and changes whose write failed.
    pub fn pending(&self) -> (usize, usize) {
        let queued = self.in_flight + self.queue.iter().map(|b| b.bytes.len()).sum::<usize>();
        let failed = self.unsaved.as_ref().map_or(0, |b| b.bytes.len());
        (queued, failed)
    }

    /// Takes everything queued (after the failed batch, if any) as one batch.
    fn next_job(&mut self, now: u64) -> Option<Batch> {
        let retry_due = self.unsaved.is_some() && now >= self.retry_at;
        if self.queue.is_empty() && !retry_due {
            self.busy = false;
            return None;
        }
        let mut job = self.unsaved.take().unwrap_or_default();
        for b in self.queue.drain(..) {
            job.append(b);
        }
        self.in_flight = job.bytes.len();
        Some(job)
    }
}

/// Starts the writer task if there is work and it is not running.
pub(crate) fn kick(rt: &mut Runtime) {
    let retry_due = rt.writes.unsaved.is_some() && js::now_ms() >= rt.writes.retry_at;
    if rt.writes.busy || (rt.writes.queue.is_empty() && !retry_due) {
        return;
    }
    let Some(shared) = rt.weak.upgrade() else {
        return;
    };
    rt.writes.busy = true;
    spawn_local(run(shared));
}

/// The writer task: stores batches until the queue is empty, then a snapshot if one is due. It
/// holds the runtime alive until the queued writes are done, even if the commons is closed.
async fn run(shared: Shared) {
    let store = enter(&shared, |rt| rt.store.clone()).await;
    while let Some(job) = enter(&shared, |rt| rt.writes.next_job(js::now_ms())).await {
        let (id, heads) = enter(&shared, |rt| (rt.id, rt.replica().heads())).await;
        let result = if job.bytes.is_empty() {
            Ok(())
        } else {
            // A copy goes to the store: the batch keeps its bytes for a retry should this fail.
            match store.append(id, job.bytes.clone(), heads).await {
                Ok(a) => {
                    let count = a.end - a.first;
                    let gap = enter(&shared, |rt| rt.writes.persist.after_append(a)).await;
                    if let Some((from, to)) = gap {
                        if let Ok(slots) = store.read_slots(id, from, to).await {
                            enter(&shared, |rt| {
                                let n = applied_prefix(rt.replica(), &slots);
                                rt.writes.persist.after_gap(a, from, to, n);
                            })
                            .await;
                        }
                    }
                    enter(&shared, |rt| rt.writes.saved += count).await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        enter(&shared, move |rt| finished(rt, job, result)).await;
        snapshot_if_due(&shared, &store).await;
    }
}

fn finished(rt: &mut Runtime, job: Batch, result: Result<(), StoreError>) {
    rt.writes.in_flight = 0;
    match result {
        Ok(()) => {
            rt.writes.failures = 0;
            if !job.local.is_empty() {
                rt.input(NodeInput::Local(&job.local));
                let replica = rt.replica();
                let changes: Vec<Change> = job
                    .local
                    .iter()
                    .filter_map(|id| replica.change(id).cloned())
                    .collect();
                let event = events::changes(&changes, "local");
                rt.emit(event);
            }
            job.waiters.into_iter().for_each(Waiter::resolve);
        }
        Err(e) => {
            let message = e.to_string();
            js::warn(&format!("storing changes failed: {message}"));
            rt.emit(events::error(&message));
            for w in job.waiters {
                w.reject(&message);
            }
            let mut keep = rt.writes.unsaved.take().unwrap_or_default();
            keep.append(Batch {
                bytes: job.bytes,
                local: job.local,
                waiters: vec![],
            });
            rt.writes.unsaved = Some(keep);
            schedule_retry(rt);
        }
    }
}

/// Tries the failed batch again after the backoff delay, unless new changes retry it first.
fn schedule_retry(rt: &mut Runtime) {
    rt.writes.failures = rt.writes.failures.saturating_add(1);
    let delay = retry_delay_ms(rt.writes.failures);
    rt.writes.retry_at = js::now_ms() + delay;
    // The task holds the runtime only weakly while it waits: a closed commons is not kept alive.
    let weak = rt.weak.clone();
    spawn_local(async move {
        js::sleep(delay).await;
        if let Some(shared) = weak.upgrade() {
            enter(&shared, kick).await;
        }
    });
}

async fn snapshot_if_due(shared: &Shared, store: &Rc<dyn crate::store::Store>) {
    let snap = enter(shared, |rt| {
        let w = &rt.writes;
        if w.queue.is_empty() && w.unsaved.is_none() {
            w.persist.snapshot_due(rt.node.replica(), false)
        } else {
            None
        }
    })
    .await;
    if let Some(s) = snap {
        let (id, covered) = (enter(shared, |rt| rt.id).await, s.covered);
        match store.put_snapshot(id, s).await {
            Ok(()) => enter(shared, |rt| rt.writes.persist.snapshot_stored(covered)).await,
            Err(e) => js::warn(&format!("storing a snapshot failed: {e}")),
        }
    }
}

/// Records the commons' title in the list of joined commons (once its genesis is here).
pub(crate) fn remember_title(rt: &mut Runtime) {
    let Some(title) = rt.replica().genesis_charter().map(|c| c.title.clone()) else {
        return;
    };
    let store = rt.store.clone();
    let entry = JoinedCommons {
        id: rt.id,
        title,
        joined_at: js::now_ms(),
    };
    spawn_local(async move {
        if let Err(e) = store.remember(entry).await {
            js::warn(&format!("could not record the commons' title: {e}"));
        }
    });
}
