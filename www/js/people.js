// How people and contributions are shown: a name when one was claimed, else the short key, and
// the validation badge of a change with its endorse / flag / revert actions.
import { h, short, act, status } from './dom.js';
import { askText } from './dialog.js';
import { knownName, rememberName } from './local.js';

/** Picks the first defined field among `names`. */
export const pick = (o, ...names) => {
  for (const n of names) if (o && o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
};

/**
 * A name for a key: the name claimed in this commons, else one this device saw it claim in
 * another commons (a fork's credits name the parent's authors, whose name claims stay in the
 * parent), else the short key.
 */
export function who(c, key, claimed) {
  if (claimed) {
    rememberName(key, claimed);
    return claimed;
  }
  const participants = c.read('participants', []);
  const list = Array.isArray(participants) ? participants : Object.entries(participants).map(([k, v]) => ({ key: k, ...v }));
  const p = list.find((x) => pick(x, 'key', 'author', 'id', 'publicKey') === key);
  const name = pick(p, 'name', 'displayName');
  if (name) {
    rememberName(key, name);
    return name;
  }
  return knownName(key) ?? short(key);
}

/** `who` as an element whose tooltip holds the full key. */
export function whoEl(c, key, claimed) {
  return h('span', { class: 'who', title: key ? `key ${key}` : null }, who(c, key, claimed));
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
      onclick: async (e) => {
        const opener = e.currentTarget;
        const reason = await askText({
          heading: 'Flag this contribution',
          label: 'Why flag it?',
          hint: `${label}. Your reason is shown to everyone.`,
          confirm: 'Flag',
          opener,
        });
        if (reason === null) return;
        act(opener.isConnected ? opener : null, 'Could not flag this contribution', async () => {
          await c.call('flag', changeId, reason || 'flagged');
          status('Flagged.');
        });
      },
    }, 'Flag'));
  }
  if (c.has('revert')) wrap.append(button('Revert', 'revert'));
  return wrap;
}
