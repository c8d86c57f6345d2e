// The first slice end to end: the page served by the relay shows the version and this browser's
// identity, and the identity persists across reloads (IndexedDB) but not across people (profiles).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crateVersion, launchBrowser, startRelay, watchPage } from './harness.mjs';

/** Opens (or reloads) the app and returns what it shows once ready. */
async function shown(page) {
  await page.locator('body[data-state="ready"]').waitFor();
  return {
    version: await page.locator('#version').textContent(),
    publicKey: await page.locator('#public-key').textContent(),
    status: await page.locator('#status').textContent(),
  };
}

test('the app shows the version and an identity that survives a reload', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);

  await page.goto(relay.url);
  const first = await shown(page);
  assert.equal(first.version, await crateVersion());
  assert.match(first.publicKey, /^[0-9a-f]{64}$/);
  assert.equal(first.status, 'Ready.');

  await page.reload();
  const second = await shown(page);
  assert.equal(second.publicKey, first.publicKey, 'the identity must come back from IndexedDB');

  // A second tab of the same profile shares the identity too.
  const tab = await browser.newPage();
  const tabProblems = watchPage(tab);
  await tab.goto(relay.url);
  assert.equal((await shown(tab)).publicKey, first.publicKey);

  assert.deepEqual([...problems, ...tabProblems], []);
});

test('two browser profiles are two people with different identities', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const keys = [];
  for (let i = 0; i < 2; i++) {
    const browser = await launchBrowser({ origin: relay.origin });
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(relay.url);
    keys.push((await shown(page)).publicKey);
  }
  assert.match(keys[0], /^[0-9a-f]{64}$/);
  assert.notEqual(keys[0], keys[1]);
});

test('signatures made in the page verify, and tampered ones do not', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(relay.url);
  await shown(page);

  const result = await page.evaluate(async () => {
    const { Identity } = await import('./pkg/peer_commons.js');
    const me = await Identity.loadOrCreate();
    const message = new TextEncoder().encode('a change');
    const signature = me.sign(message);
    const tampered = signature.slice();
    tampered[0] ^= 1;
    let thrown;
    try {
      me.verify(message, signature.slice(0, 10));
    } catch (error) {
      thrown = { isError: error instanceof Error, message: error.message };
    }
    return {
      length: signature.length,
      valid: Identity.verifyWith(me.publicKey, message, signature),
      tampered: me.verify(message, tampered),
      thrown,
    };
  });
  assert.equal(result.length, 64);
  assert.equal(result.valid, true);
  assert.equal(result.tampered, false);
  assert.equal(result.thrown?.isError, true, 'malformed input throws a JS Error');
  assert.match(result.thrown.message, /64 bytes/);
});

test('a crash inside the module offers a reload instead of leaving the page stuck', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(relay.url);
  await shown(page);
  // What a panic in the module looks like from the page: a WebAssembly trap thrown out of a
  // timer or a message handler, outside any action of the person.
  await page.evaluate(() => {
    setTimeout(() => { throw new WebAssembly.RuntimeError('unreachable'); }, 0);
  });
  const box = page.locator('#error');
  await box.getByText('stopped after an internal error').waitFor();
  const before = await page.locator('#public-key').textContent();
  await box.getByRole('button', { name: 'Reload' }).click();
  const after = await shown(page);
  assert.equal(after.publicKey, before, 'the reload starts afresh with what was stored');
  assert.equal(await page.locator('#error').isHidden(), true);
});
