//! Abuse benchmark of peer-commons-relay, run by `pkg-scripts/bench-abuse`; not part of the test
//! run (issue: bounded under abuse).
//!
//! On 127.0.0.1 it holds many idle connections (each subscribed to a topic of its own, as a
//! browser tab that has nothing to say), runs honest clients publishing at a steady rate over a
//! few shared topics, and — unless `--abusers 0` — abusers beside them, in three kinds:
//! - `malformed`: send text that is not JSON, as fast as the relay reads it;
//! - `oversize`: send messages over the relay's size cap (reconnecting when closed);
//! - `slow`: subscribe to the honest topics and never read (their TCP window fills).
//!
//! It reports the relay's resident memory per held connection, the honest clients' delivered
//! forwards per second and their latency, and how many abusers the relay closed; one JSON line.
//! Running it twice (with and without abusers) gives the ratio docs/PERFORMANCE.md records.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(err) = runtime.block_on(abuse::run()) {
        eprintln!("relay_abuse: {err}");
        std::process::exit(1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod abuse {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use clap::Parser;
    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Hard bounds: loopback benchmarks only.
    const MAX_IDLE: usize = 12_000;
    const MAX_CLIENTS: usize = 500;
    const MAX_SECONDS: u64 = 60;

    #[derive(Debug, Parser)]
    struct Args {
        /// Server URL; must be ws://127.0.0.1:PORT/ (loopback only).
        #[arg(long)]
        url: String,
        /// Idle connections held for the whole run.
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
        /// Honest clients, spread over `topics` topics.
        #[arg(long, default_value_t = 100)]
        honest: usize,
        #[arg(long, default_value_t = 10)]
        topics: usize,
        /// Publishes per second per honest client.
        #[arg(long, default_value_t = 5)]
        rate: u32,
        /// Abusers of each kind (malformed, oversize, slow).
        #[arg(long, default_value_t = 20)]
        abusers: usize,
        /// Bytes of an oversize message (over the relay's --max-message-bytes).
        #[arg(long, default_value_t = 256 * 1024)]
        oversize: usize,
        /// Seconds of the measured phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// PID of the server, to read its memory.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value = "relay")]
        label: String,
        /// Passed by `cargo bench`; ignored.
        #[arg(long, hide = true)]
        bench: bool,
    }

    /// Resident memory of a process, KiB.
    fn rss_kib(pid: Option<u32>) -> u64 {
        let Some(pid) = pid else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    #[derive(Default)]
    struct Counters {
        delivered: AtomicU64,
        published: AtomicU64,
        abuse_sent: AtomicU64,
        abusers_closed: AtomicU64,
        latency_sum_us: AtomicU64,
        latency_max_us: AtomicU64,
    }

    async fn connect(url: &str, topic: &str) -> Result<Ws, String> {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let subscribe = format!(r#"{{"type":"subscribe","topics":["{topic}"]}}"#);
        ws.send(Message::text(subscribe))
            .await
            .map_err(|e| e.to_string())?;
        ws.send(Message::text(r#"{"type":"ping"}"#))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("pong") => return Ok(ws),
                Some(Ok(_)) => continue,
                other => return Err(format!("no pong: {other:?}")),
            }
        }
    }

    /// Honest client: publishes `rate` per second, counts what it receives from others.
    async fn honest(url: String, id: usize, a: Arc<Args>, c: Arc<Counters>, origin: Instant) {
        let topic = format!("honest-{}", id % a.topics);
        let Ok(ws) = connect(&url, &topic).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let until = origin + Duration::from_secs(a.seconds);
        let counters = Arc::clone(&c);
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let Some(start) = t.find("\"data\":\"").map(|i| i + 8) else {
                    continue;
                };
                let sent: Option<u64> = t[start..].split(' ').next().and_then(|v| v.parse().ok());
                if let Some(sent) = sent {
                    let now = origin.elapsed().as_micros() as u64;
                    let lat = now.saturating_sub(sent);
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    counters.latency_sum_us.fetch_add(lat, Ordering::Relaxed);
                    counters.latency_max_us.fetch_max(lat, Ordering::Relaxed);
                }
            }
        });
        let period = Duration::from_secs_f64(1.0 / f64::from(a.rate.max(1)));
        let offset = period.mul_f64(id as f64 / a.honest.max(1) as f64);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        while Instant::now() < until {
            tick.tick().await;
            let now = origin.elapsed().as_micros();
            let text = format!(r#"{{"type":"publish","topic":"{topic}","data":"{now} {id} x"}}"#);
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
            c.published.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = sink.close().await;
        reader.abort();
    }

    /// One abuser of `kind` until `until`, reconnecting when the relay closes it.
    async fn abuser(
        url: String,
        kind: &'static str,
        id: usize,
        a: Arc<Args>,
        c: Arc<Counters>,
        until: Instant,
    ) {
        let topic = match kind {
            "slow" => format!("honest-{}", id % a.topics),
            _ => format!("abuse-{id}"),
        };
        let big = "y".repeat(a.oversize);
        while Instant::now() < until {
            let Ok(mut ws) = connect(&url, &topic).await else {
                // Refused (a cap reached): try again a little later.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            if kind == "slow" {
                // Never read: hold the socket until the end, or until the relay drops it.
                let deadline = tokio::time::Instant::from_std(until);
                let (sink, _stream) = ws.split();
                let mut sink = sink;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => return,
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {
                            // A write fails once the relay has closed us.
                            if sink.send(Message::Ping(vec![].into())).await.is_err() {
                                c.abusers_closed.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            loop {
                let m = match kind {
                    "malformed" => Message::text("{this is not json"),
                    _ => Message::text(format!(
                        r#"{{"type":"publish","topic":"{topic}","data":"{big}"}}"#
                    )),
                };
                if Instant::now() >= until || ws.send(m).await.is_err() {
                    break;
                }
                c.abuse_sent.fetch_add(1, Ordering::Relaxed);
                // Drain whatever the relay says (errors, close) without blocking.
                while let Ok(Some(m)) =
                    tokio::time::timeout(Duration::from_millis(0), ws.next()).await
                {
                    if !matches!(
                        m,
                        Ok(Message::Text(_)) | Ok(Message::Ping(_)) | Ok(Message::Pong(_))
                    ) {
                        break;
                    }
                }
            }
            if Instant::now() < until {
                c.abusers_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub async fn run() -> Result<(), String> {
        let a = Args::parse();
        if !a.url.starts_with("ws://127.0.0.1:") {
            return Err("the abuse benchmark only targets ws://127.0.0.1:PORT".into());
        }
        if a.idle > MAX_IDLE
            || a.honest == 0
            || a.honest > MAX_CLIENTS
            || a.abusers > MAX_CLIENTS
            || a.seconds == 0
            || a.seconds > MAX_SECONDS
            || a.topics == 0
        {
            return Err(format!(
                "bounds: idle <= {MAX_IDLE}, 1..={MAX_CLIENTS} honest, abusers <= {MAX_CLIENTS}, \
                 1..={MAX_SECONDS} s, topics >= 1"
            ));
        }
        let a = Arc::new(a);
        let rss_start = rss_kib(a.server_pid);

        // Idle connections, a few dozen handshakes at a time.
        let mut idle = Vec::with_capacity(a.idle);
        for chunk in (0..a.idle).collect::<Vec<_>>().chunks(100) {
            let handshakes = chunk.iter().map(|&i| {
                let url = a.url.clone();
                async move { connect(&url, &format!("idle-{i}")).await }
            });
            for r in futures_util::future::join_all(handshakes).await {
                idle.push(r.map_err(|e| format!("idle connection {}: {e}", idle.len()))?);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_idle = rss_kib(a.server_pid);

        let c = Arc::new(Counters::default());
        let origin = Instant::now();
        let until = origin + Duration::from_secs(a.seconds);
        let mut tasks = Vec::new();
        for id in 0..a.honest {
            let (url, a, c) = (a.url.clone(), Arc::clone(&a), Arc::clone(&c));
            tasks.push(tokio::spawn(honest(url, id, a, c, origin)));
        }
        for kind in ["malformed", "oversize", "slow"] {
            for id in 0..a.abusers {
                let (url, a, c) = (a.url.clone(), Arc::clone(&a), Arc::clone(&c));
                tasks.push(tokio::spawn(abuser(url, kind, id, a, c, until)));
            }
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        let rss_peak = rss_kib(a.server_pid);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // Idle connections still open at the end: the relay did not shed honest quiet tabs.
        let mut still_open = 0;
        for mut ws in idle {
            if ws.send(Message::text(r#"{"type":"ping"}"#)).await.is_ok() {
                still_open += 1;
            }
        }

        let delivered = c.delivered.load(Ordering::Relaxed);
        let published = c.published.load(Ordering::Relaxed);
        let per_topic = a.honest as f64 / a.topics as f64;
        let expected = published as f64 * per_topic;
        let mean_ms =
            c.latency_sum_us.load(Ordering::Relaxed) as f64 / delivered.max(1) as f64 / 1000.0;
        println!(
            concat!(
                "{{\"label\":\"{}\",\"idle\":{},\"idle_still_open\":{},\"honest\":{},\"abusers_per_kind\":{},",
                "\"seconds\":{},\"published\":{},\"delivered\":{},\"expected\":{:.0},",
                "\"delivered_per_s\":{:.0},\"delivered_ratio\":{:.4},\"latency_mean_ms\":{:.2},\"latency_max_ms\":{:.2},",
                "\"abuse_messages_sent\":{},\"abusers_closed\":{},",
                "\"rss_start_kib\":{},\"rss_idle_kib\":{},\"rss_peak_kib\":{},\"rss_per_idle_conn_kib\":{:.2}}}"
            ),
            a.label,
            a.idle,
            still_open,
            a.honest,
            a.abusers,
            a.seconds,
            published,
            delivered,
            expected,
            delivered as f64 / a.seconds as f64,
            delivered as f64 / expected.max(1.0),
            mean_ms,
            c.latency_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
            c.abuse_sent.load(Ordering::Relaxed),
            c.abusers_closed.load(Ordering::Relaxed),
            rss_start,
            rss_idle,
            rss_peak,
            rss_idle.saturating_sub(rss_start) as f64 / a.idle.max(1) as f64,
        );
        Ok(())
    }
}
