// Shared harness of the end-to-end tests (node --test + playwright-core + Debian's Chromium).
//
//   const relay = await startRelay();                  // peer-commons-relay on 127.0.0.1:<free port>
//   t.after(() => relay.stop());
//   const browser = await launchBrowser({ origin: relay.origin });   // one profile = one person
//   t.after(() => browser.close());
//   const page = await browser.newPage();
//   const problems = watchPage(page);                  // console errors and uncaught exceptions
//   await page.goto(relay.url);
//
// Several launchBrowser() calls give independent profiles (own IndexedDB, own identity) that can
// talk over WebRTC on loopback: each gets --allow-loopback-in-peer-connection and the microphone
// permission for the relay's origin, without which Chromium offers only mDNS candidates that do
// not resolve here (shared/TOOLCHAIN.md).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Debian's Chromium (never a Playwright download). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** The relay binary (built by pkg-scripts/test, or `cargo build --bin peer-commons-relay`). */
export const RELAY = process.env.PEER_COMMONS_RELAY ?? path.join(ROOT, 'target/debug/peer-commons-relay');
/** The static site built by pkg-scripts/build. */
export const DIST = path.join(ROOT, 'dist');

/** Chromium flags for this machine: root, no network, headless, WebRTC over loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

/** Guard against a wedged process, not a speed check: generous on a loaded 2-core machine. */
const START_GUARD_MS = 60_000;

/**
 * Starts peer-commons-relay on 127.0.0.1 with an OS-assigned port (or `listen`, to come back on
 * the address a page already knows), serving `www`.
 * Resolves once it printed `listening on http://ADDR`.
 * @returns {Promise<{url: string, origin: string, output: () => string, stop: () => Promise<void>}>}
 */
export async function startRelay({ www = DIST, args = [], listen = '127.0.0.1:0' } = {}) {
  const child = spawn(RELAY, ['--listen', listen, '--www', www, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const spawnFailed = new Promise((_, reject) => child.once('error', reject));

  const lines = createInterface({ input: child.stdout });
  const listening = new Promise((resolve) => {
    lines.on('line', (line) => {
      log += `${line}\n`;
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) resolve(match[1]);
    });
  });
  let timer;
  let starting = true;
  const origin = await Promise.race([
    listening,
    spawnFailed,
    new Promise((_, reject) => {
      // Only an exit during start-up is an error here; stop() ends the relay later on purpose.
      exited.then(({ code, signal }) => {
        if (starting) reject(new Error(`relay exited (code ${code}, signal ${signal}) before listening:\n${log}`));
      });
      timer = setTimeout(() => reject(new Error(`relay did not print its address:\n${log}`)), START_GUARD_MS);
    }),
  ]).finally(() => {
    starting = false;
    clearTimeout(timer);
  });

  return {
    origin,
    url: `${origin}/`,
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * Launches Chromium with a fresh profile (its own IndexedDB: a separate person).
 * @param {{origin?: string, permissions?: string[]}} options  permissions are granted to `origin`.
 * @returns {Promise<{context: import('playwright-core').BrowserContext,
 *   newPage: () => Promise<import('playwright-core').Page>, close: () => Promise<void>}>}
 */
export async function launchBrowser({ origin, permissions = ['microphone'] } = {}) {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'peer-commons-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    if (origin) await context.grantPermissions(permissions, { origin });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Collects what goes wrong in a page: console errors and uncaught exceptions. Tests assert the
 * list is empty at the end, so a broken page fails loudly rather than by a missing element.
 * @returns {string[]}
 */
export function watchPage(page) {
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  return problems;
}

/** The crate version from Cargo.toml, which the page must show. */
export async function crateVersion() {
  const toml = await readFile(path.join(ROOT, 'Cargo.toml'), 'utf8');
  const match = /^version\s*=\s*"([^"]+)"/m.exec(toml);
  if (!match) throw new Error('no version in Cargo.toml');
  return match[1];
}
