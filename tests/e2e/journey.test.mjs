// The whole journey of issue 9 through the web app only, as people would click it: Alice creates
// a commons, Bob joins from the link, they write one document together (remote edits appear live
// without moving Alice's cursor), Alice endorses Bob's edit and reverts his vandalism, a rule
// change is proposed and passed, the ledger and credits show both, the archive is exported and
// imported by Carol (a tampered one is refused), and Alice forks the commons.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';
import { assertAccessible, ready, screenshot } from './app.mjs';

/** A person: their own browser profile and one page of the app. */
async function person(t, relay, name) {
  const browser = await launchBrowser({ origin: relay.origin });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(relay.url);
  await ready(page);
  await page.getByLabel('Your display name').fill(name);
  return { page, problems, name };
}

const tab = (page, name) => page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name }).click();
const editorValue = (page) => page.locator('#editor').inputValue();
const waitText = (page, fn, arg) => page.waitForFunction(fn, arg);
const hashOf = async (page) => (await page.locator('#state-hash').textContent()).trim();

/** Waits until two pages show the same state hash (guarded by Playwright's 30 s default). */
async function sameHash(p, q) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [x, y] = [await hashOf(p), await hashOf(q)];
    if (x === y) return x;
    if (Date.now() > deadline) assert.equal(y, x, 'the two copies converge to the same state hash');
    await p.waitForTimeout(250);
  }
}

