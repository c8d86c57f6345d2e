// The relay serves the built site as a static server: the right content types (browsers refuse
// module scripts and streaming wasm compilation otherwise) and nothing outside the www directory.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startRelay } from './harness.mjs';

/** GET with the path sent exactly as given (fetch() would normalise `..` away). */
function get(origin, rawPath) {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('content types of the app files', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const cases = [
    ['/', /^text\/html/],
    ['/index.html', /^text\/html/],
    ['/app.js', /^text\/javascript/],
    ['/style.css', /^text\/css/],
    ['/pkg/peer_commons.js', /^text\/javascript/],
    ['/pkg/peer_commons_bg.wasm', /^application\/wasm$/],
    ['/pkg/package.json', /^application\/json/],
  ];
  for (const [path, type] of cases) {
    const res = await get(relay.origin, path);
    assert.equal(res.status, 200, path);
    assert.match(res.type, type, path);
    assert.ok(res.body.length > 0, path);
  }
  const wasm = await get(relay.origin, '/pkg/peer_commons_bg.wasm');
  assert.deepEqual([...wasm.body.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d], 'wasm magic number');
});

test('nothing outside the www directory is served', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  for (const path of ['/../Cargo.toml', '/pkg/../../Cargo.toml', '/%2e%2e/Cargo.toml', '/missing.html']) {
    const res = await get(relay.origin, path);
    assert.equal(res.status, 404, path);
  }
});
