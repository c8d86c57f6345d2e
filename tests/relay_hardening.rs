//! The relay under abuse (issue #14, item 3): each test is an attack seen against the relay,
//! then the bound that now stops it. Servers bind 127.0.0.1 only.

// The relay and its test clients are native only.
#![cfg(not(target_arch = "wasm32"))]

mod relay_support;

use std::process::Command;

use peer_commons::relay::{Config, Limits, RelayError};
use relay_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Reads until the server closes the connection (EOF or reset); what arrived before.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the relay never closed the connection");
    got
}

/// A WebSocket upgrade on `/` carrying `X-Forwarded-For: xff`; the HTTP status it got (101 when
/// it connected, the client is kept open in the returned value).
async fn connect_forwarded(relay: &TestRelay, xff: &str) -> (u16, Option<Client>) {
    let mut request = relay.url("/").into_client_request().expect("request");
    request.headers_mut().insert(
        "x-forwarded-for",
        HeaderValue::from_str(xff).expect("header value"),
    );
    let connected = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("an answer in time");
    match connected {
        Ok((ws, response)) => (response.status().as_u16(), Some(Client { ws })),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            (response.status().as_u16(), None)
        }
        Err(other) => panic!("upgrade failed without an HTTP answer: {other}"),
    }
}

async fn start(limits: Limits) -> TestRelay {
    TestRelay::start_with(Config {
        limits,
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn an_unfinished_request_is_cut_after_the_header_timeout() {
    let relay = start(Limits {
        header_read_timeout_ms: 200,
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(relay.addr).await.expect("connect");
    // Slowloris: a request line and one header, then nothing.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: relay\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 408"),
        "no answer or 408, got {text:?}"
    );
    // The relay is still there for others.
    assert_eq!(http_get(relay.addr, "/health").await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let relay = start(Limits {
        header_read_timeout_ms: 200,
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(relay.addr).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .expect("write");
    // One request answered, then the connection waits for a next one that never comes.
    let answer = read_until_closed(&mut stream).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_response_nobody_reads_is_cut_after_the_idle_timeout() {
    let site = TempDir::new("idle");
    // Far more than the socket buffers on both sides hold, so the relay's writes stall.
    let size = 48 * 1024 * 1024;
    site.write("big.bin", &vec![7u8; size]);
    let relay = TestRelay::start_with(Config {
        www: Some(site.path().to_path_buf()),
        limits: Limits {
            idle_timeout_ms: 200,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(relay.addr).await.expect("connect");
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .expect("write");
    relay.wait_metric(&drops("idle_timeout"), 1).await;
    let got = read_until_closed(&mut stream).await;
    assert!(got.len() < size, "the whole file arrived: it was not cut");
}

/// Connects a WebSocket client, retrying while the relay is still releasing a closed one's place.
async fn connect_when_possible(relay: &TestRelay) -> Client {
    let url = relay.url("/");
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await {
                return Client { ws };
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a place frees up")
}

#[tokio::test]
async fn connections_past_the_global_cap_are_refused() {
    let relay = start(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let mut a = relay.client().await;
    let _b = relay.client().await;
    // Every place is taken: the next TCP connection is closed without an answer.
    let mut third = TcpStream::connect(relay.addr).await.expect("connect");
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await;
    assert!(read_until_closed(&mut third).await.is_empty());
    assert!(tokio_tungstenite::connect_async(relay.url("/"))
        .await
        .is_err());
    // A connection that ends gives its place back.
    a.ws.close(None).await.expect("close");
    let _c = connect_when_possible(&relay).await;
    drop(_b);
    // Metrics need a place too: wait for the one `_b` held.
    let counted = tokio::time::timeout(WAIT, async {
        loop {
            let mut probe = TcpStream::connect(relay.addr).await.expect("connect");
            let request = b"GET /metrics HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n";
            if probe.write_all(request).await.is_ok() {
                let text =
                    String::from_utf8_lossy(&read_until_closed(&mut probe).await).into_owned();
                if let Some(n) = metric_value(&text, &drops("connection_limit")) {
                    return n;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("metrics answered once a place is free");
    assert!(
        counted >= 2,
        "both refused connections counted, got {counted}"
    );
}

#[tokio::test]
async fn an_oversized_topic_closes_the_connection() {
    let relay = start(Limits::default()).await;
    let long = "t".repeat(16 * 1024);
    let mut subscriber = relay.client().await;
    subscriber.send(&subscribe(&[&long])).await;
    assert_eq!(subscriber.end().await, End::Closed(4014));
    let mut publisher = relay.client().await;
    publisher.send(&publish(&long, "x")).await;
    assert_eq!(publisher.end().await, End::Closed(4014));
    relay.wait_metric(&drops("topic_too_long"), 2).await;
    assert_eq!(relay.metric("peer_commons_relay_topics").await, 0);

    // Our own topics (64 hex chars) and y-webrtc room names stay well under the default cap.
    let mut fine = relay.client().await;
    let at_cap = "h".repeat(256);
    fine.send(&subscribe(&[&"a".repeat(64), "room", &at_cap]))
        .await;
    fine.send(&publish(&at_cap, "hello")).await;
    assert!(fine.recv().await.contains("hello"));
}

#[tokio::test]
async fn ipv6_clients_of_one_slash_64_share_one_per_address_limit() {
    let relay = TestRelay::start_with(Config {
        limits: Limits {
            max_connections_per_ip: 2,
            ..Limits::default()
        },
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("cidr")],
        ..Config::default()
    })
    .await;
    // One client, a fresh address of its /64 per connection.
    let (s1, _c1) = connect_forwarded(&relay, "2001:db8:0:7::1").await;
    let (s2, _c2) = connect_forwarded(&relay, "2001:db8:0:7:ffff:ffff:ffff:2").await;
    let (s3, _c3) = connect_forwarded(&relay, "2001:db8:0:7::3").await;
    assert_eq!((s1, s2, s3), (101, 101, 429));
    // The neighbouring /64 is someone else.
    let (other, _c4) = connect_forwarded(&relay, "2001:db8:0:8::1").await;
    assert_eq!(other, 101);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let relay = TestRelay::start_with(Config {
        limits: Limits {
            max_connections_per_ip: 1,
            ..Limits::default()
        },
        trusted_proxies: vec!["127.0.0.0/8".parse().expect("cidr")],
        ..Config::default()
    })
    .await;
    // Every connection comes from the proxy (127.0.0.1); the proxy appends the real client.
    let (a, _ca) = connect_forwarded(&relay, "198.51.100.1").await;
    let (b, _cb) = connect_forwarded(&relay, "198.51.100.2, 127.0.0.2").await;
    assert_eq!((a, b), (101, 101), "two clients behind one proxy");
    // A client forging hops to the left of what the proxy appended is still itself.
    let (forged, _cf) = connect_forwarded(&relay, "203.0.113.9, 198.51.100.1").await;
    assert_eq!(forged, 429);
    let (garbage, _cg) = connect_forwarded(&relay, "not-an-ip, 198.51.100.1").await;
    assert_eq!(garbage, 429);
}

#[tokio::test]
async fn without_trusted_proxy_forwarded_for_is_ignored() {
    let relay = start(Limits {
        max_connections_per_ip: 1,
        ..Limits::default()
    })
    .await;
    let (a, _ca) = connect_forwarded(&relay, "198.51.100.1").await;
    let (b, _cb) = connect_forwarded(&relay, "198.51.100.2").await;
    assert_eq!((a, b), (101, 429), "a client cannot name itself");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_index_pointing_outside_www_is_refused() {
    let outside = TempDir::new("outside");
    outside.write("secret.txt", b"SECRET-OUTSIDE-WWW");
    let site = TempDir::new("symlink-www");
    site.write("app.js", b"ok");
    std::fs::create_dir_all(site.path().join("sub")).expect("mkdir");
    let secret = outside.path().join("secret.txt");
    std::os::unix::fs::symlink(&secret, site.path().join("index.html")).expect("symlink");
    std::os::unix::fs::symlink(&secret, site.path().join("sub/index.html")).expect("symlink");
    let relay = TestRelay::start_with(Config {
        www: Some(site.path().to_path_buf()),
        ..Config::default()
    })
    .await;
    for path in ["/", "/sub/", "/index.html", "/sub/index.html"] {
        let response = http_get(relay.addr, path).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(
            !response.text().contains("SECRET"),
            "{path} leaked the file"
        );
    }
    assert_eq!(http_get(relay.addr, "/app.js").await.status, 200);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let site = TempDir::new("headers");
    site.write("index.html", b"<!doctype html>");
    let relay = TestRelay::start_with(Config {
        www: Some(site.path().to_path_buf()),
        ..Config::default()
    })
    .await;
    for path in ["/", "/missing", "/health"] {
        let response = http_get(relay.addr, path).await;
        let csp = response.header("content-security-policy").unwrap_or("");
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "worker-src 'self'",
            "connect-src 'self' ws: wss:",
            "object-src 'none'",
            "frame-ancestors 'self'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: {directive} missing in {csp:?}"
            );
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    }
}

#[tokio::test]
async fn operators_can_widen_frame_ancestors_but_not_inject_directives() {
    let relay = TestRelay::start_with(Config {
        frame_ancestors: "'self' https://embed.example".to_owned(),
        ..Config::default()
    })
    .await;
    let response = http_get(relay.addr, "/").await;
    let csp = response.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("frame-ancestors 'self' https://embed.example"),
        "{csp}"
    );

    for bad in ["*; script-src *", "a,b", "x\r\ny", ""] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let config = Config {
            frame_ancestors: bad.to_owned(),
            ..Config::default()
        };
        let served = peer_commons::relay::serve(config, listener, async {}).await;
        assert!(
            matches!(served, Err(RelayError::FrameAncestors(_))),
            "{bad:?}: {served:?}"
        );
    }
}

#[test]
fn help_names_every_bound() {
    let output = Command::new(env!("CARGO_BIN_EXE_peer-commons-relay"))
        .arg("--help")
        .output()
        .expect("run the relay");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--header-read-timeout-ms",
        "--idle-timeout-ms",
        "--max-connections",
        "--max-topic-bytes",
        "--trusted-proxy",
        "--frame-ancestors",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    let refused = Command::new(env!("CARGO_BIN_EXE_peer-commons-relay"))
        .args(["--trusted-proxy", "10.0.0.0/99"])
        .output()
        .expect("run the relay");
    assert!(!refused.status.success(), "a bad CIDR is refused");
}
