// Test page of the browser runtime: loads the wasm package and exposes it to Playwright, with a
// few helpers the end-to-end tests and the browser benchmarks share.
import init, * as pc from '../pkg/peer_commons.js';

/** Resolves once `predicate()` is truthy (checked every 20 ms); rejects after `ms`. */
export function until(predicate, ms = 60_000, what = 'condition') {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const check = () => {
      let value;
      try {
        value = predicate();
      } catch (error) {
        reject(error);
        return;
      }
      if (value) resolve(value);
      else if (performance.now() - start > ms) reject(new Error(`gave up waiting for ${what}`));
      else setTimeout(check, 20);
    };
    check();
  });
}

/** The relay serving this page, as a WebSocket URL (it speaks signalling at any path). */
export const relayUrl = `ws://${location.host}/signal`;

/** Asks for media access once: Chromium offers loopback ICE candidates only to such a page. */
export async function allowWebRtc() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    stream.getTracks().forEach((t) => t.stop());
  } catch {
    // Granted by the test's permission instead; nothing to do.
  }
}

await init();
window.pc = pc;
window.rt = { until, relayUrl, allowWebRtc };
document.body.dataset.state = 'ready';
