// Compare two traces side by side: spans aligned by structure, what differs in
// structure, timing, tokens and cost, and a word diff of the prompts and answers.

import * as api from './api.js';
import { el, replace, note, button } from './dom.js';
import * as fmt from './format.js';

const CHUNK = 500;
const STATUS_TEXT = { same: 'same', changed: 'changed', only_a: 'only in A', only_b: 'only in B' };

/** Mounts the compare page of traces `params.a` and `params.b` into `root`. */
export function mountCompare(root, params) {
  const page = el('section', { class: 'page compare-page', testid: 'compare-page' }, note('loading…'));
  replace(root, page);
  let destroyed = false;
  load();

  async function load() {
    try {
      const data = await api.compare(params.a, params.b);
      if (destroyed) return;
      render(data);
    } catch (err) {
      if (!destroyed) replace(page, note(`could not compare: ${err.message}`, 'error', 'compare-error'));
    }
  }

  function render(data) {
    const a = summaryOf(data.a);
    const b = summaryOf(data.b);
    const rows = data.rows || [];
    const counts = { same: 0, changed: 0, only_a: 0, only_b: 0 };
    for (const row of rows) counts[row.status] = (counts[row.status] || 0) + 1;
    const body = el('div', { class: 'cmp-body', testid: 'compare-rows' });
    const more = button('', () => addRows(), { class: 'link' });
    let shown = 0;
    const addRows = () => {
      const end = Math.min(rows.length, shown + CHUNK);
      for (; shown < end; shown++) body.appendChild(compareRow(rows[shown]));
      if (shown < rows.length) more.textContent = `show ${Math.min(CHUNK, rows.length - shown)} more of ${rows.length - shown} rows`;
      else more.remove();
    };
    replace(page,
      el('header', { class: 'cmp-head' },
        el('h1', {}, 'Compare traces'),
        el('div', { class: 'cmp-sides' }, side('A', params.a, a, 'compare-a'), side('B', params.b, b, 'compare-b'),
          el('div', { class: 'cmp-side totals', testid: 'compare-totals' }, el('div', { class: 'strong' }, 'B − A'), deltaFacts((data.totals && data.totals.delta) || data.totals || {}))),
        el('div', { class: 'muted', testid: 'compare-counts' },
          `${rows.length} aligned spans: ${counts.same} same, ${counts.changed} changed, ${counts.only_a} only in A, ${counts.only_b} only in B`)),
      el('div', { class: 'cmp-table' },
        el('div', { class: 'cmp-row cmp-header' },
          el('div', {}, 'Span'), el('div', {}, ''), el('div', {}, 'A'), el('div', {}, 'B'), el('div', {}, 'Δ (B − A)')),
        body),
      more);
    addRows();
  }

  let liveTimer = null;
  return {
    // New spans in either trace: compare again (at most every 500 ms).
    live(event) {
      const ids = event.changed || [];
      if (!(event.rebuilt || ids.includes(params.a) || ids.includes(params.b)) || liveTimer) return;
      liveTimer = setTimeout(() => { liveTimer = null; load(); }, 500);
    },
    destroy() { destroyed = true; clearTimeout(liveTimer); },
  };
}

function summaryOf(side) {
  if (!side) return {};
  return side.summary || side;
}

function side(label, traceId, s, testid) {
  return el('div', { class: 'cmp-side', testid },
    el('div', {}, el('span', { class: 'side-label' }, label), ' ', el('a', { href: `#/trace/${traceId}`, class: 'strong' }, s.root_name || traceId)),
    el('div', { class: 'muted mono' }, traceId),
    el('div', { class: 'facts' },
      `${fmt.time(s.start_unix_nano)} · ${fmt.duration(s.duration_ns)} · ${fmt.count(s.spans)} spans · ${fmt.count(s.llm_calls)} LLM · ${fmt.count(s.tool_calls)} tools`),
    el('div', { class: 'facts' }, `${fmt.count(s.input_tokens)} in · ${fmt.count(s.output_tokens)} out tokens · ${fmt.cost(s.cost_usd, s.cost_text)}${s.errors ? ` · ${s.errors} errors` : ''}`));
}

function deltaFacts(d) {
  return el('span', { class: 'deltas' },
    el('span', { class: sign(d.duration_ns) }, fmt.durationDelta(d.duration_ns)), ' · ',
    el('span', { class: sign(d.input_tokens) }, `${fmt.countDelta(d.input_tokens)} in`), ' · ',
    el('span', { class: sign(d.output_tokens) }, `${fmt.countDelta(d.output_tokens)} out`), ' · ',
    el('span', { class: sign(d.cost_usd) }, fmt.costDelta(d.cost_usd)));
}

function sign(n) {
  return !n ? 'muted' : n > 0 ? 'up' : 'down';
}

function brief(span) {
  if (!span) return el('div', { class: 'cmp-cell muted' }, '—');
  const tokens = (span.input_tokens || span.output_tokens) ? ` · ${fmt.compact(span.input_tokens ?? 0)}→${fmt.compact(span.output_tokens ?? 0)} tok` : '';
  const money = span.cost_usd != null ? ` · ${fmt.cost(span.cost_usd)}` : '';
  return el('div', { class: ['cmp-cell', span.error && 'error-text'] }, `${fmt.duration(span.duration_ns)}${tokens}${money}`, span.error ? ' ✖' : '');
}

function compareRow(row) {
  const status = row.status || 'same';
  const line = el('div', { class: ['cmp-row', `st-${status}`], testid: 'compare-row', data: { status, name: row.name, depth: String(row.depth) } },
    el('div', { class: 'cmp-name', style: { paddingLeft: `${(row.depth || 0) * 16 + 4}px` } }, row.name),
    el('div', {}, el('span', { class: ['chip', `st-${status}`], testid: 'compare-status' }, STATUS_TEXT[status] || status)),
    brief(row.a), brief(row.b),
    row.delta ? el('div', { class: 'cmp-cell' }, deltaFacts(row.delta)) : el('div', { class: 'cmp-cell muted' }, '—'));
  if (!row.content) return line;
  const differs = (ops) => (ops || []).some((o) => o.op !== 'equal');
  const block = el('details', { class: 'cmp-content', testid: 'content-diff' },
    el('summary', {}, `prompt & answer diff${differs(row.content.input) || differs(row.content.output) ? ' (differs)' : ' (same)'}`),
    wordDiff('prompt', row.content.input, 'diff-input'),
    wordDiff('answer', row.content.output, 'diff-output'));
  block.open = differs(row.content.input) || differs(row.content.output);
  return el('div', { class: 'cmp-group' }, line, block);
}

function wordDiff(label, ops, testid) {
  if (!ops || ops.length === 0) return null;
  return el('div', { class: 'word-diff', testid },
    el('div', { class: 'part-label' }, label),
    el('div', { class: 'diff-text' }, ops.map((o) => {
      if (o.op === 'insert') return el('ins', { testid: 'diff-insert' }, o.text);
      if (o.op === 'delete') return el('del', { testid: 'diff-delete' }, o.text);
      return el('span', {}, o.text);
    })));
}
