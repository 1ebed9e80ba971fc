// The trace list: filters, sortable columns, virtualized rows loaded page by page.

import * as api from './api.js';
import { el, replace, button, note } from './dom.js';
import * as fmt from './format.js';
import { VirtualRows } from './virtual.js';

const PAGE = 200;
const ROW_HEIGHT = 30;
const FILTER_KEYS = ['q', 'service', 'model', 'errors', 'min_cost', 'max_cost', 'min_ms', 'max_ms', 'sort', 'order'];

const COLUMNS = [
  { id: 'select', label: '', width: '32px' },
  { id: 'start', label: 'Start', sort: 'start', width: '170px' },
  { id: 'service', label: 'Service', width: 'minmax(90px, 1fr)' },
  { id: 'root', label: 'Root span', width: 'minmax(140px, 2fr)' },
  { id: 'duration', label: 'Duration', sort: 'duration', width: '90px', num: true },
  { id: 'spans', label: 'Spans', sort: 'spans', width: '64px', num: true },
  { id: 'llm', label: 'LLM', sort: 'llm_calls', width: '52px', num: true },
  { id: 'tools', label: 'Tools', width: '52px', num: true },
  { id: 'tokens', label: 'Tokens in / out / cached', sort: 'tokens', width: '170px', num: true },
  { id: 'cost', label: 'Cost', sort: 'cost', width: '96px', num: true },
  { id: 'errors', label: 'Errors', sort: 'errors', width: '60px', num: true },
  { id: 'models', label: 'Models', width: 'minmax(90px, 1fr)' },
];
const GRID = COLUMNS.map((c) => c.width).join(' ');

