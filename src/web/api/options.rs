//! The options object of `Commons.create` and `Commons.open`, checked with messages that say
//! what to fix.

use serde::Deserialize;
use wasm_bindgen::prelude::*;
use web_sys::{RtcConfiguration, RtcPeerConnection};

use crate::store::idb::DB_NAME;
use crate::store::persist::DEFAULT_SNAPSHOT_EVERY;
use crate::web::runtime::{inpage, Config, FLUSH_IDLE_MS, FLUSH_MAX_MS};

/// Default most peers connected at once.
pub const DEFAULT_MAX_PEERS: usize = 8;

/// The option names, as JavaScript spells them.
const NAMES: [&str; 12] = [
    "title",
    "purpose",
    "licence",
    "relays",
    "iceServers",
    "name",
    "database",
    "tabSync",
    "snapshotEvery",
    "maxPeers",
    "flushIdleMs",
    "flushMaxMs",
];

/// The options, as JavaScript passes them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    pub title: Option<String>,
    pub purpose: Option<String>,
    pub licence: Option<String>,
    pub relays: Option<Vec<String>>,
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    pub ice_servers: JsValue,
    pub name: Option<String>,
    pub database: Option<String>,
    pub tab_sync: Option<bool>,
    pub snapshot_every: Option<u64>,
    pub max_peers: Option<usize>,
    pub flush_idle_ms: Option<u64>,
    pub flush_max_ms: Option<u64>,
}

impl Options {
    /// Parses and checks the options (`undefined` or `null`: all defaults).
    pub fn parse(value: JsValue, creating: bool) -> Result<Options, JsError> {
        let o: Options = if value.is_undefined() || value.is_null() {
            Options::default()
        } else {
            known_keys(&value, &NAMES, "option")?;
            serde_wasm_bindgen::from_value(value)
                .map_err(|e| JsError::new(&format!("invalid options: {e}")))?
        };
        if !creating && (o.title.is_some() || o.purpose.is_some() || o.licence.is_some()) {
            return Err(JsError::new(
                "title, purpose and licence are set when creating a commons (Commons.create), \
                 not when opening one",
            ));
        }
        for url in o.relays.iter().flatten() {
            let ok = ["ws://", "wss://", inpage::SCHEME]
                .iter()
                .any(|p| url.starts_with(p));
            if !ok {
                return Err(JsError::new(&format!(
                    "relay \"{url}\" is not a WebSocket URL: relays start with ws:// or wss://"
                )));
            }
        }
        if o.max_peers == Some(0) {
            return Err(JsError::new("maxPeers must be at least 1"));
        }
        if o.snapshot_every == Some(0) {
            return Err(JsError::new("snapshotEvery must be at least 1"));
        }
        check_ice_servers(&o.ice_servers)?;
        Ok(o)
    }

    /// The IndexedDB database name.
    pub fn database(&self) -> String {
        self.database.clone().unwrap_or_else(|| DB_NAME.to_string())
    }

    /// Stored changes between snapshots.
    pub fn snapshot_every(&self) -> u64 {
        self.snapshot_every.unwrap_or(DEFAULT_SNAPSHOT_EVERY)
    }

    /// The runtime's configuration.
    pub fn config(&self) -> Config {
        Config {
            relays: self.relays.clone().unwrap_or_default(),
            ice_servers: ice_servers(&self.ice_servers),
            tab_sync: self.tab_sync.unwrap_or(true),
            max_peers: self.max_peers.unwrap_or(DEFAULT_MAX_PEERS),
            flush_idle_ms: self.flush_idle_ms.unwrap_or(FLUSH_IDLE_MS),
            flush_max_ms: self.flush_max_ms.unwrap_or(FLUSH_MAX_MS),
        }
    }
}

/// Refuses keys of `value` that are not in `names` (a misspelt option would otherwise be
/// silently ignored: serde-wasm-bindgen only reads the fields it knows).
pub fn known_keys(value: &JsValue, names: &[&str], what: &str) -> Result<(), JsError> {
    let Some(object) = value.dyn_ref::<js_sys::Object>() else {
        return Err(JsError::new(&format!("the {what}s must be an object")));
    };
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !names.contains(&key.as_str()) {
            let hint = if key == "license" {
                " (spelt licence here)"
            } else {
                ""
            };
            return Err(JsError::new(&format!(
                "unknown {what} \"{key}\"{hint}: the {what}s are {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

fn ice_servers(value: &JsValue) -> JsValue {
    if value.is_undefined() || value.is_null() {
        js_sys::Array::new().into()
    } else {
        value.clone()
    }
}

/// Lets the browser check the ICE servers now, so a typo fails `open` with the browser's own
/// explanation rather than every later connection silently.
fn check_ice_servers(value: &JsValue) -> Result<(), JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(());
    }
    if !js_sys::Array::is_array(value) {
        return Err(JsError::new(
            "iceServers must be an array of RTCIceServer objects, e.g. [{ urls: \"stun:stun.example.org\" }]",
        ));
    }
    let config = RtcConfiguration::new();
    config.set_ice_servers(value);
    match RtcPeerConnection::new_with_configuration(&config) {
        Ok(pc) => {
            pc.close();
            Ok(())
        }
        Err(e) => {
            let detail = js_sys::Error::from(e).message();
            Err(JsError::new(&format!("iceServers are not valid: {detail}")))
        }
    }
}
