//! WebRTC links: one RTCPeerConnection with one negotiated, ordered RTCDataChannel per
//! neighbour. The mesh decides whom to dial and which signals to accept; this module carries out
//! the SDP steps (asynchronous browser calls) and turns the channel's events into mesh inputs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Weak;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelType,
    RtcIceCandidateInit, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit,
};

use super::{js, post, Runtime, Transport};
use crate::signal::SignalBody;
use crate::sync::PeerId;
use crate::sync::{ConnId, NodeInput};

/// How long a connection may take to open before it is given up.
const DIAL_TIMEOUT_MS: u64 = 20_000;
/// Below this many buffered bytes the channel asks the session for more.
const LOW_WATER: u32 = 256 * 1024;
/// Most ICE candidates kept for a peer whose offer has not arrived yet.
const MAX_EARLY: usize = 64;
/// Time given to a closed channel to send what it holds before its connection is closed.
const LINGER_MS: u64 = 1_000;

struct Link {
    conn: ConnId,
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    dialer: bool,
    open: bool,
    remote_set: bool,
    candidates: Vec<RtcIceCandidateInit>,
    deadline: u64,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Link {
    fn detach(&self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.dc.set_onopen(None);
        self.dc.set_onmessage(None);
        self.dc.set_onclose(None);
        self.dc.set_onbufferedamountlow(None);
    }

    /// Closes the channel; the connection follows after a moment (so queued bytes leave).
    fn close(self, linger: bool) {
        self.detach();
        self.dc.close();
        if linger {
            let pc = self.pc.clone();
            spawn_local(async move {
                js::sleep(LINGER_MS).await;
                pc.close();
            });
        } else {
            self.pc.close();
        }
    }
}

/// The WebRTC links of one commons.
pub(crate) struct Rtc {
    links: BTreeMap<PeerId, Link>,
    early: BTreeMap<PeerId, Vec<RtcIceCandidateInit>>,
    ice_servers: JsValue,
}

impl Rtc {
    pub fn new(ice_servers: JsValue) -> Self {
        Rtc {
            links: BTreeMap::new(),
            early: BTreeMap::new(),
            ice_servers,
        }
    }

    /// Sends one message to `peer`; false if its channel is not open.
    pub fn send(&self, peer: &PeerId, bytes: &[u8]) -> bool {
        self.links
            .get(peer)
            .is_some_and(|l| l.open && l.dc.send_with_u8_array(bytes).is_ok())
    }

    /// The bytes `peer`'s channel holds, not yet sent.
    pub fn buffered(&self, peer: &PeerId) -> Option<usize> {
        self.links
            .get(peer)
            .filter(|l| l.open)
            .map(|l| l.dc.buffered_amount() as usize)
    }

    /// Gives up a connection attempt that has not opened.
    pub fn cancel(&mut self, peer: &PeerId) {
        if self.links.get(peer).is_some_and(|l| !l.open) {
            if let Some(l) = self.links.remove(peer) {
                l.close(false);
            }
        }
    }

    /// Closes the link carrying `conn`.
    pub fn close_link(&mut self, peer: &PeerId, conn: ConnId) {
        if self.links.get(peer).is_some_and(|l| l.conn == conn) {
            if let Some(l) = self.links.remove(peer) {
                l.close(true);
            }
        }
    }

    /// Closes every link at once.
    pub fn close_all(&mut self) {
        for (_, l) in std::mem::take(&mut self.links) {
            l.close(false);
        }
        self.early.clear();
    }

    /// When the earliest pending attempt times out.
    pub fn next_expiry(&self) -> Option<u64> {
        self.links
            .values()
            .filter(|l| !l.open)
            .map(|l| l.deadline)
            .min()
    }

