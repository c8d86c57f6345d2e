//! One WebSocket connection: a reader that applies the protocol and the limits, and a writer that
//! drains the connection's bounded send queue into the socket.
//!
//! The two halves run as separate tasks so that a client that stops reading can only block its
//! own writer; publishers never wait for it (see [`super::topics::Peer::offer`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::limits::{IpSlot, TokenBucket};
use super::metrics::DropReason;
use super::protocol::{self, ClientMessage, CloseReason, PONG};
use super::server::Relay;
use super::topics::{Offer, Peer, Subscribed};

/// How long a closing connection's writer may take to flush its last messages and close frame.
const WRITER_GRACE: Duration = Duration::from_secs(2);

/// How a connection's reader loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client closed the connection or it broke.
    ClientGone,
    /// The relay closes it, telling the client why.
    Close(CloseReason),
    /// The client let its send queue fill up: cut it off without waiting for it.
    SlowReader,
}

/// Runs one upgraded connection to its end. `slot` holds its place in the per-address limit.
pub(crate) async fn run(relay: Arc<Relay>, socket: WebSocket, slot: IpSlot) {
    let _open = OpenConnection::new(Arc::clone(&relay));
    let (peer, outbox) = Peer::new(relay.next_connection_id(), relay.limits.send_queue);
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, outbox));
    let mut conn = Connection {
        bucket: TokenBucket::new(
            relay.limits.messages_per_second,
            relay.limits.message_burst,
            Instant::now(),
        ),
        relay,
        peer,
        topics: HashSet::new(),
    };
    tracing::debug!(id = conn.peer.id(), "connection opened");
    let ending = conn.read_loop(stream).await;
    tracing::debug!(id = conn.peer.id(), ?ending, "connection ending");
    conn.finish(ending, writer).await;
    drop(slot);
}

/// Counts the connection in the metrics while it is open, and wakes a shutdown waiting for the
/// last one.
struct OpenConnection(Arc<Relay>);

impl OpenConnection {
    fn new(relay: Arc<Relay>) -> Self {
        relay.metrics.connection_opened();
        OpenConnection(relay)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics.connection_closed();
        self.0.connection_closed();
    }
}

struct Connection {
    relay: Arc<Relay>,
    peer: Arc<Peer>,
    /// The topics this connection subscribed to, to enforce its limit and to clean up.
    topics: HashSet<String>,
    bucket: TokenBucket,
}

