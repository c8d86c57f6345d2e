//! What the web app needs beyond the runtime's API: moving an identity between devices.
//!
//! The secret key travels as 64 hex characters inside a file the person downloads and keeps;
//! the app wraps it in a small JSON envelope (www/js/identity.js).

use wasm_bindgen::prelude::*;

use super::identity::WebIdentity;
use crate::identity::Identity;

#[wasm_bindgen(js_class = Identity)]
impl WebIdentity {
    /// The secret key as 64 lowercase hex characters: whoever holds it can sign as this
    /// identity, so the app only hands it to the person as a file they asked for.
    #[wasm_bindgen(js_name = exportSecretKey)]
    pub fn export_secret_key(&self) -> String {
        hex::encode(self.identity().secret())
    }

    /// Restores an identity from a secret key exported by `exportSecretKey` (64 hex characters).
    /// Not stored: call `save()` to make it this browser's identity.
    #[wasm_bindgen(js_name = fromSecretKey)]
    pub fn from_secret_key(
        #[wasm_bindgen(js_name = secretKey)] secret_key: &str,
    ) -> Result<WebIdentity, JsError> {
        let bytes = hex::decode(secret_key.trim()).map_err(|_| {
            JsError::new(
                "this is not an exported identity: the secret key must be 64 hex characters",
            )
        })?;
        let identity = Identity::from_secret_slice(&bytes).map_err(|_| {
            JsError::new("this is not an exported identity: the secret key must be 32 bytes (64 hex characters)")
        })?;
        Ok(identity.into())
    }
}
