//! IndexedDB persistence in the browser (wasm32 only).
//!
//! One database per browser profile and origin, [`DB_NAME`]. Its schema is upgraded step by step
//! from whatever version a browser holds to [`DB_VERSION`] (see [`upgrade`]): a later schema adds a
//! step and bumps the version, it never edits an old step, so every browser walks the same path.
//!
//! Object stores (version 1):
//! - [`IDENTITY_STORE`]: this browser's own key pair under the key `"self"`, as
//!   `{ secret: Uint8Array(32) }` (an object, so later fields can join it).
//!
//! Added in version 2 (see [`commons`]):
//! - [`COMMONS_STORE`]: per joined commons (key: its id in hex)
//!   `{ title, joinedAt, count, heads: Uint8Array(32 × n) }`; `count` is the number of stored
//!   changes.
//! - [`CHANGES_STORE`]: the changes, one record per stored batch: key `[commons id hex, first
//!   slot]`, value the batch packed by [`crate::store::encode_batch`].
//! - [`SNAPSHOTS_STORE`]: per commons `{ covered, bytes: Uint8Array }`.

use std::cell::RefCell;
use std::rc::Rc;

use idb::{
    Database, DatabaseEvent, Event as _, Factory, ObjectStore, ObjectStoreParams, Request as _,
    Transaction, TransactionMode, TransactionResult,
};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

pub use super::StoreError;
use crate::identity::Identity;

mod commons;
pub use commons::{CHANGES_STORE, COMMONS_STORE, SNAPSHOTS_STORE};

/// Name of the app's IndexedDB database.
pub const DB_NAME: &str = "peer-commons";
/// Schema version this build expects; [`upgrade`] brings older databases up to it.
pub const DB_VERSION: u32 = 2;
/// Object store holding this browser's identity.
pub const IDENTITY_STORE: &str = "identity";
/// Key of this browser's own identity in [`IDENTITY_STORE`].
const OWN_IDENTITY_KEY: &str = "self";
/// Field of the identity record that holds the 32 secret bytes.
const SECRET_FIELD: &str = "secret";

/// A connection to the app's IndexedDB database. Dropping it closes the connection once its
/// running transactions finish.
#[derive(Debug)]
pub struct IdbStore {
    db: Database,
    /// The same connection as web-sys sees it: `idb` cannot pass transaction options, and
    /// writes ask for strict durability through it.
    raw: web_sys::IdbDatabase,
}

impl IdbStore {
    /// Opens (creating or upgrading as needed) the app's database, [`DB_NAME`].
    pub async fn open() -> Result<Self, StoreError> {
        Self::open_named(DB_NAME).await
    }

    /// Opens a database of another name with the same schema (tests use fresh names).
    pub async fn open_named(name: &str) -> Result<Self, StoreError> {
        let factory = Factory::new().map_err(|_| StoreError::Unavailable)?;
        let mut request = factory.open(name, Some(DB_VERSION)).map_err(open_error)?;
        let failure: Rc<RefCell<Option<String>>> = Rc::default();
        let failure_in_upgrade = failure.clone();
        request.on_upgrade_needed(move |event| {
            if let Err(e) = event
                .old_version()
                .and_then(|old| upgrade(&event.database()?, old))
            {
                *failure_in_upgrade.borrow_mut() = Some(e.to_string());
                // Roll the whole upgrade back so the database stays at its old, consistent version.
                if let Some(tx) = event.target().ok().and_then(|r| r.transaction()) {
                    let _ = tx.abort();
                }
            }
        });
        let opened = request.await;
        if let Some(e) = failure.take() {
            return Err(StoreError::Upgrade(e));
        }
        let mut db = opened.map_err(open_error)?;
        // Another tab that needs a newer schema asks us to step aside: close so it can upgrade.
        db.on_version_change(|event| {
            if let Some(db) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::IdbDatabase>().ok())
            {
                db.close();
            }
        });
        let raw = web_sys::IdbDatabase::from(db);
        let db = Database::from(raw.clone());
        Ok(IdbStore { db, raw })
    }

    /// Deletes a whole database (tests and "clear my data").
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        let factory = Factory::new().map_err(|_| StoreError::Unavailable)?;
        factory
            .delete(name)
            .map_err(from_idb)?
            .await
            .map_err(from_idb)
    }

    /// The stored identity of this browser, if one was saved.
    pub async fn load_identity(&self) -> Result<Option<Identity>, StoreError> {
        let (_tx, store) = self.identity_store(TransactionMode::ReadOnly)?;
        let record = store
            .get(JsValue::from_str(OWN_IDENTITY_KEY))
            .map_err(from_idb)?
            .await
            .map_err(from_idb)?;
        record.map(|r| decode_identity(&r)).transpose()
    }

    /// Stores `identity` as this browser's identity, replacing any other; returns once committed.
    pub async fn save_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        let (tx, store) = self.identity_store(TransactionMode::ReadWrite)?;
        store
            .put(&encode_identity(identity)?, Some(&own_key()))
            .map_err(from_idb)?
            .await
            .map_err(from_idb)?;
        commit(tx, &store).await
    }

    /// Returns the stored identity, or stores `candidate` if there is none and returns it.
    ///
    /// Read and write happen in one transaction, so two tabs starting at once agree on one identity.
    /// A damaged record is reported, never overwritten.
    pub async fn load_or_insert_identity(
        &self,
        candidate: Identity,
    ) -> Result<Identity, StoreError> {
        let (tx, store) = self.identity_store(TransactionMode::ReadWrite)?;
        let existing = store
            .get(own_key())
            .map_err(from_idb)?
            .await
            .map_err(from_idb)?;
        if let Some(record) = existing {
            // Nothing was written: the transaction finishes on its own.
            return decode_identity(&record);
        }
        store
            .add(&encode_identity(&candidate)?, Some(&own_key()))
            .map_err(from_idb)?
            .await
            .map_err(from_idb)?;
        commit(tx, &store).await?;
        Ok(candidate)
    }

    /// Closes the connection once running transactions finish (also done on drop).
    pub fn close(&self) {
        self.db.close();
    }

    fn identity_store(
        &self,
        mode: TransactionMode,
    ) -> Result<(Transaction, ObjectStore), StoreError> {
        let tx = self
            .db
            .transaction(&[IDENTITY_STORE], mode)
            .map_err(from_idb)?;
        let store = tx.object_store(IDENTITY_STORE).map_err(from_idb)?;
        Ok((tx, store))
    }
}