/** Mounts the list page into `root`; `params` are the filters from the URL. */
export function mountList(root, params, ctx) {
  const state = {
    params: pick(params),
    total: 0,
    pages: new Map(), // page index -> { rows, stale } | { loading: Promise }
    generation: 0,
    selected: ctx.store.compareSelection,
    meta: null,
    restoreScroll: ctx.store.listScroll || 0,
  };

  const status = el('div', { class: 'list-status', testid: 'list-status' }, 'loading…');
  const compareButton = button('Compare selected', () => {
    const [a, b] = [...state.selected];
    ctx.navigate(`#/compare/${a}/${b}`);
  }, { class: 'primary', testid: 'compare-button', disabled: true });
  const filters = filterBar(state, () => applyFilters());
  const header = el('div', { class: 'list-header', style: { gridTemplateColumns: GRID } },
    COLUMNS.map((col) => headerCell(col)));
  const rows = new VirtualRows({
    rowHeight: ROW_HEIGHT,
    testid: 'trace-rows',
    className: 'list-body',
    render: (i) => renderRow(i),
    key: (i) => { const row = rowAt(i); return row ? `${row.trace_id}:${state.generation}` : `empty:${state.generation}`; },
  });
  rows.onRange = (first, last) => ensurePages(first, last);

  replace(root, el('section', { class: 'page list-page', testid: 'list-page' },
    el('div', { class: 'toolbar' }, filters.element, el('div', { class: 'spacer' }), compareButton),
    el('div', { class: 'table' }, header, rows.element),
    status));

  load();

  function headerCell(col) {
    if (!col.sort) return el('div', { class: ['cell', col.num && 'num'] }, col.label);
    const active = (state.params.sort || 'start') === col.sort;
    const order = state.params.order || 'desc';
    return el('button', {
      type: 'button', class: ['cell', 'sortable', col.num && 'num', active && 'active'], testid: `sort-${col.sort}`,
      title: `sort by ${col.label.toLowerCase()}`,
      on: { click: () => {
        const same = (state.params.sort || 'start') === col.sort;
        state.params.sort = col.sort;
        state.params.order = same && order === 'desc' ? 'asc' : 'desc';
        applyFilters();
      } },
    }, col.label, active ? (order === 'asc' ? ' ▲' : ' ▼') : '');
  }

  function applyFilters() {
    state.restoreScroll = 0;
    ctx.replaceParams(state.params);
    replace(header, COLUMNS.map((col) => headerCell(col)));
    state.pages.clear();
    state.generation++;
    rows.element.scrollTop = 0;
    load();
  }

  async function load() {
    const generation = state.generation;
    try {
      await fetchPage(0, generation);
    } catch (err) {
      if (generation === state.generation) replace(status, note(`could not load traces: ${err.message}`, 'error'));
    }
  }

  function fetchPage(page, generation) {
    const existing = state.pages.get(page);
    if (existing && existing.loading) return existing.loading;
    const loading = api.traces({ ...state.params, offset: page * PAGE, limit: PAGE }).then((body) => {
      if (generation !== state.generation) return;
      state.pages.set(page, { rows: body.traces || [] });
      state.meta = body;
      const totalChanged = body.total !== state.total;
      state.total = body.total;
      filters.setOptions(body.services || [], body.models || []);
      renderStatus();
      // The server lists while its first pass over the files runs: ask again until done.
      if (body.ready === false && page === 0) {
        clearTimeout(state.readyTimer);
        state.readyTimer = setTimeout(() => { delete state.pages.get(0)?.loading; fetchPage(0, generation).catch(() => {}); }, 500);
      }
      if (totalChanged) rows.setCount(state.total);
      else rows.refresh();
      // Back from a trace: where the list was.
      if (page === 0 && state.restoreScroll) {
        rows.element.scrollTop = state.restoreScroll;
        state.restoreScroll = 0;
      }
    }, (err) => {
      if (state.pages.get(page)?.loading === loading) state.pages.delete(page);
      throw err;
    });
    state.pages.set(page, { ...(existing || {}), loading });
    return loading;
  }

  function ensurePages(first, last) {
    const generation = state.generation;
    for (let page = Math.floor(first / PAGE); page * PAGE < Math.min(last, state.total); page++) {
      const entry = state.pages.get(page);
      if (!entry || (entry.stale && !entry.loading)) fetchPage(page, generation).catch(() => {});
    }
  }

  function rowAt(i) {
    const entry = state.pages.get(Math.floor(i / PAGE));
    return entry && entry.rows ? entry.rows[i % PAGE] : undefined;
  }

  function renderRow(i) {
    const row = rowAt(i);
    if (!row) return el('div', { class: 'list-row placeholder', style: { gridTemplateColumns: GRID } }, el('div', { class: 'cell' }), el('div', { class: 'cell muted' }, '…'));
    const checkbox = el('input', {
      type: 'checkbox', testid: 'compare-check', title: 'select for compare',
      on: {
        click: (e) => e.stopPropagation(),
        change: () => {
          if (checkbox.checked) {
            state.selected.add(row.trace_id);
            while (state.selected.size > 2) state.selected.delete(state.selected.values().next().value);
          } else state.selected.delete(row.trace_id);
          rows.refresh();
          updateCompareButton();
        },
      },
    });
    checkbox.checked = state.selected.has(row.trace_id);
    const tokens = `${fmt.compact(row.input_tokens)} / ${fmt.compact(row.output_tokens)} / ${fmt.compact(row.cached_tokens)}`;
    return el('div', {
      class: ['list-row', row.errors > 0 && 'has-errors'], role: 'link', title: `open trace ${row.trace_id}`,
      testid: 'trace-row', data: { traceId: row.trace_id }, style: { gridTemplateColumns: GRID },
      on: { click: () => ctx.navigate(`#/trace/${row.trace_id}`) },
    },
    el('div', { class: 'cell' }, checkbox),
    el('div', { class: 'cell mono', title: row.start_unix_nano }, fmt.time(row.start_unix_nano)),
    el('div', { class: 'cell', testid: 'cell-service' }, row.service || '–'),
    el('div', { class: 'cell strong', testid: 'cell-root', title: row.root_name }, row.root_name || '(no root)'),
    el('div', { class: 'cell num', testid: 'cell-duration' }, fmt.duration(row.duration_ns)),
    el('div', { class: 'cell num', testid: 'cell-spans' }, fmt.count(row.spans)),
    el('div', { class: 'cell num', testid: 'cell-llm' }, fmt.count(row.llm_calls)),
    el('div', { class: 'cell num', testid: 'cell-tools' }, fmt.count(row.tool_calls)),
    el('div', { class: 'cell num', testid: 'cell-tokens', title: `${fmt.count(row.input_tokens)} in, ${fmt.count(row.output_tokens)} out, ${fmt.count(row.cached_tokens)} cached` }, tokens),
    el('div', { class: 'cell num', testid: 'cell-cost' }, fmt.cost(row.cost_usd, row.cost_text)),
    el('div', { class: ['cell', 'num', row.errors > 0 && 'error-text'], testid: 'cell-errors' }, fmt.count(row.errors)),
    el('div', { class: 'cell muted', title: (row.models || []).join(', ') }, (row.models || []).join(', ')));
  }

  function updateCompareButton() {
    compareButton.disabled = state.selected.size !== 2;
    compareButton.textContent = state.selected.size === 2 ? 'Compare selected (2)' : `Compare: select 2 (${state.selected.size})`;
  }

  function renderStatus() {
    const meta = state.meta || {};
    const files = meta.files || [];
    const truncated = files.filter((f) => f.truncated).length;
    replace(status,
      meta.ready === false ? el('span', { class: 'warn-text', testid: 'indexing' }, 'indexing… ') : null,
      el('span', { testid: 'trace-total' }, `${fmt.count(state.total)} trace${state.total === 1 ? '' : 's'}`),
      ` · ${files.length} file${files.length === 1 ? '' : 's'}`,
      meta.bad_lines ? el('span', { class: 'warn-text', testid: 'bad-lines', title: files.filter((f) => f.bad_lines).map((f) => `${f.path}: ${f.bad_lines}`).join('\n') }, ` · ${fmt.count(meta.bad_lines)} bad lines skipped`) : null,
      truncated ? el('span', { class: 'warn-text' }, ` · ${truncated} truncated file${truncated === 1 ? '' : 's'}`) : null);
    updateCompareButton();
  }

  return {
    update(next) {
      const picked = pick(next);
      if (FILTER_KEYS.some((k) => (picked[k] || '') !== (state.params[k] || ''))) {
        state.params = picked;
        filters.setValues(picked);
        applyFilters();
      }
    },
    live() {
      // Keep what is shown; mark every page stale and reload the visible ones.
      for (const entry of state.pages.values()) entry.stale = true;
      const [first, last] = rows.visibleRange();
      const generation = state.generation;
      const pages = new Set([0]);
      for (let page = Math.floor(first / PAGE); page * PAGE < Math.max(last, 1); page++) pages.add(page);
      for (const page of pages) {
        const entry = state.pages.get(page);
        if (entry) delete entry.loading;
        fetchPage(page, generation).catch(() => {});
      }
    },
    destroy() {
      ctx.store.listScroll = rows.element.scrollTop;
      clearTimeout(state.readyTimer);
      rows.destroy();
    },
  };
}