impl Connection {
    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>) -> Ending {
        let mut shutdown = self.relay.shutdown.clone();
        let interval = self.relay.limits.ping_interval();
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        // After a stall (a busy machine), ticks must not fire back to back: the second would see
        // no pong yet and drop a live client.
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Any frame from the client proves it alive, not only a pong.
        let mut heard_since_ping = true;
        loop {
            tokio::select! {
                // Err means the relay is gone altogether: stop as for a shutdown.
                _ = shutdown.wait_for(|stop| *stop) => return Ending::Close(CloseReason::Shutdown),
                () = self.peer.wait_evicted() => return Ending::SlowReader,
                _ = ping.tick() => {
                    if !heard_since_ping {
                        return Ending::Close(CloseReason::PingTimeout);
                    }
                    heard_since_ping = false;
                    if self.send(Message::Ping(Default::default())) == Offer::Full {
                        return Ending::SlowReader;
                    }
                }
                frame = stream.next() => {
                    heard_since_ping = true;
                    let step = match frame {
                        None => Err(Ending::ClientGone),
                        Some(Err(err)) => Err(read_error(&err)),
                        Some(Ok(Message::Text(text))) => self.on_text(text),
                        Some(Ok(Message::Binary(_))) => Err(Ending::Close(CloseReason::Binary)),
                        // tungstenite answers pings itself; pongs only prove liveness.
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                        Some(Ok(Message::Close(_))) => Err(Ending::ClientGone),
                    };
                    if let Err(ending) = step {
                        return ending;
                    }
                }
            }
        }
    }

    /// Applies one text message: the rate limit, then the protocol.
    fn on_text(&mut self, text: Utf8Bytes) -> Result<(), Ending> {
        if !self.bucket.try_take(Instant::now()) {
            return Err(Ending::Close(CloseReason::RateLimited));
        }
        self.relay.metrics.message_in();
        let max_topic = self.relay.limits.max_topic_bytes;
        let message = protocol::parse_bounded(&text, max_topic).map_err(|err| {
            tracing::debug!(id = self.peer.id(), %err, "bad message");
            Ending::Close(CloseReason::from(&err))
        })?;
        match message {
            ClientMessage::Subscribe(topics) => topics.into_iter().for_each(|t| self.subscribe(t)),
            ClientMessage::Unsubscribe(topics) => topics.iter().for_each(|t| self.unsubscribe(t)),
            ClientMessage::Publish { topic } => {
                // Forwarded as the very bytes received: `Utf8Bytes` clones share one buffer.
                // A subscriber evicted here counts its own drop as its reader task ends.
                let delivery = self.relay.topics.publish(&topic, &Message::Text(text));
                self.relay.metrics.messages_out(delivery.queued);
            }
            ClientMessage::Ping => {
                if self.send(Message::Text(Utf8Bytes::from_static(PONG))) == Offer::Full {
                    return Err(Ending::SlowReader);
                }
            }
        }
        Ok(())
    }

    fn subscribe(&mut self, topic: String) {
        if self.topics.contains(&topic) {
            return;
        }
        if self.topics.len() >= self.relay.limits.max_topics_per_connection {
            self.relay.metrics.dropped(DropReason::TooManyTopics);
            return;
        }
        match self.relay.topics.subscribe(&topic, &self.peer) {
            Subscribed::Added | Subscribed::Already => {
                self.topics.insert(topic);
            }
            Subscribed::TopicFull => self.relay.metrics.dropped(DropReason::TopicFull),
        }
    }

    fn unsubscribe(&mut self, topic: &str) {
        if self.topics.remove(topic) {
            self.relay.topics.unsubscribe(topic, self.peer.id());
        }
    }

    /// Queues a message of the relay's own to this connection.
    fn send(&self, message: Message) -> Offer {
        let offer = self.peer.offer(message);
        if offer == Offer::Queued {
            self.relay.metrics.messages_out(1);
        }
        offer
    }

    /// Leaves every topic, tells the client why it is closed when there is a reason, and lets
    /// the writer flush (or cuts it off when the client does not read).
    async fn finish(self, ending: Ending, mut writer: JoinHandle<()>) {
        for topic in &self.topics {
            self.relay.topics.unsubscribe(topic, self.peer.id());
        }
        match ending {
            Ending::ClientGone => {}
            Ending::SlowReader => {
                self.relay.metrics.dropped(DropReason::SlowReader);
                writer.abort();
            }
            Ending::Close(reason) => {
                if let Some(drop) = drop_reason(reason) {
                    self.relay.metrics.dropped(drop);
                }
                let frame = CloseFrame {
                    code: reason.code(),
                    reason: Utf8Bytes::from_static(reason.text()),
                };
                if self.peer.offer(Message::Close(Some(frame))) != Offer::Queued {
                    writer.abort();
                }
            }
        }
        // The topic map no longer holds this peer: dropping it closes the queue, so the writer
        // ends once it has written what is queued.
        drop(self.peer);
        if tokio::time::timeout(WRITER_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
    }
}

/// The drop counted when the relay closes a connection for `reason` (a shutdown is no drop).
fn drop_reason(reason: CloseReason) -> Option<DropReason> {
    match reason {
        CloseReason::Shutdown => None,
        CloseReason::Binary => Some(DropReason::Binary),
        CloseReason::Malformed => Some(DropReason::Malformed),
        CloseReason::UnknownType => Some(DropReason::UnknownType),
        CloseReason::TooBig => Some(DropReason::TooBig),
        CloseReason::RateLimited => Some(DropReason::RateLimited),
        CloseReason::PingTimeout => Some(DropReason::PingTimeout),
        CloseReason::TopicTooLong => Some(DropReason::TopicTooLong),
    }
}

/// Sorts a read error into a close reason, or a connection that is simply gone.
fn read_error(err: &axum::Error) -> Ending {
    use tungstenite::error::{CapacityError, Error as WsError};
    let inner = std::error::Error::source(err).and_then(|e| e.downcast_ref::<WsError>());
    match inner {
        Some(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
            Ending::Close(CloseReason::TooBig)
        }
        Some(WsError::Utf8(_)) => Ending::Close(CloseReason::Malformed),
        _ => Ending::ClientGone,
    }
}

/// Writes queued messages to the socket, batching whatever is already queued into one flush.
async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut outbox: mpsc::Receiver<Message>) {
    while let Some(first) = outbox.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            let closing = matches!(message, Message::Close(_));
            if sink.feed(message).await.is_err() {
                return;
            }
            if closing {
                let _ = sink.close().await;
                return;
            }
            next = outbox.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}
