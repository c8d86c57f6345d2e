// The editor's pure parts (www/js/editor.js), checked in Node against a brute-force model: the
// diff of two texts, applied to the old one, gives the new one; a cursor moves with its text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diff, moveCursor } from '../../www/js/editor.js';

const apply = (text, d) => (d ? text.slice(0, d.index) + d.insert + text.slice(d.index + d.deleteCount) : text);

test('diff turns the old text into the new one, as one span, never splitting a surrogate pair', () => {
  const cases = [
    ['', ''], ['', 'abc'], ['abc', ''], ['abc', 'abXc'], ['hello world', 'hello brave world'],
    ['aaaa', 'aaa'], ['abcabc', 'abc'], ['x😀y', 'x😁y'], ['😀', '😀😀'], ['a\nb', 'a\r\nb'],
  ];
  // Plus pseudo-random pairs from a fixed seed (reproducible).
  let seed = 42;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const alphabet = ['a', 'b', ' ', '😀', 'é'];
  const word = () => Array.from({ length: rnd(8) }, () => alphabet[rnd(alphabet.length)]).join('');
  for (let i = 0; i < 500; i++) cases.push([word(), word()]);
  for (const [before, after] of cases) {
    const d = diff(before, after);
    assert.equal(apply(before, d), after, JSON.stringify([before, after, d]));
    if (d) {
      for (const edge of [d.index, d.index + d.deleteCount]) {
        const c = before.charCodeAt(edge);
        assert.ok(!(c >= 0xdc00 && c <= 0xdfff), `span edge ${edge} splits a surrogate pair in ${JSON.stringify(before)}`);
      }
    }
  }
  assert.equal(diff('same', 'same'), null);
});

test('a cursor keeps its place relative to the text around it', () => {
  const before = 'Flour, water, salt.';
  const insertAtStart = diff(before, `Easy: ${before}`);
  assert.equal(moveCursor(5, insertAtStart), 11, 'text inserted before the cursor pushes it on');
  const insertAfter = diff(before, `${before} Knead.`);
  assert.equal(moveCursor(5, insertAfter), 5, 'text inserted after the cursor leaves it');
  const deleteAround = diff(before, 'Flour, salt.');
  assert.equal(moveCursor(10, deleteAround), 7, 'a cursor inside deleted text goes to the deletion point');
  assert.equal(moveCursor(19, deleteAround), 12, 'a cursor after deleted text moves back by its length');
});

test('remote cursors are named by line and column, and a selection keeps its direction', async () => {
  const { lineCol, colourOf } = await import('../../www/js/cursors.js');
  const { selectionOf } = await import('../../www/js/editor.js');
  assert.deepEqual(lineCol('ab\ncd\nef', 0), { line: 1, column: 1 });
  assert.deepEqual(lineCol('ab\ncd\nef', 4), { line: 2, column: 2 });
  assert.deepEqual(lineCol('ab\ncd\nef', 6), { line: 3, column: 1 });
  assert.deepEqual(lineCol('ab', 99), { line: 1, column: 3 });
  assert.equal(colourOf('a'.repeat(64)), colourOf('a'.repeat(64)), 'one colour per key');
  assert.notEqual(new Set(['1', '2', '3', '4', '5', '6'].map((k) => colourOf(k.repeat(64)))).size, 1, 'keys get different colours');
  assert.deepEqual(selectionOf({ selectionStart: 2, selectionEnd: 5, selectionDirection: 'forward' }), { anchor: 2, head: 5 });
  assert.deepEqual(selectionOf({ selectionStart: 2, selectionEnd: 5, selectionDirection: 'backward' }), { anchor: 5, head: 2 });
});