test('create, join by link, write together, validate, govern, account, export/import, fork', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const alice = await person(t, relay, 'Alice');
  const bob = await person(t, relay, 'Bob');
  const a = alice.page;
  const b = bob.page;

  // Alice creates the commons.
  await a.getByLabel('Title').fill('Recipes');
  await a.getByLabel('Purpose').fill('Recipes we cook together');
  await a.getByRole('button', { name: 'Create the commons' }).click();
  await a.locator('#commons-title', { hasText: 'Recipes' }).waitFor();
  const id = new URL(a.url()).hash.slice(1);
  assert.match(id, /^[0-9a-f]{64}$/, 'the address now holds the commons id: the link to share');
  assert.equal(await a.locator('#footer-licence').textContent(), 'CC-BY-SA-4.0');

  // Alice starts a document.
  await a.getByLabel('New document').fill('Bread');
  await a.getByRole('button', { name: 'New document' }).click();
  await a.locator('#doc-title', { hasText: 'Bread' }).waitFor();
  await a.locator('#editor').click();
  await a.keyboard.type('Flour, water, salt.');
  await waitText(a, () => document.querySelectorAll('#doc-history li').length >= 2);

  // Bob joins from the link Alice shared.
  await b.getByLabel('Link or commons id').fill(`${relay.url}#${id}`);
  await b.getByRole('button', { name: 'Join' }).click();
  await b.locator('#commons-title', { hasText: 'Recipes' }).waitFor();
  await waitText(b, () => document.querySelector('#editor')?.value === 'Flour, water, salt.');

  // Alice's cursor sits after "Flour"; Bob types at the start: her cursor moves with her text.
  await a.locator('#editor').evaluate((ta) => { ta.focus(); ta.setSelectionRange(5, 5); });
  await b.locator('#editor').click();
  await b.keyboard.press('Control+Home');
  await b.keyboard.type('Easy: ');
  await waitText(a, () => document.querySelector('#editor').value === 'Easy: Flour, water, salt.');
  const cursor = await a.locator('#editor').evaluate((ta) => [ta.selectionStart, ta.selectionEnd]);
  assert.deepEqual(cursor, [11, 11], "a remote insertion before Alice's cursor shifts it, never jumps it");
  // Each sees where the other's cursor is: Alice's, placed before Bob's insertion, moved with
  // her text in Bob's view too (a sticky position), and Bob's after what he typed.
  await b.locator('#presence li', { hasText: 'Alice — line 1, column 12' }).waitFor();
  await a.locator('#presence li', { hasText: 'Bob — line 1, column 7' }).waitFor();
  await b.locator('.remote-caret .remote-name', { hasText: 'Alice' }).waitFor();
  await a.locator('.remote-caret .remote-name', { hasText: 'Bob' }).waitFor();
  // Alice selects "Flour": Bob sees the selection; her own cursor and text stay as they are.
  await a.locator('#editor').evaluate((ta) => { ta.focus(); ta.setSelectionRange(6, 11); });
  await b.locator('#presence li', { hasText: 'Alice — line 1, column 12, 5 characters selected' }).waitFor();
  await b.locator('.remote-sel').first().waitFor();
  assert.equal(await b.locator('#editor').inputValue(), 'Easy: Flour, water, salt.');
  await a.locator('#editor').evaluate((ta) => ta.setSelectionRange(11, 11));
  await screenshot(b, 'produce-presence');
  await screenshot(a, 'produce');
  await assertAccessible(a, 'produce screen');
  await b.setViewportSize({ width: 375, height: 740 });
  const overflow = await b.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the produce screen fits a phone (overflow ${overflow}px)`);
  await assertAccessible(b, 'produce screen at phone width');
  await screenshot(b, 'produce-phone');

  // Alice endorses Bob's edit from the document's history.
  const bobsEdit = a.locator('#doc-history li', { hasText: 'by Bob' }).first();
  await bobsEdit.waitFor();
  await bobsEdit.getByRole('button', { name: /^Endorse/ }).click();
  await bobsEdit.locator('.badge', { hasText: 'endorsed' }).waitFor();

  // Bob vandalises the text; Alice flags it (in a dialog: Escape cancels), reverts it, and both
  // see the text restored.
  await waitText(b, () => document.querySelectorAll('#doc-history li').length >= 3);
  await b.locator('#editor').fill('SPAM');
  await waitText(a, () => document.querySelector('#editor').value === 'SPAM');
  const vandalism = a.locator('#doc-history li', { hasText: /by Bob/ }).first();
  await vandalism.getByRole('button', { name: /^Flag/ }).click();
  const ask = a.getByRole('dialog', { name: 'Flag this contribution' });
  await ask.waitFor();
  assert.equal(await ask.getByLabel('Why flag it?').evaluate((el) => el === document.activeElement), true, 'the reason field has focus');
  await a.keyboard.press('Escape');
  await ask.waitFor({ state: 'detached' });
  assert.equal(await vandalism.locator('.badge', { hasText: 'flag' }).count(), 0, 'Escape flags nothing');
  await vandalism.getByRole('button', { name: /^Flag/ }).click();
  await ask.getByLabel('Why flag it?').fill('Spam replacing the recipe');
  await assertAccessible(a, 'flag dialog');
  await screenshot(a, 'flag-dialog');
  await ask.getByRole('button', { name: 'Flag', exact: true }).click();
  await ask.waitFor({ state: 'detached' });
  await a.locator('#doc-history li', { hasText: /by Bob/ }).first().locator('.badge', { hasText: 'flag' }).waitFor();
  await vandalism.getByRole('button', { name: /^Revert/ }).click();
  await waitText(a, () => document.querySelector('#editor').value === 'Easy: Flour, water, salt.');
  await waitText(b, () => document.querySelector('#editor').value === 'Easy: Flour, water, salt.');

  // A comment and a task.
  await a.getByLabel('Add a comment').fill('Add yeast?');
  await a.getByRole('button', { name: 'Comment' }).click();
  await b.locator('#comments li', { hasText: 'Add yeast?' }).waitFor();
  await b.getByLabel('New task').fill('Test the recipe');
  await b.getByRole('button', { name: 'Post task' }).click();
  await a.getByRole('button', { name: /^Claim “Test the recipe”/ }).click();
  await a.getByRole('button', { name: /^Complete “Test the recipe”/ }).click();
  await b.locator('.task-col', { hasText: 'Done (1)' }).waitFor();

  // Alice proposes a rule change; Bob votes for it and it passes.
  await tab(a, 'Govern');
  await a.getByLabel('Kind').selectOption('parameter');
  await a.getByLabel('Rule name').selectOption('member_endorsements');
  await a.getByLabel('New value / key / licence').fill('1');
  await a.getByLabel('What you propose').fill('One endorsement is enough to become a member');
  await a.getByRole('button', { name: 'Propose' }).click();
  await a.locator('.proposal', { hasText: 'One endorsement' }).waitFor();
  await tab(b, 'Govern');
  await b.getByRole('button', { name: /^Vote Yes on “One endorsement/ }).click();
  await a.locator('.proposal[data-state="passed"]').waitFor();
  assert.match(await a.locator('#charter').textContent(), /set by proposal/);
  assert.match(await a.locator('.proposal').first().textContent(), /Bob: yes/);
  await assertAccessible(a, 'govern screen');
  await screenshot(a, 'govern');

  // The ledger and the credits show both authors.
  await tab(a, 'Property');
  const table = a.locator('#ledger-table');
  await table.waitFor();
  const ledger = await table.textContent();
  assert.match(ledger, /Alice/);
  assert.match(ledger, /Bob/);
  await assertAccessible(a, 'property screen');
  await screenshot(a, 'property');
  const [csv] = await Promise.all([a.waitForEvent('download'), a.getByRole('button', { name: 'Download ledger (CSV)' }).click()]);
  assert.match(await readFile(await csv.path(), 'utf8'), /^author/);
  const [md] = await Promise.all([a.waitForEvent('download'), a.getByRole('button', { name: 'Download Markdown (zip)' }).click()]);
  assert.equal((await readFile(await md.path())).subarray(0, 2).toString(), 'PK', 'a zip file');
  const [archive] = await Promise.all([a.waitForEvent('download'), a.getByRole('button', { name: 'Download archive' }).click()]);
  const archivePath = await archive.path();

  // The network screen shows the peer and the state hash.
  await tab(a, 'Network');
  const aliceHash = (await a.locator('#state-hash').textContent()).trim();
  assert.match(aliceHash, /^[0-9a-f]{64}$/);
  await assertAccessible(a, 'network screen');
  await screenshot(a, 'network');
  await tab(a, 'Settings');
  await assertAccessible(a, 'settings screen');
  await screenshot(a, 'settings');

  // Carol imports the archive: a tampered copy is refused, the real one opens the same commons.
  const carol = await person(t, relay, 'Carol');
  const c = carol.page;
  const bytes = await readFile(archivePath);
  const tampered = Buffer.from(bytes);
  tampered[tampered.length - 10] ^= 0xff;
  await c.getByLabel('Import an archive file').setInputFiles({ name: 'bad.peer-commons', mimeType: 'application/octet-stream', buffer: tampered });
  assert.match(await c.getByRole('alert').textContent(), /refused/);
  await c.getByLabel('Import an archive file').setInputFiles(archivePath);
  await c.locator('#commons-title', { hasText: 'Recipes' }).waitFor();
  await waitText(c, () => document.querySelector('#editor')?.value === 'Easy: Flour, water, salt.');
  // Carol's name claim is a new change: once it reaches Alice both copies hold the same set.
  await tab(c, 'Network');
  await tab(a, 'Network');
  await sameHash(a, c);

  // Alice forks the commons: the fork keeps the document, its credits and the licence.
  await tab(a, 'Property');
  await a.getByLabel('Title', { exact: true }).fill('Recipes, our fork');
  await a.getByRole('button', { name: 'Fork' }).click();
  await a.locator('#commons-title', { hasText: 'Recipes, our fork' }).waitFor();
  assert.notEqual(new URL(a.url()).hash.slice(1), id);
  await tab(a, 'Produce');
  await waitText(a, () => document.querySelector('#editor')?.value === 'Easy: Flour, water, salt.');
  // The fork credits both authors by name (the names Alice's device saw claimed in the parent),
  // each with the key in its tooltip.
  const bobKey = (await b.locator('#public-key').textContent()).trim();
  const bobCredit = a.locator('#doc-credits .who', { hasText: 'Bob' });
  await bobCredit.waitFor();
  assert.equal(await bobCredit.getAttribute('title'), `key ${bobKey}`);
  assert.doesNotMatch(await a.locator('#doc-credits').textContent(), /[0-9a-f]{8}…/, 'no bare keys in the credits');
  await screenshot(a, 'fork-credits');
  assert.equal(await a.locator('#footer-licence').textContent(), 'CC-BY-SA-4.0');

  for (const p of [alice, bob, carol]) {
    assert.deepEqual(p.problems.filter((x) => !/refused|Failed to load resource/.test(x)), [], `${p.name}'s page had problems`);
  }
});
