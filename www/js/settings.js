// Settings: relays and ICE servers for this browser (the page address's ?relay= and config.json
// are the other sources), and the display name.
import { h, fill, field, status, act } from './dom.js';
import { saveSettings, savedSettings, checkRelay, loadConfig, sameHostRelay } from './config.js';
import { displayName, setDisplayName } from './local.js';

export function mountSettings(view, ctx) {
  const saved = savedSettings();
  const relays = h('textarea', { rows: 3, spellcheck: 'false' });
  relays.value = (saved.relays ?? ctx.config.relays).join('\n');
  const ice = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'stun:stun.example.org:3478' });
  ice.value = (saved.iceServers ?? ctx.config.iceServers).map((s) => (typeof s === 'string' ? s : [].concat(s.urls).join(' '))).join('\n');
  const name = h('input', { type: 'text', value: displayName(), maxlength: 80 });
  const saveBtn = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const resetBtn = h('button', { type: 'button' }, 'Use the defaults');
  const form = h('form', { id: 'settings-form' },
    h('h2', {}, 'Settings'),
    field('Your display name', name),
    field('Relays (one per line)', relays, `Default: ${sameHostRelay()} (the server of this page), or config.json, or ?relay= in the address.`),
    field('ICE servers (one per line)', ice, 'STUN/TURN servers for connections across networks. Empty is fine on one network.'),
    h('div', { class: 'row' }, saveBtn, resetBtn),
    h('p', { class: 'hint' }, 'Relay and ICE changes apply the next time a commons is opened.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(saveBtn, 'The settings could not be saved', async () => {
      setDisplayName(name.value);
      const list = relays.value.split(/\s+/).filter(Boolean).map(checkRelay);
      const iceServers = ice.value.split(/\s+/).filter(Boolean).map((urls) => ({ urls }));
      saveSettings({ relays: list, iceServers });
      ctx.setConfig(await loadConfig());
      status('Settings saved.');
    });
  });
  resetBtn.addEventListener('click', () => act(resetBtn, 'The settings could not be reset', async () => {
    saveSettings({});
    ctx.setConfig(await loadConfig());
    mountSettings(view, ctx);
    status('Back to the default settings.');
  }));
  fill(view, form);
  return {};
}
