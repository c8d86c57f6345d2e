// Govern: proposals (create, vote, tally, electorate, who voted what), members, participants,
// blocked keys, and the charter in force. Endorse / flag / revert sit beside each contribution in
// a document's history (Produce).
import { h, fill, field, act, status, short } from './dom.js';
import { pick, who } from './people.js';

const KINDS = [
  ['decision', 'Record a decision (free text)'],
  ['parameter', 'Change a rule of the charter'],
  ['block', 'Block a key'],
  ['unblock', 'Unblock a key'],
  ['licence', 'Change the licence'],
];

export function mountGovern(view, ctx) {
  const { c } = ctx;
  const kind = h('select', {}, KINDS.map(([v, l]) => h('option', { value: v }, l)));
  const text = h('textarea', { rows: 3, maxlength: 4000, placeholder: 'What do you propose, and why?' });
  const param = h('select', {}, ['quorum', 'member_endorsements', 'vote_weight'].map((n) => h('option', { value: n }, n)));
  const value = h('input', { type: 'text', placeholder: 'e.g. 2/3, a public key, or CC-BY-4.0' });
  const paramField = field('Rule name', param);
  const valueField = field('New value / key / licence', value);
  const showParams = () => {
    paramField.hidden = kind.value !== 'parameter';
    valueField.hidden = kind.value === 'decision';
  };
  kind.addEventListener('change', showParams);
  showParams();
  const proposeBtn = h('button', { type: 'submit', class: 'primary' }, 'Propose');
  const form = h('form', { id: 'propose-form', 'aria-labelledby': 'propose-heading' },
    h('h2', { id: 'propose-heading' }, 'New proposal'),
    field('Kind', kind), field('What you propose', text), paramField, valueField, proposeBtn);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) { text.focus(); status('Say what you propose first.'); return; }
    const params = {};
    if (kind.value === 'parameter') Object.assign(params, { name: param.value.trim(), value: value.value.trim() });
    if (kind.value === 'block' || kind.value === 'unblock') params.key = value.value.trim();
    if (kind.value === 'licence') params.spdx = value.value.trim();
    act(proposeBtn, 'The proposal could not be made', async () => {
      await c.call('propose', { kind: kind.value, text: text.value.trim(), params });
      text.value = '';
      status('Proposal made: members can now vote.');
    });
  });

  const proposals = h('section', { 'aria-labelledby': 'proposals-heading', id: 'proposals' });
  const people = h('section', { 'aria-labelledby': 'people-heading', id: 'people' });
  const charter = h('section', { 'aria-labelledby': 'charter-heading', id: 'charter' });
  const available = c.has('propose');
  fill(view, h('div', { class: 'govern' },
    available ? form : h('p', {}, 'Governance is not available in this build.'),
    proposals, people, charter));

  function renderProposals() {
    const list = c.read('proposals', []);
    fill(proposals, h('h2', { id: 'proposals-heading' }, `Proposals (${list.length})`),
      list.length ? h('ul', { class: 'proposals' }, list.map((p) => proposalItem(c, p))) : h('p', {}, 'No proposals yet.'));
  }

  function renderPeople() {
    const members = c.read('members', []);
    const participants = c.read('participants', []);
    const blocked = c.read('blockedKeys', []);
    const keyOf = (x) => (typeof x === 'string' ? x : pick(x, 'key', 'author', 'id', 'publicKey'));
    const row = (x) => h('li', {}, who(c, keyOf(x), typeof x === 'object' ? pick(x, 'name') : undefined), ' ',
      h('small', {}, short(keyOf(x))), typeof x === 'object' && x.founder ? h('small', {}, ' founder') : null, typeof x === 'object' && x.equivocating ? h('small', { class: 'equivocating', title: 'signed two edits claiming the same text ids; the later one does not count' }, ' equivocating') : null, typeof x === 'object' && Array.isArray(x.endorsers) && x.endorsers.length ? h('small', {}, ` endorsed by ${x.endorsers.map((k) => who(c, k)).join(', ')}`) : null);
    const plist = Array.isArray(participants) ? participants : Object.entries(participants).map(([key, v]) => ({ key, ...v }));
    fill(people, h('h2', { id: 'people-heading' }, 'People'),
      h('div', { class: 'cols' },
        h('div', {}, h('h3', {}, `Members (${members.length})`), h('ul', { id: 'members' }, members.map(row))),
        h('div', {}, h('h3', {}, `Participants (${plist.length})`), h('ul', { id: 'participants' }, plist.map(row))),
        h('div', {}, h('h3', {}, `Blocked keys (${blocked.length})`), blocked.length ? h('ul', { id: 'blocked' }, blocked.map(row)) : h('p', {}, 'None.'))));
  }

  function renderCharter() {
    const ch = c.has('charterInForce') ? c.read('charterInForce', null) : c.read('charter', null);
    if (!ch) { fill(charter, h('h2', { id: 'charter-heading' }, 'Charter'), h('p', {}, 'Not available in this build.')); return; }
    fill(charter, h('h2', { id: 'charter-heading' }, 'Charter in force'),
      h('dl', { class: 'charter' }, Object.entries(ch).flatMap(([k, v]) => {
        const val = v && typeof v === 'object' && 'value' in v ? v.value : v;
        const setBy = v && typeof v === 'object' ? pick(v, 'setBy', 'proposal') : undefined;
        return [h('dt', {}, LABELS[k] ?? k), h('dd', {}, typeof val === 'object' ? JSON.stringify(val) : String(val ?? '—'),
          setBy ? h('small', {}, ` (set by proposal ${short(setBy)})`) : null)];
      })));
  }

  const refresh = () => { renderProposals(); renderPeople(); renderCharter(); };
  refresh();
  return { refresh };
}

