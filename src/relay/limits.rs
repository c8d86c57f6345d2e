//! The relay's limits: their values (one command-line flag each), the per-connection token bucket
//! and the per-address connection count.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Default for [`Limits::max_message_bytes`]: y-webrtc's offers and answers are a few KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Default for [`Limits::max_topics_per_connection`].
pub const DEFAULT_MAX_TOPICS_PER_CONNECTION: usize = 64;
/// Default for [`Limits::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;
/// Default for [`Limits::messages_per_second`].
pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 100;
/// Default for [`Limits::message_burst`]: a y-webrtc peer joining a room of ~35 peers sends an
/// offer and a few ICE candidates to each at once.
pub const DEFAULT_MESSAGE_BURST: u32 = 500;
/// Default for [`Limits::max_subscribers_per_topic`].
pub const DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC: usize = 1000;
/// Default for [`Limits::send_queue`].
pub const DEFAULT_SEND_QUEUE: usize = 256;
/// Default for [`Limits::ping_interval_ms`], as y-webrtc's server.
pub const DEFAULT_PING_INTERVAL_MS: u64 = 30_000;
/// Default for [`Limits::max_connections`]: an idle WebSocket costs about 10 KiB of the relay's
/// memory (docs/PERFORMANCE.md, Relay), so 4096 of them stay around 40 MiB, plus kernel socket
/// buffers; raise it together with the process's file descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default for [`Limits::max_topic_bytes`]: our topics are 64 hex characters and y-webrtc room
/// names are short.
pub const DEFAULT_MAX_TOPIC_BYTES: usize = 256;
/// Default for [`Limits::header_read_timeout_ms`]: a browser sends its request head at once.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default for [`Limits::idle_timeout_ms`].
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;

/// Every limit of the relay; each field is a command-line flag of `peer-commons-relay`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Largest WebSocket message (and frame) accepted, in bytes; a larger one closes the
    /// connection with code 1009.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES, value_parser = at_least_one)]
    pub max_message_bytes: usize,

    /// Topics one connection may subscribe to; further subscriptions are refused
    /// (counted as drops, reason `too_many_topics`), the connection stays open.
    #[arg(long, default_value_t = DEFAULT_MAX_TOPICS_PER_CONNECTION)]
    pub max_topics_per_connection: usize,

    /// Open WebSocket connections from one IP address; the next upgrade is answered 429.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS_PER_IP, value_parser = at_least_one)]
    pub max_connections_per_ip: usize,

    /// Sustained messages per second one connection may send (token bucket refill rate); past
    /// the bucket the connection is closed with code 4029.
    #[arg(long, default_value_t = DEFAULT_MESSAGES_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_second: u32,

    /// Messages one connection may send in a burst (token bucket capacity).
    #[arg(long, default_value_t = DEFAULT_MESSAGE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub message_burst: u32,

    /// Subscribers one topic may have; further subscriptions to it are refused (counted as
    /// drops, reason `topic_full`), the connection stays open.
    #[arg(long, default_value_t = DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC)]
    pub max_subscribers_per_topic: usize,

    /// Messages waiting to be written to one connection; a reader that lets it fill is
    /// dropped (reason `slow_reader`), so a slow reader never grows the relay's memory.
    #[arg(long, default_value_t = DEFAULT_SEND_QUEUE, value_parser = at_least_one)]
    pub send_queue: usize,

    /// Interval between WebSocket pings, in milliseconds; a connection from which nothing
    /// arrived during one whole interval after a ping is closed with code 4008.
    #[arg(long, default_value_t = DEFAULT_PING_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_ms: u64,

    /// Open TCP connections (HTTP and WebSocket together); past it a new connection is closed
    /// at once, unanswered (drop reason `connection_limit`).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one)]
    pub max_connections: usize,

    /// Longest topic name, in bytes; a subscribe or publish naming a longer one closes the
    /// connection with code 4014.
    #[arg(long, default_value_t = DEFAULT_MAX_TOPIC_BYTES, value_parser = at_least_one)]
    pub max_topic_bytes: usize,

    /// Time a client has to send a whole request head (request line and headers), in
    /// milliseconds, also while a kept-alive connection waits for its next request; then the
    /// connection is closed.
    #[arg(long, default_value_t = DEFAULT_HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,

    /// An HTTP connection on which no byte moved either way for this long, in milliseconds, is
    /// closed (a client that stops reading a response; drop reason `idle_timeout`). WebSockets
    /// are kept alive by pings instead (`--ping-interval-ms`).
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
}

/// Parses a count that must be at least 1.
fn at_least_one(arg: &str) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_topics_per_connection: DEFAULT_MAX_TOPICS_PER_CONNECTION,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            messages_per_second: DEFAULT_MESSAGES_PER_SECOND,
            message_burst: DEFAULT_MESSAGE_BURST,
            max_subscribers_per_topic: DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC,
            send_queue: DEFAULT_SEND_QUEUE,
            ping_interval_ms: DEFAULT_PING_INTERVAL_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_topic_bytes: DEFAULT_MAX_TOPIC_BYTES,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
        }
    }
}

