//! The `Commons` class of the JS API: opening and creating a commons, its identity, network and
//! sync state, events and closing. Documents, tasks (and later governance, property) add their
//! methods in sibling files, each a further `#[wasm_bindgen] impl WebCommons` block.
//!
//! Reads are synchronous over the in-memory replica. Writes return promises that resolve once
//! the change is stored in IndexedDB (and only then is it sent to peers).

mod documents;
mod governance;
pub mod options;
mod presence;
mod property;
mod tasks;
pub mod types;

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::change::{ChangeId, Charter, CommonsId, GovernanceParams};
use crate::commons::Commons;
use crate::identity::Identity;
use crate::store::idb::IdbStore;
use crate::store::persist::{open_replica, save, Persistence};
use crate::store::{JoinedCommons, Store};
use crate::web::poison;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{self, call, enter, js, post, Runtime, Shared, Waiter};
use options::Options;
use types::{CharterInfo, JoinedInfo, PeerInfo, SyncProgress};

/// Licence of a new commons unless the founder chooses another.
pub const DEFAULT_LICENCE: &str = "CC-BY-SA-4.0";

/// One open commons (exported to JavaScript as `Commons`).
#[wasm_bindgen(js_name = Commons)]
pub struct WebCommons {
    shared: Shared,
    /// What reopening had to skip (damaged stored records), in plain words.
    storage_notice: Option<String>,
}

/// Turns an error into a JS `Error` with its message.
pub(crate) fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Parses an id given by JavaScript; `what` names it in the error.
pub(crate) fn parse_id(s: &str, what: &str) -> Result<ChangeId, JsError> {
    ChangeId::from_hex(s).map_err(|_| {
        JsError::new(&format!(
            "{what} must be 64 hex characters (got \"{}\"): copy it again from the link or list",
            s.chars().take(80).collect::<String>()
        ))
    })
}

async fn open_store(options: &Options) -> Result<Rc<dyn Store>, JsError> {
    let store = IdbStore::open_named(&options.database())
        .await
        .map_err(js_error)?;
    Ok(Rc::new(store))
}

