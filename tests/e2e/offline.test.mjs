// The app as a Progressive Web App: its service worker keeps the app itself (not only the data)
// so a reload with every server stopped still opens the commons, edits made then are kept, and
// they reach another browser once the relay is back. A new version is announced, and taken only
// when the person reloads.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DIST, launchBrowser, startRelay, watchPage } from './harness.mjs';
import { assertAccessible, ready, screenshot } from './app.mjs';

/** Waits until the service worker controls the page (the first visit is claimed at once). */
async function controlled(page) {
  await page.waitForFunction(() => navigator.serviceWorker?.controller?.state === 'activated');
}

/** What a page shows in its editor. */
const editorText = (page) => page.locator('#editor').inputValue();

/** Problems other than the relay being unreachable while it is stopped, which is expected. */
const unexpected = (problems) => problems.filter((p) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(p));

test('with every server stopped the app reloads, edits, and the edits reach another browser after', async (t) => {
  let relay = await startRelay();
  t.after(() => relay.stop());
  const listen = new URL(relay.origin).host;

  const people = [];
  for (const name of ['Ana', 'Ben']) {
    const browser = await launchBrowser({ origin: relay.origin });
    t.after(() => browser.close());
    const page = await browser.newPage();
    people.push({ page, problems: watchPage(page), name });
  }
  const [ana, ben] = people.map((p) => p.page);

  await ana.goto(relay.url);
  await ready(ana);
  await controlled(ana);
  await ana.getByLabel('Your display name').fill('Ana');
  await ana.getByLabel('Title').fill('Offline commons');
  await ana.getByRole('button', { name: 'Create the commons' }).click();
  await ana.locator('#commons-title', { hasText: 'Offline commons' }).waitFor();
  await ana.getByLabel('New document').fill('Notes');
  await ana.getByRole('button', { name: 'New document' }).click();
  await ana.locator('#editor').click();
  await ana.keyboard.type('written online.');
  const link = ana.url();

  // Ben receives it: Ana's change is stored before it is sent, so it is in her IndexedDB now.
  await ben.goto(link);
  await ready(ben);
  await ben.waitForFunction(() => document.querySelector('#editor')?.value === 'written online.');

  // Every server stops: nothing answers at the page's address any more.
  await relay.stop();
  await assert.rejects(fetch(relay.url), 'the server is really down');
  await ana.reload();
  await ready(ana);
  await ana.locator('#commons-title', { hasText: 'Offline commons' }).waitFor();
  await ana.waitForFunction(() => document.querySelector('#editor')?.value === 'written online.');
  await ana.locator('#editor').press('Control+End');
  await ana.keyboard.type(' Then offline.');
  assert.equal(await editorText(ana), 'written online. Then offline.');
  await screenshot(ana, 'offline-reload');
  await assertAccessible(ana, 'offline app');

  // The relay comes back on the same address: both pages find it again and the offline edit
  // reaches Ben.
  relay = await startRelay({ listen });
  await ben.waitForFunction(() => document.querySelector('#editor')?.value === 'written online. Then offline.', null, { timeout: 90_000 });
  for (const p of people) assert.deepEqual(unexpected(p.problems), [], p.name);
});

test('a new version is announced and taken when the person reloads', async (t) => {
  // A copy of the site, so the test can publish a "new version" of it.
  const site = await mkdtemp(path.join(tmpdir(), 'peer-commons-site-'));
  t.after(() => rm(site, { recursive: true, force: true }));
  await cp(DIST, site, { recursive: true });
  const relay = await startRelay({ www: site });
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);

  await page.goto(relay.url);
  await ready(page);
  await controlled(page);
  const cachesBefore = await page.evaluate(() => caches.keys());
  assert.equal(cachesBefore.length, 1, `one versioned cache: ${cachesBefore}`);
  assert.equal(await page.locator('#update').isHidden(), true, 'no update offered on the first visit');

  // Publish: the build stamps a new version into sw.js whenever any file changes.
  const swPath = path.join(site, 'sw.js');
  const sw = await readFile(swPath, 'utf8');
  const next = sw.replace(/^const VERSION = "([0-9a-f]+)";$/m, 'const VERSION = "$1next";');
  assert.notEqual(next, sw, 'dist/sw.js carries a stamped version');
  await writeFile(swPath, next);
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());

  const offer = page.getByRole('button', { name: 'Reload to update' });
  await offer.waitFor();
  assert.match(await page.locator('#update').textContent(), /new version of peer-commons is ready/);
  await assertAccessible(page, 'update offered');
  await Promise.all([page.waitForEvent('load'), offer.click()]);
  await ready(page);
  const cachesAfter = await page.evaluate(() => caches.keys());
  assert.deepEqual(cachesAfter, [cachesBefore[0].replace(/$/, 'next')], 'the old cache is gone, the new one kept');
  assert.deepEqual(problems, []);
});
