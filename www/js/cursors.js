// Other people's cursors over the <textarea> editor: a coloured caret with their name where each
// one is, a tinted band over what they selected, and a plain list below ("Ben — line 3") for
// screen readers and narrow screens. Positions come from the runtime's presence(docId), already
// resolved to current UTF-16 indices; the local cursor is never touched.
import { h, fill } from './dom.js';

// Dark enough for white text (contrast above 4.5:1), distinct enough side by side.
const COLOURS = ['#0b5cad', '#a40e26', '#116329', '#8a4600', '#6f42c1', '#0e6b74', '#9a1b6a', '#3d4b5c'];

/** A stable colour for an author key. */
export function colourOf(key) {
  let n = 0x811c9dc5; // FNV-1a
  for (const ch of String(key ?? '')) n = Math.imul(n ^ ch.charCodeAt(0), 16777619) >>> 0;
  return COLOURS[(n >>> 13) % COLOURS.length];
}

/** Line and column (1-based) of a UTF-16 index in `text`. */
export function lineCol(text, index) {
  const before = String(text).slice(0, Math.max(0, index));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

const COPIED = ['boxSizing', 'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft',
  'borderTopWidth', 'borderRightWidth', 'borderBottomWidth', 'borderLeftWidth', 'borderStyle',
  'fontFamily', 'fontSize', 'fontWeight', 'fontStyle', 'fontVariant', 'letterSpacing', 'lineHeight',
  'textTransform', 'wordSpacing', 'tabSize', 'textIndent'];

/**
 * Where index `i` of the textarea's text is drawn, relative to the textarea's border box:
 * a hidden copy of the textarea (same box, font and wrapping) holds the text before `i`, then a
 * marker; the marker's offset is the caret's place.
 */
export function caretPoint(ta, index) {
  const cs = getComputedStyle(ta);
  const mirror = document.createElement('div');
  for (const p of COPIED) mirror.style[p] = cs[p];
  const borders = parseFloat(cs.borderLeftWidth) + parseFloat(cs.borderRightWidth);
  Object.assign(mirror.style, {
    position: 'absolute', visibility: 'hidden', top: '0', left: '-10000px', overflow: 'hidden',
    whiteSpace: 'pre-wrap', overflowWrap: 'break-word', boxSizing: 'border-box',
    width: `${ta.clientWidth + borders}px`,
  });
  mirror.setAttribute('aria-hidden', 'true');
  const text = ta.value;
  mirror.textContent = text.slice(0, index);
  const mark = document.createElement('span');
  mark.textContent = text.slice(index) || '.';
  mirror.append(mark);
  document.body.append(mirror);
  const lineHeight = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.2;
  const point = {
    top: mark.offsetTop + parseFloat(cs.borderTopWidth) - ta.scrollTop,
    left: mark.offsetLeft + parseFloat(cs.borderLeftWidth) - ta.scrollLeft,
    height: lineHeight,
  };
  mirror.remove();
  return point;
}

/** The overlay of remote cursors on one textarea, and the list that names them. */
export class RemoteCursors {
  /** `list()` returns [{peerId, author, name, anchor, head}]; `nameOf(author)` names a key. */
  constructor(textarea, { list, nameOf }) {
    this.ta = textarea;
    this.list = list;
    this.nameOf = nameOf;
    this.layer = h('div', { class: 'cursor-layer', 'aria-hidden': 'true' });
    this.names = h('ul', { class: 'presence-list', id: 'presence', 'aria-label': 'Also in this document' });
    this.wrap = h('div', { class: 'editor-wrap' });
    this.onScroll = () => this.render();
    textarea.addEventListener('scroll', this.onScroll);
    this.resize = typeof ResizeObserver === 'function' ? new ResizeObserver(() => this.render()) : null;
    this.resize?.observe(textarea);
  }

  /** Puts the textarea inside the overlay's wrapper (call once the textarea is in the page). */
  mount() {
    this.ta.replaceWith(this.wrap);
    this.wrap.append(this.ta, this.layer);
    this.render();
  }

  render() {
    let people = [];
    try {
      people = this.list() ?? [];
    } catch (error) {
      console.warn('presence() failed', error);
    }
    const text = this.ta.value;
    const inRange = (n) => Math.min(Math.max(0, Number(n) || 0), text.length);
    const carets = [];
    const items = [];
    for (const p of people) {
      const name = p.name || this.nameOf(p.author);
      const colour = colourOf(p.author);
      const head = inRange(p.head);
      const anchor = inRange(p.anchor);
      const at = caretPoint(this.ta, head);
      const visible = at.top + at.height > 0 && at.top < this.ta.clientHeight;
      if (visible) {
        if (anchor !== head) carets.push(...this.band(Math.min(anchor, head), Math.max(anchor, head), colour));
        carets.push(h('div', { class: 'remote-caret', style: `top:${at.top}px;left:${at.left}px;height:${at.height}px;border-color:${colour}` },
          h('span', { class: at.top < at.height ? 'remote-name below' : 'remote-name', style: `background:${colour}` }, name)));
      }
      const { line, column } = lineCol(text, head);
      const selected = Math.abs(head - anchor);
      items.push(h('li', { 'data-peer': p.peerId, title: p.author },
        h('span', { class: 'swatch', style: `background:${colour}` }), ' ',
        h('strong', {}, name), ` — line ${line}, column ${column}${selected ? `, ${selected} characters selected` : ''}`));
    }
    fill(this.layer, carets);
    fill(this.names, items);
    this.names.hidden = items.length === 0;
  }

  /** Tinted rectangles over a selection, one per line it spans (first, middle, last). */
  band(from, to, colour) {
    const a = caretPoint(this.ta, from);
    const b = caretPoint(this.ta, to);
    const style = (top, left, width, height) => `top:${top}px;left:${left}px;width:${Math.max(2, width)}px;height:${height}px;background:${colour}`;
    if (a.top === b.top) return [h('div', { class: 'remote-sel', style: style(a.top, a.left, b.left - a.left, a.height) })];
    const right = this.ta.clientWidth;
    const out = [h('div', { class: 'remote-sel', style: style(a.top, a.left, right - a.left, a.height) })];
    if (b.top - a.top > a.height) out.push(h('div', { class: 'remote-sel', style: style(a.top + a.height, 0, right, b.top - a.top - a.height) }));
    out.push(h('div', { class: 'remote-sel', style: style(b.top, 0, b.left, b.height) }));
    return out;
  }

  destroy() {
    this.ta.removeEventListener('scroll', this.onScroll);
    this.resize?.disconnect();
  }
}
