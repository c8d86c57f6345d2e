//! What the runtime does with the sync node's events: dial and signal through WebRTC or the
//! relays, tear links down, store and announce applied changes, and tell the JS listeners.

use super::{events, js, rtc, writes, Runtime, Transport};
use crate::change::Change;
use crate::sync::{ChangeId, ConnId, NodeEvent};

impl Runtime {
    pub(super) fn on_node_event(&mut self, e: NodeEvent) {
        match e {
            NodeEvent::Dial { peer } => {
                if self.tabs.as_ref().is_some_and(|t| t.knows(&peer)) {
                    return; // another tab of this browser: reached through the BroadcastChannel
                }
                let conn = self.new_conn(Transport::Rtc(peer));
                rtc::dial(self, peer, conn);
            }
            NodeEvent::CancelDial { peer } => self.rtc.cancel(&peer),
            NodeEvent::Signal {
                from,
                dialer,
                payload,
            } => rtc::on_signal(self, from, dialer, &payload),
            NodeEvent::SignalViaRelay {
                to,
                dialer,
                payload,
            } => self.relays.publish_mesh(to, dialer, &payload),
            NodeEvent::Connected { conn, peer } => {
                let via = self.via(conn);
                self.emit(events::peer(&peer, "connected", via));
            }
            NodeEvent::Closed { conn, peer, .. } => {
                let via = self.via(conn);
                match self.transports.remove(&conn) {
                    Some(Transport::Rtc(p)) => self.rtc.close_link(&p, conn),
                    Some(Transport::Tab(p)) => {
                        if let Some(t) = &mut self.tabs {
                            t.close(&p, conn);
                        }
                    }
                    None => {}
                }
                if let Some(p) = peer {
                    self.emit(events::peer(&p, "disconnected", via));
                }
            }
            NodeEvent::Applied(ids) => self.on_applied(ids),
            NodeEvent::Rejected { detail, .. } => {
                self.counters.rejected_changes += 1;
                js::warn(&format!("refused a change from a peer: {detail}"));
            }
            NodeEvent::Banned { peer, .. } => {
                self.counters.banned_peers += 1;
                js::warn(&format!(
                    "peer {} misbehaved and is ignored for a while",
                    peer.to_hex()
                ));
            }
            NodeEvent::Presence => self.emit(events::presence()),
            NodeEvent::Synced { conn } => {
                let peer = match self.transports.get(&conn) {
                    Some(Transport::Rtc(p) | Transport::Tab(p)) => Some(*p),
                    None => None,
                };
                self.emit(events::synced(peer.as_ref()));
            }
        }
    }

    fn via(&self, conn: ConnId) -> &'static str {
        match self.transports.get(&conn) {
            Some(Transport::Tab(_)) => "tab",
            _ => "webrtc",
        }
    }

    /// Changes from peers were applied: store them and tell the listeners.
    fn on_applied(&mut self, ids: Vec<ChangeId>) {
        let replica = self.node.replica();
        let changes: Vec<Change> = ids
            .iter()
            .filter_map(|id| replica.change(id).cloned())
            .collect();
        let genesis_arrived = changes.iter().any(|c| c.is_genesis());
        if !self.listeners.is_empty() {
            self.emit(events::changes(&changes, "remote"));
        }
        self.writes.enqueue(changes, false, vec![]);
        if genesis_arrived {
            writes::remember_title(self);
            if let Some(name) = self.pending_name.take() {
                self.set_name(name, None);
            }
        }
    }
}
