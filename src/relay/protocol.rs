//! The y-webrtc signalling protocol as the relay reads it, and the close codes it answers with.
//!
//! Clients send JSON text messages with a `type` field:
//! `{"type":"subscribe","topics":[..]}`, `{"type":"unsubscribe","topics":[..]}`,
//! `{"type":"publish","topic":T, ..}` and `{"type":"ping"}`. The relay only reads `type`,
//! `topics` and `topic`; a publish is forwarded as the exact bytes received, so its other
//! fields (y-webrtc's `data`) pass through untouched and unread.

use std::borrow::Cow;

use serde::Deserialize;

/// A message from a client, reduced to what the relay needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Receive every later publish on these topics.
    Subscribe(Vec<String>),
    /// Stop receiving publishes on these topics.
    Unsubscribe(Vec<String>),
    /// Forward this message, unchanged, to every subscriber of `topic` (the sender included).
    Publish {
        /// The topic the message is published on.
        topic: String,
    },
    /// Answered with [`PONG`].
    Ping,
}

/// Why a text message could not be read as a [`ClientMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Not a JSON object with fields of the expected types.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message has no string `type`.
    #[error("message has no `type`")]
    MissingType,
    /// A publish without a string `topic`.
    #[error("publish without a `topic`")]
    MissingTopic,
    /// A `type` this protocol does not have.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A topic name longer than the relay accepts.
    #[error("topic of {len} bytes, longer than the limit of {max}")]
    TopicTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit (`--max-topic-bytes`).
        max: usize,
    },
}

/// The reply to `{"type":"ping"}`.
pub const PONG: &str = r#"{"type":"pong"}"#;

/// The fields the relay reads; serde skips (but still validates) every other field.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    topic: Option<String>,
}

/// Reads one text message whose topic names must each be at most `max_topic_bytes` long.
///
/// The relay keeps subscribed topic names in its map: without this bound one connection could
/// hold `--max-topics-per-connection` topics of nearly `--max-message-bytes` each.
pub fn parse_bounded(text: &str, max_topic_bytes: usize) -> Result<ClientMessage, ProtocolError> {
    let message = parse(text)?;
    let topics: &[String] = match &message {
        ClientMessage::Subscribe(topics) | ClientMessage::Unsubscribe(topics) => topics,
        ClientMessage::Publish { topic } => std::slice::from_ref(topic),
        ClientMessage::Ping => &[],
    };
    match topics.iter().find(|t| t.len() > max_topic_bytes) {
        Some(long) => Err(ProtocolError::TopicTooLong {
            len: long.len(),
            max: max_topic_bytes,
        }),
        None => Ok(message),
    }
}

/// Reads one text message (topic names of any length; see [`parse_bounded`]).
pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
    // serde would also read a struct from a JSON array (`["subscribe"]`): only objects are
    // messages.
    if !text.trim_start().starts_with('{') {
        return Err(ProtocolError::Malformed("not a JSON object".to_owned()));
    }
    let envelope: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    let kind = envelope.kind.ok_or(ProtocolError::MissingType)?;
    // y-webrtc sends `topics` always; a missing or null list means no topics, as in its server.
    let topics = envelope.topics.unwrap_or_default();
    match kind.as_ref() {
        "subscribe" => Ok(ClientMessage::Subscribe(topics)),
        "unsubscribe" => Ok(ClientMessage::Unsubscribe(topics)),
        "publish" => {
            let topic = envelope.topic.ok_or(ProtocolError::MissingTopic)?;
            Ok(ClientMessage::Publish { topic })
        }
        "ping" => Ok(ClientMessage::Ping),
        other => Err(ProtocolError::UnknownType(other.to_owned())),
    }
}

/// Why the relay closes a connection; each reason has its own WebSocket close code.
///
/// Standard codes (RFC 6455 §7.4.1) where one fits, codes in the private range 4000–4999
/// otherwise. docs/RELAY.md lists them for client authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The relay is shutting down (1001, going away).
    Shutdown,
    /// A binary frame: the protocol is JSON text only (1003, unsupported data).
    Binary,
    /// Invalid JSON, wrong field types, or invalid UTF-8 (1007, invalid payload data).
    Malformed,
    /// A `type` the protocol does not have (1008, policy violation).
    UnknownType,
    /// A message over the size limit (1009, message too big).
    TooBig,
    /// More messages than the per-connection token bucket allows (4029).
    RateLimited,
    /// No frame (pong or other) arrived within a ping interval after a ping (4008).
    PingTimeout,
    /// A topic name over the length limit (4014).
    TopicTooLong,
}

