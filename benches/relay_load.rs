//! Load generator for signalling relays speaking y-webrtc's protocol (ours or y-webrtc's own
//! `bin/server.js`), run by `pkg-scripts/bench-relay`; not part of the test run.
//!
//! N clients connect to a server on 127.0.0.1 and subscribe, spread over T topics. Then two
//! bounded phases:
//! - paced: every client publishes R messages per second for D seconds; each message carries its
//!   send time, and every receiver records the forward latency (publish → delivery);
//! - flood: every client keeps W publishes in flight, sending the next when one of its own comes
//!   back (the relay echoes to the sender), for D seconds: the most the server forwards.
//!
//! It reads the server's resident memory and CPU time from /proc/PID when given `--server-pid`,
//! and prints one JSON line of results (and a human summary on stderr).

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(err) = runtime.block_on(load::run()) {
        eprintln!("relay_load: {err}");
        std::process::exit(1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod load {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use clap::Parser;
    use futures_util::stream::{SplitSink, SplitStream};
    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Hard bounds: this generator is for loopback benchmarks, not for stress against others.
    const MAX_CLIENTS: usize = 5000;
    const MAX_SECONDS: u64 = 60;

    #[derive(Debug, Parser)]
    struct Args {
        /// Server URL; must be ws://127.0.0.1:PORT/ (loopback only).
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 200)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        topics: usize,
        /// Seconds of each phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Publishes per second per client in the paced phase.
        #[arg(long, default_value_t = 5)]
        rate: u32,
        /// Publishes in flight per client in the flood phase.
        #[arg(long, default_value_t = 4)]
        window: usize,
        /// Padding bytes per message (a y-webrtc offer is ~1-4 KB).
        #[arg(long, default_value_t = 512)]
        payload: usize,
        /// PID of the server, to read its memory and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Label printed with the results.
        #[arg(long, default_value = "server")]
        label: String,
        /// Passed by `cargo bench`; ignored.
        #[arg(long, hide = true)]
        bench: bool,
    }

    /// Resident memory (KiB) and CPU time (clock ticks) of a process.
    fn proc_sample(pid: Option<u32>) -> (u64, u64) {
        let Some(pid) = pid else { return (0, 0) };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (rss, tick(11) + tick(12))
    }

    fn micros_since(origin: Instant) -> u64 {
        origin.elapsed().as_micros() as u64
    }

    /// Reads the send time and sender out of `"data":"<micros> <client> <padding>"`.
    fn stamp(text: &str) -> Option<(u64, usize)> {
        let start = text.find("\"data\":\"")? + 8;
        let mut parts = text.get(start..)?.split(' ');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    struct Shared {
        origin: Instant,
        /// Whether receivers record latencies (paced phase) or feed the flood window.
        flooding: AtomicBool,
        received: AtomicU64,
        sent: AtomicU64,
    }

    async fn connect(url: &str, topic: &str) -> Result<Ws, String> {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let subscribe = format!(r#"{{"type":"subscribe","topics":["{topic}"]}}"#);
        ws.send(Message::text(subscribe))
            .await
            .map_err(|e| e.to_string())?;
        // The pong proves the subscription was handled before it.
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

    /// Reads one client's stream for the whole run; returns its paced-phase latencies (µs).
    async fn receive(
        id: usize,
        mut stream: SplitStream<Ws>,
        shared: Arc<Shared>,
        echoes: mpsc::UnboundedSender<()>,
    ) -> Vec<u32> {
        let mut latencies = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Some((sent_at, from)) = stamp(&text) else {
                continue;
            };
            shared.received.fetch_add(1, Ordering::Relaxed);
            if shared.flooding.load(Ordering::Relaxed) {
                if from == id {
                    let _ = echoes.send(());
                }
            } else {
                let latency = micros_since(shared.origin).saturating_sub(sent_at);
                latencies.push(latency.min(u64::from(u32::MAX)) as u32);
            }
        }
        latencies
    }

    fn publish_text(shared: &Shared, id: usize, topic: &str, padding: &str) -> Message {
        let now = micros_since(shared.origin);
        Message::text(format!(
            r#"{{"type":"publish","topic":"{topic}","data":"{now} {id} {padding}"}}"#
        ))
    }

    /// Publishes at `rate` per second until `until`.
    async fn paced(
        sink: &mut SplitSink<Ws, Message>,
        shared: &Shared,
        id: usize,
        topic: &str,
        a: &Args,
        until: Instant,
    ) {
        let period = Duration::from_secs_f64(1.0 / f64::from(a.rate.max(1)));
        // Spread clients over the period so they do not all publish at once.
        let offset = period.mul_f64(id as f64 / a.clients.max(1) as f64);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        let padding = "x".repeat(a.payload);
        while Instant::now() < until {
            tick.tick().await;
            if sink
                .send(publish_text(shared, id, topic, &padding))
                .await
                .is_err()
            {
                return;
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keeps `window` publishes in flight until `until`.
    async fn flood(
        sink: &mut SplitSink<Ws, Message>,
        echoes: &mut mpsc::UnboundedReceiver<()>,
        shared: &Shared,
        id: usize,
        topic: &str,
        a: &Args,
        until: Instant,
    ) {
        let padding = "x".repeat(a.payload);
        for _ in 0..a.window {
            if sink
                .send(publish_text(shared, id, topic, &padding))
                .await
                .is_err()
            {
                return;
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
        }
        while Instant::now() < until {
            let deadline = tokio::time::Instant::from_std(until);
            match tokio::time::timeout_at(deadline, echoes.recv()).await {
                Ok(Some(())) => {}
                _ => return,
            }
            if sink
                .send(publish_text(shared, id, topic, &padding))
                .await
                .is_err()
            {
                return;
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
        f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
    }

    pub async fn run() -> Result<(), String> {
        let a = Args::parse();
        if !a.url.starts_with("ws://127.0.0.1:") {
            return Err("the load generator only targets ws://127.0.0.1:PORT".into());
        }
        if a.clients == 0
            || a.clients > MAX_CLIENTS
            || a.seconds == 0
            || a.seconds > MAX_SECONDS
            || a.topics == 0
        {
            return Err(format!(
                "bounds: 1..={MAX_CLIENTS} clients, 1..={MAX_SECONDS} s, topics >= 1"
            ));
        }
        let a = Arc::new(a);
        let (rss_idle, _) = proc_sample(a.server_pid);

        // Connect and subscribe everyone, a few dozen at a time.
        let mut clients = Vec::with_capacity(a.clients);
        for chunk in (0..a.clients).collect::<Vec<_>>().chunks(50) {
            let handshakes = chunk.iter().map(|&i| {
                let topic = format!("topic-{}", i % a.topics);
                let url = a.url.clone();
                async move { connect(&url, &topic).await.map(|ws| (i, topic, ws)) }
            });
            for result in futures_util::future::join_all(handshakes).await {
                clients.push(result?);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss_held, cpu_start) = proc_sample(a.server_pid);

        let shared = Arc::new(Shared {
            origin: Instant::now(),
            flooding: AtomicBool::new(false),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        });
        let phase = Duration::from_secs(a.seconds);
        let paced_until = Instant::now() + phase;
        let drain = Duration::from_secs(1);
        let flood_until = paced_until + drain + phase;

        let mut tasks = Vec::new();
        let mut receivers = Vec::new();
        for (id, topic, ws) in clients {
            let (mut sink, stream) = ws.split();
            let (echo_tx, mut echo_rx) = mpsc::unbounded_channel();
            receivers.push(tokio::spawn(receive(
                id,
                stream,
                Arc::clone(&shared),
                echo_tx,
            )));
            let (shared, a) = (Arc::clone(&shared), Arc::clone(&a));
            tasks.push(tokio::spawn(async move {
                paced(&mut sink, &shared, id, &topic, &a, paced_until).await;
                tokio::time::sleep_until(tokio::time::Instant::from_std(paced_until + drain)).await;
                shared.flooding.store(true, Ordering::Relaxed);
                flood(
                    &mut sink,
                    &mut echo_rx,
                    &shared,
                    id,
                    &topic,
                    &a,
                    flood_until,
                )
                .await;
                sink
            }));
        }

        // Paced phase results are read when it has drained.
        tokio::time::sleep_until(tokio::time::Instant::from_std(paced_until + drain)).await;
        let paced_sent = shared.sent.load(Ordering::Relaxed);
        let paced_received = shared.received.load(Ordering::Relaxed);
        let (rss_paced, cpu_paced) = proc_sample(a.server_pid);

        tokio::time::sleep_until(tokio::time::Instant::from_std(flood_until)).await;
        let flood_received = shared.received.load(Ordering::Relaxed) - paced_received;
        let (rss_flood, cpu_flood) = proc_sample(a.server_pid);

        let mut sinks = Vec::new();
        for task in tasks {
            if let Ok(sink) = task.await {
                sinks.push(sink);
            }
        }
        let held = sinks.len();
        for mut sink in sinks {
            let _ = sink.close().await;
        }
        let mut latencies = Vec::new();
        for r in receivers {
            if let Ok(Ok(mut l)) = tokio::time::timeout(Duration::from_secs(5), r).await {
                latencies.append(&mut l);
            }
        }
        latencies.sort_unstable();

        let subscribers_per_topic = a.clients as f64 / a.topics as f64;
        let expected = paced_sent as f64 * subscribers_per_topic;
        let tick_hz = 100.0; // USER_HZ on Linux
        let secs = a.seconds as f64;
        let per_conn = |rss: u64| (rss.saturating_sub(rss_idle)) as f64 / a.clients as f64;
        let result = format!(
            concat!(
                "{{\"label\":\"{}\",\"clients\":{},\"topics\":{},\"seconds\":{},\"rate\":{},\"payload\":{},",
                "\"connections_held\":{},\"paced_published\":{},\"paced_delivered\":{},\"paced_expected\":{:.0},",
                "\"paced_forwarded_per_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},",
                "\"flood_forwarded_per_s\":{:.0},\"cpu_s_paced\":{:.2},\"cpu_s_flood\":{:.2},",
                "\"rss_idle_kib\":{},\"rss_held_kib\":{},\"rss_paced_kib\":{},\"rss_flood_kib\":{},",
                "\"rss_per_conn_held_kib\":{:.1},\"rss_per_conn_flood_kib\":{:.1}}}"
            ),
            a.label,
            a.clients,
            a.topics,
            a.seconds,
            a.rate,
            a.payload,
            held,
            paced_sent,
            latencies.len(),
            expected,
            paced_received as f64 / secs,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
            flood_received as f64 / secs,
            cpu_paced.saturating_sub(cpu_start) as f64 / tick_hz,
            cpu_flood.saturating_sub(cpu_paced) as f64 / tick_hz,
            rss_idle,
            rss_held,
            rss_paced,
            rss_flood,
            per_conn(rss_held),
            per_conn(rss_flood),
        );
        println!("{result}");
        Ok(())
    }
}
