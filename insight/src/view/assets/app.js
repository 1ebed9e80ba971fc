// The viewer's entry point: hash routes to the pages, a small shared store, live updates.
//   #/?q=..&sort=..          the trace list
//   #/trace/<id>?span=&tab=  a trace (waterfall, causal flow, state diff; span context)
//   #/compare/<a>/<b>        two traces side by side

import { el, replace } from './dom.js';
import { mountList } from './list.js';
import { mountTrace } from './trace.js';
import { mountCompare } from './compare.js';
import { connectLive } from './live.js';

const ID = /^[0-9a-f]{1,32}$/;

const store = {
  // Trace ids ticked in the list for compare (kept across pages).
  compareSelection: new Set(),
  // The list's scroll position, kept while a trace is open.
  listScroll: 0,
  liveEvents: 0,
};

let current = null; // { key, view }

function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  const params = Object.fromEntries(new URLSearchParams(search));
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'trace' && parts[1] && ID.test(parts[1])) {
    return { page: 'trace', key: `trace/${parts[1]}`, path, params: { ...params, traceId: parts[1] } };
  }
  if (parts[0] === 'compare' && ID.test(parts[1] || '') && ID.test(parts[2] || '')) {
    return { page: 'compare', key: `compare/${parts[1]}/${parts[2]}`, path, params: { a: parts[1], b: parts[2] } };
  }
  return { page: 'list', key: 'list', path: '/', params };
}

function context(route) {
  return {
    store,
    navigate(hash) {
      location.hash = hash;
    },
    // Keeps the URL in step with what is shown, without a history entry per change.
    replaceParams(params) {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
      const text = search.toString();
      history.replaceState(null, '', `#${route.path}${text ? `?${text}` : ''}`);
    },
  };
}

function render() {
  const route = parseRoute();
  if (current && current.key === route.key) {
    current.view.update?.(route.params);
    return;
  }
  current?.view.destroy?.();
  const main = document.getElementById('main');
  const container = el('div', { class: 'page-host' });
  replace(main, container);
  const ctx = context(route);
  let view;
  if (route.page === 'trace') view = mountTrace(container, route.params, ctx);
  else if (route.page === 'compare') view = mountCompare(container, route.params, ctx);
  else view = mountList(container, route.params, ctx);
  current = { key: route.key, view };
  for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === route.page);
  document.body.dataset.page = route.page;
}

function startLive() {
  const badge = document.getElementById('live');
  connectLive({
    onStatus(connected) {
      badge.classList.toggle('on', connected);
      badge.dataset.state = connected ? 'connected' : 'disconnected';
      badge.title = connected ? 'live: new spans appear as they arrive' : 'live updates disconnected (retrying)';
    },
    onTraces(event) {
      store.liveEvents += 1;
      badge.dataset.events = String(store.liveEvents);
      current?.view.live?.(event);
    },
  });
}

window.addEventListener('hashchange', render);
render();
startLive();
