// The causal flow of an agent run: request -> agent -> LLM call -> the tool calls it
// asked for -> their results -> the next LLM call -> answer, as a sequence in lanes,
// with what flowed along each arrow. A tool call links to the LLM output that asked
// for it and back.

import { el, note } from './dom.js';
import * as fmt from './format.js';

const LANES = { request: 0, answer: 0, agent: 1, llm: 2, tool: 3 };
const LANE_NAMES = ['request / answer', 'agent', 'LLM calls', 'tool calls'];
const CHUNK = 300;

/** The flow `flow` (GET .../flow); `onSelect(spanId)` opens a span's context. */
export function renderFlow(flow, { onSelect, selected }) {
  const steps = flow.steps || [];
  if (steps.length === 0) return note('no agent flow in this trace', 'muted', 'flow-empty');
  // Edges name steps by index or by span id; a span id can name two steps (the request
  // and the answer are the root span), so an edge goes to the step right after its
  // source when there is one, else to the first step of that span after the source.
  const bySpan = new Map(); // span id -> step indexes
  steps.forEach((s, i) => {
    if (!bySpan.has(s.span_id)) bySpan.set(s.span_id, []);
    bySpan.get(s.span_id).push(i);
  });
  const resolve = (edge) => {
    if (typeof edge.from === 'number' && typeof edge.to === 'number') return [edge.from, edge.to];
    const froms = bySpan.get(edge.from) || [];
    const tos = bySpan.get(edge.to) || [];
    for (const t of tos) if (froms.includes(t - 1)) return [t - 1, t];
    const from = froms.length ? froms[0] : -1;
    return [from, tos.find((t) => t > from) ?? tos[0] ?? -1];
  };
  const incoming = new Map();
  for (const edge of flow.edges || []) {
    const [from, to] = resolve(edge);
    if (to < 0) continue;
    // "asked for" is shown as the tool step's link to the LLM call instead.
    if (from >= 0 && steps[to].asked_by === steps[from].span_id && (edge.label === 'asked for' || from !== to - 1)) continue;
    if (!incoming.has(to)) incoming.set(to, []);
    incoming.get(to).push({ ...edge, fromIndex: from });
  }
  const cards = [];
  let focusStep = (index) => {
    const card = cards[index];
    if (!card) return;
    for (const c of cards) c.classList.remove('flash');
    card.classList.add('flash');
    card.scrollIntoView({ block: 'nearest' });
    onSelect(steps[index].span_id);
  };

  const askedFor = new Map(); // LLM span id -> [tool step, index]
  steps.forEach((s, j) => {
    if (s.kind !== 'tool' || !s.asked_by) return;
    if (!askedFor.has(s.asked_by)) askedFor.set(s.asked_by, []);
    askedFor.get(s.asked_by).push([s, j]);
  });
  const llmStep = (spanId) => (bySpan.get(spanId) || []).find((j) => steps[j].kind === 'llm') ?? -1;

  const row = (step, i) => {
    const lane = LANES[step.kind] ?? 1;
    const asked = step.kind === 'llm' ? askedFor.get(step.span_id) || [] : [];
    const askedBy = step.asked_by ? llmStep(step.asked_by) : -1;
    const arrows = (incoming.get(i) || []).filter((e) => e.label);
    const card = el('div', {
      class: ['flow-card', `fk-${step.kind}`, step.error && 'is-error', selected === step.span_id && 'selected'],
      testid: 'flow-step', data: { kind: step.kind, spanId: step.span_id || '', toolCallId: step.tool_call_id || '', index: String(i) },
      role: 'button', tabindex: '0',
      on: { click: () => onSelect(step.span_id), keydown: (e) => { if (e.key === 'Enter') onSelect(step.span_id); } },
    },
    el('div', { class: 'flow-head' },
      el('span', { class: 'flow-kind' }, step.kind),
      el('span', { class: 'strong', testid: 'flow-label' }, step.label || ''),
      step.error ? el('span', { class: 'flag error' }, '✖ error') : null),
    el('div', { class: 'flow-facts muted' },
      `+${fmt.duration(step.offset_ns)} · ${fmt.duration(step.duration_ns)}`,
      step.tokens != null ? ` · ${fmt.count(step.tokens)} tok` : '',
      step.cost_usd != null ? ` · ${fmt.cost(step.cost_usd)}` : '',
      step.tool_call_id ? el('span', { class: 'mono' }, ` · ${step.tool_call_id}`) : null),
    step.carries ? el('div', { class: 'flow-carries', testid: 'flow-carries' }, step.carries) : null,
    asked.length ? el('div', { class: 'flow-links' }, 'asked for: ', asked.map(([s, j]) => el('button', {
      type: 'button', class: 'link', testid: 'flow-asked',
      on: { click: (e) => { e.stopPropagation(); focusStep(j); } },
    }, `${s.label || 'tool'} →`))) : null,
    askedBy >= 0 ? el('div', { class: 'flow-links' }, el('button', {
      type: 'button', class: 'link', testid: 'flow-asked-by',
      on: { click: (e) => { e.stopPropagation(); focusStep(askedBy); } },
    }, `← asked by ${steps[askedBy].label || 'the LLM call'}${step.asked_by_inferred ? ' (inferred from timing)' : ''}`)) : null);
    cards[i] = card;
    return el('div', { class: 'flow-row' },
      arrows.length || i > 0 ? el('div', { class: 'flow-arrow', style: { gridColumn: `${lane + 1}` } },
        arrows.map((e) => el('span', { class: 'arrow-label', testid: 'flow-edge' }, `${e.fromIndex >= 0 && e.fromIndex !== i - 1 ? `from ${steps[e.fromIndex].label || steps[e.fromIndex].kind}: ` : ''}${e.label}`))) : null,
      el('div', { class: 'flow-cell', style: { gridColumn: `${lane + 1}` } }, card));
  };

  // A long run is drawn a chunk at a time.
  const body = el('div', { class: 'flow-steps' });
  const more = el('button', { type: 'button', class: 'link', testid: 'flow-more', on: { click: () => addSteps() } });
  let shown = 0;
  const addSteps = () => {
    const end = Math.min(steps.length, shown + CHUNK);
    for (; shown < end; shown++) body.appendChild(row(steps[shown], shown));
    if (shown < steps.length) more.textContent = `show ${Math.min(CHUNK, steps.length - shown)} more of ${steps.length - shown} steps`;
    else more.remove();
  };
  const flowNode = el('div', { class: 'flow', testid: 'flow' },
    el('div', { class: 'flow-lanes' }, LANE_NAMES.map((name) => el('div', { class: 'lane-name' }, name))),
    body, more);
  addSteps();
  // A step further down than what is drawn: draw up to it first.
  const focusOriginal = focusStep;
  focusStep = (index) => {
    while (shown <= index && shown < steps.length) addSteps();
    focusOriginal(index);
  };
  return flowNode;
}
