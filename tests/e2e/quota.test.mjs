// The storage-full path with the browser's real IndexedDB: Chromium's DevTools protocol lowers the
// page origin's quota, a large write is refused by IndexedDB, and the person gets a message they
// can act on while everything stored before stays intact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';

test('a full storage quota rejects the write with a clear message and keeps what was stored', async (t) => {
  const web = await startRelay();
  t.after(() => web.stop());
  const browser = await launchBrowser({ origin: web.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(`${web.origin}/dev/runtime.html`);
  await page.locator('body[data-state="ready"]').waitFor();
  const cdp = await browser.context.newCDPSession(page);
  // (Chromium still reports its usual quota to navigator.storage.estimate(), but enforces this one.)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: web.origin, quotaSize: 500_000 });

  const before = await page.evaluate(async () => {
    const c = await window.pc.Commons.create({ title: 'Small disk', relays: [] });
    const doc = await c.createDocument('Kept', 'this fits');
    window.c = c;
    return { id: c.id, doc, hash: c.stateHash() };
  });
  const refused = await page.evaluate(async () => {
    try {
      // Random letters: IndexedDB compresses what it stores, so a repeated letter would fit.
      const letters = 'abcdefghijklmnopqrstuvwxyz';
      const random = new Uint8Array(2_000_000);
      for (let o = 0; o < random.length; o += 65_536) crypto.getRandomValues(random.subarray(o, o + 65_536));
      const text = Array.from(random, (b) => letters[b % 26]).join('');
      await window.c.createDocument('Too big', text);
      return null;
    } catch (error) {
      return { isError: error instanceof Error, message: error.message, progress: window.c.syncProgress() };
    }
  });
  assert.ok(refused, 'the write must be refused');
  assert.equal(refused.isError, true);
  assert.match(refused.message, /storage for this site is full/);
  assert.ok(refused.progress.unsaved > 0, 'the refused changes wait for a retry');

  // Reopening shows exactly what was stored before the refused write.
  await page.reload();
  await page.locator('body[data-state="ready"]').waitFor();
  const after = await page.evaluate(async ({ id, doc }) => {
    const c = await window.pc.Commons.open(id, { relays: [] });
    return { hash: c.stateHash(), text: c.documentText(doc), documents: c.documents().length };
  }, before);
  assert.deepEqual(after, { hash: before.hash, text: 'this fits', documents: 1 });
  // The refusal is reported as a warning (with the same message), never as an uncaught error.
  assert.deepEqual(problems, []);
});
