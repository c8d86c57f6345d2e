//! Every limit of the relay, each set low and hit by real WebSocket clients.

// The relay and its test clients are native only.
#![cfg(not(target_arch = "wasm32"))]

mod relay_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peer_commons::relay::Limits;
use relay_support::*;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test]
async fn topics_per_connection_refuses_extra_topics_but_keeps_the_connection() {
    let relay = TestRelay::start(Limits {
        max_topics_per_connection: 2,
        ..Limits::default()
    })
    .await;
    let mut client = relay.client().await;
    let mut publisher = relay.client().await;
    client.send(&subscribe(&["a", "b", "c"])).await;
    client.send(&subscribe(&["a"])).await; // already held: no new topic, no drop
    client.round_trip().await;
    assert_eq!(relay.metric(&drops("too_many_topics")).await, 1);

    publisher.send(&publish("c", "refused")).await;
    publisher.send(&publish("b", "held")).await;
    assert_eq!(client.recv().await, publish("b", "held"));

    // Leaving a topic frees a place.
    client.send(&unsubscribe(&["a"])).await;
    client.send(&subscribe(&["c"])).await;
    client.round_trip().await;
    publisher.send(&publish("c", "now held")).await;
    assert_eq!(client.recv().await, publish("c", "now held"));
    assert_eq!(relay.metric(&drops("too_many_topics")).await, 1);
}

#[tokio::test]
async fn subscribers_per_topic_refuses_the_next_subscriber() {
    let relay = TestRelay::start(Limits {
        max_subscribers_per_topic: 2,
        ..Limits::default()
    })
    .await;
    let mut first = relay.client().await;
    let mut second = relay.client().await;
    let mut third = relay.client().await;
    for client in [&mut first, &mut second] {
        client.send(&subscribe(&["full"])).await;
        client.round_trip().await;
    }
    third.send(&subscribe(&["full", "marker"])).await;
    third.round_trip().await;
    assert_eq!(relay.metric(&drops("topic_full")).await, 1);

    first.send(&publish("full", "x")).await;
    first.send(&publish("marker", "y")).await;
    for client in [&mut first, &mut second] {
        assert_eq!(client.recv().await, publish("full", "x"));
    }
    assert_eq!(
        third.recv().await,
        publish("marker", "y"),
        "the third never joined `full`"
    );

    // A place freed by a departing subscriber can be taken.
    first.ws.close(None).await.expect("close");
    relay.wait_metric("peer_commons_relay_connections", 2).await;
    third.send(&subscribe(&["full"])).await;
    third.round_trip().await;
    second.send(&publish("full", "z")).await;
    assert_eq!(third.recv().await, publish("full", "z"));
}

#[tokio::test]
async fn connections_per_ip_answers_429_past_the_limit() {
    let relay = TestRelay::start(Limits {
        max_connections_per_ip: 2,
        ..Limits::default()
    })
    .await;
    let mut first = relay.client().await;
    let _second = relay.client().await;
    match tokio_tungstenite::connect_async(relay.url("/")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 429),
        other => panic!("expected HTTP 429, got {other:?}"),
    }
    assert_eq!(relay.metric(&drops("ip_limit")).await, 1);
    // Plain HTTP is not counted against the limit.
    assert_eq!(http_get(relay.addr, "/health").await.status, 200);

    first.ws.close(None).await.expect("close");
    relay.wait_metric("peer_commons_relay_connections", 1).await;
    let mut third = relay.client().await;
    third.round_trip().await;
}

