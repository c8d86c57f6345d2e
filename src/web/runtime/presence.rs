//! The tab's own presence (its cursor), signed here with the replica's key and handed to the
//! sync node, which gossips it; other people's cursors come back from the node's book. Nothing
//! of it is stored. The decisions (when to publish, what is stale or expired) are in
//! `crate::sync::presence`; this only supplies the time and the key.

use super::Runtime;
use crate::change::ChangeId;
use crate::sync::presence::{self, Cursor};

/// Sets the local cursor in `doc` (UTF-16 `anchor` and `head`), or clears it with `None`.
pub(crate) fn set(rt: &mut Runtime, at: Option<(ChangeId, u64, u64)>) -> Result<(), String> {
    let cursor = match at {
        None => None,
        Some((doc, anchor, head)) => {
            let replica = rt.node.replica();
            let unknown = || format!("no document {} in this commons", doc.short());
            let anchor = replica.sticky_position(&doc, anchor).ok_or_else(unknown)?;
            let head = replica.sticky_position(&doc, head).ok_or_else(unknown)?;
            Some(Cursor {
                doc: doc.0,
                anchor,
                head,
            })
        }
    };
    rt.presence.set(cursor);
    Ok(())
}

/// Publishes the local record if one is due at `now`.
pub(super) fn publish_due(rt: &mut Runtime, now: u64) {
    if let Some((seq, cursor)) = rt.presence.poll(now) {
        publish(rt, seq, cursor);
    }
}

/// Publishes a record that clears the local cursor (the tab closes), if others may show it.
pub(super) fn leave(rt: &mut Runtime) {
    if let Some(seq) = rt.presence.leave() {
        publish(rt, seq, None);
    }
}

fn publish(rt: &mut Runtime, seq: u64, cursor: Option<Cursor>) {
    let replica = rt.node.replica();
    let Some(identity) = replica.local_identity() else {
        return; // a read-only replica shows no cursor
    };
    let name = replica
        .name_of(&identity.author())
        .map(str::to_string)
        .or_else(|| rt.pending_name.clone())
        .unwrap_or_default();
    let record = presence::sign(identity, rt.id.0, rt.me, seq, &name, cursor);
    rt.node.publish_presence(record);
}
