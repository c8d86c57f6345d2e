// End to end: the browser runtime in separate Chromium profiles (separate people), over the real
// relay and real WebRTC on loopback, with the test page www/dev/runtime.html (it exposes the wasm
// package as window.pc). Each test says which of the cases it covers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';

/** Guard against a wedged test (not a speed check). */
const GUARD_MS = 60_000;

/** Opens the runtime test page of `origin` in a new tab of `browser`. */
async function runtimePage(browser, origin, problems) {
  const page = await browser.newPage();
  problems.push(...watchPage(page));
  await page.goto(`${origin}/dev/runtime.html`);
  await page.locator('body[data-state="ready"]').waitFor();
  return page;
}

/** Launches a profile (a person) and opens the test page in it. */
async function person(t, origin, problems) {
  const browser = await launchBrowser({ origin });
  t.after(() => browser.close());
  return { browser, page: await runtimePage(browser, origin, problems) };
}

const create = (page, options) =>
  page.evaluate(async (options) => {
    window.c = await window.pc.Commons.create(options);
    return window.c.id;
  }, options);

const open = (page, id, options) =>
  page.evaluate(async ([id, options]) => {
    window.c = await window.pc.Commons.open(id, options);
  }, [id, options]);

/** Waits in the page until it holds document `doc`; returns its text. */
const hasDocument = (page, doc) =>
  page.evaluate(
    (doc) => window.rt.until(() => {
      try {
        return { text: window.c.documentText(doc) };
      } catch {
        return false;
      }
    }, 60_000, 'the document to arrive').then((r) => r.text),
    doc,
  );

const state = (page, doc) =>
  page.evaluate((doc) => ({ hash: window.c.stateHash(), text: window.c.documentText(doc) }), doc);

/** Polls until every page shows the same state hash and text; returns that state. */
async function converged(pages, doc) {
  const start = Date.now();
  for (;;) {
    const states = await Promise.all(pages.map((p) => state(p, doc)));
    if (states.every((s) => s.hash === states[0].hash && s.text === states[0].text)) return states[0];
    if (Date.now() - start > GUARD_MS) {
      assert.fail(`replicas did not converge: ${JSON.stringify(states, null, 1)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Types `count` insertions of `${tag}${i} ` at pseudo-random places, pausing between them. */
const typeConcurrently = (page, doc, tag, count) =>
  page.evaluate(async ([doc, tag, count]) => {
    let seed = [...tag].reduce((a, ch) => a * 31 + ch.charCodeAt(0), 7);
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const typed = [];
    for (let i = 0; i < count; i++) {
      const text = window.c.documentText(doc);
      // Insert between words, so markers stay whole whatever the others type.
      const spaces = [0, ...[...text].flatMap((ch, k) => (ch === ' ' ? [k + 1] : []))];
      const at = spaces[Math.floor(random() * spaces.length)];
      typed.push(window.c.editDocument(doc, at, 0, `${tag}${i} `));
      await new Promise((r) => setTimeout(r, random() * 40));
    }
    await Promise.all(typed);
  }, [doc, tag, count]);

test('(a) three people edit one document concurrently and converge', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const problems = [];
  const relays = [`ws://${new URL(relay.origin).host}/signal`];
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => person(t, relay.origin, problems)));

  const id = await create(a.page, { title: 'Three', relays, name: 'Ann' });
  const doc = await a.page.evaluate(() => window.c.createDocument('Notes', 'start '));
  await open(b.page, id, { relays, name: 'Ben' });
  await open(c.page, id, { relays, name: 'Cy' });
  assert.equal(await hasDocument(b.page, doc), 'start ');
  assert.equal(await hasDocument(c.page, doc), 'start ');

  await Promise.all([
    typeConcurrently(a.page, doc, 'a', 15),
    typeConcurrently(b.page, doc, 'b', 15),
    typeConcurrently(c.page, doc, 'c', 15),
  ]);
  const final = await converged([a.page, b.page, c.page], doc);
  for (const tag of ['a', 'b', 'c']) {
    for (let i = 0; i < 15; i++) assert.ok(final.text.includes(`${tag}${i} `), `${tag}${i} in ${final.text}`);
  }
  // Everyone's name reached everyone, and each sees the others as connected peers.
  const names = await c.page.evaluate(() => {
    const docs = window.c.documents();
    return { peers: window.c.peers().filter((p) => p.state === 'connected').length, authors: docs[0].authors.map((k) => window.c.name(k)).sort() };
  });
  assert.ok(names.peers >= 1);
  assert.deepEqual(names.authors, ['Ann', 'Ben', 'Cy']);
  assert.deepEqual(problems, []);
});

