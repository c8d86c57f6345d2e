//! The browser runtime of one open commons: the replica inside the sync mesh, the storage
//! writer, the signalling relays, the WebRTC links, the BroadcastChannel to other tabs, timers,
//! and the events given to JavaScript.
//!
//! Everything lives in one [`Runtime`] behind `Rc<RefCell<…>>`. Browser callbacks (a WebSocket
//! message, a data-channel message, a timer) hold a weak reference and enter through [`post`]:
//! it borrows the runtime, applies the input, then [`Runtime::pump`]s every sans-IO machine until
//! none has output left, and only after the borrow is released calls the JavaScript listeners, so
//! a listener may call back into the API. Input that arrives while the runtime is borrowed is
//! retried from a microtask instead of being lost.

pub mod inpage;
pub mod js;
mod node_events;
pub(crate) mod presence;
mod relays;
mod rtc;
mod tabs;
mod writes;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::JsValue;

use crate::change::{Change, CommonsId, Op};
use crate::commons::Commons;
use crate::store::persist::Persistence;
use crate::store::Store;
use crate::sync::PeerId;
use crate::sync::{ConnId, Node, NodeConfig, NodeInput, NodeOutput};
use js::{now_ms, Timer};
pub use relays::RelayInfo;
pub(crate) use writes::Waiter;

/// The runtime shared by the JS object and the browser callbacks.
pub type Shared = Rc<RefCell<Runtime>>;

/// Default typing pause after which typed edits are signed and stored.
pub const FLUSH_IDLE_MS: u64 = 300;
/// Default longest time typed edits wait to be signed and stored while typing goes on.
pub const FLUSH_MAX_MS: u64 = 2_000;

/// How a runtime is set up (from the JS options).
pub struct Config {
    /// Signalling relay URLs (`ws://`, `wss://`, or `inpage:NAME` for an in-page relay).
    pub relays: Vec<String>,
    /// The `iceServers` of every RTCPeerConnection (a JS array; empty by default).
    pub ice_servers: JsValue,
    /// Whether to sync with other tabs of this browser through a BroadcastChannel.
    pub tab_sync: bool,
    /// Most connections kept.
    pub max_peers: usize,
    /// Typing pause after which typed edits are signed and stored.
    pub flush_idle_ms: u64,
    /// Longest time typed edits wait while typing goes on.
    pub flush_max_ms: u64,
}

/// Which transport carries a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Rtc(PeerId),
    Tab(PeerId),
}

/// Counters shown in `syncProgress()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    /// Signalling payloads dropped because they did not authenticate.
    pub forged_signals: u64,
    /// Changes from peers the replica refused.
    pub rejected_changes: u64,
    /// Peers banned for misbehaving.
    pub banned_peers: u64,
}

/// One open commons in this tab.
pub struct Runtime {
    pub(crate) id: CommonsId,
    pub(crate) node: Node<Commons>,
    pub(crate) me: PeerId,
    pub(crate) store: Rc<dyn Store>,
    pub(crate) writes: writes::Writes,
    relays: relays::Relays,
    rtc: rtc::Rtc,
    tabs: Option<tabs::Tabs>,
    transports: std::collections::BTreeMap<ConnId, Transport>,
    next_conn: u64,
    listeners: Vec<(u32, Function)>,
    next_listener: u32,
    events: Vec<JsValue>,
    timer: Option<(u64, Timer)>,
    node_deadline: u64,
    typing: Option<(u64, u64)>,
    flush_after: (u64, u64),
    pub(crate) pending_name: Option<String>,
    /// This tab's cursor, as shown to others.
    pub(crate) presence: crate::sync::presence::LocalPresence,
    pub(crate) counters: Counters,
    closed: bool,
    weak: Weak<RefCell<Runtime>>,
}

