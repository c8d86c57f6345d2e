// Network: peers and their connection states, relays, sync progress, the state hash to compare
// with others, and whether this copy is online.
import { h, fill, short } from './dom.js';
import { pick } from './people.js';

export function mountNetwork(view, ctx) {
  const { c } = ctx;
  const box = h('div', { class: 'network' });
  fill(view, box);
  let timer;
  function render() {
    const peers = c.read('peers', []);
    const relays = c.read('relays', ctx.config.relays.map((url) => ({ url, state: 'configured' })));
    const progress = c.read('syncProgress', null);
    const online = c.read('online', undefined);
    const hash = c.read('stateHash', '—');
    const frac = progressOf(progress);
    fill(box,
      h('section', { 'aria-labelledby': 'sync-heading' },
        h('h2', { id: 'sync-heading' }, 'This copy'),
        h('p', {}, online === false && !peers.some((p) => p.state === 'connected') ? 'Offline: changes are kept in this browser and sync when you reconnect.' : 'Online.'),
        h('p', {}, 'State hash (compare with others: the same hash means the same commons): ', h('code', { id: 'state-hash', class: 'key' }, hash)),
        h('div', { class: 'field' }, h('label', { for: 'sync-progress' }, 'Sync progress'),
          h('progress', { id: 'sync-progress', max: 1, value: Number.isFinite(frac) ? frac : 0 }, `${Math.round((frac || 0) * 100)}%`))),
      h('section', { 'aria-labelledby': 'peers-heading' },
        h('h2', { id: 'peers-heading' }, `Peers (${peers.length})`),
        peers.length ? h('table', { id: 'peers' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Through'), h('th', { scope: 'col' }, 'Connection'))),
          h('tbody', {}, peers.map((p) => {
            const key = pick(p, 'id', 'key', 'author');
            return h('tr', {}, h('td', {}, pick(p, 'name') ?? `peer ${short(key)}`), h('td', {}, pick(p, 'via') === 'tab' ? 'another tab of this browser' : 'WebRTC'), h('td', {}, String(pick(p, 'state', 'connectionState') ?? '')));
          }))) : h('p', {}, 'No one else is connected right now.')),
      h('section', { 'aria-labelledby': 'relays-heading' },
        h('h2', { id: 'relays-heading' }, 'Relays'),
        h('p', {}, `Chosen by ${ctx.config.source}. Relays only introduce peers: they never see your commons.`),
        h('ul', { id: 'relays' }, (Array.isArray(relays) ? relays : []).map((r) => typeof r === 'string' ? h('li', {}, r)
          : h('li', {}, `${pick(r, 'url')} — ${r.connected === undefined ? pick(r, 'state', 'status') ?? '' : r.connected ? 'connected' : 'not connected (retrying)'}`)))),
      progress && typeof progress === 'object' ? h('section', { 'aria-labelledby': 'counts-heading' },
        h('h2', { id: 'counts-heading' }, 'Counters'),
        h('dl', { class: 'charter', id: 'sync-counters' }, Object.entries(progress).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))) : null);
  }
  render();
  timer = setInterval(render, 2000); // connection states change without commons changes
  return { refresh: render, unmount: () => clearInterval(timer) };
}

/** Sync progress as a fraction: changes applied over those known (applied + waiting + saving). */
function progressOf(p) {
  if (p == null) return 1;
  if (typeof p === 'number') return p;
  const done = Number(p.changes ?? 0);
  const known = done + Number(p.waiting ?? 0) + Number(p.saving ?? 0);
  return known ? done / known : 1;
}
