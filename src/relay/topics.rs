//! The relay's one piece of shared state: a map from topic to its subscribed connections.
//!
//! Each connection appears here as a [`Peer`]: a bounded queue to the task that writes to its
//! socket. Publishing never waits: a peer whose queue is full is marked slow and told to leave.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::Message;
use tokio::sync::{mpsc, Notify};

use super::metrics::TopicGauges;

/// A connection as the topic map sees it.
#[derive(Debug)]
pub struct Peer {
    id: u64,
    outbox: mpsc::Sender<Message>,
    evicted: AtomicBool,
    evict_signal: Notify,
}

/// What became of a message offered to a [`Peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// In the peer's send queue.
    Queued,
    /// The queue was full: the peer is now evicted.
    Full,
    /// The peer's writer is gone.
    Closed,
}

impl Peer {
    /// A peer with a send queue of `capacity` messages, and the receiving end for its writer.
    pub fn new(id: u64, capacity: usize) -> (Arc<Peer>, mpsc::Receiver<Message>) {
        let (outbox, rx) = mpsc::channel(capacity.max(1));
        let peer = Peer {
            id,
            outbox,
            evicted: AtomicBool::new(false),
            evict_signal: Notify::new(),
        };
        (Arc::new(peer), rx)
    }

    /// The connection's id, unique within one relay.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues `message` without waiting; a full queue evicts the peer.
    pub fn offer(&self, message: Message) -> Offer {
        match self.outbox.try_send(message) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.evict();
                Offer::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Closed,
        }
    }

    /// Marks the peer as too slow; returns `true` the first time only.
    fn evict(&self) -> bool {
        let first = !self.evicted.swap(true, Ordering::AcqRel);
        if first {
            // notify_one keeps a permit when nobody waits yet, so the signal is never lost.
            self.evict_signal.notify_one();
        }
        first
    }

    /// Whether the peer has been evicted.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Resolves once the peer has been evicted.
    pub async fn wait_evicted(&self) {
        if !self.is_evicted() {
            self.evict_signal.notified().await;
        }
    }
}

/// The result of a subscription request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// The connection now receives the topic's publishes.
    Added,
    /// It already did.
    Already,
    /// The topic has its maximum of subscribers; nothing changed.
    TopicFull,
}

/// What one publish did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers the message was queued to.
    pub queued: u64,
    /// Subscribers evicted by this publish because their queue was full.
    pub evicted: u64,
}

type Subscribers = HashMap<u64, Arc<Peer>>;

/// Topic → subscribers.
#[derive(Debug)]
pub struct TopicMap {
    max_subscribers: usize,
    topics: Mutex<HashMap<Arc<str>, Subscribers>>,
}

