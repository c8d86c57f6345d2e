// dist/ copied under a sub-path of a plain static server (python3 -m http.server), with the relay
// elsewhere, chosen by ?relay=: the app loads with relative URLs only, and two people write together.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { DIST, launchBrowser, startRelay, watchPage } from './harness.mjs';
import { ready, screenshot } from './app.mjs';

/** python3 -m http.server on 127.0.0.1, an OS-assigned port, serving `root`. */
async function staticServer(root) {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /port (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`http.server exited (${code})`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('the app works from a sub-path of a plain static server with a separate relay', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'peer-commons-www-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'some'), { recursive: true });
  await symlink(DIST, path.join(root, 'some', 'dir'));
  const server = await staticServer(root);
  t.after(() => server.stop());
  const relay = await startRelay({ www: root });
  t.after(() => relay.stop());
  const relayWs = relay.origin.replace(/^http/, 'ws');
  const url = `${server.origin}/some/dir/?relay=${encodeURIComponent(relayWs)}`;

  const pages = [];
  for (const name of ['Ana', 'Ben']) {
    const browser = await launchBrowser({ origin: server.origin });
    t.after(() => browser.close());
    const page = await browser.newPage();
    const problems = watchPage(page);
    await page.goto(url);
    await ready(page);
    await page.getByLabel('Your display name').fill(name);
    pages.push({ page, problems });
  }
  const [ana, ben] = pages.map((p) => p.page);
  assert.match(await ana.locator('#version').textContent(), /^\d+\.\d+\.\d+/);

  await ana.getByLabel('Title').fill('Sub-path commons');
  await ana.getByRole('button', { name: 'Create the commons' }).click();
  await ana.locator('#commons-title', { hasText: 'Sub-path commons' }).waitFor();
  await ana.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Network' }).click();
  assert.match(await ana.locator('#relays').textContent(), new RegExp(relayWs.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  await ana.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Produce' }).click();
  await ana.getByLabel('New document').fill('Notes');
  await ana.getByRole('button', { name: 'New document' }).click();
  await ana.locator('#editor').click();
  await ana.keyboard.type('hello from a sub-path');
  const link = ana.url();
  assert.ok(link.startsWith(`${server.origin}/some/dir/`), `the link keeps the sub-path: ${link}`);

  await ben.goto(link);
  await ready(ben);
  await ben.waitForFunction(() => document.querySelector('#editor')?.value === 'hello from a sub-path');
  await screenshot(ben, 'subpath');
  for (const p of pages) assert.deepEqual(p.problems, []);
});
