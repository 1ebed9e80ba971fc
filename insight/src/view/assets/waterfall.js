// The waterfall: the span tree on a time axis, virtualized; collapse/expand, zoom
// (buttons, ctrl+wheel, double-click a span) and pan (drag), the critical path and
// errors marked, per-span badges and Σ rollups on parents.

import { el, replace, button } from './dom.js';
import * as fmt from './format.js';
import { VirtualRows } from './virtual.js';

const ROW_HEIGHT = 28;
const MIN_WINDOW_NS = 1000;

/** A waterfall; `onSelect(spanId)` is called when a span is clicked. */
export function createWaterfall({ onSelect }) {
  const state = {
    trace: null,
    spans: [],
    index: new Map(), // span_id -> index in spans
    collapsed: new Set(),
    visible: [], // indexes into spans
    selected: null,
    view: { from: 0, to: 1 },
    fullView: true,
  };

  const axis = el('div', { class: 'wf-axis-ticks' });
  const zoomLabel = el('span', { class: 'muted', testid: 'zoom-label' });
  const findCount = el('span', { class: 'muted', testid: 'find-count' });
  const findInput = el('input', { type: 'search', placeholder: 'find span (Enter: next)', 'aria-label': 'find a span by name', testid: 'find-span', class: 'find' });
  let findTimer = null;
  findInput.addEventListener('input', () => { clearTimeout(findTimer); findTimer = setTimeout(() => find(findInput.value), 150); });
  findInput.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    // Enter right after typing: search now rather than after the pause.
    if (findInput.value !== state.findText) { clearTimeout(findTimer); find(findInput.value); }
    nextMatch(event.shiftKey ? -1 : 1);
  });
  const toolbar = el('div', { class: 'toolbar wf-toolbar' },
    button('+', () => zoom(0.5), { title: 'zoom in', testid: 'zoom-in' }),
    button('−', () => zoom(2), { title: 'zoom out', testid: 'zoom-out' }),
    button('fit', () => resetView(), { title: 'show the whole trace', testid: 'zoom-reset' }),
    zoomLabel,
    findInput, findCount,
    el('span', { class: 'spacer' }),
    button('collapse all', () => setCollapsed(state.spans.filter((s) => s.children && s.children.length).map((s) => s.span_id)), { testid: 'collapse-all' }),
    button('expand all', () => setCollapsed([]), { testid: 'expand-all' }),
    el('span', { class: 'legend' },
      el('span', { class: 'swatch critical' }), 'critical path ',
      el('span', { class: 'swatch error' }), 'error ',
      el('span', { class: 'swatch cancelled' }), 'cancelled'));
  const header = el('div', { class: 'wf-row wf-head' },
    el('div', { class: 'wf-name' }, 'Span'),
    el('div', { class: 'wf-badges' }, 'Tokens · cost · TTFT · Σ'),
    el('div', { class: 'wf-time' }, axis));
  const rows = new VirtualRows({
    rowHeight: ROW_HEIGHT,
    testid: 'waterfall-rows',
    className: 'wf-body',
    render: (i) => renderRow(state.spans[state.visible[i]]),
    key: (i) => state.visible[i],
  });
  const element = el('section', { class: 'waterfall', testid: 'waterfall' }, toolbar, header, rows.element);
  // The ticks follow the axis' width (a hidden tab has none until shown).
  const axisObserver = new ResizeObserver(() => { if (state.trace) drawAxis(); });
  axisObserver.observe(axis);

  // Zoom around the pointer with ctrl/cmd + wheel; shift + wheel pans.
  rows.element.addEventListener('wheel', (event) => {
    if (!(event.ctrlKey || event.metaKey || event.shiftKey)) return;
    const at = timeAt(event.clientX);
    if (at === null) return;
    event.preventDefault();
    if (event.shiftKey) pan(((event.deltaY || event.deltaX) / 500) * (state.view.to - state.view.from));
    else zoom(event.deltaY > 0 ? 1.25 : 0.8, at);
  }, { passive: false });

  // Drag on the time axis side to pan.
  let drag = null;
  rows.element.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || timeAt(event.clientX) === null) return;
    drag = { x: event.clientX, view: { ...state.view }, moved: false };
  });
  window.addEventListener('pointermove', onPointerMove);
  window.addEventListener('pointerup', onPointerUp);
  function onPointerMove(event) {
    if (!drag) return;
    const width = timelineWidth();
    const dx = event.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (!drag.moved || !width) return;
    const span = drag.view.to - drag.view.from;
    setView(drag.view.from - (dx / width) * span, drag.view.to - (dx / width) * span);
  }
  // The click that ends a drag selects nothing.
  let dragEnded = -Infinity;
  function onPointerUp() {
    if (drag && drag.moved) dragEnded = performance.now();
    drag = null;
  }
  function clickSelects() {
    return performance.now() - dragEnded > 150;
  }

  rows.element.addEventListener('keydown', (event) => {
    const at = state.visible.indexOf(state.index.get(state.selected));
    const span = state.spans[state.visible[at]];
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const next = state.visible[Math.max(0, Math.min(state.visible.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))];
      if (next !== undefined) onSelect(state.spans[next].span_id);
    } else if (event.key === 'ArrowLeft' && span) {
      if (hasChildren(span) && !state.collapsed.has(span.span_id)) toggle(span.span_id);
      else if (span.parent_span_id && state.index.has(span.parent_span_id)) onSelect(span.parent_span_id);
    } else if (event.key === 'ArrowRight' && span && state.collapsed.has(span.span_id)) {
      toggle(span.span_id);
    } else return;
    event.preventDefault();
  });

  function timelineRect() {
    return header.querySelector('.wf-time').getBoundingClientRect();
  }
  function timelineWidth() {
    return timelineRect().width;
  }
  function timeAt(clientX) {
    const rect = timelineRect();
    if (clientX < rect.left || clientX > rect.right || !rect.width) return null;
    return state.view.from + ((clientX - rect.left) / rect.width) * (state.view.to - state.view.from);
  }

  function total() {
    return Math.max(state.trace ? state.trace.duration_ns : 0, MIN_WINDOW_NS);
  }
  function setView(from, to) {
    const length = Math.min(Math.max(to - from, MIN_WINDOW_NS), total());
    let start = Math.max(0, Math.min(from, total() - length));
    state.view = { from: start, to: start + length };
    state.fullView = start <= 0 && length >= total();
    draw();
  }
  function zoom(factor, around) {
    const { from, to } = state.view;
    const center = around ?? (from + to) / 2;
    setView(center - (center - from) * factor, center + (to - center) * factor);
  }
  function pan(delta) {
    setView(state.view.from + delta, state.view.to + delta);
  }
  function resetView() {
    setView(0, total());
  }
  function zoomTo(span) {
    const pad = Math.max(span.duration_ns * 0.05, MIN_WINDOW_NS);
    setView(span.start_offset_ns - pad, span.start_offset_ns + span.duration_ns + pad);
  }

  // Find: the spans whose name contains the text (any case), highlighted; Enter selects
  // the next one (Shift+Enter the previous), expanding what hides it.
  function find(text) {
    state.findText = text;
    const needle = text.trim().toLowerCase();
    state.matches = needle ? state.spans.map((s, i) => (String(s.name).toLowerCase().includes(needle) ? i : -1)).filter((i) => i >= 0) : [];
    state.matchSet = new Set(state.matches);
    state.matchAt = -1;
    findCount.textContent = needle ? `${state.matches.length.toLocaleString('en-US')} found` : '';
    rows.refresh();
  }
  function nextMatch(step) {
    if (!state.matches || state.matches.length === 0) return;
    state.matchAt = (state.matchAt + step + state.matches.length) % state.matches.length;
    findCount.textContent = `${state.matchAt + 1} of ${state.matches.length.toLocaleString('en-US')}`;
    onSelect(state.spans[state.matches[state.matchAt]].span_id);
  }

  function hasChildren(span) {
    return span.children && span.children.length > 0;
  }
  function toggle(spanId) {
    if (state.collapsed.has(spanId)) state.collapsed.delete(spanId);
    else state.collapsed.add(spanId);
    layout();
  }
  function setCollapsed(ids) {
    state.collapsed = new Set(ids);
    layout();
  }
  // The visible rows: depth-first order, skipping what is under a collapsed span.
  function layout() {
    const visible = [];
    let skipDepth = Infinity;
    state.spans.forEach((span, i) => {
      if (span.depth > skipDepth) return;
      skipDepth = Infinity;
      visible.push(i);
      if (state.collapsed.has(span.span_id)) skipDepth = span.depth;
    });
    state.visible = visible;
    rows.setCount(visible.length);
    drawAxis();
  }
  function draw() {
    rows.refresh();
    drawAxis();
  }
  function drawAxis() {
    const { from, to } = state.view;
    // About one tick per 55 px of axis.
    const width = axis.getBoundingClientRect().width || 540;
    const step = niceStep((to - from) / Math.max(2, Math.floor(width / 55)));
    const ticks = [];
    for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
      // A label at the very right edge would be cut.
      if ((t - from) / (to - from) > 0.9 && ticks.length) break;
      ticks.push(el('span', { class: 'tick', style: { left: `${((t - from) / (to - from)) * 100}%` } }, fmt.duration(t)));
    }
    replace(axis, ticks);
    zoomLabel.textContent = state.fullView ? '' : `${fmt.duration(from)} – ${fmt.duration(to)}`;
  }

  function renderRow(span) {
    const { from, to } = state.view;
    const length = to - from;
    const left = ((span.start_offset_ns - from) / length) * 100;
    const width = (span.duration_ns / length) * 100;
    const classes = ['wf-row', state.fresh && state.fresh.has(span.span_id) && 'is-new', state.matchSet && state.matchSet.has(state.index.get(span.span_id)) && 'is-match', span.error && 'is-error', span.cancelled && 'is-cancelled', span.critical && 'is-critical', state.selected === span.span_id && 'selected'];
    const toggleButton = hasChildren(span)
      ? el('button', {
        type: 'button', class: 'twisty', testid: 'toggle', 'aria-label': state.collapsed.has(span.span_id) ? 'expand' : 'collapse',
        on: { click: (e) => { e.stopPropagation(); toggle(span.span_id); } },
      }, state.collapsed.has(span.span_id) ? '▸' : '▾')
      : el('span', { class: 'twisty leaf' });
    // The part of the bar inside the window (a span outside it is hidden).
    const start = clamp(left);
    const end = clamp(left + width);
    const outside = left > 100 || left + width < 0;
    const bar = el('div', {
      class: ['bar', kindClass(span), outside && 'outside'], testid: 'span-bar',
      style: { left: `${start}%`, width: `${end - start}%` },
    });
    // The duration after the bar; near the right edge inside a wide bar, or before a
    // narrow one.
    const near = end > 80;
    const inside = near && end - start > 15;
    const labelStyle = !near ? { left: `${end}%` } : inside ? { right: `${100 - end}%` } : { right: `${100 - start}%` };
    const label = el('span', { class: ['bar-label', inside && 'inside'], style: labelStyle }, fmt.duration(span.duration_ns));
    return el('div', {
      class: classes, testid: 'span-row',
      data: { spanId: span.span_id, depth: String(span.depth), name: span.name, parentSpanId: span.parent_span_id || '', operation: span.operation || '', critical: span.critical ? '1' : '0', error: span.error ? '1' : '0' },
      title: spanTitle(span),
      on: { click: () => { if (clickSelects()) onSelect(span.span_id); }, dblclick: () => zoomTo(span) },
    },
    el('div', { class: 'wf-name', style: { paddingLeft: `${span.depth * 16 + 4}px` } },
      toggleButton,
      el('span', { class: ['op', kindClass(span)] }, opLabel(span)),
      el('span', { class: 'name', testid: 'span-name' }, span.name),
      modelLabel(span),
      span.error ? el('span', { class: 'flag error', testid: 'flag-error' }, '✖ error') : null,
      span.cancelled ? el('span', { class: 'flag cancelled', testid: 'flag-cancelled' }, '⊘ cancelled') : null,
      span.orphan ? el('span', { class: 'flag orphan', testid: 'flag-orphan', title: 'its parent span is not in the files' }, 'orphan') : null),
    el('div', { class: 'wf-badges' }, badges(span)),
    el('div', { class: 'wf-time' }, bar, label));
  }

  return {
    element,
    /** Shows `trace` (keeps collapsed spans, the selection and the zoom when it is the same trace). */
    setTrace(trace) {
      const same = state.trace && state.trace.trace_id === trace.trace_id;
      // Spans that arrived live are highlighted for a few seconds.
      if (same) {
        const fresh = (trace.spans || []).filter((s) => !state.index.has(s.span_id)).map((s) => s.span_id);
        if (fresh.length) {
          state.fresh = new Set(fresh);
          clearTimeout(state.freshTimer);
          state.freshTimer = setTimeout(() => { state.fresh = null; rows.refresh(); }, 4000);
        }
      }
      state.trace = trace;
      state.spans = trace.spans || [];
      state.index = new Map(state.spans.map((s, i) => [s.span_id, i]));
      if (!same) {
        state.collapsed = new Set();
        state.fullView = true;
      }
      if (state.fullView) state.view = { from: 0, to: total() };
      if (findInput.value.trim()) find(findInput.value);
      layout();
    },
    /** Marks `spanId` selected and scrolls to it (expanding its ancestors). */
    select(spanId) {
      state.selected = spanId;
      let index = state.index.get(spanId);
      if (index === undefined) { rows.refresh(); return; }
      let parent = state.spans[index].parent_span_id;
      let expanded = false;
      while (parent && state.index.has(parent)) {
        if (state.collapsed.delete(parent)) expanded = true;
        parent = state.spans[state.index.get(parent)].parent_span_id;
      }
      if (expanded) layout();
      else rows.refresh();
      rows.scrollToIndex(state.visible.indexOf(index));
    },
    focus() { rows.element.focus({ preventScroll: true }); },
    destroy() {
      axisObserver.disconnect();
      clearTimeout(state.freshTimer);
      rows.destroy();
      window.removeEventListener('pointermove', onPointerMove);
      window.removeEventListener('pointerup', onPointerUp);
    },
  };
}

