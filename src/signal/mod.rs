//! Signalling: how two browsers that share a commons find each other through a relay that
//! speaks y-webrtc's signalling protocol (JSON over WebSocket: subscribe, unsubscribe, publish,
//! ping/pong), so any y-webrtc signalling server works and ours serves y-webrtc clients.
//!
//! Every payload is sealed with the room key ([`crypto::RoomKey`]): the relay forwards opaque
//! base64 and never learns the commons id, the peers or their addresses. The same [`Signal`]s
//! travel between neighbours over data channels when a peer introduces another (see `sync`).

pub mod client;
pub mod crypto;

use serde::{Deserialize, Serialize};

pub use client::{RelayIndex, SignalClient, SignalOutput};
pub use crypto::RoomKey;

/// Why a signalling message was dropped. Never fatal: the message is ignored.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum SignalError {
    #[error("relay message is not valid JSON of the y-webrtc signalling protocol")]
    BadRelayMessage,
    #[error("signal payload is not base64")]
    NotBase64,
    #[error("signal payload does not authenticate with this commons' key (forged, damaged, or another commons)")]
    Forged,
    #[error("signal payload is not a valid signal")]
    BadSignal,
    #[error("relay message over the size limit (32 KiB)")]
    TooLarge,
}

/// A peer's id for one session (a tab): random, chosen by the shell, hex.
pub type PeerId = String;

/// A signal between two peers of one commons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub from: PeerId,
    /// `None`: to everyone in the room (announcements).
    pub to: Option<PeerId>,
    pub body: SignalBody,
}

/// What a signal says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SignalBody {
    /// "I am here": peers that want a connection answer with an offer.
    Announce,
    /// A WebRTC offer.
    Offer { sdp: String },
    /// A WebRTC answer.
    Answer { sdp: String },
    /// An ICE candidate (`candidate` empty: end of candidates).
    Candidate {
        candidate: String,
        #[serde(rename = "sdpMid")]
        sdp_mid: Option<String>,
        #[serde(rename = "sdpMLineIndex")]
        sdp_m_line_index: Option<u16>,
    },
    /// "I am leaving".
    Bye,
    /// A message between two peers' sync nodes (`sync::node`): an opaque envelope around a WebRTC
    /// signal or a refusal, with whether the sender dials. `data` is its base64.
    Mesh { dialer: bool, data: String },
}

impl SignalBody {
    /// Wraps a sync node's message for the relay.
    pub fn mesh(dialer: bool, payload: &[u8]) -> SignalBody {
        use base64::Engine;
        SignalBody::Mesh {
            dialer,
            data: base64::engine::general_purpose::STANDARD.encode(payload),
        }
    }

    /// The sync node's message carried by a [`SignalBody::Mesh`] (None for other bodies, or
    /// data that is not base64).
    pub fn mesh_payload(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        match self {
            SignalBody::Mesh { data, .. } => {
                base64::engine::general_purpose::STANDARD.decode(data).ok()
            }
            _ => None,
        }
    }
}

impl Signal {
    /// Serializes for sealing.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an opened payload.
    pub fn from_bytes(b: &[u8]) -> Result<Signal, SignalError> {
        serde_json::from_slice(b).map_err(|_| SignalError::BadSignal)
    }
}

/// A message of y-webrtc's signalling protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RelayMessage {
    Subscribe {
        topics: Vec<String>,
    },
    Unsubscribe {
        topics: Vec<String>,
    },
    /// `data` is our sealed base64 payload; y-webrtc clients put other things there, which we
    /// ignore.
    Publish {
        topic: String,
        data: serde_json::Value,
    },
    Ping,
    Pong,
}

impl RelayMessage {
    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses JSON text from a relay.
    pub fn from_json(s: &str) -> Result<RelayMessage, SignalError> {
        serde_json::from_str(s).map_err(|_| SignalError::BadRelayMessage)
    }
}