impl TopicMap {
    /// An empty map allowing `max_subscribers` per topic.
    pub fn new(max_subscribers: usize) -> Self {
        TopicMap {
            max_subscribers,
            topics: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Subscribers>> {
        // Every update below leaves the map consistent at each step, so a poisoned lock
        // (a panic elsewhere while holding it) still guards a usable map.
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `peer` to `topic` unless the topic is full.
    pub fn subscribe(&self, topic: &str, peer: &Arc<Peer>) -> Subscribed {
        let mut topics = self.lock();
        match topics.get_mut(topic) {
            Some(subs) if subs.contains_key(&peer.id) => Subscribed::Already,
            Some(subs) if subs.len() >= self.max_subscribers => Subscribed::TopicFull,
            Some(subs) => {
                subs.insert(peer.id, Arc::clone(peer));
                Subscribed::Added
            }
            None if self.max_subscribers == 0 => Subscribed::TopicFull,
            None => {
                topics.insert(
                    Arc::from(topic),
                    HashMap::from([(peer.id, Arc::clone(peer))]),
                );
                Subscribed::Added
            }
        }
    }

    /// Removes connection `id` from `topic`; a topic left empty is forgotten.
    pub fn unsubscribe(&self, topic: &str, id: u64) {
        let mut topics = self.lock();
        if let Some(subs) = topics.get_mut(topic) {
            subs.remove(&id);
            if subs.is_empty() {
                topics.remove(topic);
            }
        }
    }

    /// Queues `message` to every subscriber of `topic`.
    pub fn publish(&self, topic: &str, message: &Message) -> Delivery {
        let topics = self.lock();
        let mut delivery = Delivery::default();
        for peer in topics.get(topic).into_iter().flat_map(|subs| subs.values()) {
            let was_evicted = peer.is_evicted();
            match peer.offer(message.clone()) {
                Offer::Queued => delivery.queued += 1,
                Offer::Full if !was_evicted => delivery.evicted += 1,
                Offer::Full | Offer::Closed => {}
            }
        }
        delivery
    }

    /// Topic and subscription counts for `/metrics`.
    pub fn gauges(&self) -> TopicGauges {
        let topics = self.lock();
        TopicGauges {
            topics: topics.len(),
            subscriptions: topics.values().map(HashMap::len).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Message {
        Message::Text(s.into())
    }

    #[test]
    fn publish_reaches_every_subscriber_once() {
        let map = TopicMap::new(10);
        let (a, mut rx_a) = Peer::new(1, 4);
        let (b, mut rx_b) = Peer::new(2, 4);
        assert_eq!(map.subscribe("t", &a), Subscribed::Added);
        assert_eq!(map.subscribe("t", &a), Subscribed::Already);
        assert_eq!(map.subscribe("t", &b), Subscribed::Added);
        assert_eq!(map.subscribe("other", &b), Subscribed::Added);
        assert_eq!(
            map.gauges(),
            TopicGauges {
                topics: 2,
                subscriptions: 3
            }
        );

        assert_eq!(
            map.publish("t", &text("m")),
            Delivery {
                queued: 2,
                evicted: 0
            }
        );
        assert_eq!(rx_a.try_recv().ok(), Some(text("m")));
        assert_eq!(rx_b.try_recv().ok(), Some(text("m")));
        assert!(rx_a.try_recv().is_err(), "one copy each");
        assert_eq!(map.publish("nobody", &text("m")), Delivery::default());
    }

    #[test]
    fn unsubscribe_forgets_empty_topics() {
        let map = TopicMap::new(10);
        let (a, _rx) = Peer::new(1, 4);
        map.subscribe("t", &a);
        map.unsubscribe("t", 1);
        map.unsubscribe("t", 1);
        map.unsubscribe("never", 1);
        assert_eq!(map.gauges(), TopicGauges::default());
        assert_eq!(map.publish("t", &text("m")), Delivery::default());
    }

    #[test]
    fn full_topic_refuses_new_subscribers() {
        let map = TopicMap::new(1);
        let (a, _ra) = Peer::new(1, 4);
        let (b, _rb) = Peer::new(2, 4);
        assert_eq!(map.subscribe("t", &a), Subscribed::Added);
        assert_eq!(map.subscribe("t", &b), Subscribed::TopicFull);
        assert_eq!(map.subscribe("t", &a), Subscribed::Already);
    }

    #[test]
    fn full_queue_evicts_once() {
        let map = TopicMap::new(10);
        let (slow, _rx) = Peer::new(1, 2);
        map.subscribe("t", &slow);
        assert_eq!(map.publish("t", &text("1")).queued, 1);
        assert_eq!(map.publish("t", &text("2")).queued, 1);
        assert!(!slow.is_evicted());
        assert_eq!(
            map.publish("t", &text("3")),
            Delivery {
                queued: 0,
                evicted: 1
            }
        );
        assert!(slow.is_evicted());
        assert_eq!(
            map.publish("t", &text("4")),
            Delivery {
                queued: 0,
                evicted: 0
            }
        );
    }

    #[tokio::test]
    async fn eviction_wakes_the_waiter_even_if_signalled_first() {
        let (peer, _rx) = Peer::new(1, 1);
        assert_eq!(peer.offer(text("1")), Offer::Queued);
        assert_eq!(peer.offer(text("2")), Offer::Full);
        peer.wait_evicted().await;
    }

    #[test]
    fn closed_writer_is_not_an_eviction() {
        let (peer, rx) = Peer::new(1, 1);
        drop(rx);
        assert_eq!(peer.offer(text("1")), Offer::Closed);
        assert!(!peer.is_evicted());
    }
}
