//! Documents: create, edit (indices in UTF-16 code units, as JavaScript strings count), read,
//! history and comments.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::types::{DocumentComment, DocumentSummary, HistoryEntry};
use super::{js_error, parse_id, WebCommons};
use crate::change::{ChangeId, Op};
use crate::commons::Commons;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{call, js, Waiter};

/// Largest index JavaScript can count exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A whole number ≥ 0 from JavaScript, or an error naming `what`.
pub(crate) fn count(n: f64, what: &str) -> Result<u64, JsError> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE {
        Ok(n as u64)
    } else {
        Err(JsError::new(&format!(
            "{what} must be a whole number ≥ 0 (got {n})"
        )))
    }
}

fn known_doc(c: &Commons, id: &ChangeId) -> Result<(), JsError> {
    match c.document(id) {
        Some(_) => Ok(()),
        None => Err(JsError::new(&format!(
            "no document {} in this commons (not created yet, or not synced yet)",
            id.short()
        ))),
    }
}

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// Creates a document with a title and initial text; resolves with its id once stored.
    #[wasm_bindgen(js_name = createDocument, unchecked_return_type = "Promise<string>")]
    pub fn create_document(&self, title: String, text: String) -> Result<Promise, JsError> {
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| {
            let result = rt
                .node
                .replica_mut()
                .create_document(&title, &text, js::now_ms());
            rt.write(result, waiter, |changes| {
                changes
                    .iter()
                    .find(|c| {
                        c.body
                            .ops
                            .iter()
                            .any(|o| matches!(o, Op::CreateDocument { .. }))
                    })
                    .map_or(JsValue::UNDEFINED, |c| c.id.to_hex().into())
            });
        })
        .map_err(js_error)?;
        Ok(promise)
    }

    /// Replaces `deleteCount` UTF-16 code units at `index` by `insertText`. Reads show the edit at
    /// once; it is signed after a typing pause and the promise resolves once it is stored. Throws
    /// if the document is unknown or the range is outside its text.
    #[wasm_bindgen(js_name = editDocument, unchecked_return_type = "Promise<void>")]
    pub fn edit_document(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
        index: f64,
        #[wasm_bindgen(js_name = deleteCount)] delete_count: f64,
        #[wasm_bindgen(js_name = insertText)] insert_text: String,
    ) -> Result<Promise, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        let index = count(index, "index")?;
        let delete = count(delete_count, "deleteCount")?;
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| {
            rt.node
                .replica_mut()
                .edit_text(&doc, index, delete, &insert_text)
                .map(|()| {
                    rt.typed();
                    rt.writes.wait_for_flush(waiter);
                })
        })
        .map_err(js_error)?
        .map_err(js_error)?;
        Ok(promise)
    }

    /// A document's current text.
    #[wasm_bindgen(js_name = documentText)]
    pub fn document_text(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<String, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        self.read(|c| {
            known_doc(c, &doc)?;
            Ok(c.text(&doc).unwrap_or_default())
        })
    }

    /// The documents, by id.
    #[wasm_bindgen(unchecked_return_type = "DocumentSummary[]")]
    pub fn documents(&self) -> JsValue {
        let list: Vec<DocumentSummary> = self.read(|c| {
            c.documents()
                .into_iter()
                .map(|d| DocumentSummary {
                    id: d.id.to_hex(),
                    title: d.title,
                    creator: d.creator.to_hex(),
                    creator_name: c.name_of(&d.creator).map(str::to_string),
                    authors: d.authors.iter().map(|a| a.to_hex()).collect(),
                    last_change: d.last_change.map(|l| l.to_hex()),
                    length: d.len,
                })
                .collect()
        });
        to_js(&list)
    }

    /// The changes that touched a document, in causal order: who, when (as claimed), what.
    #[wasm_bindgen(unchecked_return_type = "HistoryEntry[]")]
    pub fn history(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<JsValue, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        let list: Vec<HistoryEntry> = self.read(|c| {
            known_doc(c, &doc)?;
            Ok::<_, JsError>(
                c.history(&doc)
                    .into_iter()
                    .map(|h| HistoryEntry {
                        change: h.change.to_hex(),
                        author: h.author.to_hex(),
                        name: h.name,
                        time: h.time,
                        action: h.action,
                    })
                    .collect(),
            )
        })?;
        Ok(to_js(&list))
    }

    /// The comments on a document, in causal order.
    #[wasm_bindgen(unchecked_return_type = "DocumentComment[]")]
    pub fn comments(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<JsValue, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        let list: Vec<DocumentComment> = self.read(|c| {
            let d = c.document(&doc).ok_or_else(|| {
                JsError::new(&format!("no document {} in this commons", doc.short()))
            })?;
            Ok::<_, JsError>(
                d.comments()
                    .map(|m| DocumentComment {
                        id: m.id.to_hex(),
                        author: m.author.to_hex(),
                        name: c.name_of(&m.author).map(str::to_string),
                        text: m.text.clone(),
                        time: m.time,
                    })
                    .collect(),
            )
        })?;
        Ok(to_js(&list))
    }

    /// Comments on a document; resolves with the comment's id once stored.
    #[wasm_bindgen(js_name = addComment, unchecked_return_type = "Promise<string>")]
    pub fn add_comment(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
        text: String,
    ) -> Result<Promise, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        self.read(|c| known_doc(c, &doc))?;
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| {
            rt.act(vec![Op::Comment { doc, text }], waiter)
        })
        .map_err(js_error)?;
        Ok(promise)
    }

    /// Renames a document; resolves once stored.
    #[wasm_bindgen(js_name = retitleDocument, unchecked_return_type = "Promise<void>")]
    pub fn retitle_document(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
        title: String,
    ) -> Result<Promise, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        self.read(|c| known_doc(c, &doc))?;
        let (promise, waiter) = Waiter::promise();
        let waiter = waiter.with_value(JsValue::UNDEFINED);
        call(&self.shared, move |rt| {
            let result = rt
                .node
                .replica_mut()
                .act(vec![Op::RetitleDocument { doc, title }], js::now_ms());
            rt.write(result, waiter, |_| JsValue::UNDEFINED);
        })
        .map_err(js_error)?;
        Ok(promise)
    }
}
