//! Wire messages of the sync protocol: one type byte, then the body in postcard.
//!
//! Unknown type bytes decode to `None` so that newer peers can add messages that older ones skip;
//! a known type whose body does not parse is malformed. Bodies may carry trailing bytes (fields
//! a newer version appended), which are ignored. docs/PROTOCOL.md documents every message.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ChangeId, PeerId};

/// The protocol version carried in hello. Peers speaking another version are refused with a
/// close that names both versions. Version 2: hellos are signed and bound to the connection
/// (`super::auth`); version 1 hellos were unauthenticated.
pub const PROTOCOL_VERSION: u16 = 2;

/// Most bytes of free text in a close message.
pub const MAX_CLOSE_DETAIL: usize = 200;

/// A message type byte.
mod ty {
    pub const HELLO: u8 = 0x01;
    pub const CLOSE: u8 = 0x02;
    pub const PING: u8 = 0x03;
    pub const PONG: u8 = 0x04;
    pub const QUERY: u8 = 0x10;
    pub const REPLY: u8 = 0x11;
    pub const DONE: u8 = 0x12;
    pub const WANT: u8 = 0x20;
    pub const PUSH: u8 = 0x21;
    pub const DELIVER: u8 = 0x22;
    pub const HAVE: u8 = 0x23;
    pub const PRUNE: u8 = 0x24;
    pub const PEERS: u8 = 0x30;
    pub const SIGNAL: u8 = 0x31;
    pub const REFUSE: u8 = 0x32;
    pub const PRESENCE: u8 = 0x40;
}

/// Feature bits a peer announces in its hello.
pub mod features {
    /// The peer takes [`super::Message::Presence`] messages (older peers would count them as
    /// unknown messages, so they are only sent to peers that announce this).
    pub const PRESENCE: u32 = 1;
    /// Everything this build speaks.
    pub const ALL: u32 = PRESENCE;
}

/// A byte string that postcard writes as length + raw bytes and reads without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de [u8]>::deserialize(d).map(Bytes)
    }
}

/// Lists of fixed-size ids (change ids, peer ids) travel as one byte string of the ids end to
/// end: compact, and read without a step per byte.
mod id_list {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        ids: &[[u8; N]],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(ids.as_flattened())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<Vec<[u8; N]>, D::Error> {
        let bytes = <&'de [u8]>::deserialize(d)?;
        if bytes.len() % N != 0 {
            return Err(D::Error::custom(
                "id list length is not a multiple of the id size",
            ));
        }
        Ok(bytes
            .chunks_exact(N)
            .map(|c| {
                let mut id = [0u8; N];
                id.copy_from_slice(c);
                id
            })
            .collect())
    }
}

#[derive(Serialize, Deserialize)]
struct Ids<const N: usize>(#[serde(with = "id_list")] Vec<[u8; N]>);

/// Why a connection was closed, as a stable code on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// An orderly close with nothing wrong.
    Normal,
    /// The peers speak different protocol versions.
    VersionMismatch,
    /// The peers replicate different commons.
    CommonsMismatch,
    /// The peer sent bytes that do not follow the protocol.
    Malformed,
    /// The peer's misbehaviour score passed the bound.
    Misbehaving,
    /// The peer stopped answering.
    Timeout,
    /// The node already has as many connections as it keeps.
    Full,
    /// The peer's hello did not authenticate it (bad signature, replayed, peer id not derived
    /// from its key).
    Unauthenticated,
    /// There is already a connection between these two peers.
    Duplicate,
    /// The node is shutting down.
    Shutdown,
    /// A code this build does not know (sent by a newer peer).
    Other(u8),
}

