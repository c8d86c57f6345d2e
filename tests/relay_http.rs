//! The relay's HTTP side: `/health`, `/metrics`, static files (MIME types, no traversal),
//! start-up errors, graceful shutdown, and the `peer-commons-relay` binary itself.

// The relay and its test clients are native only.
#![cfg(not(target_arch = "wasm32"))]

mod relay_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use peer_commons::relay::{self, Config, Limits, RelayError};
use relay_support::*;

#[tokio::test]
async fn health_answers_ok() {
    let relay = TestRelay::start(Limits::default()).await;
    let response = http_get(relay.addr, "/health").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok\n");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_series() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client.send(&subscribe(&["a", "b"])).await;
    client.round_trip().await;
    let response = http_get(relay.addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")));
    let text = response.text();
    for (series, value) in [
        ("peer_commons_relay_connections", 1),
        ("peer_commons_relay_connections_total", 1),
        ("peer_commons_relay_topics", 2),
        ("peer_commons_relay_subscriptions", 2),
        ("peer_commons_relay_messages_in_total", 2),
        ("peer_commons_relay_messages_out_total", 1),
    ] {
        assert_eq!(
            metric_value(&text, series),
            Some(value),
            "{series} in\n{text}"
        );
    }
    for reason in [
        "slow_reader",
        "rate_limited",
        "malformed",
        "unknown_type",
        "binary",
        "too_big",
        "ping_timeout",
        "topic_full",
        "too_many_topics",
        "ip_limit",
    ] {
        assert_eq!(metric_value(&text, &drops(reason)), Some(0), "{reason}");
    }
    // Every sample line belongs to a declared metric family.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let family = line.split(['{', ' ']).next().unwrap_or_default();
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "undeclared {family}"
        );
    }
}

#[tokio::test]
async fn without_www_root_is_a_short_text_and_the_rest_404() {
    let relay = TestRelay::start(Limits::default()).await;
    let root = http_get(relay.addr, "/").await;
    assert_eq!(root.status, 200);
    assert!(root.text().contains("signalling relay"));
    assert_eq!(http_get(relay.addr, "/index.html").await.status, 404);
}

#[tokio::test]
async fn only_get_and_head_are_served() {
    let relay = TestRelay::start(Limits::default()).await;
    let post = http_request(relay.addr, "POST", "/health").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = http_request(relay.addr, "HEAD", "/health").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

/// A web app directory beside a secret file that must never be served.
struct Site {
    outer: TempDir,
}

const SECRET: &str = "SECRET-OUTSIDE-WWW";

impl Site {
    fn new() -> Site {
        let outer = TempDir::new("www");
        outer.write("secret.txt", SECRET.as_bytes());
        outer.write("www/index.html", b"<!doctype html><title>app</title>");
        outer.write("www/app.js", b"export const a = 1;");
        outer.write("www/mod.mjs", b"export const b = 2;");
        outer.write("www/style.css", b"body{}");
        outer.write("www/data.json", b"{\"k\":1}");
        outer.write("www/pkg/peer_commons_bg.wasm", b"\0asm\x01\0\0\0");
        outer.write("www/docs/index.html", b"<p>docs</p>");
        outer.write("www/.hidden", b"hidden");
        Site { outer }
    }

    fn www(&self) -> std::path::PathBuf {
        self.outer.path().join("www")
    }

    async fn relay(&self) -> TestRelay {
        TestRelay::start_with(Config {
            www: Some(self.www()),
            ..Config::default()
        })
        .await
    }
}

#[tokio::test]
async fn static_files_have_their_mime_types() {
    let site = Site::new();
    let relay = site.relay().await;
    for (path, mime, body) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<!doctype html><title>app</title>",
        ),
        (
            "/index.html",
            "text/html; charset=utf-8",
            "<!doctype html><title>app</title>",
        ),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            "export const a = 1;",
        ),
        (
            "/mod.mjs",
            "text/javascript; charset=utf-8",
            "export const b = 2;",
        ),
        ("/style.css", "text/css; charset=utf-8", "body{}"),
        ("/data.json", "application/json", "{\"k\":1}"),
        (
            "/pkg/peer_commons_bg.wasm",
            "application/wasm",
            "\0asm\x01\0\0\0",
        ),
        ("/docs/", "text/html; charset=utf-8", "<p>docs</p>"),
    ] {
        let response = http_get(relay.addr, path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("content-type"), Some(mime), "{path}");
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(response.body, body.as_bytes(), "{path}");
    }
    let dir = http_get(relay.addr, "/docs").await;
    assert_eq!(dir.status, 308);
    assert_eq!(dir.header("location"), Some("/docs/"));
    assert_eq!(http_get(relay.addr, "/missing.js").await.status, 404);
}

