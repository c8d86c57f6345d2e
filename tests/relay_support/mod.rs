//! Shared helpers of the relay integration tests: an in-process relay on 127.0.0.1:0, a
//! WebSocket test client, and a raw HTTP/1.1 GET (raw so that traversal paths reach the relay
//! exactly as written).
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peer_commons::relay::{self, Config, Limits, RelayError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for any single wait, so a broken relay fails a test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(20);

/// A relay running in this process.
pub struct TestRelay {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RelayError>>,
}

impl TestRelay {
    /// Starts a relay with `limits` and no web app.
    pub async fn start(limits: Limits) -> TestRelay {
        Self::start_with(Config {
            limits,
            ..Config::default()
        })
        .await
    }

    /// Starts a relay with `config`.
    pub async fn start_with(config: Config) -> TestRelay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(relay::serve(config, listener, shutdown));
        TestRelay {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// The WebSocket URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// A connected client on `/`.
    pub async fn client(&self) -> Client {
        Client::connect(&self.url("/")).await
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = http_get(self.addr, "/metrics").await;
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).expect("metrics are UTF-8")
    }

    /// The value of one series (e.g. `peer_commons_relay_topics` or
    /// `peer_commons_relay_drops_total{reason="slow_reader"}`).
    pub async fn metric(&self, series: &str) -> u64 {
        let text = self.metrics().await;
        metric_value(&text, series).unwrap_or_else(|| panic!("no series {series} in\n{text}"))
    }

    /// Polls `/metrics` until `series` reaches `value` (the relay updates some state after a
    /// connection's task ends, which the test cannot otherwise observe).
    pub async fn wait_metric(&self, series: &str, value: u64) {
        let polled = tokio::time::timeout(WAIT, async {
            loop {
                if self.metric(series).await == value {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        if polled.is_err() {
            panic!(
                "{series} never reached {value}; metrics:\n{}",
                self.metrics().await
            );
        }
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) -> Result<(), RelayError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task")
    }
}

/// Reads one series' value from a Prometheus text exposition.
pub fn metric_value(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

/// The series of one drop reason.
pub fn drops(reason: &str) -> String {
    format!("peer_commons_relay_drops_total{{reason=\"{reason}\"}}")
}

/// A WebSocket test client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a client saw when it stopped receiving.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// A close frame with this code.
    Closed(u16),
    /// The stream ended or failed without a close frame.
    Cut,
}

impl Client {
    /// Connects to `url`, panicking on failure.
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Client { ws }
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// Sends a raw frame (e.g. a text frame that is not UTF-8).
    pub async fn send_raw_text_frame(&mut self, payload: Vec<u8>) {
        let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
        self.ws
            .send(Message::Frame(frame))
            .await
            .expect("send frame");
    }

    /// The next text message; panics on anything else or after [`WAIT`].
    pub async fn recv(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time");
            match next {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Sends `{"type":"ping"}` and waits for the pong: everything the relay queued to this
    /// client before handling the ping has arrived once this returns.
    pub async fn round_trip(&mut self) {
        self.send(r#"{"type":"ping"}"#).await;
        assert_eq!(self.recv().await, r#"{"type":"pong"}"#);
    }

    /// Reads until the connection ends, skipping text messages; reports how it ended.
    pub async fn end(&mut self) -> End {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the connection ends in time");
            match next {
                Some(Ok(Message::Close(Some(frame)))) => return End::Closed(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return End::Cut,
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// A subscribe message.
pub fn subscribe(topics: &[&str]) -> String {
    format!(r#"{{"type":"subscribe","topics":{}}}"#, json_list(topics))
}

/// An unsubscribe message.
pub fn unsubscribe(topics: &[&str]) -> String {
    format!(r#"{{"type":"unsubscribe","topics":{}}}"#, json_list(topics))
}

/// A publish message with a small `data` payload.
pub fn publish(topic: &str, data: &str) -> String {
    format!(r#"{{"type":"publish","topic":"{topic}","data":"{data}"}}"#)
}

fn json_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|t| format!("\"{t}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` over a fresh connection, the path sent exactly as given.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, "GET", path).await
}

/// `METHOD path` over a fresh connection.
pub async fn http_request(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        raw
    };
    let raw = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("response in time");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("peer-commons-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `relative` inside the directory, creating parents.
    pub fn write(&self, relative: &str, contents: &[u8]) {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(path, contents).expect("write file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