/// A limit that cannot work as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit `{0}` must be at least 1")]
pub struct InvalidLimit(pub &'static str);

impl Limits {
    /// Checks the limits that would stop the relay from working at all when zero (the flags
    /// already refuse them; this guards [`Limits`] built in code).
    pub fn validate(&self) -> Result<(), InvalidLimit> {
        let nonzero = [
            ("max_message_bytes", self.max_message_bytes as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("messages_per_second", u64::from(self.messages_per_second)),
            ("message_burst", u64::from(self.message_burst)),
            ("send_queue", self.send_queue as u64),
            ("ping_interval_ms", self.ping_interval_ms),
            ("max_connections", self.max_connections as u64),
            ("max_topic_bytes", self.max_topic_bytes as u64),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ];
        match nonzero.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(InvalidLimit(name)),
            None => Ok(()),
        }
    }

    /// The ping interval as a [`Duration`].
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    /// The header-read timeout as a [`Duration`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// The idle timeout of HTTP connections as a [`Duration`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// A token bucket: `capacity` tokens, refilled at `per_second`; one message takes one token.
///
/// Time is an input (sans-IO): the caller passes `now`, so tests drive it without waiting.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32, capacity: u32, now: Instant) -> Self {
        TokenBucket {
            capacity: f64::from(capacity),
            per_second: f64::from(per_second),
            tokens: f64::from(capacity),
            last: now,
        }
    }

    /// Takes one token if there is one; `false` means the message is over the limit.
    pub fn try_take(&mut self, now: Instant) -> bool {
        // A clock that goes backwards refills nothing (saturating), it never panics.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        if now > self.last {
            self.last = now;
        }
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The address a per-address limit counts a client under.
///
/// IPv4 as is; an IPv4-mapped IPv6 address as its IPv4; any other IPv6 address by its /64,
/// since one subscriber usually holds a whole /64 and could take a fresh address per connection.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// Counts open connections per IP address (by [`limit_key`]).
#[derive(Debug)]
pub struct IpLimiter {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in an [`IpLimiter`]; released when dropped.
#[derive(Debug)]
pub struct IpSlot {
    limiter: Arc<IpLimiter>,
    ip: IpAddr,
}

impl IpLimiter {
    /// A limiter allowing `max` open connections per address.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(IpLimiter {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for `ip`, or `None` when that address (its /64 for IPv6) already holds
    /// `max` connections.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let ip = limit_key(ip);
        // The map holds plain counts: a panic elsewhere cannot leave it inconsistent.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Open connections from `ip` (its /64 for IPv6).
    pub fn open(&self, ip: IpAddr) -> usize {
        let ip = limit_key(ip);
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn flag_defaults_equal_default() {
        let cli = Cli::try_parse_from(["relay"]).expect("no flags parse");
        assert_eq!(cli.limits, Limits::default());
        assert_eq!(Limits::default().validate(), Ok(()));
    }

    #[test]
    fn flags_set_limits_and_refuse_zero() {
        let cli =
            Cli::try_parse_from(["relay", "--send-queue", "3", "--max-message-bytes", "1000"])
                .expect("flags parse");
        assert_eq!(cli.limits.send_queue, 3);
        assert_eq!(cli.limits.max_message_bytes, 1000);
        assert!(Cli::try_parse_from(["relay", "--send-queue", "0"]).is_err());
        assert!(Cli::try_parse_from(["relay", "--messages-per-second", "0"]).is_err());
    }

    #[test]
    fn validate_names_the_zero_limit() {
        let limits = Limits {
            send_queue: 0,
            ..Limits::default()
        };
        assert_eq!(limits.validate(), Err(InvalidLimit("send_queue")));
    }

    #[test]
    fn bucket_allows_burst_then_refills_at_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, t0);
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0), "burst of 3 is spent");
        // 10 per second: one token every 100 ms.
        assert!(!bucket.try_take(t0 + Duration::from_millis(50)));
        assert!(bucket.try_take(t0 + Duration::from_millis(100)));
        assert!(!bucket.try_take(t0 + Duration::from_millis(100)));
        // A long pause refills only up to the capacity.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.try_take(later));
        }
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn bucket_survives_time_going_backwards() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut bucket = TokenBucket::new(1, 1, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 - Duration::from_millis(500)));
    }

    #[test]
    fn ip_limiter_counts_and_releases() {
        let limiter = IpLimiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let s1 = limiter.try_acquire(a);
        let s2 = limiter.try_acquire(a);
        assert!(s1.is_some() && s2.is_some());
        assert!(limiter.try_acquire(a).is_none());
        assert!(
            limiter.try_acquire(b).is_some(),
            "other addresses are counted apart"
        );
        drop(s1);
        assert_eq!(limiter.open(a), 1);
        assert!(limiter.try_acquire(a).is_some());
    }

    #[test]
    fn ipv6_is_limited_by_its_64_and_mapped_ipv4_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(limit_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(limit_key(ip("192.0.2.7")), ip("192.0.2.7"));
        let limiter = IpLimiter::new(2);
        let _a = limiter.try_acquire(ip("2001:db8:1:2::1"));
        let _b = limiter.try_acquire(ip("2001:db8:1:2:ffff::9"));
        assert!(limiter.try_acquire(ip("2001:db8:1:2::77")).is_none());
        assert!(limiter.try_acquire(ip("2001:db8:1:3::1")).is_some());
        let _c = limiter.try_acquire(ip("192.0.2.7"));
        let _d = limiter.try_acquire(ip("::ffff:192.0.2.7"));
        assert!(limiter.try_acquire(ip("192.0.2.7")).is_none());
    }
}
