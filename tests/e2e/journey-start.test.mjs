// The start screen: what a newcomer sees first. Licence meanings, identity export and import
// between two people, a bad link explained in plain words, accessibility at desktop and phone width.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';
import { assertAccessible, ready, screenshot } from './app.mjs';

test('start screen: create/join forms, licence meaning, accessible on desktop and phone', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(relay.url);
  await ready(page);

  await page.getByRole('heading', { name: 'Start a new commons' }).waitFor();
  await page.getByRole('heading', { name: 'Join a commons' }).waitFor();
  assert.match(await page.locator('#licence-meaning').textContent(), /\w+ \w+/, 'the licence picker explains the licence in a sentence');
  assert.equal(await page.getByLabel('Licence', { exact: true }).inputValue(), 'CC-BY-SA-4.0', 'the default licence');
  await assertAccessible(page, 'start screen');
  await screenshot(page, 'start-desktop');

  await page.setViewportSize({ width: 375, height: 740 });
  await assertAccessible(page, 'start screen at phone width');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
  await screenshot(page, 'start-phone');
  assert.deepEqual(problems, []);
});

test('a bad link is explained in plain words, never a blank page', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${relay.url}#not-a-commons`);
  await ready(page);
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /This link does not work.*64 letters and digits/s);
  await page.getByRole('heading', { name: 'Join a commons' }).waitFor();

  await page.getByLabel('Link or commons id').fill('https://example.org/#abc');
  await page.getByRole('button', { name: 'Join' }).click();
  assert.match(await alert.textContent(), /is not a link to a commons/);
  await screenshot(page, 'start-bad-link');
});

test('an identity exported by one person can be imported on another device', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const keys = [];
  const pages = [];
  for (let i = 0; i < 2; i++) {
    const browser = await launchBrowser({ origin: relay.origin });
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(relay.url);
    await ready(page);
    keys.push(await page.locator('#public-key').textContent());
    pages.push(page);
  }
  assert.notEqual(keys[0], keys[1]);

  const [download] = await Promise.all([
    pages[0].waitForEvent('download'),
    pages[0].getByRole('button', { name: 'Export my identity' }).click(),
  ]);
  const file = await download.path();
  const exported = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(exported.publicKey, keys[0]);
  assert.match(exported.secretKey, /^[0-9a-f]{64}$/);

  // A file that is not an identity is refused in plain words and changes nothing.
  await pages[1].getByLabel('Import an identity file').setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('{"hello":1}') });
  assert.match(await pages[1].getByRole('alert').textContent(), /not an exported peer-commons identity/);
  assert.equal(await pages[1].locator('#public-key').textContent(), keys[1]);

  await pages[1].getByLabel('Import an identity file').setInputFiles(file);
  await pages[1].locator('#public-key', { hasText: keys[0] }).waitFor();
  await pages[1].reload();
  await ready(pages[1]);
  assert.equal(await pages[1].locator('#public-key').textContent(), keys[0], 'the imported identity is kept');
});
