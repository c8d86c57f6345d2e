// The relay serves the built site as a static server: the right content types (browsers refuse
// module scripts and streaming wasm compilation otherwise) and nothing outside the www directory.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';
import { ready } from './app.mjs';

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

test('every answer carries the security headers the app lives with', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  for (const path of ['/', '/app.js', '/pkg/peer_commons_bg.wasm', '/missing.html']) {
    const res = await new Promise((resolve, reject) => {
      const { hostname, port } = new URL(relay.origin);
      request({ hostname, port, path, method: 'GET' }, (r) => { r.resume(); r.on('end', () => resolve(r)); })
        .on('error', reject).end();
    });
    const csp = res.headers['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/, path);
    assert.match(csp, /frame-ancestors 'self'/, path);
    assert.doesNotMatch(csp, /unsafe-inline/, path);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(res.headers['referrer-policy'], 'no-referrer', path);
  }
});

test('the app runs under the CSP: wasm compiles, the worker registers, element styles apply', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);
  const violations = [];
  await page.exposeFunction('reportViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(relay.url);
  await ready(page);
  await page.waitForFunction(() => navigator.serviceWorker?.controller?.state === 'activated');
  // The remote cursors are built with style strings (www/js/cursors.js): they must still apply.
  const width = await page.evaluate(async () => {
    const { h } = await import('./js/dom.js');
    const el = h('div', { style: 'width:17px;height:3px' });
    document.body.append(el);
    return getComputedStyle(el).width;
  });
  assert.equal(width, '17px');
  assert.deepEqual(violations, []);
  assert.deepEqual(problems, []);
});
