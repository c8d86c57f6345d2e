//! The events given to `onChange` listeners, as plain JS objects (their TypeScript type is
//! `CommonsEvent` in the API's custom section).

use std::collections::BTreeSet;

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::change::{Change, Op};
use crate::sync::PeerId;

/// Serializes `value` as a plain JS object (maps as objects, `None` as `null`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangeEvent<'a> {
    r#type: &'static str,
    origin: &'a str,
    changes: Vec<String>,
    documents: Vec<String>,
    tasks: Vec<String>,
    authors: Vec<String>,
}

/// Changes were applied (`origin` "remote") or stored (`origin` "local"): which, and which
/// documents and tasks they touched.
pub fn changes(changes: &[Change], origin: &str) -> JsValue {
    let mut documents = BTreeSet::new();
    let mut tasks = BTreeSet::new();
    let mut authors = BTreeSet::new();
    for c in changes {
        authors.insert(c.body.author.to_hex());
        for op in &c.body.ops {
            match op {
                Op::CreateDocument { .. } => {
                    documents.insert(c.id.to_hex());
                }
                Op::EditDocument { doc, .. }
                | Op::RetitleDocument { doc, .. }
                | Op::Comment { doc, .. } => {
                    documents.insert(doc.to_hex());
                }
                Op::PostTask { .. } => {
                    tasks.insert(c.id.to_hex());
                }
                Op::ClaimTask { task }
                | Op::ReleaseTask { task }
                | Op::CompleteTask { task, .. } => {
                    tasks.insert(task.to_hex());
                }
                _ => {}
            }
        }
    }
    to_js(&ChangeEvent {
        r#type: "change",
        origin,
        changes: changes.iter().map(|c| c.id.to_hex()).collect(),
        documents: documents.into_iter().collect(),
        tasks: tasks.into_iter().collect(),
        authors: authors.into_iter().collect(),
    })
}

#[derive(Serialize)]
struct PeerEvent<'a> {
    r#type: &'static str,
    peer: String,
    state: &'a str,
    via: &'a str,
}

/// A peer connected or disconnected.
pub fn peer(peer: &PeerId, state: &str, via: &str) -> JsValue {
    to_js(&PeerEvent {
        r#type: "peer",
        peer: peer.to_hex(),
        state,
        via,
    })
}

#[derive(Serialize)]
struct SyncedEvent {
    r#type: &'static str,
    peer: Option<String>,
}

/// A reconciliation with a peer completed: both held the same changes at that point.
pub fn synced(peer: Option<&PeerId>) -> JsValue {
    to_js(&SyncedEvent {
        r#type: "synced",
        peer: peer.map(PeerId::to_hex),
    })
}

#[derive(Serialize)]
struct NetworkEvent {
    r#type: &'static str,
    online: bool,
}

/// A relay connection opened or closed; `online`: whether any relay is connected.
pub fn network(online: bool) -> JsValue {
    to_js(&NetworkEvent {
        r#type: "network",
        online,
    })
}

#[derive(Serialize)]
struct ErrorEvent<'a> {
    r#type: &'static str,
    message: &'a str,
}

/// Something failed in the background (storing changes received from peers, typically).
pub fn error(message: &str) -> JsValue {
    to_js(&ErrorEvent {
        r#type: "error",
        message,
    })
}

#[derive(Serialize)]
struct PresenceEvent {
    r#type: &'static str,
}

/// Other people's cursors changed (moved, appeared, left or expired): read `presence(docId)`.
pub fn presence() -> JsValue {
    to_js(&PresenceEvent { r#type: "presence" })
}