impl CloseReason {
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            CloseReason::Normal => 0,
            CloseReason::VersionMismatch => 1,
            CloseReason::CommonsMismatch => 2,
            CloseReason::Malformed => 3,
            CloseReason::Misbehaving => 4,
            CloseReason::Timeout => 5,
            CloseReason::Full => 6,
            CloseReason::Duplicate => 7,
            CloseReason::Shutdown => 8,
            CloseReason::Unauthenticated => 9,
            CloseReason::Other(c) => c,
        }
    }

    /// Reads a code from the wire.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => CloseReason::Normal,
            1 => CloseReason::VersionMismatch,
            2 => CloseReason::CommonsMismatch,
            3 => CloseReason::Malformed,
            4 => CloseReason::Misbehaving,
            5 => CloseReason::Timeout,
            6 => CloseReason::Full,
            7 => CloseReason::Duplicate,
            8 => CloseReason::Shutdown,
            9 => CloseReason::Unauthenticated,
            c => CloseReason::Other(c),
        }
    }
}

/// The first message each side sends (version 2). The fields up to `items` are laid out as in
/// version 1, so an older peer reads the version and refuses with a clear reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u16,
    /// The commons the sender replicates (its genesis change id).
    pub commons: [u8; 32],
    /// The sender's peer id in the mesh (derived from `key` and `salt`).
    pub peer: [u8; 16],
    /// True when the sender has the receiver's hello (and so its nonce: `proof` is set).
    pub ack: bool,
    /// How many changes the sender holds (the side holding more leads reconciliation).
    pub items: u64,
    /// The sender's [`features`].
    pub features: u32,
    /// The sender's fresh random nonce for this connection.
    pub nonce: [u8; 32],
    /// The sender's ed25519 public key.
    pub key: [u8; 32],
    /// The public salt of the sender's peer id.
    pub salt: [u8; 16],
    /// The sender's signature over the connection's transcript (`super::auth::transcript`),
    /// once it has the receiver's nonce.
    pub proof: Option<Sig>,
}

/// An ed25519 signature: 64 raw bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

impl Serialize for Sig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // serde has no 64-byte arrays; two halves encode as the same 64 raw bytes.
        let (a, b) = self.0.split_at(32);
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(a);
        y.copy_from_slice(b);
        (x, y).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (x, y) = <([u8; 32], [u8; 32])>::deserialize(d)?;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&x);
        sig[32..].copy_from_slice(&y);
        Ok(Sig(sig))
    }
}

/// A relayed WebRTC signal (SDP or ICE candidate), opaque to the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal<'a> {
    /// The peer that produced the signal.
    pub from: [u8; 16],
    /// The peer it is for.
    pub to: [u8; 16],
    /// True when `from` started the connection (its signals are offers).
    pub dialer: bool,
    /// The shell's payload.
    #[serde(borrow)]
    pub payload: Bytes<'a>,
}