test('(b) a reload with the relay stopped finds the replica intact in IndexedDB', async (t) => {
  // The page comes from one relay process; signalling goes through another, which is stopped.
  const web = await startRelay();
  t.after(() => web.stop());
  const signalling = await startRelay();
  t.after(() => signalling.stop());
  const relays = [`ws://${new URL(signalling.origin).host}/signal`];
  const problems = [];
  const a = await person(t, web.origin, problems);
  const b = await person(t, web.origin, problems);

  const id = await create(a.page, { title: 'Durable', relays });
  const doc = await a.page.evaluate(async () => {
    const doc = await window.c.createDocument('Kept', 'written by A');
    await window.c.editDocument(doc, 0, 0, 'first ');
    return doc;
  });
  await open(b.page, id, { relays });
  assert.equal(await hasDocument(b.page, doc), 'first written by A');
  await b.page.evaluate((doc) => window.c.editDocument(doc, 0, 0, 'B: '), doc);
  const before = await converged([a.page, b.page], doc);

  await signalling.stop();
  await b.page.reload();
  await b.page.locator('body[data-state="ready"]').waitFor();
  await open(b.page, id, { relays });
  const after = await state(b.page, doc);
  assert.deepEqual(after, before, 'text and state hash as before the reload');
  const offline = await b.page.evaluate(() => ({
    online: window.c.online,
    relays: window.c.relays(),
    history: window.c.history(window.c.documents()[0].id).length,
    joined: null,
  }));
  assert.equal(offline.online, false);
  assert.equal(offline.relays[0].connected, false);
  assert.ok(offline.history >= 3, 'created, edited by A, edited by B');
  const joined = await b.page.evaluate(() => window.pc.Commons.joined());
  assert.deepEqual(joined.map((j) => [j.id, j.title]), [[id, 'Durable']]);
  // The relay being down is not an error the page shows.
  assert.deepEqual(problems.filter((p) => !p.includes('/signal')), []);
});

test('(c) edits made while disconnected meet the others after reconnecting', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const relays = [`ws://${new URL(relay.origin).host}/signal`];
  const problems = [];
  const a = await person(t, relay.origin, problems);
  const b = await person(t, relay.origin, problems);
  const id = await create(a.page, { title: 'Offline', relays });
  const doc = await a.page.evaluate(() => window.c.createDocument('Plan', 'one two'));
  await open(b.page, id, { relays });
  await hasDocument(b.page, doc);

  // B leaves the network and edits with no relay and no peer; A edits meanwhile.
  await b.page.evaluate(async ([id, doc]) => {
    await window.c.close();
    window.c = await window.pc.Commons.open(id, { relays: [] });
    await window.c.editDocument(doc, 0, 0, 'offline-B ');
    if (window.c.peers().length !== 0) throw new Error('B should be alone');
    await window.c.close();
  }, [id, doc]);
  await a.page.evaluate((doc) => window.c.editDocument(doc, 7, 0, ' online-A'), doc);
  assert.equal((await state(a.page, doc)).text, 'one two online-A');

  // B comes back: both sides converge on both edits.
  await open(b.page, id, { relays });
  const final = await converged([a.page, b.page], doc);
  assert.equal(final.text, 'offline-B one two online-A');
  assert.deepEqual(problems, []);
});

