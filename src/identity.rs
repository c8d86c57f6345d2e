//! Identities: ed25519 key pairs. The public key *is* the identity; names are claims made by changes.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Errors from identity operations on bytes that came from outside.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum IdentityError {
    /// A secret or public key did not have 32 bytes, or was not a valid curve point.
    #[error("invalid key: expected 32 bytes of a valid ed25519 key")]
    InvalidKey,
    /// A signature did not have 64 bytes.
    #[error("invalid signature: expected 64 bytes")]
    InvalidSignature,
    /// A signature did not verify against the key and message.
    #[error("signature does not match the author's key")]
    BadSignature,
}

/// An author's public key: the identity itself.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthorId(pub [u8; 32]);

impl AuthorId {
    /// Lowercase hex, as shown to people and used in JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, IdentityError> {
        let v = hex::decode(s).map_err(|_| IdentityError::InvalidKey)?;
        Ok(AuthorId(
            v.try_into().map_err(|_| IdentityError::InvalidKey)?,
        ))
    }

    /// Verifies `sig` over `msg` by this author.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<(), IdentityError> {
        let key = self.verifying_key()?;
        key.verify(msg, &Signature::from_bytes(sig))
            .map_err(|_| IdentityError::BadSignature)
    }

    /// The decompressed curve point of this key. Decompressing costs about a third of a
    /// verification, and a commons has few authors and many changes: keep the last ones
    /// (a cache of a pure function, so results never depend on it).
    fn verifying_key(&self) -> Result<VerifyingKey, IdentityError> {
        /// Enough for every author of a large commons; past it the cache starts over.
        const KEYS_KEPT: usize = 4096;
        thread_local! {
            static KEYS: std::cell::RefCell<std::collections::HashMap<[u8; 32], VerifyingKey>> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        if let Some(k) = KEYS.with(|m| m.borrow().get(&self.0).copied()) {
            return Ok(k);
        }
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| IdentityError::InvalidKey)?;
        KEYS.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= KEYS_KEPT {
                m.clear();
            }
            m.insert(self.0, key);
        });
        Ok(key)
    }

    /// A short form for logs and UIs (first 8 hex chars).
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl std::fmt::Debug for AuthorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthorId({})", self.short())
    }
}

/// A key pair that can sign changes. The secret never leaves the device unless exported.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// Makes an identity from 32 secret bytes (the caller supplies randomness: the core has none).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Identity {
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// Makes a fresh identity from the platform's secure random source.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        // getrandom maps to the browser's crypto.getRandomValues in wasm.
        getrandom::getrandom(&mut secret).expect("no secure random source");
        Self::from_secret(secret)
    }

    /// Restores an identity from exported secret bytes.
    pub fn from_secret_slice(secret: &[u8]) -> Result<Self, IdentityError> {
        let s: [u8; 32] = secret.try_into().map_err(|_| IdentityError::InvalidKey)?;
        Ok(Self::from_secret(s))
    }

    /// The 32 secret bytes, for export and storage.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.key.verifying_key().to_bytes())
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({:?})", self.author())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip() {
        let id = Identity::from_secret([7; 32]);
        let sig = id.sign(b"hello");
        assert_eq!(id.author().verify(b"hello", &sig), Ok(()));
        assert_eq!(
            id.author().verify(b"hellO", &sig),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn hex_roundtrip_and_bad_input() {
        let a = Identity::from_secret([1; 32]).author();
        assert_eq!(AuthorId::from_hex(&a.to_hex()), Ok(a));
        assert_eq!(AuthorId::from_hex("zz"), Err(IdentityError::InvalidKey));
        assert_eq!(AuthorId::from_hex("abcd"), Err(IdentityError::InvalidKey));
        assert!(Identity::from_secret_slice(&[0; 31]).is_err());
    }
}
