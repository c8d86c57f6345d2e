//! The signalling relays: the sans-IO [`SignalClient`] decides, this module owns the WebSockets
//! (or in-page endpoints) and turns the signals that arrive into mesh inputs.
//!
//! Signal payloads inside the mesh are the JSON of a [`SignalBody`] (offer, answer or ICE
//! candidate), so they travel unchanged through a neighbour or through a relay. A relay carries
//! no "dialer" flag: an offer comes from the dialer, an answer from the answerer, and a candidate
//! from the dialer exactly when we are not dialing its sender ourselves.

use std::cell::RefCell;
use std::rc::Weak;

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, WebSocket};

use super::{events, inpage, js, post, Runtime};
use crate::change::CommonsId;
use crate::signal::{RoomKey, Signal, SignalBody, SignalClient, SignalError, SignalOutput};
use crate::sync::NodeInput;
use crate::sync::PeerId;

/// A relay and whether it is connected, for the network panel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RelayInfo {
    pub url: String,
    pub connected: bool,
}

enum Socket {
    Ws {
        ws: WebSocket,
        _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    },
    InPage(inpage::Endpoint),
}

impl Socket {
    fn send(&self, text: &str) {
        match self {
            Socket::Ws { ws, .. } => {
                let _ = ws.send_with_str(text);
            }
            Socket::InPage(e) => e.send(text),
        }
    }

    fn close(self) {
        if let Socket::Ws { ws, .. } = self {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onerror(None);
            let _ = ws.close();
        }
    }
}

/// The relays of one commons.
pub(crate) struct Relays {
    client: Option<SignalClient>,
    sockets: Vec<Option<Socket>>,
    /// Bumped when a relay's socket is replaced, so events of an old socket are ignored.
    generation: Vec<u32>,
    me: PeerId,
    online: bool,
}

impl Relays {
    pub fn new(id: CommonsId, me: PeerId, urls: Vec<String>) -> Self {
        let n = urls.len();
        let client =
            (n > 0).then(|| SignalClient::new(RoomKey::for_commons(&id), me.to_hex(), urls));
        Relays {
            client,
            sockets: (0..n).map(|_| None).collect(),
            generation: vec![0; n],
            me,
            online: false,
        }
    }

    pub fn tick(&mut self, now: u64) {
        if let Some(c) = &mut self.client {
            c.tick(now);
        }
    }

    pub fn next_timeout(&self) -> Option<u64> {
        self.client.as_ref().and_then(SignalClient::next_timeout)
    }

    /// The relays and whether each is connected.
    pub fn info(&self) -> Vec<RelayInfo> {
        self.client.as_ref().map_or(vec![], |c| {
            c.relays()
                .into_iter()
                .map(|(url, connected)| RelayInfo { url, connected })
                .collect()
        })
    }

    /// Whether at least one relay is connected.
    pub fn online(&self) -> bool {
        self.client.as_ref().is_some_and(SignalClient::online)
    }

    /// Unsubscribes from every relay and closes the sockets.
    pub fn close(&mut self) {
        if let Some(c) = &mut self.client {
            c.close();
        }
    }

    /// Publishes the mesh node's message for `to` (opaque bytes and whether we dial) on every
    /// connected relay.
    pub fn publish_mesh(&mut self, to: PeerId, dialer: bool, payload: &[u8]) {
        let (Some(client), Ok(nonce)) = (&mut self.client, js::random::<24>()) else {
            return;
        };
        let signal = Signal {
            from: self.me.to_hex(),
            to: Some(to.to_hex()),
            body: SignalBody::mesh(dialer, payload),
        };
        client.publish(&signal, nonce);
    }

    fn current(&self, i: usize, generation: u32) -> bool {
        self.generation.get(i) == Some(&generation)
    }
}

/// Carries out the signalling client's outputs; true if there were any.
pub(crate) fn drain(rt: &mut Runtime) -> bool {
    let mut any = false;
    while let Some(out) = rt
        .relays
        .client
        .as_mut()
        .and_then(SignalClient::poll_output)
    {
        any = true;
        match out {
            SignalOutput::Connect(i, url) => connect(rt, i, &url),
            SignalOutput::Close(i) => {
                if let Some(s) = rt.relays.sockets.get_mut(i).and_then(Option::take) {
                    s.close();
                }
            }
            SignalOutput::Send(i, text) => {
                if let Some(Some(s)) = rt.relays.sockets.get(i) {
                    s.send(&text);
                }
            }
            SignalOutput::Signal(s) => on_signal(rt, s),
            SignalOutput::Dropped(_, SignalError::Forged) => rt.counters.forged_signals += 1,
            SignalOutput::Dropped(..) => {}
        }
    }
    let online = rt.relays.online();
    if online != rt.relays.online {
        rt.relays.online = online;
        rt.emit(events::network(online));
    }
    any
}

