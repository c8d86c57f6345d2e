// End to end: the npm package as another site embeds it. dist/pkg is packed with `npm pack`, the
// tarball installed (offline) into a fresh Vite project and into a plain static page, both in a
// temporary directory outside the repository; our relay serves them on 127.0.0.1, and two
// Chromium profiles (two people) on each site create a commons, edit a document and sync.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { crateVersion, launchBrowser, startRelay, watchPage } from './harness.mjs';
import { pack, plainSite, scratch, typecheck, viteDevServer, viteSite } from './package-sites.mjs';

/** Guard against a wedged page (not a speed check). */
const GUARD_MS = 60_000;

let dir;
let packed;
let plainPackage;
let viteAssets;
let relay;
let people;

before(async () => {
  dir = await scratch();
  packed = await pack(dir);
  const site = path.join(dir, 'site');
  viteAssets = await viteSite(path.join(dir, 'vite-app'), packed.tarball, path.join(site, 'vite'));
  plainPackage = await plainSite(path.join(site, 'plain'), packed.tarball);
  relay = await startRelay({ www: site });
  people = [await launchBrowser({ origin: relay.origin }), await launchBrowser({ origin: relay.origin })];
});

after(async () => {
  await Promise.all((people ?? []).map((p) => p.close()));
  await relay?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the tarball holds the module, its types, the wasm, a README and the MPL-2.0 licence', async () => {
  assert.equal(packed.name, 'peer-commons');
  assert.equal(packed.version, await crateVersion());
  assert.deepEqual(packed.files, [
    'LICENSE',
    'README.md',
    'package.json',
    'peer_commons.d.ts',
    'peer_commons.js',
    'peer_commons_bg.wasm',
    'peer_commons_bg.wasm.d.ts',
  ]);
  const manifest = JSON.parse(await readFile(path.join(plainPackage, 'package.json'), 'utf8'));
  assert.equal(manifest.license, 'MPL-2.0');
  assert.equal(manifest.sideEffects, false);
  assert.deepEqual(manifest.exports['.'], {
    types: './peer_commons.d.ts',
    import: './peer_commons.js',
    default: './peer_commons.js',
  });
  assert.equal(manifest.exports['./peer_commons_bg.wasm'].default, './peer_commons_bg.wasm');
  const licence = await readFile(path.join(plainPackage, 'LICENSE'), 'utf8');
  assert.match(licence, /^Mozilla Public License Version 2\.0\n/);
  const readme = await readFile(path.join(plainPackage, 'README.md'), 'utf8');
  for (const topic of ['npm install peer-commons', 'module_or_path', 'Commons.create', 'Commons.open', 'onChange', 'close()', 'relays']) {
    assert.ok(readme.includes(topic), `the package README covers ${topic}`);
  }
});

test('loading the glue changes nothing outside it and fetches nothing (sideEffects: false)', async () => {
  const before = Object.getOwnPropertyNames(globalThis).sort();
  const fetched = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (...args) => {
    fetched.push(args);
    return realFetch(...args);
  };
  try {
    const glue = await import(pathToFileURL(path.join(plainPackage, 'peer_commons.js')).href);
    assert.equal(typeof glue.default, 'function', 'the init function is the default export');
    assert.equal(typeof glue.Commons, 'function');
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(Object.getOwnPropertyNames(globalThis).sort(), before, 'no global was added');
  assert.deepEqual(fetched, [], 'the .wasm is fetched by init(), not on import');
});

test('TypeScript resolves the installed package to its types, as bundlers and as Node resolve it', async () => {
  for (const resolution of ['bundler', 'node16']) {
    const { ok, output } = await typecheck(path.join(dir, 'vite-app'), resolution);
    assert.ok(ok, `tsc --moduleResolution ${resolution}:\n${output}`);
  }
});

/** Opens `url` in a new tab of `person`; resolves once the site's init() succeeded. */
async function sitePage(person, url, problems) {
  const page = await person.newPage();
  problems.push(...watchPage(page));
  const wasm = [];
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), type: r.headers()['content-type'] });
  });
  await page.goto(url);
  await page.locator('body[data-state="ready"]').waitFor({ timeout: GUARD_MS });
  return { page, wasm };
}