impl Runtime {
    /// Starts the runtime of a replica reopened from `store`.
    pub fn start(
        commons: Commons,
        persistence: Persistence,
        store: Rc<dyn Store>,
        keys: crate::sync::SyncKeys,
        config: Config,
    ) -> Shared {
        let me = keys.peer();
        let id = commons.id();
        let now = now_ms();
        let max_peers = config.max_peers.max(1);
        let node_config = NodeConfig {
            max_peers,
            // Room is left for newcomers to dial in.
            target_peers: max_peers.saturating_sub(2).max(1),
            ..NodeConfig::default()
        };
        let node_presence = node_config.presence.clone();
        let node = Node::new(node_config, keys, commons, now);
        let shared = Rc::new_cyclic(|weak: &Weak<RefCell<Runtime>>| {
            RefCell::new(Runtime {
                id,
                node,
                me,
                store,
                writes: writes::Writes::new(persistence),
                relays: relays::Relays::new(id, me, config.relays),
                rtc: rtc::Rtc::new(config.ice_servers),
                tabs: None,
                transports: Default::default(),
                next_conn: 1,
                listeners: vec![],
                next_listener: 1,
                events: vec![],
                timer: None,
                node_deadline: now,
                typing: None,
                flush_after: (config.flush_idle_ms, config.flush_max_ms),
                pending_name: None,
                presence: crate::sync::presence::LocalPresence::new(&node_presence),
                counters: Counters::default(),
                closed: false,
                weak: weak.clone(),
            })
        });
        post(&shared, move |rt| {
            if config.tab_sync {
                rt.tabs = tabs::Tabs::open(rt);
            }
        });
        shared
    }

    /// The replica (reads).
    pub fn replica(&self) -> &Commons {
        self.node.replica()
    }

