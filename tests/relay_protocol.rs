//! The relay's signalling protocol, driven by real WebSocket clients: every message type, bad
//! input answered with a clear close code, and bad clients never stalling good ones.
//!
//! "Not delivered" is shown without sleeping: the publisher sends a marker afterwards on a topic
//! the receiver does hear, and one connection's messages are handled in order, so receiving the
//! marker first proves the earlier message was not forwarded.

// The relay and its test clients are native only.
#![cfg(not(target_arch = "wasm32"))]

mod relay_support;

use peer_commons::relay::Limits;
use relay_support::*;

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client.send(r#"{"type":"ping"}"#).await;
    assert_eq!(client.recv().await, r#"{"type":"pong"}"#);
    assert_eq!(
        relay.metric("peer_commons_relay_messages_in_total").await,
        1
    );
    assert_eq!(
        relay.metric("peer_commons_relay_messages_out_total").await,
        1
    );
}

#[tokio::test]
async fn publish_reaches_every_subscriber_including_sender_byte_for_byte() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut alice = relay.client().await;
    let mut bob = relay.client().await;
    let mut carol = relay.client().await;
    alice.send(&subscribe(&["room", "marker"])).await;
    bob.send(&subscribe(&["room"])).await;
    carol.send(&subscribe(&["marker"])).await;
    for client in [&mut alice, &mut bob, &mut carol] {
        client.round_trip().await;
    }
    assert_eq!(relay.metric("peer_commons_relay_topics").await, 2);
    assert_eq!(relay.metric("peer_commons_relay_subscriptions").await, 4);

    // Odd spacing, field order, escapes and extra fields must all survive untouched.
    let message = "{ \"data\" : {\"type\":\"announce\",\"from\":\"p\u{e9}er\\n\"},\n \"topic\":\"room\", \"type\":\"publish\", \"extra\":[1,2.50,null] }";
    alice.send(message).await;
    assert_eq!(
        alice.recv().await,
        message,
        "the sender receives its own publish"
    );
    assert_eq!(bob.recv().await, message);

    alice.send(&publish("marker", "after")).await;
    assert_eq!(
        carol.recv().await,
        publish("marker", "after"),
        "carol never heard `room`"
    );
    assert_eq!(
        relay.metric("peer_commons_relay_messages_out_total").await,
        3 + 2 + 2
    );
}

#[tokio::test]
async fn publishing_to_a_topic_one_did_not_subscribe_reaches_its_subscribers() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut listener = relay.client().await;
    let mut outsider = relay.client().await;
    listener.send(&subscribe(&["room"])).await;
    listener.round_trip().await;
    outsider.send(&publish("room", "hello")).await;
    outsider.send(&publish("nobody-listens", "void")).await;
    assert_eq!(listener.recv().await, publish("room", "hello"));
    // The outsider got nothing back: its next message is the pong.
    outsider.round_trip().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut publisher = relay.client().await;
    let mut reader = relay.client().await;
    reader.send(&subscribe(&["room", "marker"])).await;
    reader.round_trip().await;
    publisher.send(&publish("room", "1")).await;
    assert_eq!(reader.recv().await, publish("room", "1"));

    reader
        .send(&unsubscribe(&["room", "never-subscribed"]))
        .await;
    reader.round_trip().await;
    publisher.send(&publish("room", "2")).await;
    publisher.send(&publish("marker", "3")).await;
    assert_eq!(reader.recv().await, publish("marker", "3"));
    assert_eq!(
        relay.metric("peer_commons_relay_topics").await,
        1,
        "`room` is forgotten once empty"
    );
}

#[tokio::test]
async fn subscribing_twice_delivers_once() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client.send(&subscribe(&["room", "room"])).await;
    client.send(&subscribe(&["room"])).await;
    client.send(&publish("room", "once")).await;
    assert_eq!(client.recv().await, publish("room", "once"));
    client.round_trip().await;
    assert_eq!(relay.metric("peer_commons_relay_subscriptions").await, 1);
}

#[tokio::test]
async fn disconnecting_leaves_every_topic() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client.send(&subscribe(&["a", "b", "c"])).await;
    client.round_trip().await;
    assert_eq!(relay.metric("peer_commons_relay_topics").await, 3);
    client.ws.close(None).await.expect("close");
    relay.wait_metric("peer_commons_relay_connections", 0).await;
    assert_eq!(relay.metric("peer_commons_relay_topics").await, 0);
    assert_eq!(relay.metric("peer_commons_relay_subscriptions").await, 0);
}

