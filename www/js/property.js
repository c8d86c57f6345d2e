// Property and accounting: the licence, the ledger as a table and two small SVG charts
// (contributions over time, shares), exports (archive, Markdown, CSV/JSON), import, and fork.
import { h, fill, field, act, status, download, short } from './dom.js';
import { pick, who, whoEl } from './people.js';
import { charterOf } from './charter.js';

const SVG = 'http://www.w3.org/2000/svg';
const s = (tag, attrs = {}, ...kids) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : String(k));
  return el;
};
const COLOURS = ['#1f6feb', '#b35900', '#1a7f37', '#8250df', '#cf222e', '#0a7a8f', '#6e7781'];

export function mountProperty(view, ctx) {
  const { c, pkg } = ctx;
  const ledgerBox = h('section', { 'aria-labelledby': 'ledger-heading', id: 'ledger' });
  const slug = () => (charterOf(c).title ?? 'commons').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'commons';

  const exportBtn = (label, fn) => h('button', { type: 'button', onclick: (e) => act(e.currentTarget, `${label} failed`, fn) }, label);
  const exports = h('section', { 'aria-labelledby': 'export-heading' },
    h('h2', { id: 'export-heading' }, 'Export'),
    h('p', {}, 'Take the whole commons with you: the archive holds every signed change (import it anywhere); Markdown is for reading; the ledger is for accounting.'),
    h('div', { class: 'row' },
      c.has('exportArchive') ? exportBtn('Download archive', async () => {
        download(`${slug()}.peer-commons`, await c.call('exportArchive'), 'application/octet-stream');
        status('Archive downloaded.');
      }) : null,
      c.has('exportMarkdown') ? exportBtn('Download Markdown (zip)', async () => {
        download(`${slug()}-markdown.zip`, await c.call('exportMarkdown'), 'application/zip');
        status('Markdown downloaded.');
      }) : null,
      c.has('exportLedger') ? exportBtn('Download ledger (CSV)', async () => {
        download(`${slug()}-ledger.csv`, await c.call('exportLedger', 'csv'), 'text/csv');
        status('Ledger downloaded.');
      }) : null,
      c.has('exportLedger') ? exportBtn('Download ledger (JSON)', async () => {
        download(`${slug()}-ledger.json`, await c.call('exportLedger', 'json'), 'application/json');
        status('Ledger downloaded.');
      }) : null),
    c.has('exportArchive') ? null : h('p', {}, 'Export is not available in this build.'));

  const importInput = h('input', { type: 'file', accept: '.peer-commons,application/octet-stream' });
  importInput.addEventListener('change', () => act(null, 'The archive was refused', async () => {
    const file = importInput.files?.[0];
    if (!file) return;
    if (!pkg.Commons.importArchive) throw new Error('this build of peer-commons cannot import archives');
    const bytes = new Uint8Array(await file.arrayBuffer());
    const imported = await pkg.Commons.importArchive(bytes, { relays: ctx.config.relays, iceServers: ctx.config.iceServers });
    await ctx.adopt(imported);
    status('Archive imported.');
  }));
  const imports = h('section', { 'aria-labelledby': 'import-heading' },
    h('h2', { id: 'import-heading' }, 'Import'),
    field('Import an archive file', importInput, 'Every change is verified; a tampered archive is refused and nothing is imported.'));

  const forkTitle = h('input', { type: 'text', maxlength: 200, placeholder: 'Title of the fork' });
  const licences = (() => { try { return pkg.Commons.licences?.() ?? []; } catch { return []; } })();
  const forkLicence = h('select', {}, h('option', { value: '' }, 'Keep the current licence'),
    licences.map((l) => (l instanceof Map ? Object.fromEntries(l) : l)).map((l) => h('option', { value: pick(l, 'spdx', 'id') }, `${pick(l, 'name')} (${pick(l, 'spdx', 'id')})`)));
  const forkBtn = h('button', { type: 'submit' }, 'Fork');
  const forkForm = h('form', { id: 'fork-form', 'aria-labelledby': 'fork-heading' },
    h('h2', { id: 'fork-heading' }, 'Fork'),
    h('p', {}, 'Start a new commons from this one. It keeps the history, the credits and the licence.'),
    field('Title', forkTitle), field('Licence of the fork', forkLicence), forkBtn);
  forkForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!forkTitle.value.trim()) { forkTitle.focus(); status('Give the fork a title first.'); return; }
    act(forkBtn, 'The fork could not be made', async () => {
      const opts = { title: forkTitle.value.trim() };
      if (forkLicence.value) opts.licence = forkLicence.value;
      const forked = await c.raw.fork(opts, { relays: ctx.config.relays, iceServers: ctx.config.iceServers });
      await ctx.adopt(forked);
      status('Forked: you are now in the new commons.');
    });
  });

  fill(view, h('div', { class: 'property' },
    h('p', { class: 'licence' }, 'This commons is shared under ', h('strong', { id: 'commons-licence' }, charterOf(c).licence ?? '—'), '.'),
    licenceMeaning(c, pkg),
    ledgerBox, exports, imports, c.has('fork') ? forkForm : null));

  function renderLedger() {
    if (!c.has('ledger')) { fill(ledgerBox, h('h2', { id: 'ledger-heading' }, 'Ledger'), h('p', {}, 'The ledger is not available in this build.')); return; }
    const ledger = c.read('ledger', null);
    const rows = Array.isArray(ledger) ? ledger : pick(ledger, 'participants', 'rows', 'entries') ?? [];
    const cols = [['changes', 'Changes'], ['documentsCreated', 'Documents'], ['surviving', 'Characters'], ['edits', 'Edits'], ['comments', 'Comments'],
      ['tasksCompleted', 'Tasks done'], ['endorsementsGiven', 'Endorsed'], ['endorsementsReceived', 'Endorsed by others'], ['proposals', 'Proposals'], ['votes', 'Votes'], ['share', 'Share']];
    const val = (r, k) => (k === 'share' ? `${(shareOf(r) * 100).toFixed(1)}%` : pick(r, k) ?? 0);
    fill(ledgerBox, h('h2', { id: 'ledger-heading' }, 'Ledger'),
      h('p', {}, 'Computed by every copy from the signed record: everyone sees the same.'),
      h('div', { class: 'table-wrap' }, h('table', { id: 'ledger-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Participant'), cols.map(([, l]) => h('th', { scope: 'col' }, l)))),
        h('tbody', {}, rows.map((r) => h('tr', {}, h('th', { scope: 'row' }, whoEl(c, pick(r, 'author', 'key', 'participant'), pick(r, 'name'))),
          cols.map(([k]) => h('td', {}, String(val(r, k))))))))),
      h('div', { class: 'charts' }, sharesChart(c, rows), timeChart(c)));
  }
  renderLedger();
  return { refresh: renderLedger };
}

