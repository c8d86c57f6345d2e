// How people and contributions are shown: a name when one was claimed, else the short key, and
// the validation badge of a change with its endorse / flag / revert actions.
import { h, short, act, status } from './dom.js';

/** Picks the first defined field among `names`. */
export const pick = (o, ...names) => {
  for (const n of names) if (o && o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
};

/** A name for a key: the name claimed in the commons, else the short key. */
export function who(c, key, claimed) {
  if (claimed) return claimed;
  const participants = c.read('participants', []);
  const list = Array.isArray(participants) ? participants : Object.entries(participants).map(([k, v]) => ({ key: k, ...v }));
  const p = list.find((x) => pick(x, 'key', 'author', 'id', 'publicKey') === key);
  return pick(p, 'name', 'displayName') ?? short(key);
}

/** The validation state of a change as a word: unvalidated, endorsed, flagged, reverted. */
export function validationOf(c, changeId) {
  const v = c.read('validation', null, changeId);
  if (v == null) return null;
  if (typeof v === 'string') return { state: v };
  return { ...v, state: pick(v, 'state', 'status') ?? 'unknown' };
}

const badgeText = (v) => {
  const parts = [v.state];
  const endorsers = pick(v, 'endorsements', 'endorsedBy');
  if (Array.isArray(endorsers) && endorsers.length) parts.push(`${endorsers.length} endorsement${endorsers.length > 1 ? 's' : ''}`);
  const flags = pick(v, 'flaggedBy', 'flags');
  if (Array.isArray(flags) && flags.length) parts.push(`${flags.length} flag${flags.length > 1 ? 's' : ''}`);
  return parts.join(', ');
};

/** Badge + actions for one contribution. */
export function validationControls(c, changeId, label, { mine = false } = {}) {
  const v = validationOf(c, changeId);
  const wrap = h('span', { class: 'validation' });
  if (v) wrap.append(h('span', { class: `badge badge-${String(v.state).toLowerCase()}`, 'data-state': v.state }, badgeText(v)));
  const button = (text, method, ...args) => h('button', {
    type: 'button', class: 'small', 'aria-label': `${text} ${label}`,
    onclick: (e) => act(e.currentTarget, `Could not ${text.toLowerCase()} this contribution`, async () => {
      await c.call(method, changeId, ...args);
      status(`${text}: done.`);
    }),
  }, text);
  // Endorsements are how others validate a contribution: none on your own.
  if (c.has('endorse') && !mine) wrap.append(button('Endorse', 'endorse'));
  if (c.has('flag')) {
    wrap.append(h('button', {
      type: 'button', class: 'small', 'aria-label': `Flag ${label}`,
      onclick: (e) => {
        const reason = prompt('Why flag this contribution? (shown to everyone)');
        if (reason === null) return;
        act(e.currentTarget, 'Could not flag this contribution', async () => {
          await c.call('flag', changeId, reason || 'flagged');
          status('Flagged.');
        });
      },
    }, 'Flag'));
  }
  if (c.has('revert')) wrap.append(button('Revert', 'revert'));
  return wrap;
}