test('(d) two tabs of one browser sync through BroadcastChannel with no relay', async (t) => {
  const web = await startRelay();
  t.after(() => web.stop());
  const problems = [];
  const { browser, page: tab1 } = await person(t, web.origin, problems);
  const tab2 = await runtimePage(browser, web.origin, problems);

  const id = await create(tab1, { title: 'Tabs', relays: [] });
  const doc = await tab1.evaluate(() => window.c.createDocument('Shared', 'x'));
  await open(tab2, id, { relays: [] });
  assert.equal(await hasDocument(tab2, doc), 'x');
  await Promise.all([typeConcurrently(tab1, doc, 'one', 10), typeConcurrently(tab2, doc, 'two', 10)]);
  const final = await converged([tab1, tab2], doc);
  assert.ok(final.text.includes('one9 ') && final.text.includes('two9 '), final.text);
  const peers = await tab2.evaluate(() => window.c.peers());
  assert.deepEqual(peers.map((p) => [p.via, p.state]), [['tab', 'connected']]);
  // Same person in both tabs: one identity.
  const keys = await Promise.all([tab1, tab2].map((p) => p.evaluate(() => window.c.me)));
  assert.equal(keys[0], keys[1]);
  assert.deepEqual(problems, []);
});

test('(f) presence: tabs see each other\'s cursors over BroadcastChannel, moved by edits, gone on close, never stored', async (t) => {
  const web = await startRelay();
  t.after(() => web.stop());
  const problems = [];
  const { browser, page: tab1 } = await person(t, web.origin, problems);
  const tab2 = await runtimePage(browser, web.origin, problems);
  const id = await create(tab1, { title: 'Cursors', relays: [] });
  const doc = await tab1.evaluate(() => window.c.createDocument('Shared', 'hello world'));
  await open(tab2, id, { relays: [] });
  assert.equal(await hasDocument(tab2, doc), 'hello world');
  const hashBefore = await tab1.evaluate(() => window.c.stateHash());

  // Tab 1 selects "world"; tab 2 hears a presence event and sees it.
  await tab2.evaluate(() => { window.events = []; window.c.onChange((e) => window.events.push(e.type)); });
  await tab1.evaluate((doc) => window.c.setPresence(doc, 6, 11), doc);
  const me = await tab1.evaluate(() => window.c.peerId);
  const seen = await tab2.evaluate((doc) => window.rt.until(() => {
    const p = window.c.presence(doc);
    return p.length ? p : false;
  }, 60_000, 'tab 1\'s cursor'), doc);
  assert.equal(seen.length, 1);
  assert.deepEqual([seen[0].anchor, seen[0].head], [6, 11]);
  assert.equal(seen[0].author, await tab1.evaluate(() => window.c.me));
  if (me) assert.equal(seen[0].peerId, me);
  assert.ok(await tab2.evaluate(() => window.events.includes('presence')), 'a presence event');
  // Tab 1 does not list its own cursor.
  assert.deepEqual(await tab1.evaluate((doc) => window.c.presence(doc), doc), []);

  // Tab 2 types before the selection: the cursor stays on "world" in both tabs' eyes.
  await tab2.evaluate((doc) => window.c.editDocument(doc, 0, 0, 'Oh, '), doc);
  const moved = await tab2.evaluate((doc) => window.rt.until(() => {
    const [p] = window.c.presence(doc);
    return p && p.anchor === 10 ? p : false;
  }, 60_000, 'the cursor to move with the text'), doc);
  assert.deepEqual([moved.anchor, moved.head], [10, 15]);

  // Bad arguments are errors a person can read; presence changes no stored state.
  const err = await tab1.evaluate(() => { try { window.c.setPresence('nope', 1, 1); return null; } catch (e) { return e.message; } });
  assert.match(err, /document id/);
  await tab1.evaluate(() => window.c.flush());
  await converged([tab1, tab2], doc);
  await tab1.evaluate((doc) => window.c.setPresence(doc, 1, 1), doc);
  await tab2.evaluate((doc) => window.rt.until(() => window.c.presence(doc)[0]?.anchor === 1, 60_000, 'the caret'), doc);
  const hashes = await Promise.all([tab1, tab2].map((p) => p.evaluate(() => window.c.stateHash())));
  assert.equal(hashes[0], hashes[1]);
  assert.notEqual(hashes[0], hashBefore, 'the edit changed the state');
  await tab1.evaluate(() => window.c.setPresence(null));
  await tab2.evaluate((doc) => window.rt.until(() => window.c.presence(doc).length === 0, 60_000, 'the cursor to be hidden'), doc);
  assert.equal(await tab1.evaluate(() => window.c.stateHash()), hashes[0], 'presence is not part of the state');

  // Closing the commons clears its cursor at once (not after the 30 s expiry).
  await tab1.evaluate((doc) => window.c.setPresence(doc, 2, 2), doc);
  await tab2.evaluate((doc) => window.rt.until(() => window.c.presence(doc).length === 1, 60_000, 'the caret again'), doc);
  await tab1.evaluate(() => window.c.close());
  await tab2.evaluate((doc) => window.rt.until(() => window.c.presence(doc).length === 0, 10_000, 'the closed tab\'s cursor to go'), doc);
  assert.deepEqual(problems, []);
});

