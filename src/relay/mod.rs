//! The signalling relay (native only): introduces peers, stores nothing.
//!
//! It speaks y-webrtc's signalling protocol over WebSocket, so y-webrtc clients can use it and
//! this project's clients can use y-webrtc's servers. Like y-webrtc's own server it is one map
//! from topic to subscribed connections ([`topics`]); what it adds are limits, each a small named
//! piece ([`limits`]; connection cap and HTTP timeouts in the accept loop, clients behind a
//! proxy in [`forwarded`]), security headers ([`security_headers`]), clear close codes ([`protocol::CloseReason`]), metrics ([`metrics`]),
//! and static serving of the web app ([`static_files`]). docs/RELAY.md describes flags,
//! defaults, close codes and metric names.
//!
//! Start it with [`serve`] on any listener; `peer-commons-relay` is a thin command-line shell
//! around it.

mod accept;
mod connection;
pub mod forwarded;
pub mod limits;
pub mod metrics;
pub mod protocol;
pub mod security_headers;
mod server;
pub mod static_files;
pub mod topics;

pub use limits::Limits;
pub use server::{serve, Config, RelayError};
