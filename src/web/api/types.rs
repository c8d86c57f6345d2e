//! The TypeScript types of the objects the API takes and returns (wasm-bindgen would type them
//! `any`), and the Rust structs that serialize to them.

use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `Commons.open` (and of `Commons.create`). */
export interface OpenOptions {
  /** Signalling relays: `ws://` or `wss://` URLs of y-webrtc signalling servers, or `inpage:NAME`
   *  for a relay inside this page (tests, demos). Default: none; the commons then syncs only with
   *  other tabs of this browser. */
  relays?: string[];
  /** ICE servers of every RTCPeerConnection, as in `RTCConfiguration`. Default: none. */
  iceServers?: RTCIceServer[];
  /** Your display name in this commons (a claim, recorded as a signed change). */
  name?: string;
  /** The IndexedDB database (one per person on a device). Default: "peer-commons". */
  database?: string;
  /** Sync with other tabs of this browser through a BroadcastChannel. Default: true. */
  tabSync?: boolean;
  /** Stored changes between snapshots of the replica. Default: 500. */
  snapshotEvery?: number;
  /** Most peers connected at once. Default: 8. */
  maxPeers?: number;
  /** Typing pause (ms) after which typed edits are signed, stored and sent. Default: 300. */
  flushIdleMs?: number;
  /** Longest time (ms) typed edits wait while typing goes on. Default: 2000. */
  flushMaxMs?: number;
}

/** Options of `Commons.create`. */
export interface CreateOptions extends OpenOptions {
  title: string;
  purpose?: string;
  /** SPDX licence id. Default: "CC-BY-SA-4.0". */
  licence?: string;
}

/** A commons this browser joined. */
export interface JoinedCommons { id: string; title: string; joinedAt: number; }

/** The charter from the commons' genesis. */
export interface Charter { title: string; purpose: string; licence: string; founder: string; }

/** A document in a list. Lengths count UTF-16 code units, as JavaScript strings do. */
export interface DocumentSummary {
  id: string;
  title: string;
  creator: string;
  creatorName: string | null;
  authors: string[];
  lastChange: string | null;
  length: number;
}

/** What a change did to a document. */
export type HistoryAction =
  | { kind: "created"; title: string }
  | { kind: "retitled"; title: string }
  | { kind: "edited"; inserted: number; deleted: number }
  | { kind: "commented" };

/** A change that touched a document. `time` is the author's claim (ms since the epoch). */
export interface HistoryEntry {
  change: string;
  author: string;
  name: string | null;
  time: number;
  action: HistoryAction;
}

/** A comment on a document. */
export interface DocumentComment { id: string; author: string; name: string | null; text: string; time: number; }

/** A task of the commons' board. */
export interface TaskInfo {
  id: string;
  title: string;
  description: string;
  skills: string[];
  postedBy: string;
  postedByName: string | null;
  time: number;
  status: "open" | "claimed" | "done";
  claimedBy: string[];
  doneBy: string | null;
  contributions: string[];
}

/** A peer this tab is connected (or connecting) to. `id` is the peer's session id. */
export interface PeerInfo { id: string; via: "webrtc" | "tab"; state: "connecting" | "connected"; }

/** A signalling relay and whether it is connected. */
export interface RelayInfo { url: string; connected: boolean; }

/** Where syncing and saving stand. */
export interface SyncProgress {
  /** Peers with an established sync session. */
  peers: number;
  /** A reconciliation with some peer is under way. */
  syncing: boolean;
  /** Changes applied in this replica. */
  changes: number;
  /** Changes received that wait for changes they depend on. */
  waiting: number;
  /** Changes waiting to be stored. */
  saving: number;
  /** Changes whose storage failed (retried with the next write, or `flush()`). */
  unsaved: number;
  /** Changes stored since the commons was opened. */
  stored: number;
  bytesSent: number;
  bytesReceived: number;
  /** Signalling messages dropped because they did not authenticate (a tampering relay). */
  forgedSignals: number;
  /** Changes from peers the replica refused. */
  rejectedChanges: number;
  /** Peers ignored for a while because they misbehaved. */
  bannedPeers: number;
}

/** Events given to `onChange` listeners. */
export type CommonsEvent =
  | { type: "change"; origin: "local" | "remote"; changes: string[]; documents: string[]; tasks: string[]; authors: string[] }
  | { type: "peer"; peer: string; state: "connected" | "disconnected"; via: "webrtc" | "tab" }
  | { type: "synced"; peer: string | null }
  | { type: "network"; online: boolean }
  | { type: "error"; message: string }
  | { type: "presence" };

/** Someone else's cursor in a document (`presence(docId)`): a selection from `anchor` to `head`
 *  (equal for a caret), in UTF-16 code units of the current text. */
export interface PresenceInfo {
  /** The tab (running replica) it comes from. */
  peerId: string;
  /** The author's key. */
  author: string;
  /** Their display name, as they claim it (null if they have none yet). */
  name: string | null;
  anchor: number;
  head: number;
}
"#;

/// A document in a list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentSummary {
    pub id: String,
    pub title: String,
    pub creator: String,
    pub creator_name: Option<String>,
    pub authors: Vec<String>,
    pub last_change: Option<String>,
    pub length: u64,
}

/// A change that touched a document.
#[derive(Serialize)]
pub struct HistoryEntry {
    pub change: String,
    pub author: String,
    pub name: Option<String>,
    pub time: u64,
    /// Serialized as the `HistoryAction` TypeScript type above.
    pub action: crate::commons::DocAction,
}

/// A comment.
#[derive(Serialize)]
pub struct DocumentComment {
    pub id: String,
    pub author: String,
    pub name: Option<String>,
    pub text: String,
    pub time: u64,
}

/// A task.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub skills: Vec<String>,
    pub posted_by: String,
    pub posted_by_name: Option<String>,
    pub time: u64,
    pub status: &'static str,
    pub claimed_by: Vec<String>,
    pub done_by: Option<String>,
    pub contributions: Vec<String>,
}

/// A connected or connecting peer.
#[derive(Serialize)]
pub struct PeerInfo {
    pub id: String,
    pub via: &'static str,
    pub state: &'static str,
}

/// Sync and storage progress.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    pub peers: usize,
    pub syncing: bool,
    pub changes: usize,
    pub waiting: usize,
    pub saving: usize,
    pub unsaved: usize,
    pub stored: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub forged_signals: u64,
    pub rejected_changes: u64,
    pub banned_peers: u64,
}

/// The charter.
#[derive(Serialize)]
pub struct CharterInfo {
    pub title: String,
    pub purpose: String,
    pub licence: String,
    pub founder: String,
}

/// A joined commons.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedInfo {
    pub id: String,
    pub title: String,
    pub joined_at: u64,
}

/// Someone else's cursor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceInfo {
    pub peer_id: String,
    pub author: String,
    pub name: Option<String>,
    pub anchor: u64,
    pub head: u64,
}
