// The app's service worker: keeps the app shell and the wasm module in a versioned cache, so the
// app opens and works (reads, writes to IndexedDB, syncs between tabs) with no network at all.
//
// It is served from the app's own folder, so its scope is that folder: the app works the same
// from any sub-path of any static server. pkg-scripts/build writes the two constants below into
// dist/sw.js: VERSION (a hash of every file of the site, so any change makes a new worker) and
// FILES (every file to keep). In www/ as written (never built) the worker stays out of the way.
const VERSION = 'dev';
const FILES = [];

const PREFIX = 'peer-commons-';
const CACHE = `${PREFIX}${VERSION}`;
const scoped = (file) => new URL(file, self.registration.scope).href;

self.addEventListener('install', (event) => {
  // A failed download fails the install: a half-filled cache never serves the app.
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(FILES.map((file) => new Request(scoped(file), { cache: 'reload' })))),
  );
  // No skipWaiting here: a page running the old version keeps it until the person chooses to
  // reload (the page shows "a new version is ready" and posts 'skip-waiting').
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
      }
      // The first visit's page is controlled at once, so it works offline without a reload.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (VERSION === 'dev' || request.method !== 'GET') return;
  if (!request.url.startsWith(self.registration.scope)) return; // other origins, other apps
  event.respondWith(respond(request));
});

/** Cache first for the app's files; network first for config.json, which operators edit. */
async function respond(request) {
  const cache = await caches.open(CACHE);
  const url = new URL(request.url);
  if (url.pathname.endsWith('/config.json')) return networkFirst(cache, request);
  // The address carries ?relay=… and #<commons id>: the file is the same whatever the query.
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  try {
    return await fetch(request);
  } catch (error) {
    // Offline and not a file of the app: a navigation still gets the app, which shows the
    // commons from IndexedDB.
    if (request.mode === 'navigate') {
      const shell = await cache.match(scoped('./'));
      if (shell) return shell;
    }
    throw error;
  }
}

async function networkFirst(cache, request) {
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw error;
  }
}
