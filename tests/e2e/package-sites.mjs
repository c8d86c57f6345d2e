// Sites that embed the npm package, made the way another project would: `npm pack` of dist/pkg,
// then a fresh Vite project and a plain static page in a temporary directory outside the
// repository, each installing the tarball with `npm install --offline` (the tarball has no
// dependencies, so nothing is fetched: the tests run without a network); the Vite project also
// serves as the place to type-check a use of the package and to run Vite's dev server.
// Used by package.test.mjs.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DIST, ROOT } from './harness.mjs';

const run = promisify(execFile);

/** The package as pkg-scripts/build leaves it. */
export const PACKAGE_DIR = path.join(DIST, 'pkg');
/** The repository's Vite (a devDependency): the fresh project builds with it, not a download. */
const VITE = path.join(ROOT, 'node_modules/vite/bin/vite.js');

/** npm without the network, and without its notices on stderr. */
const NPM_ENV = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_loglevel: 'error',
};

async function npm(args, cwd) {
  const { stdout } = await run('npm', args, { cwd, env: NPM_ENV, maxBuffer: 16 << 20 });
  return stdout;
}

/**
 * Packs dist/pkg into `dir` like `npm publish` would.
 * @returns {Promise<{tarball: string, files: string[], name: string, version: string}>}
 */
export async function pack(dir) {
  const [info] = JSON.parse(await npm(['pack', '--json', '--pack-destination', dir], PACKAGE_DIR));
  return {
    tarball: path.join(dir, info.filename),
    files: info.files.map((f) => f.path).sort(),
    name: info.name,
    version: info.version,
  };
}

/** A project directory depending on the tarball, installed offline. */
async function project(dir, tarball, extra = {}) {
  await mkdir(dir, { recursive: true });
  const manifest = {
    name: path.basename(dir),
    private: true,
    type: 'module',
    dependencies: { 'peer-commons': `file:${path.relative(dir, tarball)}` },
    ...extra,
  };
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await npm(['install', '--offline', '--no-package-lock'], dir);
}

/** The page body both sites share: `window.site` once ready, `body[data-state]` says so. */
const PAGE_SCRIPT = (imports) => `${imports}
// ?wasm-url: pass the .wasm's URL to init() instead of letting the glue find it (import.meta.url).
const explicit = new URLSearchParams(location.search).has('wasm-url');
init(explicit ? { module_or_path: wasmUrl } : undefined).then(
  () => {
    window.site = { Commons, version, relay: \`ws://\${location.host}/signal\` };
    document.body.dataset.state = 'ready';
  },
  (error) => {
    console.error(error);
    document.body.dataset.state = 'failed';
  },
);
`;

const PAGE_HTML = (script) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>A site embedding peer-commons</title>
  <link rel="icon" href="data:,">
  <script type="module" src="${script}"></script>
</head>
<body><main><h1>Embedding peer-commons</h1></main></body>
</html>
`;

/**
 * A fresh Vite project importing `peer-commons` by name (the .wasm URL through the package's
 * exports map), built with `base: './'` into `out` so it works below any path.
 */
export async function viteSite(dir, tarball, out) {
  await project(dir, tarball, { scripts: { build: 'vite build' } });
  await writeFile(path.join(dir, 'index.html'), PAGE_HTML('./main.js'));
  await writeFile(
    path.join(dir, 'main.js'),
    PAGE_SCRIPT(
      "import init, { Commons, version } from 'peer-commons';\n" +
        "import wasmUrl from 'peer-commons/peer_commons_bg.wasm?url';",
    ),
  );
  // No import of 'vite' here: the project has no node_modules/vite of its own.
  await writeFile(
    path.join(dir, 'vite.config.js'),
    `export default ${JSON.stringify({ base: './', logLevel: 'warn', build: { outDir: out, emptyOutDir: true } })};\n`,
  );
  await run(process.execPath, [VITE, 'build'], { cwd: dir, env: NPM_ENV, maxBuffer: 16 << 20 });
  return (await readdir(path.join(out, 'assets'))).sort();
}

/** A plain static page: a module script importing the installed package's files by path. */
export async function plainSite(dir, tarball) {
  await project(dir, tarball);
  await writeFile(path.join(dir, 'index.html'), PAGE_HTML('./main.js'));
  const glue = './node_modules/peer-commons/peer_commons.js';
  await writeFile(
    path.join(dir, 'main.js'),
    PAGE_SCRIPT(
      `import init, { Commons, version } from '${glue}';\n` +
        `const wasmUrl = new URL('./node_modules/peer-commons/peer_commons_bg.wasm', import.meta.url);`,
    ),
  );
  return path.join(dir, 'node_modules/peer-commons');
}

/** The repository's TypeScript (a devDependency). */
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

/**
 * TypeScript using the package, for the type check. The `@ts-expect-error` lines make the check
 * fail if the types did not load (everything `any`), not only if they are wrong.
 */
const TYPED_USE = `import init, { Commons, type CommonsEvent, type OpenOptions } from 'peer-commons';
import wasmUrl from 'peer-commons/peer_commons_bg.wasm?url';