function clamp(percent) {
  return Math.max(0, Math.min(100, percent));
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** The CSS class of a span's kind of work. */
export function kindClass(span) {
  switch (span.operation) {
    case 'chat': case 'text_completion': case 'generate_content': case 'embeddings': return 'k-llm';
    case 'execute_tool': return 'k-tool';
    case 'invoke_agent': case 'create_agent': return 'k-agent';
    default: return span.kind === 'server' || span.kind === 'SERVER' ? 'k-server' : span.kind === 'client' || span.kind === 'CLIENT' ? 'k-client' : 'k-other';
  }
}

function opLabel(span) {
  switch (kindClass(span)) {
    case 'k-llm': return 'LLM';
    case 'k-tool': return 'tool';
    case 'k-agent': return 'agent';
    case 'k-server': return 'server';
    case 'k-client': return 'client';
    default: return String(span.kind || 'span').toLowerCase();
  }
}

function badges(span) {
  const out = [];
  const b = span.badges || {};
  if (b.input_tokens != null || b.output_tokens != null) {
    out.push(el('span', { class: 'badge tokens', testid: 'badge-tokens', title: `${fmt.count(b.input_tokens)} input, ${fmt.count(b.output_tokens)} output, ${fmt.count(b.cached_tokens)} cached tokens` },
      `${fmt.compact(b.input_tokens ?? 0)}→${fmt.compact(b.output_tokens ?? 0)} tok`));
  }
  if (b.cost_usd != null) out.push(el('span', { class: 'badge cost', testid: 'badge-cost' }, fmt.cost(b.cost_usd)));
  if (b.ttft_ms != null) out.push(el('span', { class: 'badge ttft', testid: 'badge-ttft', title: 'time to first token' }, `TTFT ${Math.round(b.ttft_ms)}ms`));
  const r = span.rollup;
  // The Σ of a subtree that holds more than this span's own call (an LLM call's HTTP
  // child adds nothing worth a second badge).
  const own = kindClass(span) === 'k-llm' || kindClass(span) === 'k-tool' ? 1 : 0;
  if (r && (r.llm_calls || 0) + (r.tool_calls || 0) > own) {
    const tokens = (r.input_tokens || 0) + (r.output_tokens || 0);
    out.push(el('span', {
      class: 'badge rollup', testid: 'rollup',
      title: `under this span: ${fmt.count(r.llm_calls)} LLM calls, ${fmt.count(r.tool_calls)} tool calls, ${fmt.count(r.input_tokens)} input + ${fmt.count(r.output_tokens)} output tokens (${fmt.count(r.cached_tokens)} cached), cost ${fmt.cost(r.cost_usd)}`,
    }, `Σ ${r.llm_calls || 0} llm · ${r.tool_calls || 0} tool · ${fmt.compact(tokens)} tok${r.cost_usd != null ? ` · ${fmt.cost(r.cost_usd)}` : ''}`));
  }
  return out;
}

// The model, unless the span name already says it (`chat gpt-4o-mini` for the model
// `gpt-4o-mini-2024-07-18`).
function modelLabel(span) {
  if (!span.model) return null;
  const named = String(span.name).split(' ').pop();
  if (String(span.name).includes(span.model) || (named && span.model.startsWith(named))) return null;
  return el('span', { class: 'model' }, span.model);
}

function spanTitle(span) {
  const lines = [span.name, `${fmt.duration(span.duration_ns)} at +${fmt.duration(span.start_offset_ns)}`];
  if (span.service) lines.push(`service: ${span.service}`);
  if (span.critical) lines.push('on the critical path');
  if (span.error) lines.push(`error: ${span.error_text || span.status_message || ''}`);
  if (span.orphan) lines.push('its parent span is not in the files');
  if (span.cancelled) lines.push('cancelled');
  return lines.join('\n');
}
