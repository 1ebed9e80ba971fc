// DOM helpers. Every value from the API is untrusted: it becomes text nodes or
// attribute values, never markup (there is no innerHTML anywhere in the app).

/**
 * Creates an element. `props`: `class`, `testid` (data-testid), `data` (dataset),
 * `on` (event listeners), `style` (an object of CSS properties), `href` (only
 * in-app `#...` links), any other key as an attribute. Children: nodes, strings
 * (as text), numbers, arrays; null/undefined/false are skipped.
 */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
      else if (key === 'testid') node.dataset.testid = value;
      else if (key === 'data') Object.assign(node.dataset, value);
      else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key === 'style') Object.assign(node.style, value);
      else if (key === 'href') node.setAttribute('href', safeHref(value));
      else if (key.startsWith('on')) throw new Error(`use the on: {} prop, not ${key}`);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function safeHref(value) {
  const href = String(value);
  // Only links inside the app: no javascript:, data: or other origins from trace data.
  return href.startsWith('#') ? href : '#';
}

/** Appends children (nodes, strings as text, arrays) to `node`. */
export function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces the children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A button with a click handler. */
export function button(label, onClick, props = {}) {
  return el('button', { type: 'button', ...props, on: { click: onClick, ...(props.on || {}) } }, label);
}

/** A muted message (empty states, errors). */
export function note(text, kind = 'muted', testid) {
  return el('div', { class: ['note', kind], testid }, text);
}

/** Text cut at `limit` characters with a "show all" button; `loadFull` (optional)
 * fetches the full value when the server cut it. */
export function longText(text, { limit = 2000, truncated = false, loadFull = null, tag = 'pre' } = {}) {
  const value = String(text);
  const node = el(tag, { class: 'long' });
  const cut = value.length > limit;
  node.textContent = cut ? value.slice(0, limit) : value;
  if (!cut && !truncated) return node;
  const wrap = el('div', { class: 'long-wrap' }, node);
  const more = button(truncated ? 'show all (cut by the server)' : `show all (${value.length.toLocaleString()} chars)`, async () => {
    more.disabled = true;
    try {
      node.textContent = truncated && loadFull ? await loadFull() : value;
      more.remove();
    } catch (err) {
      more.disabled = false;
      more.textContent = `show all failed: ${err.message}`;
    }
  }, { class: 'link show-all', testid: 'show-all' });
  if (cut) node.appendChild(document.createTextNode('…'));
  wrap.appendChild(more);
  return wrap;
}
