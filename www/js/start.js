// The start screen: create a commons, join one from a link, your name, the commons joined on
// this device, and identity export/import.
import { h, fill, field, act, short, download, status } from './dom.js';
import { displayName, setDisplayName, joined, forget, idFromLink } from './local.js';

/** Offered licences: from the runtime when it knows them, else the default alone. */
function licences(pkg) {
  try {
    if (pkg.Commons && typeof pkg.Commons.licences === 'function') {
      const list = pkg.Commons.licences();
      if (Array.isArray(list) && list.length) return list.map((l) => (l instanceof Map ? Object.fromEntries(l) : l)).map((l) => ({ ...l, shareAlike: l.shareAlike ?? l.share_alike }));
    }
  } catch (error) {
    console.warn('licences() failed', error);
  }
  return [{ spdx: 'CC-BY-SA-4.0', name: 'Creative Commons Attribution-ShareAlike 4.0', meaning: 'Anyone may share and adapt the work, crediting its authors, and must share adaptations under the same licence.', shareAlike: true }];
}

const licenceId = (l) => l.spdx ?? l.id;
const licenceMeaning = (l) => l.meaning ?? l.sentence ?? l.summary ?? l.description ?? '';

/**
 * Renders the start screen into `view`.
 * @param {{pkg, identity, onCreate: (opts) => Promise, onJoin: (id) => void, onIdentity: (identity) => void}} ctx
 */
export function renderStart(view, ctx) {
  const { pkg, identity } = ctx;
  const name = h('input', { type: 'text', autocomplete: 'nickname', value: displayName(), maxlength: 80 });
  name.addEventListener('input', () => setDisplayName(name.value));

  // Create
  const title = h('input', { type: 'text', required: true, maxlength: 200, placeholder: 'e.g. Neighbourhood recipes' });
  const purpose = h('textarea', { rows: 3, maxlength: 2000, placeholder: 'What is this commons for?' });
  const offered = licences(pkg);
  const licence = h('select', {}, offered.map((l) => h('option', { value: licenceId(l) }, l.name ? `${l.name} (${licenceId(l)})` : licenceId(l))));
  const meaning = h('p', { class: 'hint', id: 'licence-meaning', 'aria-live': 'polite' });
  const showMeaning = () => {
    const l = offered.find((x) => licenceId(x) === licence.value);
    meaning.textContent = l ? `${licenceMeaning(l)}${l.shareAlike ? ' (Share-alike.)' : ''}` : '';
  };
  licence.addEventListener('change', showMeaning);
  showMeaning();
  const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create the commons');
  const createForm = h('form', { id: 'create-form', 'aria-labelledby': 'create-heading' },
    h('h2', { id: 'create-heading' }, 'Start a new commons'),
    field('Title', title),
    field('Purpose', purpose),
    field('Licence', licence), meaning,
    createBtn);
  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    setDisplayName(name.value);
    if (!title.value.trim()) {
      title.focus();
      status('Give the commons a title first.');
      return;
    }
    act(createBtn, 'The commons could not be created', () => ctx.onCreate({
      title: title.value.trim(), purpose: purpose.value.trim(), licence: licence.value,
    }));
  });

  // Join
  const link = h('input', { type: 'text', inputmode: 'url', placeholder: 'Paste the link you were sent' });
  const joinBtn = h('button', { type: 'submit' }, 'Join');
  const joinForm = h('form', { id: 'join-form', 'aria-labelledby': 'join-heading' },
    h('h2', { id: 'join-heading' }, 'Join a commons'),
    field('Link or commons id', link, 'A link ends with # followed by 64 letters and digits.'),
    joinBtn);
  joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    setDisplayName(name.value);
    const id = idFromLink(link.value);
    if (!id) {
      status('');
      ctx.onBadLink(link.value);
      return;
    }
    ctx.onJoin(id);
  });

  // Joined here
  const list = ctx.joined ?? joined();
  const joinedSection = h('section', { 'aria-labelledby': 'joined-heading' },
    h('h2', { id: 'joined-heading' }, 'Your commons on this device'),
    list.length
      ? h('ul', { class: 'joined' }, list.map((c) => h('li', {},
        h('a', { href: `#${c.id}` }, c.title), ' ', h('small', {}, short(c.id)), ' ',
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${c.title} from this list`, onclick: (e) => { forget(c.id); e.target.closest('li').remove(); } }, 'remove from list'))))
      : h('p', {}, 'None yet: create one or join one with a link.'));

  // Identity
  const importInput = h('input', { type: 'file', accept: '.json,application/json' });
  importInput.addEventListener('change', () => act(null, 'The identity could not be imported', async () => {
    const file = importInput.files?.[0];
    if (!file) return;
    let parsed;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      throw new Error('this file is not an exported peer-commons identity (it is not JSON)');
    }
    if (typeof parsed?.secretKey !== 'string') throw new Error('this file is not an exported peer-commons identity (no secretKey)');
    const restored = pkg.Identity.fromSecretKey(parsed.secretKey);
    await restored.save();
    ctx.onIdentity(restored);
    status(`Identity imported: you are now ${short(restored.publicKey)}.`);
  }));
  const exportBtn = h('button', { type: 'button', onclick: () => {
    const data = { peerCommonsIdentity: 1, publicKey: identity.publicKey, secretKey: identity.exportSecretKey(), name: displayName() };
    download(`peer-commons-identity-${identity.publicKey.slice(0, 8)}.json`, JSON.stringify(data, null, 2), 'application/json');
    status('Identity exported. Keep the file private: whoever has it can sign as you.');
  } }, 'Export my identity');
  const identitySection = h('section', { 'aria-labelledby': 'identity-heading' },
    h('h2', { id: 'identity-heading' }, 'Your identity'),
    h('p', {}, 'A key pair made in this browser is who you are in every commons. Export it to use the same identity on another device.'),
    h('p', {}, 'Public key: ', h('code', { class: 'key', id: 'start-key' }, identity.publicKey)),
    h('div', { class: 'row' }, exportBtn, field('Import an identity file', importInput)));

  // Import an archive (someone sent you the file rather than a link)
  const archiveInput = h('input', { type: 'file', accept: '.peer-commons,application/octet-stream' });
  archiveInput.addEventListener('change', () => act(null, 'The archive was refused', async () => {
    const file = archiveInput.files?.[0];
    if (!file) return;
    if (typeof pkg.Commons?.importArchive !== 'function') throw new Error('this build of peer-commons cannot import archives');
    await ctx.onImport(new Uint8Array(await file.arrayBuffer()));
  }));
  const importSection = h('section', { 'aria-labelledby': 'import-heading' },
    h('h2', { id: 'import-heading' }, 'Open an archive'),
    field('Import an archive file', archiveInput, 'An archive holds a whole commons with its signatures; it is checked before anything is kept.'));

  fill(view,
    h('section', { class: 'intro' },
      h('h1', {}, 'Make a commons together'),
      h('p', {}, 'Write documents with others, right in your browser: no account, no server that holds your data. Everyone keeps a full copy, signed by its authors.')),
    field('Your display name', name, 'Shown to others next to what you write.'),
    h('div', { class: 'cards' }, createForm, joinForm),
    joinedSection,
    importSection,
    identitySection);
}
