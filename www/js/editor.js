// A collaborative plain-text editor on a <textarea>. Local typing is diffed against the text the
// replica last showed and sent as one edit (UTF-16 indices, as JS strings count). Remote changes
// are applied by diffing old and new text, so the local cursor and selection stay where they were
// relative to the text around them.

/** The single changed span between two strings: {index, deleteCount, insert}. */
export function diff(before, after) {
  if (before === after) return null;
  let start = 0;
  const min = Math.min(before.length, after.length);
  while (start < min && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  // Never split a surrogate pair: widen the span to whole code points.
  if (start > 0 && isHigh(before.charCodeAt(start - 1))) start--;
  if (endB < before.length && isLow(before.charCodeAt(endB))) {
    endB++;
    endA++;
  }
  return { index: start, deleteCount: endB - start, insert: after.slice(start, endA) };
}

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** Where a cursor at `pos` goes when `change` is applied to the text around it. */
export function moveCursor(pos, change) {
  if (!change || pos <= change.index) return pos;
  const end = change.index + change.deleteCount;
  if (pos >= end) return pos + change.insert.length - change.deleteCount;
  return change.index + change.insert.length;
}

/** The selection as {anchor, head}: where it started and where the caret is. */
export function selectionOf(ta) {
  const backward = ta.selectionDirection === 'backward';
  return backward ? { anchor: ta.selectionEnd, head: ta.selectionStart } : { anchor: ta.selectionStart, head: ta.selectionEnd };
}

/**
 * Binds `textarea` to a document. `write(index, deleteCount, insert)` sends a local edit and
 * returns a promise; `read()` returns the replica's current text; `onSelection(anchor, head)`
 * hears where the local cursor is after the person moves it or types (to show it to others).
 */
export class LiveEditor {
  constructor(textarea, { read, write, onError, onSelection }) {
    this.textarea = textarea;
    this.read = read;
    this.write = write;
    this.onError = onError;
    this.onSelection = onSelection;
    let last = '';
    this.onCaret = () => {
      // Only once the replica holds what is on screen, so the indices mean the same text.
      if (!this.onSelection || this.composing || textarea.value !== this.shadow) return;
      const { anchor, head } = selectionOf(textarea);
      const key = `${anchor}:${head}`;
      if (key === last) return;
      last = key;
      this.onSelection(anchor, head);
    };
    this.shadow = read();
    this.pending = 0;
    this.composing = false;
    textarea.value = this.shadow;
    this.onInput = () => this.sendLocal();
    this.onCompStart = () => { this.composing = true; };
    this.onCompEnd = () => { this.composing = false; this.sendLocal(); };
    textarea.addEventListener('input', this.onInput);
    textarea.addEventListener('compositionstart', this.onCompStart);
    textarea.addEventListener('compositionend', this.onCompEnd);
    // After the input listener: the replica already holds the edit when the caret is reported.
    this.caretEvents = ['select', 'keyup', 'mouseup', 'focus', 'input'];
    for (const e of this.caretEvents) textarea.addEventListener(e, this.onCaret);
    // Selection moved by script or assistive technology: Chromium tells the document.
    this.onDocSelection = () => { if (document.activeElement === textarea) this.onCaret(); };
    document.addEventListener('selectionchange', this.onDocSelection);
  }

  sendLocal() {
    if (this.composing) return;
    const change = diff(this.shadow, this.textarea.value);
    if (!change) return;
    this.shadow = this.textarea.value;
    this.pending++;
    // Called at once (the replica shows the edit immediately); a throw becomes a rejection.
    let written;
    try {
      written = Promise.resolve(this.write(change.index, change.deleteCount, change.insert));
    } catch (error) {
      written = Promise.reject(error);
    }
    written
      .catch((error) => {
        this.onError?.(error);
      })
      .finally(() => {
        this.pending--;
        if (this.pending === 0) this.refresh();
      });
  }

  /** Pulls the replica's text; applies what others changed without moving the local cursor. */
  refresh() {
    if (this.pending > 0 || this.composing) return; // our own edits are in flight: wait for them
    if (this.textarea.value !== this.shadow) this.sendLocal();
    if (this.pending > 0) return;
    const remote = this.read();
    const change = diff(this.shadow, remote);
    if (!change) return;
    const ta = this.textarea;
    const [start, end, dir] = [ta.selectionStart, ta.selectionEnd, ta.selectionDirection];
    const scroll = ta.scrollTop;
    ta.setRangeText(change.insert, change.index, change.index + change.deleteCount, 'preserve');
    if (ta.value !== remote) ta.value = remote; // defensive: a multi-span change
    this.shadow = remote;
    ta.setSelectionRange(moveCursor(start, change), moveCursor(end, change), dir);
    ta.scrollTop = scroll;
  }

  destroy() {
    for (const e of this.caretEvents) this.textarea.removeEventListener(e, this.onCaret);
    document.removeEventListener('selectionchange', this.onDocSelection);
    this.textarea.removeEventListener('input', this.onInput);
    this.textarea.removeEventListener('compositionstart', this.onCompStart);
    this.textarea.removeEventListener('compositionend', this.onCompEnd);
  }
}
