// The agent's state snapshots (`aitrace.agent.state` events), each with the paths
// added, removed and changed since the previous snapshot of the trace.

import { el, note } from './dom.js';
import * as fmt from './format.js';
import { jsonView } from './json.js';

const OPS = { add: ['+', 'added'], remove: ['−', 'removed'], change: ['~', 'changed'] };

/** The snapshots of `states` (as in the span API), newest last. */
export function renderStates(states, { title } = {}) {
  if (!states || states.length === 0) return note('no state recorded (agent::record_state, with content capture on)', 'muted', 'no-state');
  return el('div', { class: 'states', testid: 'state-diff' },
    title ? el('div', { class: 'muted' }, title) : null,
    states.map((snapshot, i) => el('div', { class: 'state', testid: 'state-snapshot', data: { index: String(i) } },
      el('div', { class: 'state-head' },
        el('span', { class: 'strong' }, `#${i + 1}`),
        el('span', { class: 'muted' }, ` at +${fmt.duration(snapshot.offset_ns)}`),
        snapshot.span_name ? el('span', { class: 'muted' }, ` on ${snapshot.span_name}`) : null,
        el('span', { class: 'muted' }, ` · ${summary(snapshot.diff)}`)),
      diffList(snapshot.diff),
      el('details', { class: 'state-full' }, el('summary', {}, 'full state'), jsonView(snapshot.state, { openDepth: 1 })))));
}

function summary(diff) {
  if (!diff || diff.length === 0) return 'no change';
  const counts = { add: 0, remove: 0, change: 0 };
  for (const d of diff) counts[d.op] = (counts[d.op] || 0) + 1;
  return Object.entries(counts).filter(([, n]) => n).map(([op, n]) => `${n} ${OPS[op] ? OPS[op][1] : op}`).join(', ');
}

function diffList(diff) {
  if (!diff || diff.length === 0) return note('no change since the previous snapshot');
  return el('div', { class: 'diff' }, diff.map((d) => {
    const [sign, word] = OPS[d.op] || ['?', d.op];
    return el('div', { class: ['diff-row', `op-${d.op}`], testid: 'state-diff-row', data: { op: d.op, path: d.path } },
      el('span', { class: 'diff-op', title: word }, sign),
      el('span', { class: 'diff-path mono' }, d.path || '/'),
      d.op === 'change' ? [el('span', { class: 'old' }, fmt.brief(d.old)), el('span', { class: 'muted' }, ' → '), el('span', { class: 'new' }, fmt.brief(d.new))]
        : d.op === 'remove' ? el('span', { class: 'old' }, fmt.brief(d.old))
          : el('span', { class: 'new' }, fmt.brief(d.new)));
  }));
}