function pick(params) {
  const out = {};
  for (const key of FILTER_KEYS) if (params[key]) out[key] = params[key];
  return out;
}

function filterBar(state, onChange) {
  let timer = null;
  const debounced = () => { clearTimeout(timer); timer = setTimeout(onChange, 250); };
  const text = (key, placeholder, props = {}) => {
    const input = el('input', { type: 'search', placeholder, testid: `filter-${key}`, 'aria-label': placeholder, ...props });
    input.value = state.params[key] || '';
    input.addEventListener('input', () => { set(key, input.value.trim()); debounced(); });
    return input;
  };
  const number = (key, placeholder) => {
    const input = el('input', { type: 'number', min: '0', step: 'any', placeholder, testid: `filter-${key}`, 'aria-label': placeholder, class: 'narrow' });
    input.value = state.params[key] || '';
    input.addEventListener('input', () => { set(key, input.value); debounced(); });
    return input;
  };
  const select = (key, label) => {
    const node = el('select', { testid: `filter-${key}`, 'aria-label': label }, el('option', { value: '' }, `all ${label}s`));
    node.addEventListener('change', () => { set(key, node.value); onChange(); });
    return node;
  };
  function set(key, value) {
    if (value) state.params[key] = value;
    else delete state.params[key];
  }
  const q = text('q', 'search span names and attributes', { class: 'wide' });
  const service = select('service', 'service');
  const model = select('model', 'model');
  const errors = el('input', { type: 'checkbox', testid: 'filter-errors' });
  errors.checked = state.params.errors === '1';
  errors.addEventListener('change', () => { set('errors', errors.checked ? '1' : ''); onChange(); });
  const inputs = {
    min_cost: number('min_cost', 'min $'), max_cost: number('max_cost', 'max $'),
    min_ms: number('min_ms', 'min ms'), max_ms: number('max_ms', 'max ms'),
  };
  const element = el('div', { class: 'filters', testid: 'filters' }, q, service, model,
    el('label', { class: 'check' }, errors, ' errors only'),
    el('span', { class: 'range' }, 'cost ', inputs.min_cost, '–', inputs.max_cost),
    el('span', { class: 'range' }, 'duration ', inputs.min_ms, '–', inputs.max_ms));
  const fill = (node, values, key) => {
    const current = state.params[key] || '';
    const known = [...node.options].slice(1).map((o) => o.value);
    const wanted = [...new Set([...values, ...(current ? [current] : [])])];
    if (known.join('\n') !== wanted.join('\n')) {
      replace(node, el('option', { value: '' }, `all ${key}s`), wanted.map((v) => el('option', { value: v }, v)));
    }
    node.value = current;
  };
  return {
    element,
    setOptions(services, models) { fill(service, services, 'service'); fill(model, models, 'model'); },
    setValues(params) {
      q.value = params.q || '';
      service.value = params.service || '';
      model.value = params.model || '';
      errors.checked = params.errors === '1';
      for (const [key, input] of Object.entries(inputs)) input.value = params[key] || '';
    },
  };
}
