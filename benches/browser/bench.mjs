// Browser benchmarks of the runtime beside the reference stack (Yjs + y-webrtc + y-indexeddb), in
// one run, in the same headless Chromium, over loopback. Run by pkg-scripts/bench-browser.
//
// For a commons of N changes (the automerge-paper trace split into N signed changes; for Yjs, into
// N transactions) it measures:
//   seed        writing the N changes in one tab (ours: signed and stored in IndexedDB)
//   first sync  page load of a fresh profile → its replica equals the seeder's (same state hash)
//   sync MB/s   bytes received over the time from the first connection to the synced state
//   reopen      page reload → replica open from IndexedDB (no relay)
// and once: raw RTCDataChannel MB/s between two profiles (the limit), and keystroke → remote render
// latency (p50/p99) while typing at a steady pace.
//
// Env: SIZES (default 1000,10000,100000), TRACE (path of automerge-paper.json.gz), GUARD_MS.
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createServer } from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { launchBrowser, ROOT, startRelay } from '../../tests/e2e/harness.mjs';

const SIZES = (process.env.SIZES ?? '1000,10000,100000').split(',').map(Number);
const GUARD_MS = Number(process.env.GUARD_MS ?? 900_000);
/** A smaller document (a prefix of the trace) that y-webrtc can sync in one message, so the
 *  reference has sync figures too: [changes, edits]. */
const SMALL = [1000, Number(process.env.SMALL_EDITS ?? 40_000)];
/** REFERENCE=0 measures ours only (the reference's seed of 100k transactions can take the whole guard time). */
const REFERENCE = process.env.REFERENCE !== '0';
const KEYSTROKES = 40;
const KEY_INTERVAL_MS = 150;

// ---- the trace -------------------------------------------------------------------------------

