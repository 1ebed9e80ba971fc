// The trace page: its summary, the waterfall / causal flow / state tabs, and the
// context explorer of the selected span.

import * as api from './api.js';
import { el, replace, note } from './dom.js';
import * as fmt from './format.js';
import { createWaterfall } from './waterfall.js';
import { renderContext } from './context.js';
import { renderFlow } from './flow.js';
import { renderStates } from './state.js';

const TABS = [['waterfall', 'Waterfall'], ['flow', 'Causal flow'], ['state', 'State diff']];

/** Mounts the page of trace `params.traceId` into `root`. */
export function mountTrace(root, params, ctx) {
  const state = {
    traceId: params.traceId,
    tab: TABS.some(([id]) => id === params.tab) ? params.tab : 'waterfall',
    selected: params.span || null,
    trace: null,
    flow: null,
    detailRequest: null,
    destroyed: false,
  };
  const summary = el('header', { class: 'trace-head', testid: 'trace-summary' }, 'loading…');
  const tabs = el('nav', { class: 'tabs', role: 'tablist' });
  const waterfall = createWaterfall({ onSelect: (id) => select(id) });
  const flowPane = el('div', { class: 'pane flow-pane', testid: 'flow-pane' });
  const statePane = el('div', { class: 'pane state-pane', testid: 'state-pane' });
  const panes = { waterfall: waterfall.element, flow: flowPane, state: statePane };
  const panel = el('aside', { class: 'context-panel', testid: 'context-panel' }, note('select a span to see its context'));
  replace(root, el('section', { class: 'page trace-page', testid: 'trace-page', data: { traceId: state.traceId } },
    summary, tabs,
    el('div', { class: 'split' }, el('div', { class: 'main-pane' }, Object.values(panes)), panel)));
  renderTabs();
  load();

  async function load() {
    try {
      const trace = await api.trace(state.traceId);
      if (state.destroyed) return;
      state.trace = trace;
      renderSummary();
      waterfall.setTrace(trace);
      if (!state.selected && trace.spans && trace.spans.length) state.selected = trace.spans[0].span_id;
      if (state.selected) select(state.selected, { replaceUrl: false });
      showTab(state.tab);
    } catch (err) {
      if (state.destroyed) return;
      replace(summary, note(err.status === 404 ? `trace ${state.traceId} not found` : `could not load the trace: ${err.message}`, 'error', 'trace-error'));
    }
  }

  function renderSummary() {
    const s = state.trace.summary || {};
    replace(summary,
      el('div', { class: 'title' },
        el('a', { href: '#/', class: 'back', title: 'back to the list' }, '←'),
        el('h1', { testid: 'trace-title' }, s.root_name || state.traceId),
        el('span', { class: 'muted mono' }, state.traceId)),
      el('div', { class: 'facts' },
        fact('service', s.service || '–'),
        fact('start', fmt.time(state.trace.start_unix_nano)),
        fact('duration', fmt.duration(state.trace.duration_ns)),
        fact('spans', fmt.count(s.spans ?? (state.trace.spans || []).length), 'summary-spans'),
        state.trace.duplicates > 0
          ? fact('duplicate ids dropped', fmt.count(state.trace.duplicates), 'summary-duplicates', 'error-text') : null,
        fact('LLM calls', fmt.count(s.llm_calls)),
        fact('tool calls', fmt.count(s.tool_calls)),
        fact('tokens', `${fmt.count(s.input_tokens)} in · ${fmt.count(s.output_tokens)} out · ${fmt.count(s.cached_tokens)} cached`),
        fact('cost', fmt.cost(s.cost_usd, s.cost_text)),
        fact('errors', fmt.count(s.errors), null, s.errors > 0 ? 'error-text' : ''),
        s.models && s.models.length ? fact('models', s.models.join(', ')) : null));
  }

  function fact(label, value, testid, cls) {
    return el('span', { class: 'fact' }, el('span', { class: 'muted' }, `${label} `), el('span', { class: cls || '', testid }, value));
  }

  function renderTabs() {
    replace(tabs, TABS.map(([id, label]) => el('button', {
      type: 'button', role: 'tab', class: ['tab', state.tab === id && 'active'], testid: `tab-${id}`,
      'aria-selected': state.tab === id ? 'true' : 'false',
      on: { click: () => { showTab(id); updateUrl(); } },
    }, label)));
  }

  function showTab(id) {
    state.tab = id;
    renderTabs();
    for (const [name, pane] of Object.entries(panes)) pane.hidden = name !== id;
    if (id === 'flow') loadFlow();
    if (id === 'state') loadStates();
  }

  async function loadFlow() {
    try {
      const flow = await api.flow(state.traceId);
      if (state.destroyed) return;
      state.flow = flow;
      replace(flowPane, renderFlow(flow, { onSelect: (id) => select(id), selected: state.selected }));
    } catch (err) {
      replace(flowPane, note(`could not load the flow: ${err.message}`, 'error'));
    }
  }

  // Every state snapshot of the trace, in time order: from the spans that have
  // `aitrace.agent.state` events (the `states` count of a span), else the agent spans.
  async function loadStates() {
    const spans = (state.trace && state.trace.spans) || [];
    const known = spans.some((s) => typeof s.states === 'number');
    const holders = spans.filter((s) => (known ? s.states > 0 : s.operation === 'invoke_agent'));
    if (holders.length === 0) {
      replace(statePane, renderStates([]));
      return;
    }
    try {
      const details = await Promise.all(holders.slice(0, 50).map((s) => api.span(state.traceId, s.span_id)));
      if (state.destroyed) return;
      const snapshots = details.flatMap((d) => (d.states || []).map((snap) => ({ ...snap, span_name: d.name })))
        .sort((a, b) => a.offset_ns - b.offset_ns);
      replace(statePane, renderStates(snapshots));
    } catch (err) {
      replace(statePane, note(`could not load the state: ${err.message}`, 'error'));
    }
  }

  async function select(spanId, { replaceUrl = true } = {}) {
    state.selected = spanId;
    waterfall.select(spanId);
    if (replaceUrl) updateUrl();
    for (const card of flowPane.querySelectorAll('[data-testid="flow-step"]')) card.classList.toggle('selected', card.dataset.spanId === spanId);
    const brief = ((state.trace && state.trace.spans) || []).find((s) => s.span_id === spanId) || {};
    const request = api.span(state.traceId, spanId);
    state.detailRequest = request;
    try {
      const detail = await request;
      if (state.destroyed || state.detailRequest !== request) return;
      replace(panel, renderContext(detail, { traceId: state.traceId, brief, onSelect: (id) => select(id) }));
    } catch (err) {
      if (state.detailRequest === request) replace(panel, note(`could not load the span: ${err.message}`, 'error'));
    }
  }

  function updateUrl() {
    ctx.replaceParams({ span: state.selected, tab: state.tab === 'waterfall' ? '' : state.tab });
  }

  let liveTimer = null;
  return {
    update(next) {
      if (next.tab && next.tab !== state.tab) showTab(next.tab);
      if (next.span && next.span !== state.selected) select(next.span, { replaceUrl: false });
    },
    live(event) {
      const mine = event.rebuilt || (event.changed || []).includes(state.traceId);
      if (!mine || liveTimer) return;
      // At most one reload per 300 ms while spans keep arriving.
      liveTimer = setTimeout(async () => {
        liveTimer = null;
        try {
          const trace = await api.trace(state.traceId);
          if (state.destroyed) return;
          const wasMissing = !state.trace;
          state.trace = trace;
          renderSummary();
          waterfall.setTrace(trace);
          if (wasMissing) { if (trace.spans.length) select(state.selected || trace.spans[0].span_id, { replaceUrl: false }); showTab(state.tab); }
          else if (state.tab === 'flow') loadFlow();
          else if (state.tab === 'state') loadStates();
        } catch { /* the next event retries */ }
      }, 300);
    },
    destroy() {
      state.destroyed = true;
      clearTimeout(liveTimer);
      waterfall.destroy();
    },
  };
}