/// Opens relay `i`'s connection.
fn connect(rt: &mut Runtime, i: usize, url: &str) {
    let Some(g) = rt.relays.generation.get_mut(i) else {
        return;
    };
    *g = g.wrapping_add(1);
    let generation = *g;
    let socket = if let Some(name) = url.strip_prefix(inpage::SCHEME) {
        let (w1, w2) = (rt.weak.clone(), rt.weak.clone());
        Some(Socket::InPage(inpage::connect(
            name,
            move |text| deliver(&w1, move |rt| text_in(rt, i, generation, &text)),
            move || deliver(&w2, move |rt| opened(rt, i, generation)),
        )))
    } else {
        open_ws(url, i, generation, &rt.weak)
    };
    match socket {
        Some(s) => rt.relays.sockets[i] = Some(s),
        None => {
            if let Some(c) = &mut rt.relays.client {
                c.on_close(i, js::now_ms());
            }
        }
    }
}

/// Gives `f` to the runtime if it still exists.
fn deliver(weak: &Weak<RefCell<Runtime>>, f: impl FnOnce(&mut Runtime) + 'static) {
    if let Some(shared) = weak.upgrade() {
        post(&shared, f);
    }
}

fn open_ws(url: &str, i: usize, generation: u32, weak: &Weak<RefCell<Runtime>>) -> Option<Socket> {
    let ws = match WebSocket::new(url) {
        Ok(ws) => ws,
        Err(e) => {
            js::warn(&format!("relay {url} is not a valid WebSocket URL: {e:?}"));
            return None;
        }
    };
    let w = weak.clone();
    let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        deliver(&w, move |rt| opened(rt, i, generation));
    });
    let w = weak.clone();
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        let Some(text) = ev
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string())
        else {
            return;
        };
        deliver(&w, move |rt| text_in(rt, i, generation, &text));
    });
    let w = weak.clone();
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        deliver(&w, move |rt| closed(rt, i, generation));
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Some(Socket::Ws {
        ws,
        _handlers: vec![on_open, on_message, on_close],
    })
}

fn opened(rt: &mut Runtime, i: usize, generation: u32) {
    if !rt.relays.current(i, generation) {
        return;
    }
    let Ok(nonce) = js::random::<24>() else {
        return;
    };
    if let Some(c) = &mut rt.relays.client {
        c.on_open(i, js::now_ms(), nonce);
    }
}

fn text_in(rt: &mut Runtime, i: usize, generation: u32, text: &str) {
    if rt.relays.current(i, generation) {
        if let Some(c) = &mut rt.relays.client {
            c.on_text(i, js::now_ms(), text);
        }
    }
}

fn closed(rt: &mut Runtime, i: usize, generation: u32) {
    if !rt.relays.current(i, generation) {
        return;
    }
    if let Some(s) = rt.relays.sockets.get_mut(i).and_then(Option::take) {
        s.close();
    }
    if let Some(c) = &mut rt.relays.client {
        c.on_close(i, js::now_ms());
    }
}

/// A signal for us arrived through a relay: an announcement, or a message between mesh nodes.
/// (Bare offers, answers and candidates are what y-webrtc-style clients send; our nodes wrap
/// every WebRTC signal in their own envelope, so those are ignored.)
fn on_signal(rt: &mut Runtime, s: Signal) {
    let Some(from) = PeerId::from_hex(&s.from) else {
        return;
    };
    match &s.body {
        // Another tab of this browser is reached through the BroadcastChannel instead.
        SignalBody::Announce if !rt.tabs.as_ref().is_some_and(|t| t.knows(&from)) => {
            rt.input(NodeInput::Discovered(from));
        }
        SignalBody::Mesh { dialer, .. } => {
            if let Some(payload) = s.body.mesh_payload() {
                rt.input(NodeInput::RelaySignal {
                    from,
                    dialer: *dialer,
                    payload: &payload,
                });
            }
        }
        _ => {}
    }
}
