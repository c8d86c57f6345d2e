// Where the app finds relays and ICE servers, in order of precedence:
//   1. `?relay=wss://…` in the page's URL (repeatable, or comma-separated; `?relay=none` for none)
//   2. the settings saved in this browser (Settings screen)
//   3. config.json beside index.html: {"relays": [...], "iceServers": [...]}
//   4. the relay that served the page: ws(s):// on the same host and path.
const SAVED = 'peer-commons.settings';

/** The WebSocket URL of the host that served this page. */
export function sameHostRelay(href = location.href) {
  const url = new URL('.', href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.href;
}

function relaysFromQuery() {
  const params = new URLSearchParams(location.search);
  const values = params.getAll('relay').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (!values.length) return undefined;
  return values.includes('none') ? [] : values;
}

export function savedSettings() {
  try {
    return JSON.parse(localStorage.getItem(SAVED) ?? 'null') ?? {};
  } catch {
    return {};
  }
}

export function saveSettings(settings) {
  localStorage.setItem(SAVED, JSON.stringify(settings));
}

async function fileConfig() {
  try {
    const response = await fetch(new URL('./config.json', document.baseURI), { cache: 'no-cache' });
    if (!response.ok) return {};
    return await response.json();
  } catch {
    return {};
  }
}

/** Validates a relay URL; throws in plain words. */
export function checkRelay(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a relay address: it should look like wss://relay.example.org/`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new Error(`"${url}" is not a relay address: it must start with ws:// or wss://`);
  }
  return parsed.href;
}

/** The settings in force: {relays, iceServers, source}. */
export async function loadConfig() {
  const file = await fileConfig();
  const saved = savedSettings();
  const query = relaysFromQuery();
  let relays;
  let source;
  if (query) [relays, source] = [query, 'the page address (?relay=)'];
  else if (Array.isArray(saved.relays)) [relays, source] = [saved.relays, 'your settings'];
  else if (Array.isArray(file.relays) && file.relays.length) [relays, source] = [file.relays, 'config.json'];
  else [relays, source] = [[sameHostRelay()], 'the server that served this page'];
  const iceServers = Array.isArray(saved.iceServers) ? saved.iceServers : Array.isArray(file.iceServers) ? file.iceServers : [];
  return { relays, iceServers, source };
}
