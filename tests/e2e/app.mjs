// Helpers for the web app's end-to-end tests: accessibility checks with axe-core, screenshots
// saved as artifacts, and small steps a person takes in the app.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './harness.mjs';

/** Where screenshots go (kept after the run for people to look at). */
export const ARTIFACTS = path.join(ROOT, 'target/e2e-artifacts');
const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

/** Saves a full-page screenshot as target/e2e-artifacts/NAME.png. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Runs axe-core in the page; fails on any serious or critical violation, naming each. */
export async function assertAccessible(page, label) {
  // Evaluated through the DevTools protocol: the relay's CSP forbids inline scripts, so a
  // script tag (page.addScriptTag) would be refused like any injected script.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(await readFile(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${label}: accessibility violations:\n${JSON.stringify(bad, null, 2)}`);
}

/** Waits until the app says it is ready. */
export async function ready(page) {
  await page.locator('body[data-state="ready"]').waitFor();
}