#[tokio::test]
async fn rate_limit_closes_with_4029_after_the_burst() {
    // One token per second: the burst of 5 is all a test running well under 5 s can spend.
    let limits = Limits {
        messages_per_second: 1,
        message_burst: 5,
        ..Limits::default()
    };
    let relay = TestRelay::start(limits).await;
    let mut client = relay.client().await;
    let mut bystander = relay.client().await;
    for _ in 0..10 {
        client
            .ws
            .feed(Message::text(r#"{"type":"ping"}"#))
            .await
            .expect("feed");
    }
    client.ws.flush().await.expect("flush");
    let mut pongs = 0;
    let end = loop {
        match tokio::time::timeout(WAIT, client.ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(_))) => pongs += 1,
            Some(Ok(Message::Close(Some(frame)))) => break End::Closed(u16::from(frame.code)),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(end, End::Closed(4029));
    assert!(
        (5..10).contains(&pongs),
        "{pongs} pongs: the burst, then the close"
    );
    relay.wait_metric(&drops("rate_limited"), 1).await;
    // Other connections have their own bucket.
    bystander.round_trip().await;
}

#[tokio::test]
async fn slow_reader_is_dropped_and_others_keep_flowing() {
    let limits = Limits {
        send_queue: 4,
        max_message_bytes: 256 * 1024,
        messages_per_second: 100_000,
        message_burst: 100_000,
        ..Limits::default()
    };
    let relay = TestRelay::start(limits).await;

    // A subscriber that never reads, with a small receive buffer so the kernel holds little.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let stream = socket.connect(relay.addr).await.expect("connect");
    let (mut slow, _) = tokio_tungstenite::client_async(relay.url("/"), stream)
        .await
        .expect("upgrade");
    slow.send(Message::text(subscribe(&["flood"])))
        .await
        .expect("subscribe");

    let mut fast = relay.client().await;
    fast.send(&subscribe(&["flood"])).await;
    fast.round_trip().await;
    relay
        .wait_metric("peer_commons_relay_subscriptions", 2)
        .await;

    // Publish 200 KiB messages until the slow reader's queue overflows; the fast reader reads
    // each one, so it never falls behind. Bounded: 64 MiB at most.
    let mut publisher = relay.client().await;
    let payload = "x".repeat(200 * 1024);
    let mut sent = 0;
    while relay.metric(&drops("slow_reader")).await == 0 {
        assert!(sent < 320, "the slow reader was never dropped");
        let message = publish("flood", &payload);
        publisher.send(&message).await;
        assert_eq!(fast.recv().await, message, "the fast reader keeps up");
        sent += 1;
    }
    assert_eq!(relay.metric(&drops("slow_reader")).await, 1);
    relay
        .wait_metric("peer_commons_relay_subscriptions", 1)
        .await;

    // The fast reader and the publisher carry on.
    publisher.send(&publish("flood", "after")).await;
    assert_eq!(fast.recv().await, publish("flood", "after"));

    // The slow reader finds its connection cut (after whatever the kernel had buffered).
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(_) | Message::Ping(_))) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the slow reader's connection ends");
}

#[tokio::test]
async fn dead_connection_is_dropped_after_a_ping_timeout_and_live_ones_stay() {
    // An interval a loaded machine can answer within (a pong must arrive within one interval).
    let relay = TestRelay::start(Limits {
        ping_interval_ms: 300,
        ..Limits::default()
    })
    .await;
    // Never polled, so it never answers the relay's pings.
    let mut dead = relay.client().await;
    // Read all along by a task (the client library answers pings while it reads).
    let (mut live_tx, mut live_rx) = relay.client().await.ws.split();
    let live_reader = tokio::spawn(async move {
        loop {
            match live_rx.next().await {
                Some(Ok(Message::Ping(_))) => continue,
                Some(Ok(Message::Text(text))) => return text.to_string(),
                other => panic!("live client got {other:?}"),
            }
        }
    });

    relay.wait_metric(&drops("ping_timeout"), 1).await;
    relay.wait_metric("peer_commons_relay_connections", 1).await;
    assert_eq!(dead.end().await, End::Closed(4008));

    // The live client outlasts several more intervals.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    live_tx
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    let reply = tokio::time::timeout(WAIT, live_reader)
        .await
        .expect("in time")
        .expect("reader");
    assert_eq!(reply, r#"{"type":"pong"}"#);
    assert_eq!(relay.metric(&drops("ping_timeout")).await, 1);
    assert_eq!(relay.metric("peer_commons_relay_connections").await, 1);
}
