//! The room key: every signalling payload is encrypted and authenticated with a key derived from
//! the commons id, and published under a topic that is another hash of it. A relay sees neither
//! the commons id nor the peers' SDP, and cannot forge a signal.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use super::SignalError;
use crate::change::CommonsId;

const KEY_CONTEXT: &str = "peer-commons 2026 signalling key v1";
const TOPIC_CONTEXT: &str = "peer-commons 2026 signalling topic v1";
/// Bytes of random nonce before each ciphertext.
pub const NONCE_LEN: usize = 24;

/// Key and topic for one commons' signalling.
#[derive(Clone)]
pub struct RoomKey {
    cipher: XChaCha20Poly1305,
    topic: String,
}

impl RoomKey {
    /// Derives the room's key and topic from the commons id.
    pub fn for_commons(id: &CommonsId) -> Self {
        let key = blake3::derive_key(KEY_CONTEXT, &id.0);
        let topic = hex::encode(blake3::derive_key(TOPIC_CONTEXT, &id.0));
        RoomKey {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
            topic,
        }
    }

    /// The pub/sub topic: 64 hex characters, unlinkable to the commons id without it.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Encrypts `plaintext` with a fresh 24-byte `nonce` supplied by the caller (random: the core
    /// has no randomness of its own); returns base64 of `nonce || ciphertext`.
    pub fn seal(&self, nonce: [u8; NONCE_LEN], plaintext: &[u8]) -> String {
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Decrypts and authenticates what [`RoomKey::seal`] made.
    pub fn open(&self, data: &str) -> Result<Vec<u8>, SignalError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| SignalError::NotBase64)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(SignalError::Forged);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SignalError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeId;

    #[test]
    fn seal_open_and_tamper() {
        let k = RoomKey::for_commons(&ChangeId([1; 32]));
        let sealed = k.seal([7; 24], b"offer sdp");
        assert_eq!(k.open(&sealed).unwrap(), b"offer sdp");
        // A relay that flips one character, or another commons' key, gets nothing through.
        let mut bad = sealed.clone().into_bytes();
        let i = bad.len() / 2;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            k.open(std::str::from_utf8(&bad).unwrap()),
            Err(SignalError::Forged)
        );
        let other = RoomKey::for_commons(&ChangeId([2; 32]));
        assert_eq!(other.open(&sealed), Err(SignalError::Forged));
        assert_ne!(k.topic(), other.topic());
        assert!(!k.topic().contains(&hex::encode([1u8; 32])));
        assert_eq!(k.open("***"), Err(SignalError::NotBase64));
        assert_eq!(k.open("AAAA"), Err(SignalError::Forged));
    }
}