    /// Gives up attempts that did not open in time; returns them.
    pub fn expire(&mut self, now: u64) -> Vec<(PeerId, ConnId)> {
        let late: Vec<PeerId> = self
            .links
            .iter()
            .filter(|(_, l)| !l.open && l.deadline <= now)
            .map(|(p, _)| *p)
            .collect();
        late.into_iter()
            .filter_map(|peer| {
                let l = self.links.remove(&peer)?;
                let conn = l.conn;
                l.close(false);
                Some((peer, conn))
            })
            .collect()
    }
}

/// Sets up a connection to `peer` as the offering side.
pub(crate) fn dial(rt: &mut Runtime, peer: PeerId, conn: ConnId) {
    let Some(link) = new_link(rt, peer, conn, true) else {
        rt.transports.remove(&conn);
        rt.input(NodeInput::DialFailed(peer));
        return;
    };
    let pc = link.pc.clone();
    rt.rtc.links.insert(peer, link);
    let weak = rt.weak.clone();
    spawn_local(async move {
        let offer = async {
            let offer = JsFuture::from(pc.create_offer()).await?;
            let sdp = sdp_of(&offer)?;
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            init.set_sdp(&sdp);
            JsFuture::from(pc.set_local_description(&init)).await?;
            Ok::<_, JsValue>(sdp)
        };
        let result = offer.await;
        deliver(&weak, move |rt| match result {
            Ok(sdp) => send_signal(rt, peer, &SignalBody::Offer { sdp }),
            Err(e) => failed(rt, peer, conn, &format!("could not make an offer: {e:?}")),
        });
    });
}

/// A signal the mesh accepted from `from`.
pub(crate) fn on_signal(rt: &mut Runtime, from: PeerId, dialer: bool, payload: &[u8]) {
    let Ok(body) = serde_json::from_slice::<SignalBody>(payload) else {
        return;
    };
    match body {
        SignalBody::Offer { sdp } if dialer => answer(rt, from, sdp),
        SignalBody::Answer { sdp } if !dialer => {
            let Some(link) = rt
                .rtc
                .links
                .get(&from)
                .filter(|l| l.dialer && !l.remote_set)
            else {
                return;
            };
            set_remote(
                rt,
                from,
                link.conn,
                link.pc.clone(),
                RtcSdpType::Answer,
                sdp,
            );
        }
        SignalBody::Candidate {
            candidate,
            sdp_mid,
            sdp_m_line_index,
        } if !candidate.is_empty() => {
            let init = RtcIceCandidateInit::new(&candidate);
            init.set_sdp_mid(sdp_mid.as_deref());
            init.set_sdp_m_line_index(sdp_m_line_index);
            match rt.rtc.links.get_mut(&from) {
                Some(l) if l.remote_set => add_candidate(&l.pc, init),
                Some(l) => l.candidates.push(init),
                None => {
                    let early = rt.rtc.early.entry(from).or_default();
                    if early.len() < MAX_EARLY {
                        early.push(init);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Answers an offer from `from`.
fn answer(rt: &mut Runtime, from: PeerId, sdp: String) {
    if let Some(l) = rt.rtc.links.get(&from) {
        if !l.dialer || l.open {
            return; // a repeated offer for a connection already being answered, or open
        }
        // Both dialed and the mesh made us answer: drop our own attempt.
        rt.rtc.cancel(&from);
    }
    let conn = rt.new_conn(Transport::Rtc(from));
    let Some(mut link) = new_link(rt, from, conn, false) else {
        rt.transports.remove(&conn);
        rt.input(NodeInput::DialFailed(from));
        return;
    };
    link.candidates = rt.rtc.early.remove(&from).unwrap_or_default();
    let pc = link.pc.clone();
    rt.rtc.links.insert(from, link);
    set_remote(rt, from, conn, pc, RtcSdpType::Offer, sdp);
}

/// Sets the remote description; on an offer, answers it.
fn set_remote(
    rt: &mut Runtime,
    peer: PeerId,
    conn: ConnId,
    pc: RtcPeerConnection,
    kind: RtcSdpType,
    sdp: String,
) {
    let weak = rt.weak.clone();
    spawn_local(async move {
        let steps = async {
            let init = RtcSessionDescriptionInit::new(kind);
            init.set_sdp(&sdp);
            JsFuture::from(pc.set_remote_description(&init)).await?;
            deliver(&weak, move |rt| remote_set(rt, peer, conn));
            if kind != RtcSdpType::Offer {
                return Ok(None);
            }
            let answer = JsFuture::from(pc.create_answer()).await?;
            let sdp = sdp_of(&answer)?;
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            init.set_sdp(&sdp);
            JsFuture::from(pc.set_local_description(&init)).await?;
            Ok::<_, JsValue>(Some(sdp))
        };
        let result = steps.await;
        deliver(&weak, move |rt| match result {
            Ok(Some(sdp)) => send_signal(rt, peer, &SignalBody::Answer { sdp }),
            Ok(None) => {}
            Err(e) => failed(
                rt,
                peer,
                conn,
                &format!("the peer's description failed: {e:?}"),
            ),
        });
    });
}

fn remote_set(rt: &mut Runtime, peer: PeerId, conn: ConnId) {
    if let Some(l) = rt.rtc.links.get_mut(&peer).filter(|l| l.conn == conn) {
        l.remote_set = true;
        for c in std::mem::take(&mut l.candidates) {
            add_candidate(&l.pc, c);
        }
    }
}

fn add_candidate(pc: &RtcPeerConnection, init: RtcIceCandidateInit) {
    let promise = pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
    // A candidate the browser cannot use (another network, a stale session) is not an error.
    spawn_local(async move {
        let _ = JsFuture::from(promise).await;
    });
}

fn sdp_of(description: &JsValue) -> Result<String, JsValue> {
    Reflect::get(description, &"sdp".into())?
        .as_string()
        .ok_or_else(|| JsValue::from_str("a session description without sdp"))
}

fn send_signal(rt: &mut Runtime, to: PeerId, body: &SignalBody) {
    if let Ok(payload) = serde_json::to_vec(body) {
        rt.input(NodeInput::SendSignal {
            to,
            payload: &payload,
        });
    }
}

/// The attempt to connect `peer` on `conn` failed (before opening) or its link broke.
fn failed(rt: &mut Runtime, peer: PeerId, conn: ConnId, why: &str) {
    let Some(l) = rt.rtc.links.get(&peer).filter(|l| l.conn == conn) else {
        return;
    };
    let was_open = l.open;
    if let Some(l) = rt.rtc.links.remove(&peer) {
        l.close(false);
    }
    if was_open {
        rt.input(NodeInput::Disconnected { conn });
    } else {
        js::warn(&format!(
            "connecting to peer {} failed: {why}",
            peer.to_hex()
        ));
        rt.transports.remove(&conn);
        rt.input(NodeInput::DialFailed(peer));
    }
}

fn deliver(weak: &Weak<RefCell<Runtime>>, f: impl FnOnce(&mut Runtime) + 'static) {
    if let Some(shared) = weak.upgrade() {
        post(&shared, f);
    }
}

/// What an event handler of a link does with the event.
type Handler = dyn Fn(&Weak<RefCell<Runtime>>, JsValue);

/// A new RTCPeerConnection with its data channel and event handlers.
fn new_link(rt: &mut Runtime, peer: PeerId, conn: ConnId, dialer: bool) -> Option<Link> {
    let config = RtcConfiguration::new();
    config.set_ice_servers(&rt.rtc.ice_servers);
    let pc = match RtcPeerConnection::new_with_configuration(&config) {
        Ok(pc) => pc,
        Err(e) => {
            js::warn(&format!(
                "could not create an RTCPeerConnection (check iceServers): {e:?}"
            ));
            return None;
        }
    };
    let init = RtcDataChannelInit::new();
    init.set_negotiated(true);
    init.set_id(0);
    init.set_ordered(true);
    let dc = pc.create_data_channel_with_data_channel_dict("peer-commons/sync", &init);
    dc.set_binary_type(RtcDataChannelType::Arraybuffer);
    dc.set_buffered_amount_low_threshold(LOW_WATER);

    let weak = rt.weak.clone();
    let handler = |f: Box<Handler>| {
        let weak = weak.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| f(&weak, ev))
    };
    let on_candidate = handler(Box::new(move |w, ev| {
        let Some(c) = ev
            .dyn_ref::<RtcPeerConnectionIceEvent>()
            .and_then(RtcPeerConnectionIceEvent::candidate)
        else {
            return;
        };
        let body = SignalBody::Candidate {
            candidate: c.candidate(),
            sdp_mid: c.sdp_mid(),
            sdp_m_line_index: c.sdp_m_line_index(),
        };
        deliver(w, move |rt| send_signal(rt, peer, &body));
    }));
    let pc2 = pc.clone();
    let on_state = handler(Box::new(move |w, _| {
        if pc2.connection_state() == RtcPeerConnectionState::Failed {
            deliver(w, move |rt| {
                failed(rt, peer, conn, "ICE found no working path")
            });
        }
    }));
    let on_open = handler(Box::new(move |w, _| {
        deliver(w, move |rt| {
            if let Some(l) = rt.rtc.links.get_mut(&peer).filter(|l| l.conn == conn) {
                l.open = true;
                let dialer = l.dialer;
                rt.input(NodeInput::Connected {
                    conn,
                    dialer,
                    peer: Some(peer),
                });
            }
        });
    }));
    let on_message = handler(Box::new(move |w, ev| {
        let Some(data) = ev.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
            return;
        };
        let bytes = Uint8Array::new(&data).to_vec();
        deliver(w, move |rt| {
            rt.input(NodeInput::Receive {
                conn,
                bytes: &bytes,
            })
        });
    }));
    let on_close = handler(Box::new(move |w, _| {
        deliver(w, move |rt| failed(rt, peer, conn, "the channel closed"));
    }));
    let dc2 = dc.clone();
    let on_low = handler(Box::new(move |w, _| {
        let amount = dc2.buffered_amount() as usize;
        deliver(w, move |rt| rt.input(NodeInput::Buffered { conn, amount }));
    }));
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
    dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    dc.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
    Some(Link {
        conn,
        pc,
        dc,
        dialer,
        open: false,
        remote_set: false,
        candidates: vec![],
        deadline: js::now_ms() + DIAL_TIMEOUT_MS,
        _handlers: vec![
            on_candidate,
            on_state,
            on_open,
            on_message,
            on_close,
            on_low,
        ],
    })
}
