//! The signalling client as a sans-IO state machine over one or more relays: it is told when a
//! relay's WebSocket opens, closes or delivers text, and what time it is; it says what to send,
//! when to (re)connect, and which signals arrived. The wasm shell only owns the WebSockets.

use std::collections::{HashSet, VecDeque};

use super::{RelayMessage, RoomKey, Signal, SignalError};

/// Index of a relay in the list given to [`SignalClient::new`].
pub type RelayIndex = usize;

/// First reconnect delay; doubles per failure up to [`MAX_BACKOFF_MS`].
pub const MIN_BACKOFF_MS: u64 = 1_000;
/// Longest reconnect delay.
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// Application-level ping interval (y-webrtc clients ping too; some servers drop idle sockets).
pub const PING_INTERVAL_MS: u64 = 20_000;
/// A relay silent this long is considered dead and reconnected.
pub const DEAD_AFTER_MS: u64 = 45_000;
/// How many recent payloads are remembered to drop duplicates arriving through several relays.
const SEEN_CAPACITY: usize = 1024;
/// Most bytes of one text message from a relay; larger ones are dropped unread. A sealed
/// signal (an SDP of a few KiB, base64, in JSON) fits many times over.
pub const MAX_RELAY_TEXT: usize = 32 * 1024;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalOutput {
    /// Open a WebSocket to this relay.
    Connect(RelayIndex, String),
    /// Close this relay's WebSocket (it went silent); a `Connect` follows after backoff.
    Close(RelayIndex),
    /// Send this text on the relay's WebSocket.
    Send(RelayIndex, String),
    /// A signal for this peer arrived.
    Signal(Signal),
    /// A relay message was dropped (bad JSON, forged payload): informative.
    Dropped(RelayIndex, SignalError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle { retry_at: u64 },
    Connecting,
    Open { last_heard: u64, last_ping: u64 },
}

#[derive(Debug, Clone)]
struct Relay {
    url: String,
    state: State,
    failures: u32,
}

/// Signalling over several relays at once for one commons room.
pub struct SignalClient {
    room: RoomKey,
    me: String,
    relays: Vec<Relay>,
    out: VecDeque<SignalOutput>,
    /// Digests of payloads already taken (through another relay): 32 bytes each, at most
    /// `SEEN_CAPACITY`, and only of payloads that authenticated.
    seen: HashSet<[u8; 32]>,
    seen_order: VecDeque<[u8; 32]>,
}

impl SignalClient {
    /// A client for `room` as peer `me`, using these relay URLs.
    pub fn new(room: RoomKey, me: String, relays: Vec<String>) -> Self {
        let relays = relays
            .into_iter()
            .map(|url| Relay {
                url,
                state: State::Idle { retry_at: 0 },
                failures: 0,
            })
            .collect();
        SignalClient {
            room,
            me,
            relays,
            out: VecDeque::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    /// The relay URLs and whether each is connected, for the network panel.
    pub fn relays(&self) -> Vec<(String, bool)> {
        self.relays
            .iter()
            .map(|r| (r.url.clone(), matches!(r.state, State::Open { .. })))
            .collect()
    }

    /// Whether at least one relay is connected.
    pub fn online(&self) -> bool {
        self.relays
            .iter()
            .any(|r| matches!(r.state, State::Open { .. }))
    }

    /// Advances time: (re)connects relays whose backoff elapsed, pings, detects silent relays.
    pub fn tick(&mut self, now: u64) {
        for (i, r) in self.relays.iter_mut().enumerate() {
            match r.state {
                State::Idle { retry_at } if now >= retry_at => {
                    r.state = State::Connecting;
                    self.out.push_back(SignalOutput::Connect(i, r.url.clone()));
                }
                State::Open {
                    last_heard,
                    last_ping,
                } => {
                    if now.saturating_sub(last_heard) >= DEAD_AFTER_MS {
                        self.out.push_back(SignalOutput::Close(i));
                        r.failures += 1;
                        r.state = State::Idle {
                            retry_at: now + backoff(r.failures),
                        };
                    } else if now.saturating_sub(last_ping) >= PING_INTERVAL_MS {
                        r.state = State::Open {
                            last_heard,
                            last_ping: now,
                        };
                        self.out
                            .push_back(SignalOutput::Send(i, RelayMessage::Ping.to_json()));
                    }
                }
                _ => {}
            }
        }
    }

    /// When the next [`SignalClient::tick`] has something to do.
    pub fn next_timeout(&self) -> Option<u64> {
        self.relays
            .iter()
            .filter_map(|r| match r.state {
                State::Idle { retry_at } => Some(retry_at),
                State::Open {
                    last_heard,
                    last_ping,
                } => Some((last_ping + PING_INTERVAL_MS).min(last_heard + DEAD_AFTER_MS)),
                State::Connecting => None,
            })
            .min()
    }

    /// A relay's WebSocket opened: subscribe to the room and announce ourselves.
    pub fn on_open(&mut self, i: RelayIndex, now: u64, nonce: [u8; 24]) {
        let Some(r) = self.relays.get_mut(i) else {
            return;
        };
        r.state = State::Open {
            last_heard: now,
            last_ping: now,
        };
        r.failures = 0;
        let sub = RelayMessage::Subscribe {
            topics: vec![self.room.topic().to_string()],
        };
        self.out.push_back(SignalOutput::Send(i, sub.to_json()));
        let hello = Signal {
            from: self.me.clone(),
            to: None,
            body: super::SignalBody::Announce,
        };
        let msg = self.sealed(&hello, nonce);
        self.out.push_back(SignalOutput::Send(i, msg));
    }

    /// A relay's WebSocket closed or failed to open: retry after backoff.
    pub fn on_close(&mut self, i: RelayIndex, now: u64) {
        let Some(r) = self.relays.get_mut(i) else {
            return;
        };
        r.failures += 1;
        r.state = State::Idle {
            retry_at: now + backoff(r.failures),
        };
    }

    /// Text arrived from a relay.
    pub fn on_text(&mut self, i: RelayIndex, now: u64, text: &str) {
        let Some(r) = self.relays.get_mut(i) else {
            return;
        };
        if let State::Open { last_ping, .. } = r.state {
            r.state = State::Open {
                last_heard: now,
                last_ping,
            };
        }
        if text.len() > MAX_RELAY_TEXT {
            return self
                .out
                .push_back(SignalOutput::Dropped(i, SignalError::TooLarge));
        }
        match RelayMessage::from_json(text) {
            Ok(RelayMessage::Publish { topic, data }) if topic == self.room.topic() => {
                let Some(data) = data.as_str() else { return };
                // Authenticate before anything is remembered: a forgery costs nothing to hold.
                let opened = match self.room.open(data) {
                    Ok(p) => p,
                    Err(e) => return self.out.push_back(SignalOutput::Dropped(i, e)),
                };
                if !self.remember(data) {
                    return; // the same payload through another relay
                }
                match Signal::from_bytes(&opened) {
                    Ok(s) if s.from != self.me && s.to.as_ref().is_none_or(|to| *to == self.me) => {
                        self.out.push_back(SignalOutput::Signal(s))
                    }
                    Ok(_) => {}
                    Err(e) => self.out.push_back(SignalOutput::Dropped(i, e)),
                }
            }
            Ok(RelayMessage::Ping) => self
                .out
                .push_back(SignalOutput::Send(i, RelayMessage::Pong.to_json())),
            Ok(_) => {}
            Err(e) => self.out.push_back(SignalOutput::Dropped(i, e)),
        }
    }

    /// Publishes a signal on every open relay (`nonce`: 24 fresh random bytes).
    pub fn publish(&mut self, signal: &Signal, nonce: [u8; 24]) {
        let msg = self.sealed(signal, nonce);
        for (i, r) in self.relays.iter().enumerate() {
            if matches!(r.state, State::Open { .. }) {
                self.out.push_back(SignalOutput::Send(i, msg.clone()));
            }
        }
    }

    /// Leaves: unsubscribe everywhere.
    pub fn close(&mut self) {
        let unsub = RelayMessage::Unsubscribe {
            topics: vec![self.room.topic().to_string()],
        }
        .to_json();
        for (i, r) in self.relays.iter_mut().enumerate() {
            if matches!(r.state, State::Open { .. }) {
                self.out.push_back(SignalOutput::Send(i, unsub.clone()));
                self.out.push_back(SignalOutput::Close(i));
            }
            r.state = State::Idle { retry_at: u64::MAX };
        }
    }

    /// The next thing for the shell to do.
    pub fn poll_output(&mut self) -> Option<SignalOutput> {
        self.out.pop_front()
    }

    fn sealed(&self, s: &Signal, nonce: [u8; 24]) -> String {
        // Our own publications come back (the relay echoes to the sender): the `from` check in
        // `on_text` drops them.
        let data = self.room.seal(nonce, &s.to_bytes());
        RelayMessage::Publish {
            topic: self.room.topic().to_string(),
            data: data.into(),
        }
        .to_json()
    }

    /// Records an authenticated payload's digest; false if it was seen recently.
    fn remember(&mut self, data: &str) -> bool {
        let digest = *blake3::hash(data.as_bytes()).as_bytes();
        if self.seen.contains(&digest) {
            return false;
        }
        if self.seen_order.len() >= SEEN_CAPACITY {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(digest);
        self.seen_order.push_back(digest);
        true
    }

    /// How many payload digests the dedup cache holds (for tests of its bound).
    #[cfg(test)]
    pub(crate) fn seen_len(&self) -> usize {
        self.seen.len()
    }
}

fn backoff(failures: u32) -> u64 {
    MIN_BACKOFF_MS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(5))
        .min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests;
