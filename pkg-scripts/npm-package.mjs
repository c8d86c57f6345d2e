// pkg-scripts/npm-package.mjs [DIR]: turns wasm-bindgen's output in DIR (default pkg/) into the
// npm package `peer-commons`: writes DIR/package.json from Cargo.toml's metadata, and copies the
// package README (pkg-readme.md) and the LICENSE beside it. Run by pkg-scripts/build after
// wasm-bindgen; runs alone too (it only needs `cargo metadata`, not a Rust build).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(ROOT, process.argv[2] ?? 'pkg');

const GLUE = 'peer_commons.js';
const TYPES = 'peer_commons.d.ts';
const WASM = 'peer_commons_bg.wasm';
const WASM_TYPES = 'peer_commons_bg.wasm.d.ts';

const meta = JSON.parse(
  execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: ROOT, encoding: 'utf8' }),
).packages.find((p) => p.name === 'peer-commons');
if (!meta) throw new Error('cargo metadata: no package peer-commons');

for (const f of [GLUE, TYPES, WASM, WASM_TYPES]) {
  if (!existsSync(path.join(dir, f))) throw new Error(`${dir}/${f} was not generated`);
}
copyFileSync(path.join(ROOT, 'pkg-readme.md'), path.join(dir, 'README.md'));
copyFileSync(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'));

// JS snippets (inline_js or module imports in the crate) would be evaluated for their effects
// and must ship; today the crate has none.
const snippets = existsSync(path.join(dir, 'snippets'));

const pkg = {
  name: 'peer-commons',
  version: meta.version,
  description: meta.description,
  license: meta.license,
  keywords: ['p2p', 'webrtc', 'crdt', 'yrs', 'commons', 'collaborative-editing', 'wasm'],
  type: 'module',
  main: GLUE,
  module: GLUE,
  types: TYPES,
  exports: {
    '.': { types: `./${TYPES}`, import: `./${GLUE}`, default: `./${GLUE}` },
    // So bundlers can resolve the module for a URL of their own (`peer-commons/peer_commons_bg.wasm?url`).
    [`./${WASM}`]: { types: `./${WASM_TYPES}`, default: `./${WASM}` },
    './package.json': './package.json',
  },
  files: [GLUE, TYPES, WASM, WASM_TYPES, 'README.md', 'LICENSE', ...(snippets ? ['snippets/'] : [])],
  // The glue's top level only defines classes, functions and caches of its own (checked by
  // tests/e2e/package.test.mjs): loading it changes nothing outside, so unused imports may go.
  // The wasm runs only when the page calls init().
  sideEffects: snippets ? ['./snippets/*'] : false,
};
writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`npm-package: ${path.relative(ROOT, dir) || '.'}/package.json for peer-commons@${pkg.version} (${pkg.license})`);
