// Foldable, pretty-printed JSON, built from DOM nodes (values are text, never markup).

import { el, longText } from './dom.js';

const OPEN_DEPTH = 2;
const CHILDREN_PAGE = 200;

/** A foldable view of a JSON value; objects and arrays deeper than `openDepth` start folded. */
export function jsonView(value, { openDepth = OPEN_DEPTH } = {}) {
  return el('div', { class: 'json', testid: 'json' }, node(value, 0, openDepth));
}

/** The value parsed when `text` is a JSON object or array, else undefined. */
export function parseJsonText(text) {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

function node(value, depth, openDepth) {
  if (value === null) return el('span', { class: 'j-null' }, 'null');
  if (Array.isArray(value)) return container(value, depth, openDepth, true);
  switch (typeof value) {
    case 'object': return container(value, depth, openDepth, false);
    case 'string': return value.length > 400
      ? longText(JSON.stringify(value), { limit: 400, tag: 'span' })
      : el('span', { class: 'j-str' }, JSON.stringify(value));
    case 'number': return el('span', { class: 'j-num' }, String(value));
    case 'boolean': return el('span', { class: 'j-bool' }, String(value));
    default: return el('span', {}, String(value));
  }
}

function container(value, depth, openDepth, isArray) {
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return el('span', { class: 'j-punct' }, open + close);
  const details = el('details', { class: 'j-fold' });
  details.open = depth < openDepth;
  const summary = el('summary', {}, el('span', { class: 'j-punct' }, open),
    el('span', { class: 'j-count' }, ` ${entries.length} ${isArray ? (entries.length === 1 ? 'item' : 'items') : (entries.length === 1 ? 'key' : 'keys')} `),
    el('span', { class: 'j-punct j-close-folded' }, close));
  details.appendChild(summary);
  // Children are built when first opened, so a huge folded value costs nothing.
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const body = el('div', { class: 'j-body' });
    renderEntries(body, entries, 0, isArray, depth, openDepth);
    details.appendChild(body);
    details.appendChild(el('span', { class: 'j-punct' }, close));
  };
  if (details.open) build();
  details.addEventListener('toggle', () => { if (details.open) build(); });
  return details;
}

function renderEntries(body, entries, from, isArray, depth, openDepth) {
  const to = Math.min(entries.length, from + CHILDREN_PAGE);
  for (let i = from; i < to; i++) {
    const [key, child] = entries[i];
    body.appendChild(el('div', { class: 'j-entry' },
      isArray ? null : el('span', { class: 'j-key' }, `${JSON.stringify(String(key))}: `),
      node(child, depth + 1, openDepth)));
  }
  if (to < entries.length) {
    const more = el('button', { type: 'button', class: 'link', on: { click: () => { more.remove(); renderEntries(body, entries, to, isArray, depth, openDepth); } } },
      `show ${Math.min(CHILDREN_PAGE, entries.length - to)} more of ${entries.length - to}`);
    body.appendChild(more);
  }
}
