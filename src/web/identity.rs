//! The `Identity` class of the JS API: this browser's ed25519 key pair, kept in IndexedDB.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::identity::{AuthorId, Identity, IdentityError};
use crate::store::idb::IdbStore;

/// An ed25519 key pair (exported to JavaScript as `Identity`). The public key is the identity.
#[wasm_bindgen(js_name = Identity)]
pub struct WebIdentity {
    inner: Identity,
}

#[wasm_bindgen(js_class = Identity)]
impl WebIdentity {
    /// Makes a fresh key pair from the browser's `crypto.getRandomValues`. Not stored: see `save`
    /// and `loadOrCreate`.
    pub fn generate() -> Result<WebIdentity, JsError> {
        Ok(Identity::from_secret(random_secret()?).into())
    }

    /// The public key as 64 lowercase hex characters.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.inner.author().to_hex()
    }

    /// Signs `message`; returns the 64-byte signature.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.inner.sign(message).to_vec()
    }

    /// Whether `signature` is this identity's signature of `message`. Throws if `signature` is
    /// not 64 bytes long.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<bool, JsError> {
        verify_by(&self.inner.author(), message, signature)
    }

    /// Whether `signature` is the signature of `message` by the holder of `publicKey` (64 hex
    /// characters). Throws if the key or the signature is malformed.
    #[wasm_bindgen(js_name = verifyWith)]
    pub fn verify_with(
        #[wasm_bindgen(js_name = publicKey)] public_key: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsError> {
        let author = AuthorId::from_hex(public_key).map_err(|_| {
            JsError::new("publicKey must be 64 hex characters (a 32-byte ed25519 public key)")
        })?;
        verify_by(&author, message, signature)
    }

    /// The identity saved in this browser, or `undefined` if none was saved yet.
    #[wasm_bindgen(unchecked_return_type = "Identity | undefined")]
    pub async fn load() -> Result<Option<WebIdentity>, JsError> {
        let store = IdbStore::open().await?;
        Ok(store.load_identity().await?.map(Into::into))
    }

    /// The identity saved in this browser; on the first visit, a new one, saved before it is
    /// returned. Tabs opened at once agree on one identity.
    #[wasm_bindgen(js_name = loadOrCreate)]
    pub async fn load_or_create() -> Result<WebIdentity, JsError> {
        let candidate = Identity::from_secret(random_secret()?);
        let store = IdbStore::open().await?;
        Ok(store.load_or_insert_identity(candidate).await?.into())
    }

    /// Saves this identity as this browser's identity, replacing the one saved before. The
    /// promise resolves once the browser has committed the write.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn save(&self) -> Promise {
        let identity = self.inner.clone();
        future_to_promise(async move {
            let store = IdbStore::open().await.map_err(to_js)?;
            store.save_identity(&identity).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl WebIdentity {
    /// The key pair, for Rust callers in the browser shell.
    pub fn identity(&self) -> &Identity {
        &self.inner
    }
}

impl From<Identity> for WebIdentity {
    fn from(inner: Identity) -> Self {
        WebIdentity { inner }
    }
}

fn verify_by(author: &AuthorId, message: &[u8], signature: &[u8]) -> Result<bool, JsError> {
    let signature: &[u8; 64] = signature.try_into().map_err(|_| {
        JsError::new(&format!(
            "a signature is 64 bytes long; this one has {} bytes",
            signature.len()
        ))
    })?;
    match author.verify(message, signature) {
        Ok(()) => Ok(true),
        Err(IdentityError::BadSignature) => Ok(false),
        Err(_) => Err(JsError::new(
            "publicKey is not a valid ed25519 public key (wrong identity?)",
        )),
    }
}

/// 32 bytes from the browser's secure random source (the core itself has no randomness).
fn random_secret() -> Result<[u8; 32], JsError> {
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|e| {
        JsError::new(&format!(
            "this browser offers no secure random numbers (crypto.getRandomValues: {e}); \
             use a current browser over http://localhost or https"
        ))
    })?;
    Ok(secret)
}

fn to_js(error: impl std::error::Error) -> JsValue {
    JsError::new(&error.to_string()).into()
}
