//! An in-page signalling relay for tests and demos: relay URLs of the form `inpage:NAME` reach a
//! pub/sub bus inside this page that speaks the same y-webrtc protocol as a WebSocket relay
//! (subscribe, unsubscribe, publish to every subscriber of the topic including the sender,
//! ping/pong). Two commons opened in one page with the same `inpage:` relay find each other and
//! connect over real RTCPeerConnections without any server. Deliveries are asynchronous, like a
//! socket's.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::signal::RelayMessage;

/// The URL prefix of in-page relays.
pub const SCHEME: &str = "inpage:";

type Deliver = Rc<dyn Fn(String)>;

#[derive(Default)]
struct Bus {
    subscribers: BTreeMap<u64, (Deliver, BTreeSet<String>)>,
}

thread_local! {
    static BUSES: RefCell<BTreeMap<String, Bus>> = RefCell::default();
    static NEXT: RefCell<u64> = const { RefCell::new(1) };
}

/// One connection to an in-page bus (the counterpart of a WebSocket).
pub struct Endpoint {
    bus: String,
    id: u64,
}

/// Connects to bus `name`; `deliver` receives every message for this endpoint, `opened` is called
/// once connected (asynchronously, like a WebSocket's open event).
pub fn connect(
    name: &str,
    deliver: impl Fn(String) + 'static,
    opened: impl FnOnce() + 'static,
) -> Endpoint {
    let id = NEXT.with(|n| {
        let mut n = n.borrow_mut();
        *n += 1;
        *n
    });
    BUSES.with(|b| {
        b.borrow_mut()
            .entry(name.to_string())
            .or_default()
            .subscribers
            .insert(id, (Rc::new(deliver), BTreeSet::new()));
    });
    wasm_bindgen_futures::spawn_local(async move { opened() });
    Endpoint {
        bus: name.to_string(),
        id,
    }
}

impl Endpoint {
    /// Sends a y-webrtc protocol message (JSON text) to the bus.
    pub fn send(&self, text: &str) {
        let Ok(msg) = RelayMessage::from_json(text) else {
            return; // a real relay ignores what it cannot parse too
        };
        let mut deliveries: Vec<(Deliver, String)> = vec![];
        BUSES.with(|b| {
            let mut buses = b.borrow_mut();
            let Some(bus) = buses.get_mut(&self.bus) else {
                return;
            };
            match msg {
                RelayMessage::Subscribe { topics } => {
                    if let Some((_, t)) = bus.subscribers.get_mut(&self.id) {
                        t.extend(topics);
                    }
                }
                RelayMessage::Unsubscribe { topics } => {
                    if let Some((_, t)) = bus.subscribers.get_mut(&self.id) {
                        topics.iter().for_each(|x| {
                            t.remove(x);
                        });
                    }
                }
                RelayMessage::Publish { topic, .. } => {
                    for (d, topics) in bus.subscribers.values() {
                        if topics.contains(&topic) {
                            deliveries.push((d.clone(), text.to_string()));
                        }
                    }
                }
                RelayMessage::Ping => {
                    if let Some((d, _)) = bus.subscribers.get(&self.id) {
                        deliveries.push((d.clone(), RelayMessage::Pong.to_json()));
                    }
                }
                RelayMessage::Pong => {}
            }
        });
        for (deliver, text) in deliveries {
            wasm_bindgen_futures::spawn_local(async move { deliver(text) });
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        BUSES.with(|b| {
            let mut buses = b.borrow_mut();
            if let Some(bus) = buses.get_mut(&self.bus) {
                bus.subscribers.remove(&self.id);
                if bus.subscribers.is_empty() {
                    buses.remove(&self.bus);
                }
            }
        });
    }
}