#[tokio::test]
async fn traversal_attempts_never_leave_www() {
    let site = Site::new();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        site.outer.path().join("secret.txt"),
        site.www().join("link.txt"),
    )
    .expect("symlink");
    let relay = site.relay().await;
    for path in [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/pkg/../../secret.txt",
        "/pkg/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/.hidden",
        "/%2ehidden",
        "/link.txt",
        "//etc/passwd",
        "/%00",
    ] {
        let response = http_get(relay.addr, path).await;
        assert!(
            matches!(response.status, 400 | 404),
            "{path}: {}",
            response.status
        );
        assert!(
            !response.text().contains(SECRET),
            "{path} leaked the secret"
        );
        assert!(
            !response.text().contains("hidden"),
            "{path} served a dot file"
        );
    }
    assert_eq!(http_get(relay.addr, "/%ff").await.status, 400);
}

#[tokio::test]
async fn websocket_upgrades_even_where_files_are_served() {
    let site = Site::new();
    let relay = site.relay().await;
    let mut client = Client::connect(&relay.url("/index.html")).await;
    client.round_trip().await;
}

#[tokio::test]
async fn bad_start_up_settings_are_clear_errors() {
    let listener = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
    };
    let missing = Config {
        www: Some("/nonexistent/peer-commons-www".into()),
        ..Config::default()
    };
    let err = relay::serve(missing, listener().await, async {}).await;
    assert!(matches!(err, Err(RelayError::Www { .. })), "{err:?}");

    let site = Site::new();
    let file = Config {
        www: Some(site.www().join("app.js")),
        ..Config::default()
    };
    let err = relay::serve(file, listener().await, async {}).await;
    assert!(
        matches!(err, Err(RelayError::WwwNotDirectory(_))),
        "{err:?}"
    );

    let zero = Config {
        limits: Limits {
            send_queue: 0,
            ..Limits::default()
        },
        ..Config::default()
    };
    let err = relay::serve(zero, listener().await, async {}).await;
    assert!(matches!(err, Err(RelayError::Limit(_))), "{err:?}");
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_1001_and_returns() {
    let relay = TestRelay::start(Limits::default()).await;
    let addr = relay.addr;
    let mut a = relay.client().await;
    let mut b = relay.client().await;
    a.send(&subscribe(&["t"])).await;
    a.round_trip().await;
    b.round_trip().await;
    let stopping = tokio::spawn(relay.stop());
    assert_eq!(a.end().await, End::Closed(1001));
    assert_eq!(b.end().await, End::Closed(1001));
    let result = tokio::time::timeout(WAIT, stopping)
        .await
        .expect("serve returns")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_client_stuck_mid_request_does_not_hold_up_shutdown() {
    use tokio::io::AsyncWriteExt;
    let relay = TestRelay::start(Limits::default()).await;
    let mut stuck = tokio::net::TcpStream::connect(relay.addr)
        .await
        .expect("connect");
    // Headers never finished.
    stuck
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut silent = relay.client().await; // never reads again
    silent.round_trip().await;
    let result = relay.stop().await;
    assert!(result.is_ok(), "{result:?}");
}

/// Starts the real binary on port 0 and reads the address it prints.
fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peer-commons-relay"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn relay binary");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    (child, addr.to_owned())
}

/// Runs the binary, checks it serves, then sends `signal` and expects a graceful exit.
async fn binary_serves_then_stops_on(signal: &str) {
    let site = Site::new();
    let www = site.www();
    let (mut child, addr) = spawn_binary(&[
        "--www",
        www.to_str().expect("utf-8 path"),
        "--send-queue",
        "8",
    ]);
    let addr: std::net::SocketAddr = addr.parse().expect("a socket address");
    assert_eq!(http_get(addr, "/health").await.status, 200);
    assert_eq!(
        http_get(addr, "/app.js").await.text(),
        "export const a = 1;"
    );
    let mut client = Client::connect(&format!("ws://{addr}/")).await;
    client.round_trip().await;

    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(client.end().await, End::Closed(1001), "{signal}");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(
        status.success(),
        "graceful exit on {signal}, got {status:?}"
    );
}

#[tokio::test]
async fn binary_prints_its_address_serves_and_stops_on_sigterm() {
    binary_serves_then_stops_on("-TERM").await;
}

#[tokio::test]
async fn binary_stops_gracefully_on_sigint() {
    binary_serves_then_stops_on("-INT").await;
}

#[test]
fn binary_refuses_a_zero_limit() {
    let output = Command::new(env!("CARGO_BIN_EXE_peer-commons-relay"))
        .args(["--listen", "127.0.0.1:0", "--send-queue", "0"])
        .output()
        .expect("run relay binary");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("send-queue"));
}
