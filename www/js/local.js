// What this device remembers for the app itself: the display name and the commons joined here.
// (The replicas live in IndexedDB, kept by the runtime; this is only the app's list of them.)
const NAME = 'peer-commons.name';
const JOINED = 'peer-commons.joined';
const NAMES = 'peer-commons.names';
const MAX_NAMES = 500;

export const displayName = () => localStorage.getItem(NAME) ?? '';
export const setDisplayName = (name) => localStorage.setItem(NAME, name.trim());

export function joined() {
  try {
    const list = JSON.parse(localStorage.getItem(JOINED) ?? '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** Remembers (or refreshes) a commons in this device's list, most recent first. */
export function remember(id, title) {
  const rest = joined().filter((c) => c.id !== id);
  rest.unshift({ id, title: title || 'Untitled commons', opened: Date.now() });
  localStorage.setItem(JOINED, JSON.stringify(rest.slice(0, 100)));
}

export function forget(id) {
  localStorage.setItem(JOINED, JSON.stringify(joined().filter((c) => c.id !== id)));
}

/** A commons id is the 64-hex hash of its genesis change. */
export const isCommonsId = (s) => /^[0-9a-f]{64}$/.test(s);

/** The commons id in a pasted link or id, or undefined. */
export function idFromLink(text) {
  const s = String(text ?? '').trim();
  if (isCommonsId(s.toLowerCase())) return s.toLowerCase();
  const hash = s.includes('#') ? s.slice(s.indexOf('#') + 1) : '';
  const id = hash.split(/[/?&]/)[0].toLowerCase();
  return isCommonsId(id) ? id : undefined;
}

// Names seen claimed for keys in any commons opened here, so a fork (whose name claims stay in
// the parent) can still name the people it credits. Kept in memory, written when one changes.
let names;
function nameBook() {
  if (!names) {
    try {
      names = new Map(Object.entries(JSON.parse(localStorage.getItem(NAMES) ?? '{}')));
    } catch {
      names = new Map();
    }
  }
  return names;
}

/** The name last seen claimed for `key` in any commons on this device, if any. */
export const knownName = (key) => nameBook().get(key);

/** Remembers a claimed name for a key (most recent last; the oldest go beyond the bound). */
export function rememberName(key, name) {
  if (typeof key !== 'string' || !name) return;
  const book = nameBook();
  if (book.get(key) === name) return;
  book.delete(key);
  book.set(key, name);
  while (book.size > MAX_NAMES) book.delete(book.keys().next().value);
  try {
    localStorage.setItem(NAMES, JSON.stringify(Object.fromEntries(book)));
  } catch {
    // A full localStorage only costs names in forks.
  }
}