impl CloseReason {
    /// The WebSocket close code sent for this reason.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::Shutdown => 1001,
            CloseReason::Binary => 1003,
            CloseReason::Malformed => 1007,
            CloseReason::UnknownType => 1008,
            CloseReason::TooBig => 1009,
            CloseReason::RateLimited => 4029,
            CloseReason::PingTimeout => 4008,
            CloseReason::TopicTooLong => 4014,
        }
    }

    /// The short human-readable reason sent with the close code.
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::Shutdown => "relay shutting down",
            CloseReason::Binary => "binary frames are not part of the protocol",
            CloseReason::Malformed => "malformed message",
            CloseReason::UnknownType => "unknown message type",
            CloseReason::TooBig => "message too big",
            CloseReason::RateLimited => "rate limit exceeded",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::TopicTooLong => "topic name too long",
        }
    }
}

impl From<&ProtocolError> for CloseReason {
    fn from(err: &ProtocolError) -> Self {
        match err {
            ProtocolError::UnknownType(_) => CloseReason::UnknownType,
            ProtocolError::TopicTooLong { .. } => CloseReason::TopicTooLong,
            ProtocolError::Malformed(_)
            | ProtocolError::MissingType
            | ProtocolError::MissingTopic => CloseReason::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_message_type() {
        assert_eq!(
            parse(r#"{"type":"subscribe","topics":["a","b"]}"#),
            Ok(ClientMessage::Subscribe(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            parse(r#"{"type":"unsubscribe","topics":["a"]}"#),
            Ok(ClientMessage::Unsubscribe(vec!["a".into()]))
        );
        assert_eq!(
            parse(r#"{"type":"publish","topic":"a","data":{"type":"announce","from":"x"}}"#),
            Ok(ClientMessage::Publish { topic: "a".into() })
        );
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
    }

    #[test]
    fn missing_topics_mean_none() {
        assert_eq!(
            parse(r#"{"type":"subscribe"}"#),
            Ok(ClientMessage::Subscribe(vec![]))
        );
        assert_eq!(
            parse(r#"{"type":"unsubscribe","topics":null}"#),
            Ok(ClientMessage::Unsubscribe(vec![]))
        );
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        assert!(matches!(
            parse("{not json"),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(parse("[1,2]"), Err(ProtocolError::Malformed(_))));
        assert!(matches!(
            parse(r#"["subscribe",["a"]]"#),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse(r#""ping""#),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse(r#"{"type":5}"#),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse(r#"{"type":"subscribe","topics":"a"}"#),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            parse(r#"{"type":"subscribe","topics":[1]}"#),
            Err(ProtocolError::Malformed(_))
        ));
        assert_eq!(parse(r#"{"topics":[]}"#), Err(ProtocolError::MissingType));
        assert_eq!(
            parse(r#"{"type":"publish"}"#),
            Err(ProtocolError::MissingTopic)
        );
        assert_eq!(
            parse(r#"{"type":"hello"}"#),
            Err(ProtocolError::UnknownType("hello".into()))
        );
    }

    #[test]
    fn topics_over_the_bound_are_refused_in_every_message() {
        let long = "t".repeat(17);
        for text in [
            format!(r#"{{"type":"subscribe","topics":["ok","{long}"]}}"#),
            format!(r#"{{"type":"unsubscribe","topics":["{long}"]}}"#),
            format!(r#"{{"type":"publish","topic":"{long}","data":1}}"#),
        ] {
            assert_eq!(
                parse_bounded(&text, 16),
                Err(ProtocolError::TopicTooLong { len: 17, max: 16 }),
                "{text}"
            );
        }
        let at_bound = "t".repeat(16);
        assert_eq!(
            parse_bounded(&format!(r#"{{"type":"publish","topic":"{at_bound}"}}"#), 16),
            Ok(ClientMessage::Publish { topic: at_bound })
        );
        assert_eq!(
            parse_bounded(r#"{"type":"ping"}"#, 1),
            Ok(ClientMessage::Ping)
        );
    }

    #[test]
    fn escaped_type_is_read() {
        assert_eq!(parse(r#"{"type":"p\u0069ng"}"#), Ok(ClientMessage::Ping));
    }

    #[test]
    fn close_codes_are_distinct() {
        let all = [
            CloseReason::Shutdown,
            CloseReason::Binary,
            CloseReason::Malformed,
            CloseReason::UnknownType,
            CloseReason::TooBig,
            CloseReason::RateLimited,
            CloseReason::PingTimeout,
            CloseReason::TopicTooLong,
        ];
        let mut codes: Vec<u16> = all.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(
            CloseReason::from(&ProtocolError::MissingTopic),
            CloseReason::Malformed
        );
        assert_eq!(
            CloseReason::from(&ProtocolError::UnknownType("x".into())),
            CloseReason::UnknownType
        );
    }
}
