//! The per-commons part of the IndexedDB store: joined commons, changes by slot, snapshots.
//!
//! Each [`Store`] method is one IndexedDB transaction. A batch of changes is written by one
//! transaction that reads the commons' record, puts the whole batch as one record keyed by its
//! first slot ([`encode_batch`]) and updates the record: one put and one commit per batch,
//! however many changes it holds.

use idb::{Database, KeyRange, ObjectStore, ObjectStoreParams, Query, TransactionMode};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::{commit, from_idb, IdbStore};
use crate::change::{ChangeId, CommonsId};
use crate::identity::Identity;
use crate::store::{
    decode_batch, encode_batch, Appended, JoinedCommons, Store, StoreError, StoreFuture,
    StoredCommons, StoredSnapshot,
};

/// Object store of the joined commons' records.
pub const COMMONS_STORE: &str = "commons";
/// Object store of the changes: one record per stored batch, keyed `[commons id hex, first slot]`.
pub const CHANGES_STORE: &str = "changes";
/// Object store of the snapshots, keyed by commons id hex.
pub const SNAPSHOTS_STORE: &str = "snapshots";

/// Creates the version-2 object stores (inside the upgrade transaction).
pub(super) fn create_stores(db: &Database) -> Result<(), idb::Error> {
    db.create_object_store(COMMONS_STORE, ObjectStoreParams::new())?;
    db.create_object_store(CHANGES_STORE, ObjectStoreParams::new())?;
    db.create_object_store(SNAPSHOTS_STORE, ObjectStoreParams::new())?;
    Ok(())
}

/// The fields of a commons record.
struct Record {
    id: CommonsId,
    title: String,
    joined_at: u64,
    count: u64,
    heads: Vec<ChangeId>,
}

impl Record {
    fn empty(id: CommonsId) -> Self {
        Record {
            id,
            title: String::new(),
            joined_at: 0,
            count: 0,
            heads: vec![],
        }
    }

    fn to_js(&self) -> Result<JsValue, StoreError> {
        let o = Object::new();
        let heads: Vec<u8> = self.heads.iter().flat_map(|h| h.0).collect();
        set(&o, "id", &self.id.to_hex().into())?;
        set(&o, "title", &self.title.as_str().into())?;
        set(&o, "joinedAt", &(self.joined_at as f64).into())?;
        set(&o, "count", &(self.count as f64).into())?;
        set(&o, "heads", &Uint8Array::from(heads.as_slice()))?;
        Ok(o.into())
    }