/**
 * A y-webrtc signalling relay in Node (subscribe, unsubscribe, publish, ping) that, when
 * `tamper` is set, flips one byte of every published payload before forwarding it.
 */
async function nodeRelay({ tamper }) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const topics = new Map();
  const stats = { published: 0, tampered: 0 };
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      let m;
      try {
        m = JSON.parse(raw);
      } catch {
        return;
      }
      if (m.type === 'subscribe') for (const tp of m.topics ?? []) (topics.get(tp) ?? topics.set(tp, new Set()).get(tp)).add(ws);
      if (m.type === 'unsubscribe') for (const tp of m.topics ?? []) topics.get(tp)?.delete(ws);
      if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      if (m.type === 'publish') {
        stats.published++;
        let data = m.data;
        if (tamper && typeof data === 'string') {
          const bytes = Buffer.from(data, 'base64');
          bytes[bytes.length - 1] ^= 0x01;
          data = bytes.toString('base64');
          stats.tampered++;
        }
        for (const sub of topics.get(m.topic) ?? []) sub.send(JSON.stringify({ ...m, data }));
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    stats,
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }),
  };
}

test('(e) a relay that rewrites payloads cannot make a peer accept anything', async (t) => {
  const web = await startRelay();
  t.after(() => web.stop());
  const problems = [];
  const a = await person(t, web.origin, problems);
  const b = await person(t, web.origin, problems);

  // The same relay code, honest: the two meet and sync (so the tampering run below means something).
  const honest = await nodeRelay({ tamper: false });
  t.after(() => honest.close());
  const id = await create(a.page, { title: 'Guarded', relays: [honest.url], database: 'honest' });
  const doc = await a.page.evaluate(() => window.c.createDocument('Secret plan', 'meet at noon'));
  await open(b.page, id, { relays: [honest.url], database: 'honest' });
  assert.equal(await hasDocument(b.page, doc), 'meet at noon');
  for (const p of [a.page, b.page]) await p.evaluate(() => window.c.close());

  // Tampering: every payload is flipped on the way. Fresh databases: B starts with nothing.
  const evil = await nodeRelay({ tamper: true });
  t.after(() => evil.close());
  await a.page.evaluate(async ([id, url]) => {
    const old = window.c;
    window.c = await window.pc.Commons.create({ title: 'Guarded 2', relays: [url], database: 'evil-a' });
    window.doc2 = await window.c.createDocument('Plan', 'secret');
    return old.id === id;
  }, [id, evil.url]);
  const id2 = await a.page.evaluate(() => window.c.id);
  await open(b.page, id2, { relays: [evil.url], database: 'evil-b' });
  // Both announce themselves; each announcement arrives altered and is dropped as forged.
  const forged = await Promise.all([a.page, b.page].map((p) =>
    p.evaluate(() => window.rt.until(() => {
      const s = window.c.syncProgress();
      return s.forgedSignals >= 1 && s;
    }, 60_000, 'a forged signal'))));
  assert.ok(evil.stats.tampered >= 2);
  for (const s of forged) {
    assert.equal(s.peers, 0);
    assert.equal(s.rejectedChanges, 0);
  }
  const seen = await b.page.evaluate(() => ({
    charter: window.c.charter(),
    changes: window.c.syncProgress().changes,
    peers: window.c.peers(),
    documents: window.c.documents(),
  }));
  assert.deepEqual(seen, { charter: null, changes: 0, peers: [], documents: [] });
  assert.deepEqual(problems, []);
});
