//! Property and accounting in the JS API: the offered licences, credits per document, the
//! ledger and its CSV/JSON export, the portable archive (export and import), the Markdown zip,
//! and forking. Thin: the rules live in `crate::commons::property` and `crate::archive`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::options::Options;
use super::{js_error, local_author, open_store, parse_id, remember, WebCommons};
use crate::archive::ForkOptions;
use crate::change::Change;
use crate::commons::property::{licences, LedgerFormat};
use crate::commons::Commons;
use crate::store::persist::{save, Persistence};
use crate::store::Store;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{call, js, Waiter};

/// What `fork` takes from JavaScript.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ForkInput {
    title: String,
    purpose: Option<String>,
    documents: Option<Vec<String>>,
    licence: Option<String>,
}

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// The licences a commons may carry: `{ spdx, name, share_alike, meaning }`, where `meaning`
    /// is one sentence a person can read before choosing.
    #[wasm_bindgen(
        unchecked_return_type = "{ spdx: string; name: string; share_alike: boolean; meaning: string }[]"
    )]
    pub fn licences() -> JsValue {
        to_js(&licences())
    }

    /// Who wrote a document and how much of its current text is theirs, with its licence;
    /// `null` for an unknown document.
    #[wasm_bindgen(unchecked_return_type = "any")]
    pub fn credits(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<JsValue, JsError> {
        let id = parse_id(&doc_id, "a document id")?;
        Ok(self
            .read(|c| c.credits(&id))
            .map_or(JsValue::NULL, |v| to_js(&v)))
    }

    /// The licence in force: `{ spdx, name, share_alike, meaning, known }` (a passed licence
    /// proposal replaces the founding one; `known: false` for an id this version does not offer).
    #[wasm_bindgen(
        unchecked_return_type = "{ spdx: string; name: string; share_alike: boolean; meaning: string; known: boolean }"
    )]
    pub fn licence(&self) -> JsValue {
        to_js(&self.read(|c| c.licence()))
    }

    /// Every change that touched a document, in causal order (carried history first): author,
    /// name, what it did, what of its text survives, where it was carried from, the licences
    /// its author also offers it under, and its validation. Empty for an unknown document.
    #[wasm_bindgen(js_name = changeHistory, unchecked_return_type = "any[]")]
    pub fn change_history(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<JsValue, JsError> {
        let id = parse_id(&doc_id, "a document id")?;
        Ok(to_js(&self.read(|c| c.change_history(&id))))
    }

    /// Offers one of your own changes under another licence (one whose work fits in the
    /// commons' licence, e.g. CC0-1.0 inside CC-BY-SA-4.0); resolves with the offer's id once
    /// stored. Refused with the reason for someone else's change or an incompatible licence.
    #[wasm_bindgen(js_name = markLicence, unchecked_return_type = "Promise<string>")]
    pub fn mark_licence(
        &self,
        #[wasm_bindgen(js_name = changeId)] change_id: String,
        spdx: String,
    ) -> Result<js_sys::Promise, JsError> {
        let id = parse_id(&change_id, "a change id")?;
        self.governance_write(move |c, now| c.mark_licence(&id, &spdx, now))
    }

    /// The ledger of contributions and validations, computed from the signed record.
    #[wasm_bindgen(unchecked_return_type = "any")]
    pub fn ledger(&self) -> JsValue {
        to_js(&self.read(|c| c.ledger()))
    }

    /// The ledger as "csv" or "json" text.
    #[wasm_bindgen(js_name = exportLedger)]
    pub fn export_ledger(&self, format: String) -> Result<String, JsError> {
        let format = LedgerFormat::parse(&format).map_err(js_error)?;
        Ok(self.read(|c| c.export_ledger(format)))
    }

    /// The portable archive: every signed change, verifiable by `Commons.importArchive`.
    #[wasm_bindgen(js_name = exportArchive)]
    pub fn export_archive(&self) -> Vec<u8> {
        self.read(|c| c.export_archive())
    }

    /// A zip of Markdown files, one per document with its licence and credits, plus CREDITS.md
    /// and a licence notice.
    #[wasm_bindgen(js_name = exportMarkdown)]
    pub fn export_markdown(&self) -> Result<Vec<u8>, JsError> {
        self.read(|c| c.export_markdown()).map_err(js_error)
    }

    /// Opens the commons held in an archive made by `exportArchive`, after verifying every
    /// change: a tampered, truncated or foreign archive is refused and nothing is stored. If
    /// this browser already has that commons, the archive's missing changes are added to it.
    #[wasm_bindgen(js_name = importArchive)]
    pub async fn import_archive(
        bytes: Vec<u8>,
        #[wasm_bindgen(unchecked_optional_param_type = "OpenOptions")] options: JsValue,
    ) -> Result<WebCommons, JsError> {
        let options = Options::parse(options, false)?;
        let store = open_store(&options).await?;
        let local = local_author(store.as_ref()).await?;
        let imported = Commons::import_archive(&bytes, Some(local)).map_err(|e| {
            JsError::new(&format!(
                "this archive was refused, nothing was imported: {e}"
            ))
        })?;
        let id = imported.id();
        let known = store
            .joined()
            .await
            .map_err(js_error)?
            .iter()
            .any(|j| j.id == id);
        if known {
            let web = Self::open_with_store(store, id, options).await?;
            web.merge_from(&imported).await?;
            return Ok(web);
        }
        let changes: Vec<Change> = imported.changes_in_causal_order().cloned().collect();
        Self::store_and_start(imported, &changes, store, options).await
    }

    /// Forks this commons `{ title, purpose?, documents?, licence? }` into a new one founded by
    /// you, carrying the chosen documents (all by default) with their history, credits and
    /// licence; a share-alike licence cannot be changed. Resolves with the new commons, opened
    /// with `options` (relays, ICE servers), once its first changes are stored.
    pub async fn fork(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ title: string; purpose?: string; documents?: string[]; licence?: string }"
        )]
        fork: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "OpenOptions")] options: JsValue,
    ) -> Result<WebCommons, JsError> {
        let input: ForkInput = serde_wasm_bindgen::from_value(fork).map_err(|e| {
            JsError::new(&format!(
                "a fork is {{ title, purpose?, documents?, licence? }}: {e}"
            ))
        })?;
        if input.title.trim().is_empty() {
            return Err(JsError::new("give the fork a title"));
        }
        let documents = match input.documents {
            Some(list) => Some(
                list.iter()
                    .map(|d| parse_id(d, "a document id"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let options = Options::parse(options, false)?;
        let store: Rc<dyn Store> = self.shared().borrow().store.clone();
        let (identity, nonce) = local_author(store.as_ref()).await?;
        // Typed edits not yet signed would not be carried: sign and store them first.
        wasm_bindgen_futures::JsFuture::from(self.flush()?)
            .await
            .map_err(|e| JsError::new(&String::from(js_sys::Error::from(e).message())))?;
        let opts = ForkOptions {
            title: input.title,
            purpose: input.purpose,
            documents,
            licence: input.licence,
        };
        let forked = self
            .read(|c| c.fork(opts, identity, nonce, js::now_ms()))
            .map_err(|e| JsError::new(&format!("the fork could not be made: {e}")))?;
        Self::store_and_start(forked.commons, &forked.changes, store, options).await
    }
}

impl WebCommons {
    /// Stores a new replica's changes, remembers it in the joined list, and starts its runtime.
    async fn store_and_start(
        commons: Commons,
        changes: &[Change],
        store: Rc<dyn Store>,
        options: Options,
    ) -> Result<WebCommons, JsError> {
        let id = commons.id();
        let title = commons
            .genesis_charter()
            .map(|c| c.title.clone())
            .unwrap_or_default();
        let mut p = Persistence::new(id, 0, 0, 0, options.snapshot_every());
        save(store.as_ref(), &mut p, &commons, changes)
            .await
            .map_err(js_error)?;
        remember(store.as_ref(), id, title).await?;
        Self::start(commons, p, store, options).await
    }

    /// Adds the changes of `other` (the same commons) that this replica lacks, stored like
    /// local writes so they are also offered to peers.
    async fn merge_from(&self, other: &Commons) -> Result<(), JsError> {
        let (promise, waiter) = Waiter::promise();
        let missing: Vec<Change> = self.read(|c| {
            other
                .changes_in_causal_order()
                .filter(|ch| !c.contains(&ch.id))
                .cloned()
                .collect()
        });
        call(self.shared(), move |rt| {
            let replica = rt.node.replica_mut();
            let mut added = Vec::with_capacity(missing.len());
            let mut refused = None;
            for ch in missing {
                match replica.insert_change(ch.clone()) {
                    Ok(_) => added.push(ch),
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            }
            let result = match refused {
                Some(e) => Err(e),
                None => Ok(added),
            };
            rt.write(result, waiter, |_| JsValue::UNDEFINED);
        })
        .map_err(js_error)?;
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| JsError::new(&String::from(js_sys::Error::from(e).message())))?;
        Ok(())
    }
}
