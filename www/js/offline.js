// Offline start: registers the service worker (www/sw.js) that keeps the app in a versioned
// cache, and tells the person when a new version is ready: it takes over only when they choose
// to reload, so a page never changes version under someone's fingers.
import { h, byId } from './dom.js';

/**
 * Registers ./sw.js (scope: the app's folder, so any sub-path works). Resolves once registered;
 * never throws: without a service worker the app still works online.
 */
export async function registerOffline() {
  if (!('serviceWorker' in navigator)) return null;
  let registration;
  try {
    registration = await navigator.serviceWorker.register('./sw.js');
  } catch (error) {
    console.warn('the service worker could not be registered: the app will not open offline', error);
    return null;
  }
  let chosen = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (chosen) location.reload();
  });
  const offer = (worker) => {
    // The first install controls the page at once (clients.claim): nothing to offer then.
    if (!navigator.serviceWorker.controller) return;
    showUpdate(() => {
      chosen = true;
      worker.postMessage('skip-waiting');
    });
  };
  if (registration.waiting) offer(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const worker = registration.installing;
    worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed') offer(worker);
    });
  });
  return registration;
}

function showUpdate(reload) {
  const bar = byId('update');
  bar.replaceChildren(
    h('span', {}, 'A new version of peer-commons is ready. '),
    h('button', { type: 'button', onclick: reload }, 'Reload to update'),
  );
  bar.hidden = false;
}