/// This browser's identity (made and stored on first use) and a fresh session nonce.
async fn local_author(store: &dyn Store) -> Result<(Identity, u32), JsError> {
    let candidate = Identity::from_secret(js::random::<32>()?);
    let identity = store
        .load_or_insert_identity(candidate)
        .await
        .map_err(js_error)?;
    Ok((identity, u32::from_le_bytes(js::random::<4>()?)))
}

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// Founds a new commons with you as its first member; resolves once its genesis is stored.
    pub async fn create(
        #[wasm_bindgen(unchecked_param_type = "CreateOptions")] options: JsValue,
    ) -> Result<WebCommons, JsError> {
        poison::check().map_err(|e| JsError::new(&e))?;
        let options = Options::parse(options, true)?;
        let store = open_store(&options).await?;
        Self::create_with_store(store, options).await
    }

    /// Opens a commons: reopens this browser's replica of it, or joins it for the first time (its
    /// content then arrives from peers). Works offline, whether the relays answer or not.
    pub async fn open(
        id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "OpenOptions")] options: JsValue,
    ) -> Result<WebCommons, JsError> {
        poison::check().map_err(|e| JsError::new(&e))?;
        let id = parse_id(&id, "a commons id")?;
        let options = Options::parse(options, false)?;
        let store = open_store(&options).await?;
        Self::open_with_store(store, id, options).await
    }

    /// The commons this browser joined (in `database`, default "peer-commons").
    #[wasm_bindgen(unchecked_return_type = "JoinedCommons[]")]
    pub async fn joined(
        #[wasm_bindgen(unchecked_optional_param_type = "{ database?: string }")] options: JsValue,
    ) -> Result<JsValue, JsError> {
        let options = Options::parse(options, false)?;
        let store = open_store(&options).await?;
        let list: Vec<JoinedInfo> = store
            .joined()
            .await
            .map_err(js_error)?
            .into_iter()
            .map(|j| JoinedInfo {
                id: j.id.to_hex(),
                title: j.title,
                joined_at: j.joined_at,
            })
            .collect();
        Ok(to_js(&list))
    }

    /// Deletes this browser's copy of a commons (close it first). Its content stays with peers.
    pub async fn forget(
        id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "{ database?: string }")] options: JsValue,
    ) -> Result<(), JsError> {
        let id = parse_id(&id, "a commons id")?;
        let options = Options::parse(options, false)?;
        open_store(&options)
            .await?
            .forget(id)
            .await
            .map_err(js_error)
    }

    /// The commons id (64 hex characters): what a link to it carries.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.rt().id.to_hex()
    }

    /// Your public key (64 hex characters).
    #[wasm_bindgen(getter)]
    pub fn me(&self) -> String {
        self.read(|c| c.local_author().map(|a| a.to_hex()).unwrap_or_default())
    }

    /// Set when opening had to skip damaged stored records: what happened, in plain words (the
    /// records are left as they were, and peers send those changes again). `undefined` otherwise.
    #[wasm_bindgen(getter, js_name = storageNotice)]
    pub fn storage_notice(&self) -> Option<String> {
        self.storage_notice.clone()
    }

    /// This tab's peer id in the mesh (random per session).
    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> String {
        self.rt().me.to_hex()
    }

    /// The charter, or `null` until the genesis has arrived from peers.
    #[wasm_bindgen(unchecked_return_type = "Charter | null")]
    pub fn charter(&self) -> JsValue {
        self.read(|c| {
            let charter = c.genesis_charter()?;
            let founder = c.change(&c.id())?.body.author.to_hex();
            Some(CharterInfo {
                title: charter.title.clone(),
                purpose: charter.purpose.clone(),
                licence: charter.licence.clone(),
                founder,
            })
        })
        .map_or(JsValue::NULL, |c| to_js(&c))
    }

    /// The display name an author claims (you, by default), or `null`.
    #[wasm_bindgen(unchecked_return_type = "string | null")]
    pub fn name(&self, author: Option<String>) -> Result<JsValue, JsError> {
        let author = match author {
            Some(a) => Some(
                crate::identity::AuthorId::from_hex(&a)
                    .map_err(|_| JsError::new("an author key is 64 hex characters"))?,
            ),
            None => None,
        };
        Ok(self
            .read(|c| {
                let a = author.or_else(|| c.local_author())?;
                c.name_of(&a).map(str::to_string)
            })
            .map_or(JsValue::NULL, JsValue::from))
    }

    /// Claims a display name in this commons; resolves once stored.
    #[wasm_bindgen(js_name = setName, unchecked_return_type = "Promise<void>")]
    pub fn set_name(&self, name: String) -> Result<Promise, JsError> {
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| rt.set_name(name, Some(waiter))).map_err(js_error)?;
        Ok(promise)
    }

    /// The digest of the derived state: equal on every replica holding the same changes.
    #[wasm_bindgen(js_name = stateHash)]
    pub fn state_hash(&self) -> String {
        self.read(Commons::state_hash_hex)
    }

    /// The peers this tab is connected or connecting to.
    #[wasm_bindgen(unchecked_return_type = "PeerInfo[]")]
    pub fn peers(&self) -> JsValue {
        let rt = self.rt();
        let connected = rt.node.neighbours();
        let list: Vec<PeerInfo> = rt
            .peers()
            .into_iter()
            .map(|(peer, via)| PeerInfo {
                id: peer.to_hex(),
                via,
                state: if connected.contains(&peer) {
                    "connected"
                } else {
                    "connecting"
                },
            })
            .collect();
        to_js(&list)
    }

    /// The signalling relays and whether each is connected.
    #[wasm_bindgen(unchecked_return_type = "RelayInfo[]")]
    pub fn relays(&self) -> JsValue {
        to_js(&self.rt().relay_info())
    }

    /// Whether at least one signalling relay is connected.
    #[wasm_bindgen(getter)]
    pub fn online(&self) -> bool {
        self.rt().online()
    }

    /// Where syncing and saving stand.
    #[wasm_bindgen(js_name = syncProgress, unchecked_return_type = "SyncProgress")]
    pub fn sync_progress(&self) -> JsValue {
        let rt = self.rt();
        let (saving, unsaved) = rt.writes.pending();
        let stats = rt.node.stats();
        let replica = rt.replica();
        to_js(&SyncProgress {
            peers: rt.node.neighbours().len(),
            syncing: rt.node.is_syncing(),
            changes: replica.len(),
            waiting: replica.dag().pending_len(),
            saving,
            unsaved,
            stored: rt.writes.saved,
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            forged_signals: rt.counters.forged_signals,
            rejected_changes: rt.counters.rejected_changes,
            banned_peers: rt.counters.banned_peers,
        })
    }

    /// Calls `callback` with every event (changes stored or received, peers, network, errors);
    /// returns a function that unsubscribes it.
    #[wasm_bindgen(js_name = onChange, unchecked_return_type = "() => void")]
    pub fn on_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: CommonsEvent) => void")] callback: Function,
    ) -> Result<Function, JsError> {
        let key = call(&self.shared, |rt| rt.listen(callback)).map_err(js_error)?;
        let weak = Rc::downgrade(&self.shared);
        let off = Closure::once_into_js(move || {
            if let Some(shared) = weak.upgrade() {
                post(&shared, move |rt| rt.unlisten(key));
            }
        });
        Ok(off.unchecked_into())
    }

    /// Signs and stores the edits typed so far without waiting for a typing pause, and retries
    /// changes whose storage failed. Resolves once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Result<Promise, JsError> {
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| {
            if let Err(e) = rt.flush(None) {
                return waiter.reject(&e);
            }
            rt.writes.enqueue(vec![], true, vec![waiter]);
        })
        .map_err(js_error)?;
        Ok(promise)
    }

    /// Stores what is typed, leaves the network and stops. Resolves once everything written
    /// before is stored; rejects (after closing) if some of it could not be.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            let saved = match call(&shared, |rt| {
                let (promise, waiter) = Waiter::promise();
                if let Err(e) = rt.flush(None) {
                    waiter.reject(&e);
                } else {
                    rt.writes.enqueue(vec![], true, vec![waiter]);
                }
                promise
            }) {
                Ok(p) => JsFuture::from(p).await,
                Err(_) => return Ok(JsValue::UNDEFINED), // closed already
            };
            runtime::snapshot_on_close(&shared).await;
            enter(&shared, Runtime::shutdown).await;
            saved.map(|_| JsValue::UNDEFINED)
        })
    }
}

