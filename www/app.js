// The web app's entry point: loads the wasm module and this browser's identity, then shows the
// start screen or, when the address holds `#<commons id>`, that commons. Any failure during
// start-up is shown in plain words: never a blank page.
import { loadPkg, wrap } from './js/api.js';
import { loadConfig } from './js/config.js';
import { h, fill, byId, status, showError, clearError, plainError, watchForCrash } from './js/dom.js';
import { displayName, remember, idFromLink, joined } from './js/local.js';
import { renderStart } from './js/start.js';
import { mountProduce } from './js/produce.js';
import { mountGovern } from './js/govern.js';
import { mountProperty } from './js/property.js';
import { mountNetwork } from './js/network.js';
import { mountSettings } from './js/settings.js';
import { charterOf } from './js/charter.js';
import { registerOffline } from './js/offline.js';

const SCREENS = { produce: mountProduce, govern: mountGovern, property: mountProperty, network: mountNetwork, settings: mountSettings };
const app = { pkg: null, identity: null, config: null, commons: null, tab: 'produce', screen: null, unsubscribe: null };
const view = byId('view');

async function start() {
  watchForCrash();
  registerOffline(); // in parallel: the app works online whatever the worker does
  app.pkg = await loadPkg();
  byId('version').textContent = app.pkg.version();
  app.identity = await app.pkg.Identity.loadOrCreate();
  byId('public-key').textContent = app.identity.publicKey;
  app.config = await loadConfig();
  for (const button of byId('tabs').querySelectorAll('button')) {
    button.addEventListener('click', () => showTab(button.dataset.tab));
  }
  window.addEventListener('hashchange', () => route().catch(failed));
  window.addEventListener('online', updateHeader);
  window.addEventListener('offline', updateHeader);
  setInterval(updateHeader, 2000); // relay and peer states change without commons changes
  await route();
}

/** Shows what the address asks for. */
async function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (!hash) return await showStart();
  const id = idFromLink(`#${hash}`);
  if (!id) {
    await showStart();
    showError(`the link does not hold a commons id ("${hash.slice(0, 80)}"). A link to a commons ends with # and 64 letters and digits: ask whoever sent it for the full link`, 'This link does not work');
    return;
  }
  if (app.commons && app.commons.id === id) return;
  await openCommons(id);
}

function options() {
  return { relays: app.config.relays, iceServers: app.config.iceServers, name: displayName() || undefined };
}

async function closeCommons() {
  app.screen?.unmount?.();
  app.screen = null;
  app.unsubscribe?.();
  app.unsubscribe = null;
  const old = app.commons;
  app.commons = null;
  if (old) {
    try {
      await old.call('close');
    } catch (error) {
      console.warn('close failed', error);
    }
  }
}

async function joinedHere() {
  const local = joined();
  try {
    if (typeof app.pkg.Commons?.joined !== 'function') return local;
    const stored = await app.pkg.Commons.joined();
    const byId = new Map(local.map((c) => [c.id, c]));
    for (const c of stored) if (!byId.has(c.id)) byId.set(c.id, { id: c.id, title: c.title || 'Untitled commons', opened: c.joinedAt });
    return [...byId.values()];
  } catch (error) {
    console.warn('joined() failed', error);
    return local;
  }
}

async function showStart() {
  closeCommons();
  byId('tabs').hidden = true;
  byId('online').hidden = true;
  byId('commons-title').textContent = '';
  byId('footer-licence').textContent = '—';
  document.title = 'peer-commons';
  renderStart(view, {
    pkg: app.pkg,
    identity: app.identity,
    joined: await joinedHere(),
    onCreate: createCommons,
    onJoin: (id) => { location.hash = id; },
    onImport: async (bytes) => {
      status('Checking the archive…');
      const raw = await app.pkg.Commons.importArchive(bytes, options());
      await adopt(raw);
      history.replaceState(null, '', `#${app.commons.id}`);
      status('Archive imported.');
    },
    onBadLink: (text) => showError(`"${String(text).slice(0, 80)}" is not a link to a commons. A link ends with # and 64 letters and digits`, 'This link does not work'),
    onIdentity: (identity) => {
      app.identity = identity;
      byId('public-key').textContent = identity.publicKey;
      showStart().catch(failed);
    },
  });
  ready('Ready.');
}