    /// The peers with a connection (open or being set up), and their transport.
    pub fn peers(&self) -> Vec<(PeerId, &'static str)> {
        let mut out: Vec<(PeerId, &'static str)> = vec![];
        for t in self.transports.values() {
            let (peer, via) = match t {
                Transport::Rtc(p) => (*p, "webrtc"),
                Transport::Tab(p) => (*p, "tab"),
            };
            if !out.iter().any(|(p, _)| *p == peer) {
                out.push((peer, via));
            }
        }
        out
    }

    /// The relays and whether each is connected.
    pub fn relay_info(&self) -> Vec<RelayInfo> {
        self.relays.info()
    }

    /// Whether at least one relay is connected.
    pub fn online(&self) -> bool {
        self.relays.online()
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Subscribes a listener for change, peer and network events; returns its key.
    pub fn listen(&mut self, f: Function) -> u32 {
        let key = self.next_listener;
        self.next_listener += 1;
        self.listeners.push((key, f));
        key
    }

    /// Unsubscribes a listener.
    pub fn unlisten(&mut self, key: u32) {
        self.listeners.retain(|(k, _)| *k != key);
    }

    /// Queues an event for the listeners (given to them once the runtime is released).
    pub(crate) fn emit(&mut self, event: JsValue) {
        if !self.listeners.is_empty() {
            self.events.push(event);
        }
    }

    fn new_conn(&mut self, transport: Transport) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.transports.insert(conn, transport);
        conn
    }

    /// Feeds one input to the mesh.
    pub(crate) fn input(&mut self, input: NodeInput<'_>) {
        self.node.handle_input(now_ms(), input);
    }

    /// Records that typed edits wait: they are flushed after a typing pause.
    pub(crate) fn typed(&mut self) {
        let now = now_ms();
        let first = self.typing.map_or(now, |(first, _)| first);
        self.typing = Some((first, now));
    }

    /// Signs typed edits now and queues them for storage; `waiter` is told when they are stored.
    pub(crate) fn flush(&mut self, waiter: Option<Waiter>) -> Result<(), String> {
        self.typing = None;
        let changes = self
            .node
            .replica_mut()
            .flush(now_ms())
            .map_err(|e| e.to_string())?;
        self.write_local(changes, waiter);
        Ok(())
    }

    /// Queues locally signed changes for storage; they are announced once stored.
    pub(crate) fn write_local(&mut self, changes: Vec<Change>, waiter: Option<Waiter>) {
        let waiters = self.writes.take_typing_waiters().into_iter().chain(waiter);
        if changes.is_empty() && !self.writes.busy() && self.writes.is_idle() {
            waiters.for_each(|w| w.resolve());
            return;
        }
        self.writes.enqueue(changes, true, waiters.collect());
    }

    /// Signs `ops` as one change (after the typed edits) and queues it for storage; `waiter`
    /// resolves with the new change's id once stored.
    pub(crate) fn act(&mut self, ops: Vec<Op>, waiter: Waiter) {
        let result = self.node.replica_mut().act(ops, now_ms());
        self.write(result, waiter, |changes| {
            changes
                .last()
                .map(|c| c.id.to_hex())
                .unwrap_or_default()
                .into()
        });
    }

    /// Queues the changes a write made for storage; `waiter` resolves with `value(changes)` once
    /// they are stored, or rejects at once if the write was refused.
    pub(crate) fn write<E: std::fmt::Display>(
        &mut self,
        result: Result<Vec<Change>, E>,
        waiter: Waiter,
        value: impl FnOnce(&[Change]) -> JsValue,
    ) {
        // Every write signs the typed edits first: nothing is left to flush.
        self.typing = None;
        match result {
            Ok(changes) => {
                let v = value(&changes);
                self.write_local(changes, Some(waiter.with_value(v)));
            }
            Err(e) => waiter.reject(&e.to_string()),
        }
    }

    /// Runs every machine until none has output, then arms the timer for the next deadline.
    pub(crate) fn pump(&mut self) {
        if self.closed {
            return;
        }
        let now = now_ms();
        if self
            .typing
            .is_some_and(|t| now >= flush_due(t, self.flush_after))
        {
            if let Err(e) = self.flush(None) {
                js::warn(&format!("flushing typed edits failed: {e}"));
            }
        }
        if now >= self.node_deadline {
            self.input(NodeInput::Timeout);
        }
        presence::publish_due(self, now);
        self.relays.tick(now);
        for (peer, conn) in self.rtc.expire(now) {
            self.transports.remove(&conn);
            self.input(NodeInput::DialFailed(peer));
        }
        tabs::release(self);
        loop {
            let mut progressed = self.drain_node();
            progressed |= relays::drain(self);
            if !progressed {
                break;
            }
        }
        writes::kick(self);
        self.arm_timer(now);
    }

    /// Handles the mesh's outputs; true if there were any.
    fn drain_node(&mut self) -> bool {
        let mut any = false;
        let mut sent_rtc = std::collections::BTreeSet::new();
        loop {
            match self.node.poll_output() {
                NodeOutput::Timeout(t) => {
                    self.node_deadline = t;
                    break;
                }
                NodeOutput::Transmit { conn, bytes } => {
                    any = true;
                    match self.transports.get(&conn).copied() {
                        Some(Transport::Rtc(peer)) if self.rtc.send(&peer, &bytes) => {
                            sent_rtc.insert((conn, peer));
                        }
                        Some(Transport::Tab(peer)) => {
                            if let Some(t) = &mut self.tabs {
                                t.send(&peer, &bytes);
                            }
                        }
                        _ => {}
                    }
                }
                NodeOutput::Event(e) => {
                    any = true;
                    self.on_node_event(e);
                }
            }
        }
        // Backpressure: tell each session how much its channel still holds.
        for (conn, peer) in sent_rtc {
            if let Some(amount) = self.rtc.buffered(&peer) {
                self.input(NodeInput::Buffered { conn, amount });
                any = true;
            }
        }
        any
    }

    /// Claims a display name (if it differs from the current one).
    pub(crate) fn set_name(&mut self, name: String, waiter: Option<Waiter>) {
        let replica = self.node.replica();
        let current = replica
            .local_author()
            .and_then(|a| replica.name_of(&a).map(str::to_string));
        if current.as_deref() == Some(name.as_str()) {
            if let Some(w) = waiter {
                w.resolve();
            }
            return;
        }
        if replica.genesis_charter().is_none() {
            self.pending_name = Some(name);
            if let Some(w) = waiter {
                w.resolve();
            }
            return;
        }
        let waiter = waiter.unwrap_or_else(Waiter::none);
        self.act(vec![Op::SetProfile { name }], waiter);
    }

    fn arm_timer(&mut self, now: u64) {
        let mut wake = self.node_deadline;
        if let Some(t) = self.relays.next_timeout() {
            wake = wake.min(t);
        }
        if let Some(t) = self.typing {
            wake = wake.min(flush_due(t, self.flush_after));
        }
        if let Some(t) = self.rtc.next_expiry() {
            wake = wake.min(t);
        }
        if let Some(t) = self.presence.next_due() {
            wake = wake.min(t);
        }
        if let Some(t) = &self.tabs {
            wake = wake.min(t.next_hello());
            if t.has_unacked() {
                // Let the event loop breathe, then send the next burst to the other tabs.
                wake = now;
            }
        }
        if wake == u64::MAX {
            self.timer = None;
            return;
        }
        let wake = wake.max(now);
        // A timer already due no later is kept: if it fires early, the pump re-arms it. (Making
        // a new one on every message would cost a closure and two browser calls each time.)
        if self.timer.as_ref().is_some_and(|(at, _)| *at <= wake) {
            return;
        }
        let weak = self.weak.clone();
        let timer = Timer::once(wake - now, move || {
            if let Some(shared) = weak.upgrade() {
                post(&shared, |rt| rt.timer = None);
            }
        });
        self.timer = Some((wake, timer));
    }

    /// Stops the network: unsubscribes from the relays, closes every connection and the
    /// BroadcastChannel. Storage goes on until the writes queued so far are done.
    pub(crate) fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        // Others stop showing our cursor now rather than when it expires.
        presence::leave(self);
        self.drain_node();
        self.relays.close();
        relays::drain(self);
        let conns: Vec<ConnId> = self.transports.keys().copied().collect();
        for conn in conns {
            self.input(NodeInput::Disconnected { conn });
        }
        self.rtc.close_all();
        if let Some(t) = self.tabs.take() {
            t.shutdown();
        }
        self.timer = None;
        self.typing = None;
        self.closed = true;
    }
}