impl WebCommons {
    /// `Commons.create` with another store (tests use a failing one).
    pub async fn create_with_store(
        store: Rc<dyn Store>,
        options: Options,
    ) -> Result<WebCommons, JsError> {
        let (identity, nonce) = local_author(store.as_ref()).await?;
        let title = options.title.clone().unwrap_or_default();
        let charter = Charter {
            title: title.clone(),
            purpose: options.purpose.clone().unwrap_or_default(),
            licence: options
                .licence
                .clone()
                .unwrap_or_else(|| DEFAULT_LICENCE.into()),
            params: GovernanceParams::default(),
            fork_of: None,
        };
        let now = js::now_ms();
        let (commons, genesis) =
            Commons::create(identity, nonce, charter, now).map_err(js_error)?;
        let id = commons.id();
        let mut p = Persistence::new(id, 0, 0, 0, options.snapshot_every());
        save(store.as_ref(), &mut p, &commons, &[genesis])
            .await
            .map_err(js_error)?;
        remember(store.as_ref(), id, title).await?;
        Self::start(commons, p, store, options).await
    }

    /// `Commons.open` with another store.
    pub async fn open_with_store(
        store: Rc<dyn Store>,
        id: CommonsId,
        options: Options,
    ) -> Result<WebCommons, JsError> {
        let local = local_author(store.as_ref()).await?;
        let reopened = open_replica(store.as_ref(), id, Some(local), options.snapshot_every())
            .await
            .map_err(js_error)?;
        let notice = reopened.notice();
        if let Some(n) = &notice {
            js::warn(n);
        }
        let title = reopened
            .commons
            .genesis_charter()
            .map(|c| c.title.clone())
            .unwrap_or_default();
        remember(store.as_ref(), id, title).await?;
        let mut web = Self::start(reopened.commons, reopened.persistence, store, options).await?;
        web.storage_notice = notice;
        Ok(web)
    }

    async fn start(
        commons: Commons,
        p: Persistence,
        store: Rc<dyn Store>,
        options: Options,
    ) -> Result<WebCommons, JsError> {
        // The sync connection authenticates with the writer's key (a reader without one gets a
        // key of its own for this tab); fresh random bytes give this tab its peer id and nonces.
        let identity = match commons.local_identity() {
            Some(identity) => identity.clone(),
            None => crate::identity::Identity::from_secret(js::random::<32>()?),
        };
        let keys = crate::sync::SyncKeys::new(identity, js::random::<32>()?);
        let shared = Runtime::start(commons, p, store, keys, options.config());
        let web = WebCommons {
            shared,
            storage_notice: None,
        };
        if let Some(name) = options.name {
            JsFuture::from(web.set_name(name)?)
                .await
                .map_err(|e| JsError::new(&String::from(js_sys::Error::from(e).message())))?;
        }
        Ok(web)
    }

    /// Reads the replica.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Commons) -> T) -> T {
        f(self.rt().replica())
    }

    /// The runtime, for reading. Once the instance is poisoned (a panic), throws the JS `Error`
    /// [`poison::CRASHED`] instead: the runtime may still be borrowed by the call that panicked.
    pub(crate) fn rt(&self) -> std::cell::Ref<'_, Runtime> {
        if poison::poisoned() {
            wasm_bindgen::throw_str(poison::CRASHED);
        }
        self.shared.borrow()
    }

    /// The runtime (for Rust callers: tests and sibling API files).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

async fn remember(store: &dyn Store, id: CommonsId, title: String) -> Result<(), JsError> {
    let entry = JoinedCommons {
        id,
        title,
        joined_at: js::now_ms(),
    };
    store.remember(entry).await.map_err(js_error)
}
