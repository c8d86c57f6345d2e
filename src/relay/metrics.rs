//! Counters of the relay, rendered in the Prometheus text format on `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the relay dropped a connection or refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A connection whose send queue filled up (it does not read fast enough).
    SlowReader,
    /// A connection that sent more than its token bucket allows.
    RateLimited,
    /// A connection that sent invalid JSON or fields of the wrong type.
    Malformed,
    /// A connection that sent a message `type` the protocol does not have.
    UnknownType,
    /// A connection that sent a binary frame.
    Binary,
    /// A connection that sent a message over the size limit.
    TooBig,
    /// A connection that did not answer pings.
    PingTimeout,
    /// A subscription refused because the topic has its maximum of subscribers.
    TopicFull,
    /// A subscription refused because the connection has its maximum of topics.
    TooManyTopics,
    /// A WebSocket upgrade refused because its address has its maximum of connections.
    IpLimit,
    /// A TCP connection closed unanswered because the relay has its maximum of connections.
    ConnectionLimit,
    /// An HTTP connection on which nothing moved for the idle timeout.
    IdleTimeout,
    /// A connection that named a topic longer than the topic length limit.
    TopicTooLong,
}

impl DropReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [DropReason; 13] = [
        DropReason::SlowReader,
        DropReason::RateLimited,
        DropReason::Malformed,
        DropReason::UnknownType,
        DropReason::Binary,
        DropReason::TooBig,
        DropReason::PingTimeout,
        DropReason::TopicFull,
        DropReason::TooManyTopics,
        DropReason::IpLimit,
        DropReason::ConnectionLimit,
        DropReason::IdleTimeout,
        DropReason::TopicTooLong,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::SlowReader => "slow_reader",
            DropReason::RateLimited => "rate_limited",
            DropReason::Malformed => "malformed",
            DropReason::UnknownType => "unknown_type",
            DropReason::Binary => "binary",
            DropReason::TooBig => "too_big",
            DropReason::PingTimeout => "ping_timeout",
            DropReason::TopicFull => "topic_full",
            DropReason::TooManyTopics => "too_many_topics",
            DropReason::IpLimit => "ip_limit",
            DropReason::ConnectionLimit => "connection_limit",
            DropReason::IdleTimeout => "idle_timeout",
            DropReason::TopicTooLong => "topic_too_long",
        }
    }

    fn index(self) -> usize {
        // ALL is short; the position is found without any table kept in sync by hand.
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The relay's counters. Gauges that are cheaper to read from the topic map (topics,
/// subscriptions) are passed to [`Metrics::render`] instead of being kept here.
#[derive(Debug, Default)]
pub struct Metrics {
    connections: AtomicU64,
    connections_total: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
}

/// A count read from the topic map at render time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicGauges {
    /// Topics with at least one subscriber.
    pub topics: usize,
    /// (topic, connection) pairs.
    pub subscriptions: usize,
}

impl Metrics {
    /// A WebSocket connection opened.
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A WebSocket connection ended.
    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// One message read from a client.
    pub fn message_in(&self) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` messages queued to clients.
    pub fn messages_out(&self, n: u64) {
        self.messages_out.fetch_add(n, Ordering::Relaxed);
    }

    /// One drop for `reason`.
    pub fn dropped(&self, reason: DropReason) {
        self.drops[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, gauges: TopicGauges) -> String {
        let mut out = String::with_capacity(2048);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let simple: [(&str, &str, &str, u64); 6] = [
            (
                "connections",
                "gauge",
                "Open WebSocket connections.",
                load(&self.connections),
            ),
            (
                "connections_total",
                "counter",
                "WebSocket connections accepted since start.",
                load(&self.connections_total),
            ),
            (
                "topics",
                "gauge",
                "Topics with at least one subscriber.",
                gauges.topics as u64,
            ),
            (
                "subscriptions",
                "gauge",
                "Subscriptions (topic, connection pairs).",
                gauges.subscriptions as u64,
            ),
            (
                "messages_in_total",
                "counter",
                "Messages read from clients.",
                load(&self.messages_in),
            ),
            (
                "messages_out_total",
                "counter",
                "Messages queued to clients: forwarded publishes and pongs.",
                load(&self.messages_out),
            ),
        ];
        for (name, kind, help, value) in simple {
            let _ = writeln!(out, "# HELP peer_commons_relay_{name} {help}");
            let _ = writeln!(out, "# TYPE peer_commons_relay_{name} {kind}");
            let _ = writeln!(out, "peer_commons_relay_{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP peer_commons_relay_drops_total Connections dropped or requests refused, by reason."
        );
        let _ = writeln!(out, "# TYPE peer_commons_relay_drops_total counter");
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "peer_commons_relay_drops_total{{reason=\"{}\"}} {}",
                reason.label(),
                self.drops(reason)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let m = Metrics::default();
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.message_in();
        m.messages_out(3);
        m.dropped(DropReason::TopicFull);
        m.dropped(DropReason::TopicFull);
        let text = m.render(TopicGauges {
            topics: 4,
            subscriptions: 5,
        });
        for line in [
            "peer_commons_relay_connections 1",
            "peer_commons_relay_connections_total 2",
            "peer_commons_relay_topics 4",
            "peer_commons_relay_subscriptions 5",
            "peer_commons_relay_messages_in_total 1",
            "peer_commons_relay_messages_out_total 3",
            "peer_commons_relay_drops_total{reason=\"topic_full\"} 2",
            "peer_commons_relay_drops_total{reason=\"slow_reader\"} 0",
            "# TYPE peer_commons_relay_drops_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn labels_are_unique() {
        let mut labels: Vec<&str> = DropReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), DropReason::ALL.len());
        for r in DropReason::ALL {
            assert_eq!(DropReason::ALL[r.index()], r);
        }
    }
}
