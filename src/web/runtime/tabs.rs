//! Tabs of one browser sync through a BroadcastChannel named after the commons, with no relay and
//! no WebRTC: each pair of tabs gets a virtual connection carrying the same sync session bytes as
//! a data channel would.
//!
//! Messages are plain objects `{t, from, to, b}`: `hello` (a tab announces itself; the tab with
//! the lower peer id then `open`s the pair's connection), `open`, `data` (`b`: the bytes) and
//! `bye`. A BroadcastChannel has no backpressure: after a burst the runtime yields to the event
//! loop before telling the sessions their bytes left. Every minute a tab says hello again, so a
//! pair whose connection ended reconnects.

use std::collections::{BTreeMap, BTreeSet};

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

use super::{js, post, Runtime, Transport};
use crate::sync::PeerId;
use crate::sync::{ConnId, NodeInput};

/// Interval between hellos.
const HELLO_MS: u64 = 60_000;

/// The BroadcastChannel of one commons.
pub(crate) struct Tabs {
    bc: BroadcastChannel,
    me: PeerId,
    conns: BTreeMap<PeerId, ConnId>,
    known: BTreeSet<PeerId>,
    unacked: BTreeSet<ConnId>,
    next_hello: u64,
    _handler: Closure<dyn FnMut(JsValue)>,
}

/// A message between tabs.
struct TabMsg {
    kind: String,
    from: PeerId,
    to: Option<PeerId>,
    bytes: Option<Vec<u8>>,
}

impl Tabs {
    /// Joins the commons' BroadcastChannel and says hello.
    pub fn open(rt: &mut Runtime) -> Option<Tabs> {
        let name = format!("peer-commons/{}", rt.id.to_hex());
        let bc = match BroadcastChannel::new(&name) {
            Ok(bc) => bc,
            Err(e) => {
                js::warn(&format!(
                    "no BroadcastChannel, tabs will not sync directly: {e:?}"
                ));
                return None;
            }
        };
        let weak = rt.weak.clone();
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let Some(msg) = ev.dyn_ref::<MessageEvent>().and_then(|m| parse(&m.data())) else {
                return;
            };
            if let Some(shared) = weak.upgrade() {
                post(&shared, move |rt| on_message(rt, msg));
            }
        });
        bc.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        let tabs = Tabs {
            bc,
            me: rt.me,
            conns: BTreeMap::new(),
            known: BTreeSet::new(),
            unacked: BTreeSet::new(),
            next_hello: js::now_ms() + HELLO_MS,
            _handler: handler,
        };
        tabs.post("hello", None, None);
        Some(tabs)
    }

    /// Whether `peer` is another tab of this browser.
    pub fn knows(&self, peer: &PeerId) -> bool {
        self.known.contains(peer)
    }

    /// Sends one message to tab `peer`.
    pub fn send(&mut self, peer: &PeerId, bytes: &[u8]) {
        if let Some(conn) = self.conns.get(peer) {
            self.unacked.insert(*conn);
            self.post("data", Some(peer), Some(bytes));
        }
    }

    /// Whether bytes were sent that the sessions have not been told left.
    pub fn has_unacked(&self) -> bool {
        !self.unacked.is_empty()
    }

    /// When the next hello is due.
    pub fn next_hello(&self) -> u64 {
        self.next_hello
    }

    /// Ends the connection `conn` to tab `peer`.
    pub fn close(&mut self, peer: &PeerId, conn: ConnId) {
        if self.conns.get(peer) == Some(&conn) {
            self.conns.remove(peer);
            self.unacked.remove(&conn);
            self.post("bye", Some(peer), None);
        }
    }

    /// Says goodbye to every tab and leaves the channel.
    pub fn shutdown(self) {
        self.post("bye", None, None);
        self.bc.set_onmessage(None);
        self.bc.close();
    }

    fn post(&self, kind: &str, to: Option<&PeerId>, bytes: Option<&[u8]>) {
        let o = Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = Reflect::set(&o, &k.into(), v);
        };
        set("t", &kind.into());
        set("from", &self.me.to_hex().into());
        set("to", &to.map_or(JsValue::NULL, |p| p.to_hex().into()));
        if let Some(b) = bytes {
            set("b", &Uint8Array::from(b));
        }
        if let Err(e) = self.bc.post_message(&o) {
            js::warn(&format!("posting to other tabs failed: {e:?}"));
        }
    }
}

fn parse(data: &JsValue) -> Option<TabMsg> {
    let get = |k: &str| Reflect::get(data, &k.into()).ok();
    let peer = |v: Option<JsValue>| {
        v.and_then(|v| v.as_string())
            .and_then(|s| PeerId::from_hex(&s))
    };
    Some(TabMsg {
        kind: get("t")?.as_string()?,
        from: peer(get("from"))?,
        to: peer(get("to")),
        bytes: get("b")
            .and_then(|b| b.dyn_into::<Uint8Array>().ok())
            .map(|b| b.to_vec()),
    })
}

/// Tells the sessions that the bytes sent to other tabs left (called after yielding).
pub(crate) fn release(rt: &mut Runtime) {
    let Some(t) = &mut rt.tabs else { return };
    let conns = std::mem::take(&mut t.unacked);
    let now = js::now_ms();
    if now >= t.next_hello {
        t.next_hello = now + HELLO_MS;
        t.post("hello", None, None);
    }
    for conn in conns {
        rt.input(NodeInput::Buffered { conn, amount: 0 });
    }
}

fn on_message(rt: &mut Runtime, msg: TabMsg) {
    let me = rt.me;
    if msg.from == me || msg.to.is_some_and(|to| to != me) {
        return;
    }
    let Some(tabs) = &mut rt.tabs else { return };
    let from = msg.from;
    match msg.kind.as_str() {
        "hello" => {
            tabs.known.insert(from);
            if tabs.conns.contains_key(&from) {
                return;
            }
            if me < from {
                tabs.post("open", Some(&from), None);
                connect(rt, from, true);
            } else if msg.to.is_none() {
                tabs.post("hello", Some(&from), None); // so that the lower id opens
            }
        }
        "open" => {
            tabs.known.insert(from);
            if let Some(old) = tabs.conns.remove(&from) {
                rt.input(NodeInput::Disconnected { conn: old });
            }
            connect(rt, from, false);
        }
        "data" => {
            if let (Some(conn), Some(bytes)) = (tabs.conns.get(&from).copied(), msg.bytes) {
                rt.input(NodeInput::Receive {
                    conn,
                    bytes: &bytes,
                });
            }
        }
        "bye" => {
            tabs.known.remove(&from);
            if let Some(conn) = tabs.conns.remove(&from) {
                tabs.unacked.remove(&conn);
                rt.input(NodeInput::Disconnected { conn });
            }
        }
        _ => {}
    }
}

fn connect(rt: &mut Runtime, peer: PeerId, dialer: bool) {
    let conn = rt.new_conn(Transport::Tab(peer));
    if let Some(t) = &mut rt.tabs {
        t.conns.insert(peer, conn);
    }
    rt.input(NodeInput::Connected {
        conn,
        dialer,
        peer: Some(peer),
    });
}
