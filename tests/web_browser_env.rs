//! Browser tests (headless Chromium) of the test browser itself, so later WebRTC tests cannot hang
//! on a misconfigured browser: webdriver.json must let a page open a data channel over loopback.
//! That needs --allow-loopback-in-peer-connection and the microphone permission (granted here by
//! --use-fake-ui-for-media-stream); without the permission Chromium offers only mDNS candidates,
//! which do not resolve in the test network namespace, and the channel never opens.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export async function microphonePermission() {
  return (await navigator.permissions.query({ name: 'microphone' })).state;
}

// Connects two peer connections of this page to each other; resolves with the addresses of the
// local candidates once a data channel opens, or with "timeout" (a guard, not a speed check).
export async function loopbackChannel() {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  const addresses = [];
  a.onicecandidate = (e) => { if (e.candidate) { addresses.push(e.candidate.address); b.addIceCandidate(e.candidate); } };
  b.onicecandidate = (e) => { if (e.candidate) a.addIceCandidate(e.candidate); };
  const channel = a.createDataChannel('probe');
  const opened = new Promise((resolve) => {
    channel.onopen = () => resolve(addresses.join(','));
    setTimeout(() => resolve('timeout'), 20000);
  });
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  const result = await opened;
  a.close();
  b.close();
  return result;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = microphonePermission)]
    async fn microphone_permission() -> JsValue;
    #[wasm_bindgen(js_name = loopbackChannel)]
    async fn loopback_channel() -> JsValue;
}

#[wasm_bindgen_test]
async fn microphone_permission_is_granted() {
    assert_eq!(
        microphone_permission().await.as_string().as_deref(),
        Some("granted")
    );
}

#[wasm_bindgen_test]
async fn a_data_channel_opens_over_loopback() {
    let addresses = loopback_channel().await.as_string().unwrap_or_default();
    assert_ne!(
        addresses, "timeout",
        "no data channel: check webdriver.json's flags"
    );
    assert!(
        addresses.split(',').all(|a| a == "127.0.0.1"),
        "candidates must stay on loopback (run through pkg-scripts/test, which uses a loopback-only network namespace): {addresses}"
    );
}
