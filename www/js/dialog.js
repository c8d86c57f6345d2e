// A small in-page dialog that asks for one line of text (in place of window.prompt): a labelled
// input, a confirm and a Cancel button; Escape or Cancel gives null. Focus goes into the input,
// and back to the control that opened it (or its replacement, if the page redrew meanwhile).
import { h, field } from './dom.js';

let seq = 0;

/** Asks for text; resolves with the trimmed text, or null when cancelled. */
export function askText({ heading, label, hint, confirm = 'OK', value = '', opener }) {
  return new Promise((resolve) => {
    const n = ++seq;
    const input = h('input', { type: 'text', maxlength: 1000, value, id: `ask-${n}-input`, autocomplete: 'off' });
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h('form', {},
      h('h2', { id: `ask-${n}-heading` }, heading),
      field(label, input, hint),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, confirm), cancel));
    const dialog = h('dialog', { class: 'ask', 'aria-labelledby': `ask-${n}-heading` }, form);
    const openerLabel = opener?.getAttribute?.('aria-label');
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      const back = opener?.isConnected ? opener
        : openerLabel ? [...document.querySelectorAll('button[aria-label]')].find((b) => b.getAttribute('aria-label') === openerLabel) : null;
      back?.focus();
      resolve(result);
    };
    form.addEventListener('submit', (e) => { e.preventDefault(); finish(input.value.trim()); });
    cancel.addEventListener('click', () => finish(null));
    // Escape: the browser's cancel event for modal dialogs.
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); finish(null); });
    dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); finish(null); } });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