async function createCommons({ title, purpose, licence }) {
  status('Creating the commons…');
  const raw = await app.pkg.Commons.create({ title, purpose, licence, ...options() });
  await adopt(raw);
  history.replaceState(null, '', `#${app.commons.id}`);
  status(`Created. Share this page's link to invite others.`);
}

async function openCommons(id) {
  await closeCommons();
  fill(view, h('p', { class: 'loading' }, 'Opening the commons…'));
  status('Opening the commons…');
  byId('tabs').hidden = true;
  try {
    const raw = await app.pkg.Commons.open(id, options());
    await adopt(raw);
    // Damaged stored records were skipped: say so, in the words the module chose.
    if (raw.storageNotice) showError(raw.storageNotice, 'Some stored data could not be read');
  } catch (error) {
    await showStart();
    showError(error, 'This commons could not be opened');
  }
}

/** Makes a freshly created or opened commons the current one. */
async function adopt(raw) {
  await closeCommons();
  app.commons = wrap(raw);
  clearError();
  const c = app.commons;
  if (c.has('onChange')) {
    let queued = false;
    let onlyPresence = true;
    const handler = (event) => {
      // Cursor moves only redraw the cursors: a full refresh per keystroke of others is waste.
      if (event?.type !== 'presence') onlyPresence = false;
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        const presenceOnly = onlyPresence;
        onlyPresence = true;
        if (app.commons !== c) return;
        if (presenceOnly && app.screen?.presence) return app.screen.presence();
        updateHeader();
        app.screen?.refresh?.();
      });
    };
    const off = c.raw.onChange(handler);
    // Leaving the page: others stop showing our cursor now rather than after its 30 s expiry.
    const hide = () => { if (app.commons === c && c.has('setPresence')) c.read('setPresence', undefined, null); };
    window.addEventListener('pagehide', hide);
    app.unsubscribe = () => { if (typeof off === 'function') off(); window.removeEventListener('pagehide', hide); };
  }
  byId('tabs').hidden = false;
  byId('online').hidden = false;
  updateHeader();
  remember(c.id, charterOf(c).title);
  showTab(app.tab);
  ready('Ready.');
}

function updateHeader() {
  const c = app.commons;
  if (!c) return;
  const charter = charterOf(c);
  byId('commons-title').textContent = charter.title ?? '';
  document.title = charter.title ? `${charter.title} · peer-commons` : 'peer-commons';
  byId('footer-licence').textContent = charter.licence ?? '—';
  const online = byId('online');
  const offline = isOffline(c);
  online.textContent = offline ? 'Offline: your work is kept here and syncs when you reconnect' : 'Online';
  online.dataset.offline = String(offline);
}

/**
 * Offline when neither a relay nor a peer is connected. (navigator.onLine only says whether the
 * device has a network, which a loopback-only or local-network setup can contradict.)
 */
export function isOffline(c) {
  const relayUp = c.read('online', undefined);
  const peers = c.read('peers', []);
  const peerUp = Array.isArray(peers) && peers.some((p) => p.state === 'connected');
  return relayUp === undefined ? !navigator.onLine && !peerUp : !(relayUp || peerUp);
}

function showTab(tab) {
  if (!app.commons) return;
  app.screen?.unmount?.();
  app.tab = tab in SCREENS ? tab : 'produce';
  for (const button of byId('tabs').querySelectorAll('button')) {
    button.setAttribute('aria-current', button.dataset.tab === app.tab ? 'page' : 'false');
  }
  fill(view);
  app.screen = SCREENS[app.tab](view, {
    pkg: app.pkg,
    c: app.commons,
    identity: app.identity,
    config: app.config,
    showTab,
    adopt: async (raw) => { await adopt(raw); history.replaceState(null, '', `#${app.commons.id}`); },
    setConfig: (config) => { app.config = config; },
  });
}

function ready(text) {
  status(text);
  document.body.dataset.state = 'ready';
}

function failed(error) {
  console.error(error);
  document.body.dataset.state = 'error';
  status(`peer-commons could not start: ${plainError(error)}`);
  showError(error, 'peer-commons could not start');
}

start().catch(failed);