impl Drop for Runtime {
    /// A commons dropped without `close()` (its JS object was garbage collected) still leaves the
    /// network: sockets, connections and the BroadcastChannel are closed.
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Stores a snapshot covering everything stored, if that is correct now (used on close, so the
/// next opening replays as little as possible).
pub async fn snapshot_on_close(shared: &Shared) {
    let (store, id) = enter(shared, |rt| (rt.store.clone(), rt.id)).await;
    let snap = enter(shared, |rt| {
        let idle = rt.writes.is_idle();
        rt.writes.persist.snapshot_now(rt.node.replica(), !idle)
    })
    .await;
    if let Some(s) = snap {
        let covered = s.covered;
        match store.put_snapshot(id, s).await {
            Ok(()) => enter(shared, |rt| rt.writes.persist.snapshot_stored(covered)).await,
            Err(e) => js::warn(&format!("storing a snapshot failed: {e}")),
        }
    }
}

fn flush_due((first, last): (u64, u64), (idle, max): (u64, u64)) -> u64 {
    (last + idle).min(first + max)
}

/// Applies `f` to the runtime, pumps, then calls the listeners with the events produced. If the
/// runtime is borrowed (a re-entrant call), `f` runs from a microtask instead.
pub fn post(shared: &Shared, f: impl FnOnce(&mut Runtime) + 'static) {
    if crate::web::poison::poisoned() {
        // The runtime may stay borrowed forever: retrying would spin.
        return;
    }
    let Ok(mut rt) = shared.try_borrow_mut() else {
        let weak = Rc::downgrade(shared);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(shared) = weak.upgrade() {
                post(&shared, f);
            }
        });
        return;
    };
    f(&mut rt);
    release(rt);
}

/// Applies `f` to the runtime from async code, waiting for the runtime to be free; returns its
/// result. Pumps and calls the listeners like [`post`].
pub async fn enter<T>(shared: &Shared, f: impl FnOnce(&mut Runtime) -> T) -> T {
    loop {
        match shared.try_borrow_mut() {
            Ok(mut rt) => {
                let out = f(&mut rt);
                release(rt);
                return out;
            }
            // Poisoned, the runtime may stay borrowed forever: wait without spinning.
            Err(_) if crate::web::poison::poisoned() => std::future::pending::<()>().await,
            Err(_) => js::yield_now().await,
        }
    }
}

/// Pumps, releases the runtime, then gives the queued events to the listeners.
fn release(mut rt: std::cell::RefMut<'_, Runtime>) {
    rt.pump();
    let events = std::mem::take(&mut rt.events);
    let listeners: Vec<Function> = rt.listeners.iter().map(|(_, f)| f.clone()).collect();
    drop(rt);
    for event in &events {
        for l in &listeners {
            if let Err(e) = l.call1(&JsValue::NULL, event) {
                js::warn(&format!("an onChange listener threw: {e:?}"));
            }
        }
    }
}

/// Like [`post`] for a caller that needs a result (the JS API): runs `f` at once.
pub fn call<T>(shared: &Shared, f: impl FnOnce(&mut Runtime) -> T) -> Result<T, String> {
    crate::web::poison::check()?;
    let out = {
        let mut rt = shared
            .try_borrow_mut()
            .map_err(|_| "peer-commons is busy: call it again from outside this callback")?;
        if rt.closed {
            return Err("this commons is closed: open it again to continue".into());
        }
        f(&mut rt)
    };
    post(shared, |_| {});
    Ok(out)
}

pub mod events;