/** In the page: polls `window.c.documentText(doc)` until it equals `text`. */
const awaitText = (page, doc, text) =>
  page.evaluate(
    ([doc, text, ms]) =>
      new Promise((resolve, reject) => {
        const start = performance.now();
        const check = () => {
          let now;
          try {
            now = window.c.documentText(doc);
          } catch {
            now = undefined; // the document has not arrived yet
          }
          if (now === text) resolve(now);
          else if (performance.now() - start > ms) reject(new Error(`text is ${JSON.stringify(now)}`));
          else setTimeout(check, 20);
        };
        check();
      }),
    [doc, text, GUARD_MS],
  );

/** Ada creates a commons on one site page, Grace opens it on another; both edit and sync. */
async function createEditSync(urlA, urlB) {
  const problems = [];
  const a = await sitePage(people[0], urlA, problems);
  const b = await sitePage(people[1], urlB, problems);

  const { id, doc, version } = await a.page.evaluate(async () => {
    const relays = [window.site.relay];
    window.c = await window.site.Commons.create({ title: 'Embedded', relays, name: 'Ada' });
    window.events = [];
    window.c.onChange((event) => window.events.push(event));
    const doc = await window.c.createDocument('Notes', 'hello');
    await window.c.editDocument(doc, 5, 0, ' world');
    return { id: window.c.id, doc, version: window.site.version() };
  });
  assert.equal(version, await crateVersion());
  assert.match(id, /^[0-9a-f]{64}$/);

  await b.page.evaluate(async (id) => {
    window.c = await window.site.Commons.open(id, { relays: [window.site.relay], name: 'Grace' });
  }, id);
  assert.equal(await awaitText(b.page, doc, 'hello world'), 'hello world');
  await b.page.evaluate(async (doc) => window.c.editDocument(doc, 11, 0, '!'), doc);
  assert.equal(await awaitText(a.page, doc, 'hello world!'), 'hello world!');

  const remote = await a.page.evaluate(
    (doc) => window.events.filter((e) => e.type === 'change' && e.origin === 'remote' && e.documents.includes(doc)).length,
    doc,
  );
  assert.ok(remote >= 1, "Ada's listener heard Grace's edit as a remote change");
  const hashes = await Promise.all([a, b].map(({ page }) => page.evaluate(() => window.c.stateHash())));
  assert.equal(hashes[0], hashes[1], 'both replicas hold the same state');

  await Promise.all([a, b].map(({ page }) => page.evaluate(() => window.c.close())));
  await Promise.all([a, b].map(({ page }) => page.close()));
  assert.deepEqual(problems, []);
  return { a: a.wasm, b: b.wasm };
}

test('a Vite build embedding the package: create, edit and sync between two people', async () => {
  const wasmFiles = viteAssets.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasmFiles.length, 1, `Vite emitted the .wasm once: ${viteAssets.join(', ')}`);
  const asset = `${relay.origin}/vite/assets/${wasmFiles[0]}`;

  // Ada's page lets the glue find the .wasm (import.meta.url, rewritten by Vite); Grace's page
  // passes the URL Vite gave `peer-commons/peer_commons_bg.wasm?url` to init().
  const wasm = await createEditSync(`${relay.origin}/vite/`, `${relay.origin}/vite/?wasm-url`);
  assert.deepEqual(wasm.a, [{ url: asset, type: 'application/wasm' }]);
  assert.deepEqual(wasm.b, [{ url: asset, type: 'application/wasm' }]);
});

test('a plain page importing the package files: create, edit and sync between two people', async () => {
  const asset = `${relay.origin}/plain/node_modules/peer-commons/peer_commons_bg.wasm`;
  const wasm = await createEditSync(`${relay.origin}/plain/`, `${relay.origin}/plain/?wasm-url`);
  assert.deepEqual(wasm.a, [{ url: asset, type: 'application/wasm' }]);
  assert.deepEqual(wasm.b, [{ url: asset, type: 'application/wasm' }]);
});

test("Vite's dev server serves the package as it is (no optimizeDeps exclusion needed)", async (t) => {
  const dev = await viteDevServer(path.join(dir, 'vite-app'));
  t.after(() => dev.stop());
  const problems = [];
  for (const query of ['', '?wasm-url']) {
    const { page, wasm } = await sitePage(people[0], `${dev.url}${query}`, problems);
    assert.equal(await page.evaluate(() => window.site.version()), await crateVersion());
    assert.equal(wasm.length, 1, `one .wasm fetched: ${JSON.stringify(wasm)}`);
    assert.equal(wasm[0].type, 'application/wasm');
    await page.close();
  }
  assert.deepEqual(problems, []);
});