/** A ledger row's contribution share as a fraction (the ledger keeps exact parts per million). */
const shareOf = (r) => (r.contributionSharePpm !== undefined ? Number(r.contributionSharePpm) / 1e6 : Number(pick(r, 'share', 'contributionShare') ?? 0));

/** Horizontal bars: each participant's contribution share. */
function sharesChart(c, rows) {
  const data = rows.map((r) => ({ name: who(c, pick(r, 'author', 'key'), pick(r, 'name')), v: shareOf(r) }));
  const H = 24 * Math.max(1, data.length) + 30;
  const svg = s('svg', { viewBox: `0 0 320 ${H}`, role: 'img', 'aria-labelledby': 'shares-title', class: 'chart' },
    s('title', { id: 'shares-title' }, `Contribution shares: ${data.map((d) => `${d.name} ${(d.v * 100).toFixed(0)}%`).join(', ')}`));
  data.forEach((d, i) => {
    const y = 10 + i * 24;
    svg.append(s('text', { x: 0, y: y + 14, class: 'chart-label' }, d.name.slice(0, 14)),
      s('rect', { x: 110, y, width: Math.max(1, d.v * 170), height: 18, fill: COLOURS[i % COLOURS.length] }),
      s('text', { x: 114 + d.v * 170, y: y + 14, class: 'chart-label' }, `${(d.v * 100).toFixed(0)}%`));
  });
  return h('figure', {}, svg, h('figcaption', {}, 'Shares of the contribution'));
}

/** Changes per day, stacked by nobody: one line of total activity from the change history. */
function timeChart(c) {
  const times = [];
  for (const d of c.read('documents', [])) {
    for (const e of c.read('history', [], pick(d, 'id', 'docId'))) {
      const t = Number(pick(e, 'time', 'claimedTime'));
      if (Number.isFinite(t)) times.push(t < 1e11 ? t * 1000 : t);
    }
  }
  times.sort((a, b) => a - b);
  const W = 320;
  const H = 120;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'time-title', class: 'chart' },
    s('title', { id: 'time-title' }, `Contributions over time: ${times.length} changes to documents`));
  if (times.length) {
    const t0 = times[0];
    const span = Math.max(1, times[times.length - 1] - t0);
    const pts = times.map((t, i) => `${10 + ((t - t0) / span) * (W - 20)},${H - 15 - ((i + 1) / times.length) * (H - 30)}`);
    svg.append(s('polyline', { points: `10,${H - 15} ${pts.join(' ')}`, fill: 'none', stroke: COLOURS[0], 'stroke-width': 2 }),
      s('line', { x1: 10, y1: H - 15, x2: W - 10, y2: H - 15, stroke: 'currentColor' }),
      s('text', { x: 10, y: H - 2, class: 'chart-label' }, new Date(t0).toLocaleDateString()),
      s('text', { x: W - 10, y: 12, 'text-anchor': 'end', class: 'chart-label' }, `${times.length} changes to documents`));
  }
  return h('figure', {}, svg, h('figcaption', {}, 'Contributions over time (cumulative)'));
}

export { short };

/** The sentence that says what the commons' licence means, when the runtime knows it. */
function licenceMeaning(c, pkg) {
  const spdx = charterOf(c).licence;
  let list = [];
  try { list = pkg.Commons.licences?.() ?? []; } catch { list = []; }
  const l = list.find((x) => pick(x, 'spdx', 'id') === spdx);
  return l ? h('p', { class: 'hint', id: 'licence-sentence' }, l.meaning) : null;
}