function tracePath() {
  const candidates = [
    process.env.TRACE,
    path.join(ROOT, '../shared/data/automerge-paper.json.gz'),
    path.join(ROOT, '../../shared/data/automerge-paper.json.gz'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`automerge-paper.json.gz not found (set TRACE); tried ${candidates.join(', ')}`);
  return found;
}

/** The trace as one flat list of [position, deleteCount, insertText] (ASCII: code points = UTF-16). */
function loadTrace() {
  const raw = JSON.parse(gunzipSync(readFileSync(tracePath())).toString('utf8'));
  const edits = raw.txns.flatMap((t) => t.patches);
  return JSON.stringify({ edits, endLength: raw.endContent.length });
}

// ---- a static server for dist/, node_modules/ and this folder --------------------------------

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Resolves a package.json `exports` entry for a browser. */
function pick(entry) {
  if (typeof entry === 'string') return entry;
  for (const c of ['browser', 'module', 'import', 'default']) if (entry?.[c]) return pick(entry[c]);
  return null;
}

function importMap() {
  const imports = {};
  for (const name of ['yjs', 'y-webrtc', 'y-indexeddb', 'y-protocols', 'lib0']) {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    const exports = typeof pkg.exports === 'object' && !pkg.exports['.'] && !Object.keys(pkg.exports)[0]?.startsWith('.')
      ? { '.': pkg.exports }
      : pkg.exports;
    for (const [sub, entry] of Object.entries(exports)) {
      const file = pick(entry);
      if (!file || sub.includes('*')) continue;
      imports[sub === '.' ? name : `${name}/${sub.slice(2)}`] = `/node_modules/${name}/${file.slice(2)}`;
    }
  }
  imports['simple-peer/simplepeer.min.js'] = '/node_modules/simple-peer/simplepeer.min.js';
  return `<script type="importmap">${JSON.stringify({ imports })}</script>`;
}

async function startServer() {
  const trace = loadTrace();
  const map = importMap();
  const roots = { '/dist/': 'dist', '/node_modules/': 'node_modules', '/bench/': 'benches/browser' };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = decodeURIComponent(url.pathname);
    if (p === '/trace.json') return send(res, 200, 'application/json', trace);
    const prefix = Object.keys(roots).find((r) => p.startsWith(r));
    const file = prefix && path.join(ROOT, roots[prefix], p.slice(prefix.length));
    if (!file || file.includes('..') || !existsSync(file)) return send(res, 404, 'text/plain', 'not found');
    let body = readFileSync(file);
    if (p.endsWith('simplepeer.min.js')) {
      // A UMD bundle: run it with a CommonJS `module` and export what it sets.
      body = `const module = { exports: {} }; const exports = module.exports;\n${body}\nexport default module.exports;`;
    }
    if (p.endsWith('yjs.html')) body = body.toString().replace('<!--IMPORTMAP-->', map);
    send(res, 200, TYPES[path.extname(file)] ?? 'application/octet-stream', body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

// ---- helpers ---------------------------------------------------------------------------------

const browsers = [];
async function profile(origin) {
  const b = await launchBrowser({ origin });
  browsers.push(b);
  return b;
}

async function pageAt(browser, url) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
  await page.goto(url);
  await page.locator('body[data-state="ready"]').waitFor();
  return page;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const mbps = (bytes, ms) => (ms > 0 ? bytes / 1e6 / (ms / 1000) : NaN);

// ---- raw RTCDataChannel between two profiles --------------------------------------------------

async function rawChannel(origin) {
  const [a, b] = [await profile(origin), await profile(origin)];
  const pa = await pageAt(a, `${origin}/bench/blank.html`);
  const pb = await pageAt(b, `${origin}/bench/blank.html`);
  const gather = `async (pc) => { if (pc.iceGatheringState !== 'complete') await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())); return pc.localDescription.sdp; }`;
  const offer = await pa.evaluate(`(async () => {
    const pc = new RTCPeerConnection(); window.pc = pc;
    window.dc = pc.createDataChannel('raw', { negotiated: true, id: 0 });
    await pc.setLocalDescription(await pc.createOffer());
    return (${gather})(pc);
  })()`);
  const answer = await pb.evaluate(`(async (sdp) => {
    const pc = new RTCPeerConnection(); window.pc = pc;
    const dc = pc.createDataChannel('raw', { negotiated: true, id: 0 }); dc.binaryType = 'arraybuffer';
    window.got = { bytes: 0, first: 0, last: 0 };
    dc.onmessage = (e) => { const now = performance.now(); if (!got.first) got.first = now; got.bytes += e.data.byteLength; got.last = now; };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    return (${gather})(pc);
  })(${JSON.stringify(offer)})`);
  const total = 64 * 1024 * 1024;
  const results = {};
  for (const size of [16 * 1024, 64 * 1024]) {
    await pb.evaluate(() => { window.got = Object.assign(window.got, { bytes: 0, first: 0, last: 0 }); });
    await pa.evaluate(`(async ([answer, size, total]) => {
      if (!window.pc.remoteDescription) await window.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      const dc = window.dc;
      if (dc.readyState !== 'open') await new Promise((r) => dc.addEventListener('open', r, { once: true }));
      dc.bufferedAmountLowThreshold = 1 << 20;
      const chunk = new Uint8Array(size);
      for (let sent = 0; sent < total; sent += size) {
        if (dc.bufferedAmount > 4 << 20) await new Promise((r) => dc.addEventListener('bufferedamountlow', r, { once: true }));
        dc.send(chunk);
      }
    })(${JSON.stringify([answer, size, total])})`);
    const got = await pb.evaluate(`window.rt_until = (f) => new Promise((r) => { const c = () => (f() ? r() : setTimeout(c, 10)); c(); }); rt_until(() => got.bytes >= ${total}).then(() => got)`);
    results[size] = mbps(got.bytes, got.last - got.first);
  }
  return results;
}

// ---- ours ------------------------------------------------------------------------------------

/** Seeds a commons of `n` changes from the trace in a fresh profile; returns its page and facts. */
async function seedOurs(origin, relay, n, limit) {
  const page = await pageAt(await profile(origin), `${origin}/dist/dev/runtime.html`);
  const facts = await page.evaluate(async ([relay, n, limit]) => {
    const edits = (await (await fetch('/trace.json')).json()).edits.slice(0, limit);
    const c = await window.pc.Commons.create({ title: 'bench', relays: [relay], tabSync: false, flushIdleMs: 1e9, flushMaxMs: 1e9 });
    const doc = await c.createDocument('paper', '');
    const t0 = performance.now();
    const flushed = [];
    for (let g = 0; g < n; g++) {
      const from = Math.floor((g * edits.length) / n);
      const to = Math.floor(((g + 1) * edits.length) / n);
      for (let i = from; i < to; i++) {
        const [pos, del, ins] = edits[i];
        c.editDocument(doc, pos, del, ins);
      }
      flushed.push(c.flush());
    }
    await Promise.all(flushed);
    const ms = performance.now() - t0;
    window.c = c;
    return { id: c.id, doc, ms, edits: edits.length, hash: c.stateHash(), changes: c.syncProgress().changes, length: c.documentText(doc).length };
  }, [relay, n, limit]);
  return { page, ...facts };
}

async function syncOurs(origin, relay, seed) {
  const browser = await profile(origin);
  const page = await browser.newPage();
  const nav = Date.now();
  await page.goto(`${origin}/dist/dev/runtime.html`);
  await page.locator('body[data-state="ready"]').waitFor();
  const r = await page.evaluate(async ([relay, seed, guard]) => {
    const marks = {};
    const c = await window.pc.Commons.open(seed.id, { relays: [relay], tabSync: false });
    marks.opened = Date.now();
    c.onChange((e) => { if (e.type === 'peer' && e.state === 'connected' && !marks.connected) marks.connected = Date.now(); });
    await window.rt.until(() => c.syncProgress().changes === seed.changes && c.stateHash() === seed.hash, guard, 'sync');
    marks.synced = Date.now();
    await window.rt.until(() => c.syncProgress().saving === 0, guard, 'storage');
    marks.saved = Date.now();
    window.c = c;
    return { marks, bytes: c.syncProgress().bytesReceived };
  }, [relay, { id: seed.id, hash: seed.hash, changes: seed.changes }, GUARD_MS]);
  const reloadStart = Date.now();
  await page.reload();
  await page.locator('body[data-state="ready"]').waitFor();
  const reopen = await page.evaluate(async ([id, doc, length]) => {
    const t0 = Date.now();
    const c = await window.pc.Commons.open(id, { relays: [], tabSync: false });
    const t1 = Date.now();
    if (c.documentText(doc).length !== length) throw new Error('reopened text differs');
    return { openMs: t1 - t0, at: t1 };
  }, [seed.id, seed.doc, seed.length]);
  return {
    firstSyncMs: r.marks.synced - nav,
    syncMbps: mbps(r.bytes, r.marks.synced - (r.marks.connected ?? r.marks.opened)),
    bytes: r.bytes,
    savedMs: r.marks.saved - nav,
    reopenMs: reopen.at - reloadStart,
    openMs: reopen.openMs,
  };
}

/** Keystroke → remote render latency between two profiles, with the given flush options. */
async function latencyOurs(origin, relay, options) {
  const a = await pageAt(await profile(origin), `${origin}/dist/dev/runtime.html`);
  const b = await pageAt(await profile(origin), `${origin}/dist/dev/runtime.html`);
  const { id, doc } = await a.evaluate(async ([relay, options]) => {
    window.c = await window.pc.Commons.create({ title: 'latency', relays: [relay], tabSync: false, ...options });
    const doc = await window.c.createDocument('keys', '');
    return { id: window.c.id, doc };
  }, [relay, options]);
  await b.evaluate(async ([id, doc, relay]) => {
    window.c = await window.pc.Commons.open(id, { relays: [relay], tabSync: false });
    window.seen = [];
    window.c.onChange((e) => {
      if (e.type === 'change' && e.origin === 'remote') window.seen.push([Date.now(), window.c.documentText(doc).length]);
    });
    await window.rt.until(() => { try { window.c.documentText(doc); return true; } catch { return false; } });
  }, [id, doc, relay]);
  const sent = await a.evaluate(async ([doc, n, interval]) => {
    const sent = [];
    for (let i = 0; i < n; i++) {
      sent.push(Date.now());
      window.c.editDocument(doc, i, 0, 'k');
      await new Promise((r) => setTimeout(r, interval));
    }
    await window.c.flush();
    return sent;
  }, [doc, KEYSTROKES, KEY_INTERVAL_MS]);
  const seen = await b.evaluate((n) => window.rt.until(() => window.seen.at(-1)?.[1] >= n).then(() => window.seen), KEYSTROKES);
  return sent.map((t, i) => seen.find(([, len]) => len >= i + 1)[0] - t);
}

// ---- Yjs + y-webrtc + y-indexeddb ------------------------------------------------------------

async function seedYjs(origin, relay, n, limit) {
  const page = await pageAt(await profile(origin), `${origin}/bench/yjs.html`);
  const facts = await page.evaluate(async ([relay, n, limit]) => {
    const edits = (await (await fetch('/trace.json')).json()).edits.slice(0, limit);
    const doc = new window.Y.Doc();
    const persistence = new window.IndexeddbPersistence(`seed-${n}-${limit}`, doc);
    await persistence.whenSynced;
    window.provider = new window.WebrtcProvider(`bench-${n}-${Math.random()}`, doc, { signaling: [relay] });
    const text = doc.getText('t');
    const t0 = performance.now();
    for (let g = 0; g < n; g++) {
      const from = Math.floor((g * edits.length) / n);
      const to = Math.floor(((g + 1) * edits.length) / n);
      doc.transact(() => {
        for (let i = from; i < to; i++) {
          const [pos, del, ins] = edits[i];
          if (del) text.delete(pos, del);
          if (ins) text.insert(pos, ins);
        }
      });
    }
    const ms = performance.now() - t0;
    window.doc = doc;
    return { room: window.provider.roomName, ms, length: text.length, bytes: window.Y.encodeStateAsUpdate(doc).byteLength };
  }, [relay, n, limit]);
  // How long y-indexeddb takes to hold the whole document (read back in a fresh Y.Doc).
  const persisted = await page.evaluate(async ([n, limit, length, guard]) => {
    const t0 = performance.now();
    for (;;) {
      const copy = new window.Y.Doc();
      const p = new window.IndexeddbPersistence(`seed-${n}-${limit}`, copy);
      await p.whenSynced;
      const ok = copy.getText('t').length === length;
      await p.destroy();
      if (ok) return performance.now() - t0;
      if (performance.now() - t0 > guard) return null;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, [n, limit, facts.length, GUARD_MS]);
  return { page, ...facts, persistedMs: persisted };
}

async function syncYjs(origin, relay, seed, n) {
  const browser = await profile(origin);
  const page = await browser.newPage();
  page.on('pageerror', () => {});
  const nav = Date.now();
  await page.goto(`${origin}/bench/yjs.html`);
  await page.locator('body[data-state="ready"]').waitFor();
  const r = await page.evaluate(async ([relay, seed, n, guard]) => {
    const marks = {};
    const doc = new window.Y.Doc();
    const persistence = new window.IndexeddbPersistence(`peer-${n}`, doc);
    await persistence.whenSynced;
    const provider = new window.WebrtcProvider(seed.room, doc, { signaling: [relay] });
    provider.on('peers', (e) => { if (e.webrtcPeers.length && !marks.connected) marks.connected = Date.now(); });
    const text = doc.getText('t');
    const start = Date.now();
    while (text.length !== seed.length) {
      if (Date.now() - start > guard) return { marks, failed: true };
      await new Promise((r) => setTimeout(r, 20));
    }
    marks.synced = Date.now();
    window.doc = doc;
    return { marks };
  }, [relay, { room: seed.room, length: seed.length }, n, Math.min(GUARD_MS, 60_000)]);
  if (r.failed) return { failed: true };
  const reloadStart = Date.now();
  await page.reload();
  await page.locator('body[data-state="ready"]').waitFor();
  const reopen = await page.evaluate(async ([n, length]) => {
    const t0 = Date.now();
    const doc = new window.Y.Doc();
    const p = new window.IndexeddbPersistence(`peer-${n}`, doc);
    await p.whenSynced;
    return { openMs: Date.now() - t0, at: Date.now(), complete: doc.getText('t').length === length };
  }, [n, seed.length]);
  return {
    firstSyncMs: r.marks.synced - nav,
    syncMbps: mbps(seed.bytes, r.marks.synced - (r.marks.connected ?? nav)),
    bytes: seed.bytes,
    reopenMs: reopen.at - reloadStart,
    openMs: reopen.openMs,
    reopenComplete: reopen.complete,
  };
}

async function latencyYjs(origin, relay) {
  const a = await pageAt(await profile(origin), `${origin}/bench/yjs.html`);
  const b = await pageAt(await profile(origin), `${origin}/bench/yjs.html`);
  const room = `latency-${Math.random()}`;
  for (const p of [a, b]) {
    await p.evaluate(async ([room, relay]) => {
      window.doc = new window.Y.Doc();
      window.persistence = new window.IndexeddbPersistence(room, window.doc);
      window.provider = new window.WebrtcProvider(room, window.doc, { signaling: [relay] });
      window.seen = [];
      window.doc.getText('t').observe((e) => { if (!e.transaction.local) window.seen.push([Date.now(), e.target.length]); });
    }, [room, relay]);
  }
  await a.evaluate(() => new Promise((r) => { const c = () => (window.provider.room?.webrtcConns.size ? r() : setTimeout(c, 20)); c(); }));
  await b.evaluate(() => new Promise((r) => { const c = () => ([...window.provider.room?.webrtcConns.values() ?? []].some((x) => x.connected) ? r() : setTimeout(c, 20)); c(); }));
  const sent = await a.evaluate(async ([n, interval]) => {
    const sent = [];
    const text = window.doc.getText('t');
    for (let i = 0; i < n; i++) {
      sent.push(Date.now());
      text.insert(i, 'k');
      await new Promise((r) => setTimeout(r, interval));
    }
    return sent;
  }, [KEYSTROKES, KEY_INTERVAL_MS]);
  const seen = await b.evaluate((n) => new Promise((r) => { const c = () => (window.seen.at(-1)?.[1] >= n ? r(window.seen) : setTimeout(c, 20)); c(); }), KEYSTROKES);
  return sent.map((t, i) => seen.find(([, len]) => len >= i + 1)[0] - t);
}

// ---- the run ---------------------------------------------------------------------------------

async function closeAll() {
  while (browsers.length) await browsers.pop().close().catch(() => {});
}

/** The date and the load average: the machine is shared, so figures are read beside it. */
const load = () => `${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
const fmt = (x, d = 0) => (x == null || Number.isNaN(x) ? '—' : x.toFixed(d));

async function main() {
  const server = await startServer();
  const relayProc = await startRelay();
  const relay = `ws://${new URL(relayProc.origin).host}/signal`;
  const origin = server.origin;
  const rows = [];
  try {
    console.log(`chromium: ${process.env.CHROMIUM ?? '/usr/bin/chromium'}; sizes ${SIZES.join(', ')}; ${load()}`);
    const raw = await rawChannel(origin);
    await closeAll();
    console.log(`raw RTCDataChannel between two profiles: ${fmt(raw[16384], 1)} MB/s (16 KiB messages), ${fmt(raw[65536], 1)} MB/s (64 KiB)`);
    const cases = [...(SMALL[1] ? [SMALL] : []), ...SIZES.map((n) => [n, Infinity])];
    for (const [n, limit] of cases) {
      const label = limit === Infinity ? `${n}` : `${n} (first ${limit} edits)`;
      const seed = await seedOurs(origin, relay, n, limit);
      const ours = await syncOurs(origin, relay, seed);
      await closeAll();
      // Printed at once: the reference's seed may take the whole guard time at large N.
      console.log(`N=${label}: ours seed ${fmt(seed.ms)} ms (${seed.edits} edits), first sync ${fmt(ours.firstSyncMs)} ms, ${fmt(ours.syncMbps, 2)} MB/s (${ours.bytes} B), stored ${fmt(ours.savedMs)} ms, reopen ${fmt(ours.reopenMs)} ms (open ${fmt(ours.openMs)} ms)`);
      if (!REFERENCE) continue;
      const yseed = await seedYjs(origin, relay, n, limit);
      const yjs = await syncYjs(origin, relay, yseed, `${n}-${limit}`);
      await closeAll();
      rows.push({ n: label, seed, ours, yseed, yjs });
      console.log(`N=${label}: yjs  seed ${fmt(yseed.ms)} ms (in IndexedDB after ${fmt(yseed.persistedMs)} ms), first sync ${yjs.failed ? 'none within 60 s' : `${fmt(yjs.firstSyncMs)} ms, ${fmt(yjs.syncMbps, 2)} MB/s (${yjs.bytes} B), reopen ${fmt(yjs.reopenMs)} ms (open ${fmt(yjs.openMs)} ms)`}`);
    }
    // Typing every KEY_INTERVAL_MS never leaves a 300 ms pause: with the defaults a change is
    // signed when flushMaxMs runs out, so latency is set by flushMaxMs, not by the network.
    const lat = {
      'ours, defaults (flushIdleMs 300, flushMaxMs 2000)': await latencyOurs(origin, relay, {}),
      'ours, flushMaxMs 500': (await closeAll(), await latencyOurs(origin, relay, { flushMaxMs: 500 })),
      'ours, flushIdleMs 0 (a change per keystroke)': (await closeAll(), await latencyOurs(origin, relay, { flushIdleMs: 0 })),
      ...(REFERENCE ? { 'Yjs + y-webrtc (an update per keystroke)': (await closeAll(), await latencyYjs(origin, relay)) } : {}),
    };
    await closeAll();
    console.log('\n| what | p50 ms | p99 ms |\n|---|---|---|');
    for (const [k, xs] of Object.entries(lat)) console.log(`| keystroke → remote render: ${k} | ${fmt(quantile(xs, 0.5))} | ${fmt(quantile(xs, 0.99))} |`);
    console.log('\n| N changes | ours: seed ms | ours: load → synced ms | ours: sync MB/s | ours: reopen ms | Yjs: seed ms | Yjs: in IDB ms | Yjs: load → synced ms | Yjs: sync MB/s | Yjs: reopen ms |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const { n, seed, ours, yseed, yjs } of rows) {
      console.log(`| ${n} | ${fmt(seed.ms)} | ${fmt(ours.firstSyncMs)} | ${fmt(ours.syncMbps, 2)} | ${fmt(ours.reopenMs)} | ${fmt(yseed.ms)} | ${fmt(yseed.persistedMs)} | ${yjs.failed ? 'no sync' : fmt(yjs.firstSyncMs)} | ${yjs.failed ? '—' : fmt(yjs.syncMbps, 2)} | ${yjs.failed ? '—' : fmt(yjs.reopenMs)} |`);
    }
    console.log(`\nend: ${load()}`);
  } finally {
    await closeAll();
    await relayProc.stop();
    await server.close();
  }
}

await main();
