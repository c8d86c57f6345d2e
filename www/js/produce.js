// Produce: the document list (search by title and text), the live editor with each document's
// licence, authors, history and comments, and the task board.
import { h, fill, field, act, status, when, showError } from './dom.js';
import { LiveEditor } from './editor.js';
import { RemoteCursors } from './cursors.js';
import { pick, who, whoEl, validationControls } from './people.js';
import { charterOf } from './charter.js';

const docId = (d) => pick(d, 'id', 'docId', 'documentId');

export function mountProduce(view, ctx) {
  const { c } = ctx;
  let selected = null;
  let editor = null;
  let cursors = null;
  // Shows others where our cursor is (ephemeral: never stored), when this build can.
  const setPresence = (...args) => {
    if (!c.has('setPresence')) return;
    try {
      c.call('setPresence', ...args);
    } catch (error) {
      console.warn('setPresence failed', error);
    }
  };
  let query = '';

  const search = h('input', { type: 'search', placeholder: 'Search titles and text' });
  search.addEventListener('input', () => { query = search.value.trim().toLowerCase(); renderList(); });
  const list = h('ul', { class: 'doc-list', id: 'doc-list' });
  const newTitle = h('input', { type: 'text', maxlength: 200, placeholder: 'Title of the new document' });
  const newBtn = h('button', { type: 'submit', class: 'primary' }, 'New document');
  const newForm = h('form', { id: 'new-doc-form' }, field('New document', newTitle), newBtn);
  newForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const title = newTitle.value.trim();
    if (!title) { newTitle.focus(); status('Give the document a title first.'); return; }
    act(newBtn, 'The document could not be created', async () => {
      const id = await c.call('createDocument', title, '');
      newTitle.value = '';
      select(typeof id === 'string' ? id : docId(id));
      status(`Document “${title}” created.`);
    });
  });

  const docPane = h('section', { class: 'doc-pane', 'aria-label': 'Document' });
  const tasksPane = h('section', { class: 'tasks', 'aria-labelledby': 'tasks-heading' });

  fill(view,
    h('div', { class: 'produce' },
      h('aside', { class: 'doc-side', 'aria-labelledby': 'docs-heading' },
        h('h2', { id: 'docs-heading' }, 'Documents'),
        field('Search documents', search), list, newForm),
      docPane),
    tasksPane);

  function docs() {
    const all = c.read('documents', []);
    return Array.isArray(all) ? all : Object.entries(all).map(([id, d]) => ({ id, ...d }));
  }

  function renderList() {
    const items = docs().filter((d) => {
      if (!query) return true;
      const title = String(pick(d, 'title') ?? '').toLowerCase();
      if (title.includes(query)) return true;
      const text = c.read('documentText', '', docId(d));
      return String(text).toLowerCase().includes(query);
    });
    fill(list, items.length ? items.map((d) => h('li', {},
      h('button', {
        type: 'button', class: 'doc-link', 'aria-current': docId(d) === selected ? 'true' : 'false',
        onclick: () => select(docId(d)),
      }, pick(d, 'title') || 'Untitled'))) : h('li', { class: 'empty' }, query ? 'No document matches.' : 'No documents yet.'));
  }

  function select(id) {
    selected = id;
    editor?.destroy();
    editor = null;
    cursors?.destroy();
    cursors = null;
    setPresence(null);
    renderList();
    renderDoc(true);
  }

  const meta = h('div', { class: 'doc-meta' });
  function renderDoc(fresh) {
    if (!selected) {
      fill(docPane, h('p', { class: 'empty' }, 'Choose a document, or start a new one.'));
      return;
    }
    const d = docs().find((x) => docId(x) === selected) ?? {};
    if (fresh || !editor) {
      const textarea = h('textarea', { id: 'editor', rows: 16, spellcheck: 'true' });
      const id = selected;
      editor = new LiveEditor(textarea, {
        read: () => c.call('documentText', id) ?? '',
        write: (index, del, ins) => c.call('editDocument', id, index, del, ins),
        onError: (error) => showError(error, 'Your edit could not be saved'),
        onSelection: (anchor, head) => {
          setPresence(id, anchor, head);
          cursors?.render(); // our typing moved the text under the others' cursors
        },
      });
      cursors = c.has('presence') ? new RemoteCursors(textarea, {
        list: () => c.call('presence', id),
        nameOf: (key) => who(c, key),
      }) : null;
      const commentText = h('textarea', { rows: 2, maxlength: 4000 });
      const commentBtn = h('button', { type: 'submit' }, 'Comment');
      const commentForm = h('form', { id: 'comment-form' }, field('Add a comment', commentText), commentBtn);
      commentForm.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!commentText.value.trim()) return;
        act(commentBtn, 'The comment could not be saved', async () => {
          await c.call('addComment', id, commentText.value.trim());
          commentText.value = '';
          status('Comment added.');
        });
      });
      fill(docPane,
        h('h2', { id: 'doc-title' }, pick(d, 'title') || 'Untitled'),
        field('Text', textarea, 'Changes are saved as you type and reach everyone connected.'),
        cursors?.names,
        meta,
        c.has('addComment') ? commentForm : h('p', { class: 'hint' }, 'Comments are not available in this build.'));
      cursors?.mount();
    } else {
      editor.refresh();
      cursors?.render();
    }
    renderMeta(d);
  }

  function renderMeta(d) {
    const id = selected;
    const charter = charterOf(c);
    const credits = c.read('credits', null, id);
    const dl = pick(d, 'licence', 'license') ?? pick(credits ?? {}, 'licence');
    const licence = (dl && typeof dl === 'object' ? `${dl.name} (${dl.spdx})` : dl) ?? charter.licence ?? '—';
    const history = c.read('history', [], id);
    const authors = [...new Set(history.map((e) => pick(e, 'author', 'authorKey')))].filter(Boolean);
    const comments = c.read('comments', [], id);
    fill(meta,
      h('p', { class: 'licence' }, 'Licence: ', h('strong', { id: 'doc-licence' }, licence)),
      h('p', { class: 'authors' }, 'Authors: ', authors.length ? authors.map((a, i) => [i ? ', ' : '', whoEl(c, a)]) : '—'),
      credits ? creditsLine(c, credits) : null,
      h('details', { class: 'history', open: true },
        h('summary', {}, `History (${history.length})`),
        h('ol', { id: 'doc-history' }, history.slice().reverse().map((e) => {
          const change = pick(e, 'changeId', 'change', 'id');
          const label = `${actionText(pick(e, 'action', 'what'))} by ${who(c, pick(e, 'author', 'authorKey'), pick(e, 'name', 'authorName'))}`;
          return h('li', { 'data-change': change },
            h('span', {}, label), ' ', h('small', {}, when(pick(e, 'time', 'claimedTime'))), ' ',
            change ? validationControls(c, change, label, { mine: pick(e, 'author', 'authorKey') === ctx.identity.publicKey }) : null);
        }))),
      h('section', { 'aria-labelledby': 'comments-heading' },
        h('h3', { id: 'comments-heading' }, `Comments (${comments.length})`),
        h('ul', { id: 'comments' }, comments.map((m) => h('li', {},
          h('strong', {}, who(c, pick(m, 'author'), pick(m, 'name'))), ': ', pick(m, 'text', 'body') ?? '',
          ' ', h('small', {}, when(pick(m, 'time'))))))));
  }

  function renderTasks() {
    const tasks = c.read('tasks', []);
    const me = ctx.identity.publicKey;
    const title = h('input', { type: 'text', maxlength: 200, placeholder: 'What needs doing?' });
    const postBtn = h('button', { type: 'submit' }, 'Post task');
    const form = h('form', { id: 'task-form' }, field('New task', title), postBtn);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!title.value.trim()) { title.focus(); return; }
      act(postBtn, 'The task could not be posted', async () => {
        await c.call('postTask', { title: title.value.trim() });
        status('Task posted.');
      });
    });
    const column = (state, heading) => {
      const items = tasks.filter((t) => String(pick(t, 'status', 'state') ?? 'open').toLowerCase() === state);
      return h('div', { class: 'task-col' }, h('h3', {}, `${heading} (${items.length})`),
        h('ul', {}, items.map((t) => {
          const id = pick(t, 'id', 'taskId');
          const name = pick(t, 'title') ?? 'task';
          const claimers = [].concat(pick(t, 'claimedBy') ?? []);
          const by = claimers[0];
          const mine = claimers.includes(me);
          const btn = (label, method) => h('button', { type: 'button', class: 'small', 'aria-label': `${label} “${name}”`,
            onclick: (e) => act(e.currentTarget, `Could not ${label.toLowerCase()} the task`, () => c.call(method, id)) }, label);
          return h('li', { class: 'task' }, h('span', {}, name), claimers.length ? h('small', {}, ` — ${claimers.map((k) => who(c, k)).join(', ')}`) : null, ' ',
            state === 'open' ? btn('Claim', 'claimTask') : null,
            state === 'claimed' && mine ? [btn('Release', 'releaseTask'), btn('Complete', 'completeTask')] : null,
            state === 'claimed' && !mine ? btn('Claim too', 'claimTask') : null);
        })));
    };
    const keepFocus = tasksPane.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
    if (keepFocus) return; // do not wipe a task being typed
    fill(tasksPane, h('h2', { id: 'tasks-heading' }, 'Task board'),
      c.has('tasks') ? [h('div', { class: 'task-board' }, column('open', 'Open'), column('claimed', 'Claimed'), column('done', 'Done')), form]
        : h('p', {}, 'The task board is not available in this build.'));
  }

  renderList();
  const first = docs()[0];
  if (first) select(docId(first)); else renderDoc(true);
  renderTasks();

  return {
    refresh() {
      if (!selected && docs().length) select(docId(docs()[0])); // content arrived from peers
      renderList();
      renderDoc(false);
      renderTasks();
    },
    /** Only others' cursors changed: redraw them, nothing else. */
    presence() {
      cursors?.render();
    },
    unmount() {
      editor?.destroy();
      cursors?.destroy();
      setPresence(null);
    },
  };
}

function creditsLine(c, credits) {
  const list = Array.isArray(credits) ? credits : pick(credits, 'authors', 'credits') ?? [];
  if (!Array.isArray(list) || !list.length) return null;
  return h('p', { class: 'credits', id: 'doc-credits' }, 'Credits: ', list.map((x, i) => {
    const share = pick(x, 'share', 'fraction');
    const chars = pick(x, 'surviving', 'characters');
    return [i ? '; ' : '', whoEl(c, pick(x, 'author', 'key'), pick(x, 'name')),
      chars !== undefined ? ` (${chars} characters${share !== undefined ? `, ${Math.round(Number(share) * 100)}%` : ''}, ${pick(x, 'changes') ?? 0} changes)` : ''];
  }));
}

/** A history action ({kind, ...}) in words. */
function actionText(action) {
  if (!action) return 'change';
  if (typeof action === 'string') return action;
  switch (action.kind) {
    case 'created': return `created “${action.title}”`;
    case 'retitled': return `retitled “${action.title}”`;
    case 'edited': return `edited (+${action.inserted} −${action.deleted})`;
    case 'commented': return 'commented';
    default: return String(action.kind ?? 'change');
  }
}
