// Virtualized rows: only the rows on screen (plus a few) exist in the DOM, so a
// list of a million rows scrolls like one of fifty.

const OVERSCAN = 8;

/**
 * A scrolling viewport of `count` rows of `rowHeight` pixels. `render(index)` returns
 * the row's element; `key(index)` (optional) says when a cached row element can be
 * kept. Call `setCount`, `refresh` (re-render visible rows) or `scrollToIndex`.
 */
export class VirtualRows {
  constructor({ rowHeight, render, key = (i) => i, testid, className = '' }) {
    this.rowHeight = rowHeight;
    this.render = render;
    this.key = key;
    this.count = 0;
    this.rows = new Map();
    this.viewport = document.createElement('div');
    this.viewport.className = `vrows ${className}`;
    this.viewport.tabIndex = 0;
    if (testid) this.viewport.dataset.testid = testid;
    this.spacer = document.createElement('div');
    this.spacer.className = 'vrows-spacer';
    this.viewport.appendChild(this.spacer);
    this.pending = false;
    this.viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.viewport);
  }

  /** The element to put in the page. */
  get element() {
    return this.viewport;
  }

  setCount(count) {
    this.count = count;
    this.spacer.style.height = `${count * this.rowHeight}px`;
    this.refresh();
  }

  /** Re-renders every visible row (data changed). */
  refresh() {
    for (const row of this.rows.values()) row.node.remove();
    this.rows.clear();
    this.update();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.update();
    });
  }

  /** The index range on screen. */
  visibleRange() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const last = Math.min(this.count, Math.ceil((top + height) / this.rowHeight) + OVERSCAN);
    return [first, last];
  }

  update() {
    const [first, last] = this.visibleRange();
    for (const [index, row] of this.rows) {
      if (index < first || index >= last || row.key !== this.key(index)) {
        row.node.remove();
        this.rows.delete(index);
      }
    }
    for (let index = first; index < last; index++) {
      if (this.rows.has(index)) continue;
      const node = this.render(index);
      node.classList.add('vrow');
      node.style.transform = `translateY(${index * this.rowHeight}px)`;
      node.style.height = `${this.rowHeight}px`;
      this.viewport.appendChild(node);
      this.rows.set(index, { node, key: this.key(index) });
    }
    if (this.onRange) this.onRange(first, last);
  }

  /** Scrolls so that row `index` is visible. */
  scrollToIndex(index) {
    const top = index * this.rowHeight;
    const height = this.viewport.clientHeight;
    if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + this.rowHeight > this.viewport.scrollTop + height) this.viewport.scrollTop = top + this.rowHeight - height;
    this.update();
  }

  destroy() {
    this.resizeObserver.disconnect();
  }
}