const LABELS = { title: 'Title', purpose: 'Purpose', licence: 'Licence', memberEndorsements: 'Endorsements needed to become a member', quorum: 'Quorum (share of the electorate voting yes)', voteWeight: 'Vote weight' };

function proposalItem(c, p) {
  const id = pick(p, 'id', 'proposalId');
  const tally = pick(p, 'tally') ?? p;
  const votes = pick(p, 'votes', 'ballots') ?? [];
  const electorate = pick(p, 'electorate') ?? [];
  const outcome = pick(p, 'outcome', 'status', 'state') ?? 'open';
  const state = typeof outcome === 'object' ? outcome.state ?? 'open' : outcome;
  const text = pick(p, 'text', 'description') ?? '';
  const decided = ['passed', 'failed'].includes(String(state).toLowerCase());
  const confirmed = pick(p, 'confirmed') === true;
  const num = (n) => Number(pick(tally, n) ?? 0);
  const voteBtn = (choice, label) => h('button', { type: 'button', class: 'small', 'aria-label': `Vote ${label} on “${text.slice(0, 40)}”`,
    onclick: (e) => act(e.currentTarget, 'Your vote could not be recorded', async () => {
      await c.call('vote', id, choice);
      status(`You voted ${label}.`);
    }) }, label);
  const voteList = Array.isArray(votes) ? votes : Object.entries(votes).map(([voter, choice]) => ({ voter, choice }));
  return h('li', { class: 'proposal', 'data-proposal': id, 'data-state': String(state) },
    h('p', {}, h('span', { class: `badge badge-${String(state).toLowerCase()}` }, String(state)), ' ',
      decided ? h('span', { class: 'confirmed', title: confirmed ? 'Acknowledged by a majority of the electorate: final' : 'Not yet acknowledged by a majority of the electorate: a contrary decision could still prevail' }, confirmed ? '(confirmed) ' : '(provisional) ') : null,
      h('strong', {}, pick(p, 'kind') ?? 'proposal'), ': ', text),
    h('p', { class: 'tally' }, `Yes ${num('yes')} · No ${num('no')} · Abstain ${num('abstain')} · electorate ${Array.isArray(electorate) ? electorate.length : electorate}`,
      pick(p, 'quorumWeight') !== undefined ? ` · needs ${pick(p, 'quorumWeight')} yes (quorum ${pick(p, 'quorumNum')}/${pick(p, 'quorumDen')})` : ''),
    Array.isArray(electorate) && electorate.length ? h('p', { class: 'electorate' }, 'Electorate: ', electorate.map((e, i) => [i ? ', ' : '', who(c, pick(e, 'key'))])) : null,
    voteList.length ? h('p', { class: 'voters' }, 'Votes: ', voteList.map((v, i) => [i ? ', ' : '',
      `${who(c, pick(v, 'voter', 'author', 'key'), pick(v, 'name'))}: ${pick(v, 'choice', 'vote')}`])) : null,
    String(state).toLowerCase() === 'open' ? h('div', { class: 'row' }, voteBtn('yes', 'Yes'), voteBtn('no', 'No'), voteBtn('abstain', 'Abstain')) : null);
}