await init({ module_or_path: wasmUrl });
const options: OpenOptions = { relays: ['wss://relay.example.org/'], name: 'Ada' };
const commons: Commons = await Commons.create({ ...options, title: 'Typed' });
const off: () => void = commons.onChange((event: CommonsEvent) => {
  if (event.type === 'change') console.log(event.documents.join());
});
const doc: string = await commons.createDocument('Notes', 'hello');
await commons.editDocument(doc, 5, 0, ' world');
const text: string = commons.documentText(doc);
// The options of open, joined, importArchive and fork may be left out, as in JavaScript.
const again: Commons = await Commons.open(commons.id);
const joined: { id: string; title: string }[] = await Commons.joined();
console.log(again.id, joined.length);
// @ts-expect-error: create needs a title
await Commons.create({ relays: [] });
// @ts-expect-error: documentText returns a string
const wrong: number = commons.documentText(doc);
console.log(text, wrong);
off();
await commons.close();
`;

/**
 * Type-checks TYPED_USE in the Vite project with the package's types, resolved through its
 * exports map the way bundlers (`bundler`) or Node (`node16`) resolve it.
 * @returns {Promise<{ok: boolean, output: string}>}
 */
export async function typecheck(dir, resolution) {
  await writeFile(path.join(dir, 'typed.ts'), TYPED_USE);
  await writeFile(path.join(dir, 'url.d.ts'), "declare module '*?url' {\n  const url: string;\n  export default url;\n}\n");
  const args = [
    TSC, '--noEmit', '--strict', '--target', 'es2022',
    '--module', resolution === 'bundler' ? 'esnext' : resolution,
    '--moduleResolution', resolution,
    // wasm-bindgen's classes declare [Symbol.dispose] (TypeScript 5.2+, lib esnext.disposable).
    '--lib', 'es2022,dom,esnext.disposable',
    'typed.ts', 'url.d.ts',
  ];
  try {
    await run(process.execPath, args, { cwd: dir, env: NPM_ENV });
    return { ok: true, output: '' };
  } catch (error) {
    return { ok: false, output: `${error.stdout}${error.stderr}` };
  }
}

/** A free TCP port on 127.0.0.1 (Vite's dev server wants a number, not 0). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Guard against a dev server that never answers (not a speed check). */
const DEV_START_GUARD_MS = 60_000;

/**
 * Vite's dev server on the Vite project made by `viteSite` (what a developer runs first: it
 * serves dependencies pre-bundled, which moves the glue away from the .wasm).
 * @returns {Promise<{url: string, stop: () => void}>}
 */
export async function viteDevServer(dir) {
  const port = await freePort();
  const child = spawn(process.execPath, [VITE, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: dir,
    env: NPM_ENV,
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}/`;
  const stop = () => child.kill('SIGTERM');
  const start = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite dev server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() - start > DEV_START_GUARD_MS) {
      stop();
      throw new Error('vite dev server did not answer');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A temporary directory outside the repository. */
export const scratch = () => mkdtemp(path.join(tmpdir(), 'peer-commons-package-'));
