// Small DOM helpers shared by every screen: element building, status and error messages.

/**
 * Builds an element: h('button', {type: 'button', onclick}, 'Label', child...).
 * Attributes starting with `on` become listeners; `dataset`/`style` objects are merged.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    // Through the CSSOM, not a style attribute: the relay's CSP has no 'unsafe-inline' styles.
    else if (key === 'style' && typeof value === 'string') el.style.cssText = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const byId = (id) => document.getElementById(id);

/** A labelled form field: returns {wrap, input}. */
let fieldSeq = 0;
export function field(label, input, hint) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const hintEl = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
}

/** Shows a short status line (announced politely to screen readers). */
export function status(text) {
  byId('status').textContent = text;
}

/** Turns any thrown value into plain words a person can act on. */
export function plainError(error) {
  const message = String(error?.message ?? error ?? 'unknown error');
  if (/quota/i.test(message)) return `This browser has no storage space left for peer-commons (${message}). Free some space or remove old commons, then try again.`;
  if (/WebAssembly|wasm/i.test(message) && /compile|instantiate|fetch/i.test(message)) return `The peer-commons program could not be loaded (${message}). Reload the page; if it persists, the site may be incomplete.`;
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/**
 * Whether the module stopped after an internal error (a panic): it then refuses every call with
 * a message asking for a reload, and the first failing call surfaces as a WebAssembly trap.
 */
export function isCrash(error) {
  return (typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError)
    || /stopped after an internal error/.test(String(error?.message ?? ''));
}

/** Shows an error in plain words until dismissed or replaced; a crash offers a reload. */
export function showError(error, context) {
  const box = byId('error');
  const crash = isCrash(error);
  const text = crash
    ? 'peer-commons stopped after an internal error (a bug). What was already saved is safe: reload the page to continue.'
    : context ? `${context}: ${plainError(error)}` : plainError(error);
  const button = crash
    ? h('button', { type: 'button', onclick: () => location.reload() }, 'Reload')
    : h('button', { type: 'button', onclick: () => { box.hidden = true; } }, 'Dismiss');
  fill(box, h('p', {}, text), button);
  box.hidden = false;
  console.warn(context ?? 'error', error);
}

/** A crash inside the module can surface outside any action (a timer, a message): offer the reload. */
export function watchForCrash() {
  const seen = (error) => { if (isCrash(error)) showError(error); };
  window.addEventListener('error', (event) => seen(event.error));
  window.addEventListener('unhandledrejection', (event) => seen(event.reason));
}

export function clearError() {
  byId('error').hidden = true;
}

/** Runs an async action from a button, disabling it meanwhile and reporting failures. */
export async function act(button, context, fn) {
  if (button) button.disabled = true;
  try {
    clearError();
    return await fn();
  } catch (error) {
    showError(error, context);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Short form of a 64-hex key or id. */
export const short = (hex) => (typeof hex === 'string' && hex.length > 12 ? `${hex.slice(0, 8)}…` : String(hex ?? ''));

/** A claimed time (ms since epoch, or seconds) as local text. */
export function when(t) {
  if (t === undefined || t === null) return '';
  let n = Number(t);
  if (!Number.isFinite(n)) return String(t);
  if (n <= 0) return ''; // no claimed time (e.g. history carried into a fork)
  if (n < 1e11) n *= 1000;
  return new Date(n).toLocaleString();
}

/** Offers bytes or text to the person as a downloaded file. */
export function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