    fn from_js(v: &JsValue) -> Result<Self, StoreError> {
        let id = get(v, "id")
            .as_string()
            .and_then(|s| ChangeId::from_hex(&s).ok())
            .ok_or_else(|| corrupt("the commons record has no valid id"))?;
        let title = get(v, "title").as_string().unwrap_or_default();
        let number = |name: &str| {
            get(v, name)
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
                .ok_or_else(|| corrupt(&format!("the commons record has no valid `{name}`")))
        };
        let heads = get(v, "heads")
            .dyn_into::<Uint8Array>()
            .map(|a| a.to_vec())
            .unwrap_or_default();
        Ok(Record {
            id,
            title,
            joined_at: number("joinedAt")?,
            count: number("count")?,
            heads: heads
                .chunks_exact(32)
                .filter_map(|c| c.try_into().ok().map(ChangeId))
                .collect(),
        })
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn set(o: &Object, name: &str, value: &JsValue) -> Result<(), StoreError> {
    Reflect::set(o, &name.into(), value)
        .map(|_| ())
        .map_err(|_| StoreError::Request(format!("could not set `{name}` on a record")))
}

fn get(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn slot_key(id: &str, slot: u64) -> JsValue {
    Array::of2(&id.into(), &(slot as f64).into()).into()
}

/// The slots `from..to` of commons `id` (`to = None`: to the end).
fn slot_range(id: &str, from: u64, to: Option<u64>) -> Result<Query, StoreError> {
    let upper = slot_key(id, 0);
    Reflect::set(
        &upper,
        &1.into(),
        &to.map_or(f64::INFINITY, |t| t as f64).into(),
    )
    .map_err(|_| StoreError::Request("could not build a key range".into()))?;
    let range = KeyRange::bound(&slot_key(id, from), &upper, Some(false), Some(to.is_some()))
        .map_err(from_idb)?;
    Ok(range.into())
}

fn bytes_of(v: JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    v.dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| corrupt(&format!("{what} is not a byte array")))
}

impl IdbStore {
    fn stores(
        &self,
        names: &[&str],
        mode: TransactionMode,
    ) -> Result<(idb::Transaction, Vec<ObjectStore>), StoreError> {
        let tx = match mode {
            // Writes ask for strict durability: the browser reports the transaction complete
            // only once the data reached the disk, so an acknowledged change survives a crash
            // or power loss (the default lets the browser report it earlier).
            TransactionMode::ReadWrite => self.strict_write(names)?,
            _ => self.db.transaction(names, mode).map_err(from_idb)?,
        };
        let stores = names
            .iter()
            .map(|n| tx.object_store(n).map_err(from_idb))
            .collect::<Result<_, _>>()?;
        Ok((tx, stores))
    }

    fn strict_write(&self, names: &[&str]) -> Result<idb::Transaction, StoreError> {
        let names: js_sys::Array = names.iter().map(|n| JsValue::from_str(n)).collect();
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"durability".into(), &"strict".into())
            .map_err(|e| StoreError::Request(format!("{e:?}")))?;
        let raw: &RawDb = self.raw.unchecked_ref();
        raw.transaction_with_options(&names, "readwrite", &options)
            .map(idb::Transaction::from)
            .map_err(|e| match e.dyn_into::<web_sys::DomException>() {
                Ok(d) => super::dom_error(&d),
                Err(e) => StoreError::Request(format!("opening a write transaction: {e:?}")),
            })
    }

    async fn get_record(store: &ObjectStore, id: &str) -> Result<Option<Record>, StoreError> {
        let v = store
            .get(JsValue::from_str(id))
            .map_err(from_idb)?
            .await
            .map_err(from_idb)?;
        v.map(|v| Record::from_js(&v)).transpose()
    }
}

/// The first of `stores`, for error reporting after an abort.
fn first(stores: &[ObjectStore]) -> Result<&ObjectStore, StoreError> {
    stores
        .first()
        .ok_or_else(|| StoreError::Request("no object store".into()))
}

impl Store for IdbStore {
    fn load_or_insert_identity(&self, candidate: Identity) -> StoreFuture<'_, Identity> {
        Box::pin(IdbStore::load_or_insert_identity(self, candidate))
    }

