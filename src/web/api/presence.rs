//! Presence: show others where your cursor is, and see theirs. Ephemeral (never stored, not in
//! the state hash); positions are UTF-16 indices, as JavaScript strings count.

use wasm_bindgen::prelude::*;

use super::documents::count;
use super::types::PresenceInfo;
use super::{js_error, parse_id, WebCommons};
use crate::identity::AuthorId;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{call, presence};

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// Shows the other peers your cursor (a selection from `anchor` to `head`, equal for a
    /// caret) in a document, until you call it again, `setPresence(null)` hides it, or the
    /// commons closes. Positions follow the text as people edit around them.
    #[wasm_bindgen(js_name = setPresence)]
    pub fn set_presence(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: Option<String>,
        anchor: Option<f64>,
        head: Option<f64>,
    ) -> Result<(), JsError> {
        let at = match doc_id {
            None => None,
            Some(id) => {
                let doc = parse_id(&id, "a document id")?;
                let anchor = count(anchor.unwrap_or(0.0), "anchor")?;
                let head = match head {
                    Some(h) => count(h, "head")?,
                    None => anchor,
                };
                Some((doc, anchor, head))
            }
        };
        call(&self.shared, move |rt| presence::set(rt, at))
            .map_err(js_error)?
            .map_err(|e| JsError::new(&e))
    }

    /// Other people's cursors in a document (not yours), resolved to current UTF-16 indices.
    /// Cursors whose position names text this replica does not hold yet are left out.
    #[wasm_bindgen(unchecked_return_type = "PresenceInfo[]")]
    pub fn presence(
        &self,
        #[wasm_bindgen(js_name = docId)] doc_id: String,
    ) -> Result<JsValue, JsError> {
        let doc = parse_id(&doc_id, "a document id")?;
        let rt = self.rt();
        let replica = rt.replica();
        let list: Vec<PresenceInfo> = rt
            .node
            .presence()
            .on_doc(&doc.0)
            .filter_map(|b| {
                let cursor = b.cursor.as_ref()?;
                let anchor = replica.resolve_position(&doc, &cursor.anchor)?;
                let head = replica.resolve_position(&doc, &cursor.head)?;
                let author = AuthorId(b.author);
                let name = if b.name.is_empty() {
                    replica.name_of(&author).map(str::to_string)
                } else {
                    Some(b.name.clone())
                };
                Some(PresenceInfo {
                    peer_id: b.peer_id().to_hex(),
                    author: author.to_hex(),
                    name,
                    anchor,
                    head,
                })
            })
            .collect();
        Ok(to_js(&list))
    }
}