/// One protocol message, borrowing its byte strings from the received buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// Protocol version, commons, peer id, key, nonce and (once the peer's nonce is known) a
    /// signature binding them to this connection.
    Hello(Hello),
    /// A hello of another protocol version: only its version is read (the rest of its layout is
    /// that version's business).
    ForeignHello(u16),
    /// The sender closes the connection, with a reason code and free text.
    Close {
        /// Why.
        reason: CloseReason,
        /// Human-readable detail (at most [`MAX_CLOSE_DETAIL`] bytes are sent).
        detail: &'a str,
    },
    /// Keepalive and round-trip probe.
    Ping(u64),
    /// Answer to a ping, echoing its number.
    Pong(u64),
    /// A reconciliation message from the side that started reconciliation `recon`.
    Query {
        /// Which reconciliation (numbered by its initiator).
        recon: u32,
        /// Round within it.
        round: u32,
        /// The negentropy message.
        payload: Bytes<'a>,
    },
    /// The answer to a [`Message::Query`].
    Reply {
        /// Which reconciliation.
        recon: u32,
        /// The round being answered.
        round: u32,
        /// The negentropy message.
        payload: Bytes<'a>,
    },
    /// The initiator of `recon` has sent every change it found the receiver lacks.
    Done(u32),
    /// Please send these changes; `graft` also asks to be pushed new changes eagerly again.
    Want {
        /// The ids wanted.
        ids: Vec<[u8; 32]>,
        /// Gossip repair: the sender missed a change announced lazily.
        graft: bool,
    },
    /// New changes pushed eagerly by gossip.
    Push(Vec<Bytes<'a>>),
    /// Changes sent because reconciliation or a want found the receiver lacks them.
    Deliver(Vec<Bytes<'a>>),
    /// Lazy gossip: the sender has these new changes.
    Have(Vec<[u8; 32]>),
    /// Stop pushing me changes of these origins (author keys) eagerly; announce them with
    /// [`Message::Have`] instead.
    Prune(Vec<[u8; 32]>),
    /// Some peers the sender is connected to, for introductions.
    Peers(Vec<[u8; 16]>),
    /// A signal to relay to, or addressed to, a peer.
    Signal(Signal<'a>),
    /// `to` will not accept a connection from `from` (it is full).
    Refuse {
        /// The peer that dialed.
        from: [u8; 16],
        /// The peer that refuses.
        to: [u8; 16],
    },
    /// Signed presence records (cursors), opaque here: `super::presence` checks them.
    Presence(Vec<Bytes<'a>>),
}

/// A message body that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message had no type byte.
    #[error("empty message")]
    Empty,
    /// The body of a known message type did not parse.
    #[error("message of type {0:#04x} has a malformed body")]
    BadBody(u8),
}

#[derive(Serialize, Deserialize)]
struct CloseBody<'a> {
    code: u8,
    #[serde(borrow)]
    detail: &'a str,
}

#[derive(Serialize, Deserialize)]
struct ReconBody<'a> {
    recon: u32,
    round: u32,
    #[serde(borrow)]
    payload: Bytes<'a>,
}

#[derive(Serialize, Deserialize)]
struct WantBody {
    #[serde(with = "id_list")]
    ids: Vec<[u8; 32]>,
    graft: bool,
}

#[derive(Serialize, Deserialize)]
struct RefuseBody {
    from: [u8; 16],
    to: [u8; 16],
}

fn put<T: Serialize>(ty: u8, body: &T) -> Vec<u8> {
    // Serializing plain structs into a Vec cannot fail.
    postcard::to_extend(body, vec![ty]).unwrap_or_else(|_| vec![ty])
}

fn get<'a, T: Deserialize<'a>>(ty: u8, body: &'a [u8]) -> Result<T, WireError> {
    postcard::take_from_bytes(body)
        .map(|(v, _rest)| v)
        .map_err(|_| WireError::BadBody(ty))
}