impl Drop for IdbStore {
    fn drop(&mut self) {
        self.db.close();
    }
}

/// Brings the schema from `old_version` (0 for a new database) up to [`DB_VERSION`], one step per
/// version. Runs inside the upgrade transaction: any error aborts the whole upgrade.
pub fn upgrade(db: &Database, old_version: u32) -> Result<(), idb::Error> {
    if old_version < 1 {
        db.create_object_store(IDENTITY_STORE, ObjectStoreParams::new())?;
    }
    if old_version < 2 {
        commons::create_stores(db)?;
    }
    // Version 3 and later: add `if old_version < 3 { ... }` here; never edit the steps above.
    Ok(())
}

/// Waits until the browser reports the transaction committed. When it aborts instead, the reason
/// (a full quota, typically) is read from the transaction through `store`, one of its stores.
async fn commit(tx: Transaction, store: &ObjectStore) -> Result<(), StoreError> {
    match tx.commit().map_err(from_idb)?.await.map_err(from_idb)? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err(abort_reason(store)),
    }
}

/// Why the transaction of `store` aborted.
fn abort_reason(store: &ObjectStore) -> StoreError {
    match store.transaction().error() {
        Some(e) => dom_error(&e),
        None => StoreError::Aborted,
    }
}

/// Sorts a DOMException into the cases a person can act on differently.
fn dom_error(e: &web_sys::DomException) -> StoreError {
    match e.name().as_str() {
        "QuotaExceededError" => StoreError::QuotaExceeded,
        "VersionError" => StoreError::NewerVersion,
        "AbortError" => StoreError::Aborted,
        _ => StoreError::Request(format!("{}: {}", e.name(), e.message())),
    }
}

fn own_key() -> JsValue {
    JsValue::from_str(OWN_IDENTITY_KEY)
}

fn encode_identity(identity: &Identity) -> Result<JsValue, StoreError> {
    let record = Object::new();
    let secret = Uint8Array::from(identity.secret().as_slice());
    Reflect::set(&record, &SECRET_FIELD.into(), &secret)
        .map_err(|e| StoreError::Request(js_text(&e)))?;
    Ok(record.into())
}

fn decode_identity(record: &JsValue) -> Result<Identity, StoreError> {
    let secret = Reflect::get(record, &SECRET_FIELD.into())
        .ok()
        .and_then(|s| s.dyn_into::<Uint8Array>().ok())
        .ok_or_else(|| {
            StoreError::CorruptIdentity("expected a record with a `secret` byte array".into())
        })?;
    Identity::from_secret_slice(&secret.to_vec()).map_err(|_| {
        StoreError::CorruptIdentity(format!(
            "the secret has {} bytes instead of 32",
            secret.length()
        ))
    })
}

/// Sorts the browser's error into the cases a person can act on differently.
fn from_idb(error: idb::Error) -> StoreError {
    match dom_exception(&error) {
        Some(e) => match dom_error(&e) {
            StoreError::Request(_) => StoreError::Request(error.to_string()),
            known => known,
        },
        None => StoreError::Request(error.to_string()),
    }
}

fn open_error(error: idb::Error) -> StoreError {
    match from_idb(error) {
        StoreError::Request(message) => StoreError::Open(message),
        other => other,
    }
}

/// The DOMException (e.g. a `QuotaExceededError`) carried by an idb error, if any.
fn dom_exception(error: &idb::Error) -> Option<web_sys::DomException> {
    let value: &JsValue = match error {
        idb::Error::DomException(e) => e.as_ref(),
        idb::Error::IndexedDbOpenFailed(v)
        | idb::Error::AddFailed(v)
        | idb::Error::UpdateFailed(v)
        | idb::Error::GetFailed(v)
        | idb::Error::TransactionOpenFailed(v)
        | idb::Error::TransactionCommitError(v)
        | idb::Error::GetAllFailed(v)
        | idb::Error::GetAllKeysFailed(v)
        | idb::Error::DeleteFailed(v) => v,
        _ => return None,
    };
    value.dyn_ref::<web_sys::DomException>().cloned()
}

fn js_text(value: &JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
