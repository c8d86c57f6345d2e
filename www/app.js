// The web app's entry point: loads the wasm module, then shows the version and this browser's
// identity (made on the first visit, kept in IndexedDB afterwards).
import init, { version, Identity } from './pkg/peer_commons.js';

const byId = (id) => document.getElementById(id);

async function start() {
  await init();
  byId('version').textContent = version();
  const identity = await Identity.loadOrCreate();
  byId('public-key').textContent = identity.publicKey;
  byId('status').textContent = 'Ready.';
  document.body.dataset.state = 'ready';
}

start().catch((error) => {
  byId('status').textContent = `peer-commons could not start: ${error.message}`;
  document.body.dataset.state = 'error';
});