impl<'a> Message<'a> {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Hello(h) => put(ty::HELLO, h),
            Message::ForeignHello(version) => put(ty::HELLO, version),
            Message::Close { reason, detail } => {
                let detail = truncate(detail, MAX_CLOSE_DETAIL);
                put(
                    ty::CLOSE,
                    &CloseBody {
                        code: reason.code(),
                        detail,
                    },
                )
            }
            Message::Ping(n) => put(ty::PING, n),
            Message::Pong(n) => put(ty::PONG, n),
            Message::Query {
                recon,
                round,
                payload,
            } => put(ty::QUERY, &recon_body(*recon, *round, *payload)),
            Message::Reply {
                recon,
                round,
                payload,
            } => put(ty::REPLY, &recon_body(*recon, *round, *payload)),
            Message::Done(recon) => put(ty::DONE, recon),
            Message::Want { ids, graft } => put(
                ty::WANT,
                &WantBody {
                    ids: ids.clone(),
                    graft: *graft,
                },
            ),
            Message::Push(changes) => put(ty::PUSH, changes),
            Message::Deliver(changes) => put(ty::DELIVER, changes),
            Message::Have(ids) => put(ty::HAVE, &Ids(ids.clone())),
            Message::Prune(origins) => put(ty::PRUNE, &Ids(origins.clone())),
            Message::Peers(peers) => put(ty::PEERS, &Ids(peers.clone())),
            Message::Signal(s) => put(ty::SIGNAL, s),
            Message::Refuse { from, to } => put(
                ty::REFUSE,
                &RefuseBody {
                    from: *from,
                    to: *to,
                },
            ),
            Message::Presence(records) => put(ty::PRESENCE, records),
        }
    }

    /// Decodes a message; `Ok(None)` for a type this build does not know.
    pub fn decode(bytes: &'a [u8]) -> Result<Option<Self>, WireError> {
        let (&t, body) = bytes.split_first().ok_or(WireError::Empty)?;
        let msg = match t {
            ty::HELLO => hello(body)?,
            ty::CLOSE => {
                let c: CloseBody = get(t, body)?;
                Message::Close {
                    reason: CloseReason::from_code(c.code),
                    detail: c.detail,
                }
            }
            ty::PING => Message::Ping(get(t, body)?),
            ty::PONG => Message::Pong(get(t, body)?),
            ty::QUERY => {
                let r: ReconBody = get(t, body)?;
                Message::Query {
                    recon: r.recon,
                    round: r.round,
                    payload: r.payload,
                }
            }
            ty::REPLY => {
                let r: ReconBody = get(t, body)?;
                Message::Reply {
                    recon: r.recon,
                    round: r.round,
                    payload: r.payload,
                }
            }
            ty::DONE => Message::Done(get(t, body)?),
            ty::WANT => {
                let w: WantBody = get(t, body)?;
                Message::Want {
                    ids: w.ids,
                    graft: w.graft,
                }
            }
            ty::PUSH => Message::Push(get(t, body)?),
            ty::DELIVER => Message::Deliver(get(t, body)?),
            ty::HAVE => Message::Have(get::<Ids<32>>(t, body)?.0),
            ty::PRUNE => Message::Prune(get::<Ids<32>>(t, body)?.0),
            ty::PEERS => Message::Peers(get::<Ids<16>>(t, body)?.0),
            ty::SIGNAL => Message::Signal(get(t, body)?),
            ty::REFUSE => {
                let r: RefuseBody = get(t, body)?;
                Message::Refuse {
                    from: r.from,
                    to: r.to,
                }
            }
            ty::PRESENCE => Message::Presence(get(t, body)?),
            _ => return Ok(None),
        };
        Ok(Some(msg))
    }
}

/// A hello: the version first; a hello of this version is read whole, another version's only
/// as far as its version (so the session can refuse it naming both versions).
fn hello<'a>(body: &[u8]) -> Result<Message<'a>, WireError> {
    let (version, _): (u16, _) =
        postcard::take_from_bytes(body).map_err(|_| WireError::BadBody(ty::HELLO))?;
    if version != PROTOCOL_VERSION {
        return Ok(Message::ForeignHello(version));
    }
    get(ty::HELLO, body).map(Message::Hello)
}

fn recon_body(recon: u32, round: u32, payload: Bytes<'_>) -> ReconBody<'_> {
    ReconBody {
        recon,
        round,
        payload,
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary (close reasons, presence names).
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Bytes of a `Push`/`Deliver` message carrying changes of these sizes (type byte, count, lengths).
pub fn changes_message_len(sizes: impl Iterator<Item = usize>) -> usize {
    let mut count = 0usize;
    let mut total = 1usize;
    for s in sizes {
        count += 1;
        total += varint_len(s as u64) + s;
    }
    total + varint_len(count as u64)
}

/// Length of a postcard varint.
pub fn varint_len(n: u64) -> usize {
    let bits = 64 - n.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Converts wire ids into change ids.
pub fn to_change_ids(ids: &[[u8; 32]]) -> Vec<ChangeId> {
    ids.iter().map(|b| ChangeId(*b)).collect()
}

/// Converts wire peer ids into peer ids.
pub fn to_peer_ids(ids: &[[u8; 16]]) -> Vec<PeerId> {
    ids.iter().map(|b| PeerId(*b)).collect()
}

#[cfg(test)]
mod tests;