#[tokio::test]
async fn any_path_upgrades_to_the_websocket() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut a = Client::connect(&relay.url("/some/room/path?x=1")).await;
    let mut b = Client::connect(&relay.url("/health")).await;
    a.send(&subscribe(&["t"])).await;
    a.round_trip().await;
    b.send(&publish("t", "across paths")).await;
    assert_eq!(a.recv().await, publish("t", "across paths"));
}

/// Sends `bad` and expects the relay to close with `code`, counting the drop under `reason`.
async fn closes_with(bad: &str, code: u16, reason: &str) {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client.send(bad).await;
    let end = tokio::time::timeout(WAIT, client.end()).await;
    assert_eq!(end.ok(), Some(End::Closed(code)), "for {bad:?}");
    relay.wait_metric(&drops(reason), 1).await;
}

#[tokio::test]
async fn malformed_json_closes_with_1007() {
    closes_with("{\"type\":\"subscribe\",", 1007, "malformed").await;
    closes_with("not json at all", 1007, "malformed").await;
    closes_with("[\"subscribe\"]", 1007, "malformed").await;
    closes_with("{\"type\":5}", 1007, "malformed").await;
    closes_with("{\"topics\":[\"a\"]}", 1007, "malformed").await;
    closes_with(
        "{\"type\":\"subscribe\",\"topics\":\"a\"}",
        1007,
        "malformed",
    )
    .await;
    closes_with("{\"type\":\"subscribe\",\"topics\":[1]}", 1007, "malformed").await;
    closes_with("{\"type\":\"publish\",\"data\":1}", 1007, "malformed").await;
}

#[tokio::test]
async fn unknown_type_closes_with_1008() {
    closes_with("{\"type\":\"hello\"}", 1008, "unknown_type").await;
    closes_with("{\"type\":\"pong\"}", 1008, "unknown_type").await;
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    let binary = tokio_tungstenite::tungstenite::Message::binary(b"{\"type\":\"ping\"}".to_vec());
    futures_util::SinkExt::send(&mut client.ws, binary)
        .await
        .expect("send");
    assert_eq!(client.end().await, End::Closed(1003));
    relay.wait_metric(&drops("binary"), 1).await;
}

#[tokio::test]
async fn invalid_utf8_text_closes_with_1007() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut client = relay.client().await;
    client
        .send_raw_text_frame(vec![b'{', 0xff, 0xfe, b'}'])
        .await;
    assert_eq!(client.end().await, End::Closed(1007));
    relay.wait_metric(&drops("malformed"), 1).await;
}

#[tokio::test]
async fn oversize_message_closes_with_1009_and_fitting_ones_pass() {
    let limits = Limits {
        max_message_bytes: 1024,
        ..Limits::default()
    };
    let relay = TestRelay::start(limits).await;
    let mut client = relay.client().await;
    client.send(&subscribe(&["t"])).await;
    let fits = publish("t", &"x".repeat(900));
    client.send(&fits).await;
    assert_eq!(client.recv().await, fits);
    client.send(&publish("t", &"x".repeat(2000))).await;
    assert_eq!(client.end().await, End::Closed(1009));
    relay.wait_metric(&drops("too_big"), 1).await;
}

#[tokio::test]
async fn a_bad_client_does_not_disturb_the_others() {
    let relay = TestRelay::start(Limits::default()).await;
    let mut good_a = relay.client().await;
    let mut good_b = relay.client().await;
    good_a.send(&subscribe(&["t"])).await;
    good_a.round_trip().await;
    let mut bad = relay.client().await;
    bad.send(&subscribe(&["t"])).await;
    bad.send("{{{{").await;
    for i in 0..20 {
        good_b.send(&publish("t", &i.to_string())).await;
    }
    for i in 0..20 {
        assert_eq!(good_a.recv().await, publish("t", &i.to_string()));
    }
    assert_eq!(bad.end().await, End::Closed(1007));
    relay.wait_metric("peer_commons_relay_connections", 2).await;
    assert_eq!(relay.metric("peer_commons_relay_subscriptions").await, 1);
}