    fn joined(&self) -> StoreFuture<'_, Vec<JoinedCommons>> {
        Box::pin(async move {
            let (_tx, stores) = self.stores(&[COMMONS_STORE], TransactionMode::ReadOnly)?;
            let all = first(&stores)?
                .get_all(None, None)
                .map_err(from_idb)?
                .await
                .map_err(from_idb)?;
            all.iter()
                .map(|v| {
                    Record::from_js(v).map(|r| JoinedCommons {
                        id: r.id,
                        title: r.title,
                        joined_at: r.joined_at,
                    })
                })
                .collect()
        })
    }

    fn remember(&self, commons: JoinedCommons) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (tx, stores) = self.stores(&[COMMONS_STORE], TransactionMode::ReadWrite)?;
            let store = first(&stores)?;
            let key = commons.id.to_hex();
            let mut record = match Self::get_record(store, &key).await? {
                Some(r) => r,
                None => Record {
                    joined_at: commons.joined_at,
                    ..Record::empty(commons.id)
                },
            };
            if !commons.title.is_empty() {
                record.title = commons.title;
            }
            if record.joined_at == 0 {
                record.joined_at = commons.joined_at;
            }
            store
                .put(&record.to_js()?, Some(&JsValue::from_str(&key)))
                .map_err(from_idb)?;
            commit(tx, store).await
        })
    }

    fn forget(&self, id: CommonsId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let names = [COMMONS_STORE, CHANGES_STORE, SNAPSHOTS_STORE];
            let (tx, stores) = self.stores(&names, TransactionMode::ReadWrite)?;
            let key = id.to_hex();
            let [records, changes, snapshots] = &stores[..] else {
                return Err(StoreError::Request("missing object stores".into()));
            };
            records.delete(JsValue::from_str(&key)).map_err(from_idb)?;
            changes
                .delete(slot_range(&key, 0, None)?)
                .map_err(from_idb)?;
            snapshots
                .delete(JsValue::from_str(&key))
                .map_err(from_idb)?;
            commit(tx, records).await
        })
    }

    fn load(&self, id: CommonsId) -> StoreFuture<'_, StoredCommons> {
        Box::pin(async move {
            let names = [COMMONS_STORE, CHANGES_STORE, SNAPSHOTS_STORE];
            let (_tx, stores) = self.stores(&names, TransactionMode::ReadOnly)?;
            let [records, changes, snapshots] = &stores[..] else {
                return Err(StoreError::Request("missing object stores".into()));
            };
            let key = id.to_hex();
            let record = Self::get_record(records, &key).await?;
            let values = changes
                .get_all(Some(slot_range(&key, 0, None)?), None)
                .map_err(from_idb)?
                .await
                .map_err(from_idb)?;
            let snapshot = snapshots
                .get(JsValue::from_str(&key))
                .map_err(from_idb)?
                .await
                .map_err(from_idb)?;
            let mut changes = Vec::new();
            for v in values {
                changes.extend(decode_batch(&bytes_of(v, "a stored batch")?)?);
            }
            let snapshot = match snapshot {
                None => None,
                Some(s) => Some(StoredSnapshot {
                    covered: get(&s, "covered").as_f64().unwrap_or(0.0) as u64,
                    bytes: bytes_of(get(&s, "bytes"), "the snapshot")?,
                }),
            };
            Ok(StoredCommons {
                changes,
                snapshot,
                heads: record.map(|r| r.heads).unwrap_or_default(),
            })
        })
    }

    fn append(
        &self,
        id: CommonsId,
        changes: Vec<Vec<u8>>,
        heads: Vec<ChangeId>,
    ) -> StoreFuture<'_, Appended> {
        Box::pin(async move {
            let names = [COMMONS_STORE, CHANGES_STORE];
            let (tx, stores) = self.stores(&names, TransactionMode::ReadWrite)?;
            let [records, slots] = &stores[..] else {
                return Err(StoreError::Request("missing object stores".into()));
            };
            let key = id.to_hex();
            let mut record = Self::get_record(records, &key)
                .await?
                .unwrap_or_else(|| Record::empty(id));
            let first = record.count;
            if !changes.is_empty() {
                // Not awaited: the transaction's commit reports any failure.
                slots
                    .put(
                        &Uint8Array::from(encode_batch(&changes).as_slice()),
                        Some(&slot_key(&key, first)),
                    )
                    .map_err(from_idb)?;
            }
            record.count = first + changes.len() as u64;
            record.heads = heads;
            records
                .put(&record.to_js()?, Some(&JsValue::from_str(&key)))
                .map_err(from_idb)?;
            commit(tx, records).await?;
            Ok(Appended {
                first,
                end: record.count,
            })
        })
    }

    fn read_slots(&self, id: CommonsId, from: u64, to: u64) -> StoreFuture<'_, Vec<Vec<u8>>> {
        Box::pin(async move {
            if to <= from {
                return Ok(vec![]);
            }
            let (_tx, stores) = self.stores(&[CHANGES_STORE], TransactionMode::ReadOnly)?;
            let store = first(&stores)?;
            // Batches that start before `to`, with their first slots: the one holding `from` may
            // start before it.
            let range = || slot_range(&id.to_hex(), 0, Some(to));
            let keys = store
                .get_all_keys(Some(range()?), None)
                .map_err(from_idb)?
                .await
                .map_err(from_idb)?;
            let values = store
                .get_all(Some(range()?), None)
                .map_err(from_idb)?
                .await
                .map_err(from_idb)?;
            let mut out = Vec::new();
            for (key, value) in keys.iter().zip(values) {
                let start = Reflect::get(key, &1.into())
                    .ok()
                    .and_then(|s| s.as_f64())
                    .ok_or_else(|| corrupt("a batch key without a slot"))?
                    as u64;
                for (i, change) in decode_batch(&bytes_of(value, "a stored batch")?)?
                    .into_iter()
                    .enumerate()
                {
                    let slot = start + i as u64;
                    if (from..to).contains(&slot) {
                        out.push(change);
                    }
                }
            }
            Ok(out)
        })
    }

    fn put_snapshot(&self, id: CommonsId, snapshot: StoredSnapshot) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (tx, stores) = self.stores(&[SNAPSHOTS_STORE], TransactionMode::ReadWrite)?;
            let store = first(&stores)?;
            let o = Object::new();
            set(&o, "covered", &(snapshot.covered as f64).into())?;
            set(&o, "bytes", &Uint8Array::from(snapshot.bytes.as_slice()))?;
            store
                .put(&o, Some(&JsValue::from_str(&id.to_hex())))
                .map_err(from_idb)?;
            commit(tx, store).await
        })
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, seen through the one method below.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type RawDb;

    /// `IDBDatabase.transaction(names, mode, options)`: web-sys has it only behind its unstable
    /// APIs flag, and `idb` does not pass options.
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &RawDb,
        names: &js_sys::Array,
        mode: &str,
        options: &js_sys::Object,
    ) -> Result<web_sys::IdbTransaction, JsValue>;
}
