// The records table: an array of JSON-text rows, rendered with virtual
// scrolling (a pool of row elements, only the visible rows parsed), and a
// row's JSON shown on click or Enter.

import { cellOf } from './protocol.js';

const ROW_H = 24;
const OVERSCAN = 6;
const CACHE_MAX = 400;

/**
 * Rows as JSON text, kept as one string per batch (the batch's rows joined
 * by newlines, which JSON text never holds raw) plus their end offsets:
 * 200,000 rows are a few dozen strings for the garbage collector, not
 * 200,000, and a `rows` message's strings die young. `text(i)` slices a row.
 */
export class RowStore {
  constructor() {
    /** @type {{from: number, text: string, ends: Uint32Array}[]} */
    this.chunks = [];
    this.length = 0;
  }

  /**
   * Stores `rows` at index `from` (appending, or overwriting rows sent again).
   * @param {number} from
   * @param {string[]|string} rows JSON texts, or one string of them joined by newlines
   */
  put(from, rows) {
    const c = typeof rows === 'string' ? chunkOfText(from, rows) : chunk(from, rows);
    const n = c.ends.length;
    if (!n) return;
    if (from < this.length) {
      // Rows sent again (resume and load send the saved rows from row 0).
      const i = this.chunkAt(from);
      const old = this.chunks[i];
      if (old.from === from && old.ends.length === n) {
        this.chunks[i] = c;
        return;
      }
      this.truncate(from);
    }
    if (from > this.length) this.put(this.length, new Array(from - this.length).fill('null'));
    this.chunks.push(c);
    this.length += n;
  }

  /** Drops the rows from index `n` on. */
  truncate(n) {
    if (n >= this.length) return;
    const i = this.chunkAt(n);
    const c = this.chunks[i];
    this.chunks.length = i;
    this.length = c.from;
    if (n > c.from) {
      const keep = [];
      for (let k = c.from; k < n; k++) keep.push(sliceRow(c, k - c.from));
      this.chunks.push(chunk(c.from, keep));
      this.length = n;
    }
  }

  /** The index of the chunk holding row `i`. */
  chunkAt(i) {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cs[mid].from <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /**
   * The JSON text of row `i`.
   * @param {number} i
   * @returns {string}
   */
  text(i) {
    const c = this.chunks[this.chunkAt(i)];
    return sliceRow(c, i - c.from);
  }
}

/** One batch of rows: their text joined by newlines and where each ends. */
function chunk(from, rows) {
  const ends = new Uint32Array(rows.length);
  let pos = 0;
  for (let i = 0; i < rows.length; i++) {
    pos += rows[i].length;
    ends[i] = pos;
    pos += 1;
  }
  return { from, text: rows.join('\n'), ends };
}

/**
 * A batch posted as one string of rows joined by newlines: the page then
 * receives one large string instead of thousands of small ones, which is
 * cheaper for the garbage collector.
 */
function chunkOfText(from, text) {
  if (text === '') return { from, text, ends: new Uint32Array(0) };
  const ends = [];
  let pos = text.indexOf('\n');
  while (pos !== -1) {
    ends.push(pos);
    pos = text.indexOf('\n', pos + 1);
  }
  ends.push(text.length);
  return { from, text, ends: Uint32Array.from(ends) };
}

/** Row `k` of a chunk. */
function sliceRow(c, k) {
  return c.text.slice(k === 0 ? 0 : c.ends[k - 1] + 1, c.ends[k]);
}

/**
 * A virtual table over rows of JSON text (a {@link RowStore}).
 *
 * Markup: `#table` (role grid, the scroll container) holds a sticky header
 * row and a sizer whose rows are `[role=row][data-index]` elements, each
 * focusable (roving tabindex); Enter or a click calls `onOpen(index, text)`.
 */
export class VirtualTable {
  /**
   * @param {HTMLElement} container the scroll container (`#table`)
   * @param {{ onOpen?: (index: number, text: string) => void, onCount?: (n: number) => void }} [opts]
   */
  constructor(container, opts = {}) {
    this.el = container;
    this.onOpen = opts.onOpen || (() => {});
    this.onCount = opts.onCount || (() => {});
    this.rows = new RowStore();
    /** @type {string[]} */
    this.columns = [];
    this.active = 0;
    /** @type {Map<number, any>} parsed rows, a small LRU */
    this.cache = new Map();
    this.pool = [];
    this.frame = 0;
    this.renderedKey = '';

    this.head = document.createElement('div');
    this.head.className = 'vrow vhead';
    this.head.setAttribute('role', 'row');
    this.head.setAttribute('aria-rowindex', '1');
    this.sizer = document.createElement('div');
    this.sizer.className = 'vsizer';
    this.sizer.setAttribute('role', 'rowgroup');
    this.empty = document.createElement('p');
    this.empty.className = 'vempty';
    this.empty.textContent = 'No records yet.';
    this.head.append(headCell('#'));
    container.append(this.head, this.sizer, this.empty);

    container.addEventListener('scroll', () => this.schedule(), { passive: true });
    container.addEventListener('click', (e) => this.onClick(e));
    container.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => this.schedule()).observe(container);
  }

  /** Empties the table (a new job). */
  reset() {
    this.rows = new RowStore();
    this.columns = [];
    this.cache.clear();
    this.active = 0;
    this.head.replaceChildren(headCell('#'));
    this.el.style.removeProperty('--cols');
    this.onCount(0);
    this.schedule();
  }

  /**
   * Stores rows at `from` (a `rows` message); sets the columns if given.
   * @param {number} from
   * @param {string[]} rows JSON text of each row
   * @param {string[]} [columns]
   */
  put(from, rows, columns) {
    const appended = from === this.rows.length;
    this.rows.put(from, rows);
    if (!appended) {
      this.cache.clear();
      this.renderedKey = '';
    }
    if (columns && columns.length) this.setColumns(columns);
    else if (!this.columns.length && this.rows.length) this.setColumns(inferColumns(this.rows));
    this.onCount(this.rows.length);
    this.schedule();
  }

  /** @param {string[]} columns */
  setColumns(columns) {
    this.columns = columns.slice();
    const sample = [];
    for (let i = 0; i < Math.min(50, this.rows.length); i++) sample.push(this.parse(i));
    const widths = columns.map((c) => columnWidth(c, sample));
    this.el.style.setProperty('--cols', '5rem ' + widths.map((w) => w + 'px').join(' '));
    const cells = [headCell('#')];
    for (const c of columns) cells.push(headCell(c));
    this.head.replaceChildren(...cells);
    this.el.setAttribute('aria-colcount', String(columns.length + 1));
    this.renderedKey = '';
  }

  /** The JSON text of row `i`. */
  text(i) { return this.rows.text(i); }

  /** Parses row `i`, keeping the last few hundred parsed. */
  parse(i) {
    let v = this.cache.get(i);
    if (v !== undefined) return v;
    const t = this.rows.text(i);
    try { v = JSON.parse(t); } catch { v = t; }
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value);
    this.cache.set(i, v);
    return v;
  }

  /** Renders on the next animation frame (at most once per frame). */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  render() {
    const n = this.rows.length;
    this.el.setAttribute('aria-rowcount', String(n + 1));
    this.sizer.style.height = n * ROW_H + 'px';
    this.empty.hidden = n > 0;
    const top = this.el.scrollTop;
    const height = this.el.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const key = first + ':' + last + ':' + this.active + ':' + this.columns.length;
    // Rows already rendered and unchanged: nothing to do (appends past the view).
    if (key === this.renderedKey && last < n) return;
    this.renderedKey = key;
    const count = last - first;
    const focused = this.el.contains(document.activeElement) && document.activeElement !== this.el;
    while (this.pool.length < count) this.pool.push(this.makeRow());
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      if (k >= count) { if (row.parentNode) row.remove(); continue; }
      this.fill(row, first + k);
      if (!row.parentNode) this.sizer.append(row);
    }
    // Keyboard users reach the table by Tab: through the active row when it
    // is rendered, else through the container itself.
    const activeShown = this.active >= first && this.active < last;
    this.el.tabIndex = activeShown ? -1 : 0;
    if (focused) {
      const el = this.rowEl(this.active);
      if (el) el.focus({ preventScroll: true });
      else this.el.focus({ preventScroll: true });
    }
  }

  makeRow() {
    const row = document.createElement('div');
    row.className = 'vrow';
    row.setAttribute('role', 'row');
    row.tabIndex = -1;
    return row;
  }

  /** Fills a pooled row element with row `i`. */
  fill(row, i) {
    const cols = this.columns;
    row.style.transform = 'translateY(' + i * ROW_H + 'px)';
    row.dataset.index = String(i);
    row.setAttribute('aria-rowindex', String(i + 2));
    const isActive = i === this.active;
    row.tabIndex = isActive ? 0 : -1;
    row.classList.toggle('active', isActive);
    row.setAttribute('aria-selected', String(isActive));
    const v = this.parse(i);
    const needed = cols.length + 1;
    while (row.childElementCount < needed) {
      const c = document.createElement('div');
      c.setAttribute('role', 'gridcell');
      c.className = 'vcell';
      row.append(c);
    }
    while (row.childElementCount > needed) row.lastChild.remove();
    const cells = row.children;
    cells[0].textContent = String(i + 1);
    cells[0].className = 'vcell num idx';
    for (let c = 0; c < cols.length; c++) {
      const value = cellOf(v, cols[c]);
      const cell = /** @type {HTMLElement} */ (cells[c + 1]);
      const t = display(value);
      if (cell.textContent !== t) cell.textContent = t;
      cell.className = 'vcell' + (typeof value === 'number' ? ' num' : '') + (value === null || value === undefined ? ' nil' : '') + (cols[c] === 'result' ? ' res-' + value : '');
    }
  }

  rowEl(i) {
    return /** @type {HTMLElement|null} */ (this.sizer.querySelector('[data-index="' + i + '"]'));
  }

  onClick(e) {
    const row = /** @type {HTMLElement} */ (e.target).closest('.vrow[data-index]');
    if (!row) return;
    this.select(Number(row.dataset.index), true);
  }

  /**
   * Makes row `i` the active one, scrolls it into view, focuses it, and
   * (when `open`) shows its JSON.
   */
  select(i, open = false) {
    const n = this.rows.length;
    if (!n) return;
    i = Math.max(0, Math.min(n - 1, i));
    this.active = i;
    const top = i * ROW_H;
    const view = this.el.clientHeight - ROW_H; // under the sticky header
    if (top < this.el.scrollTop) this.el.scrollTop = top;
    else if (top + ROW_H > this.el.scrollTop + view) this.el.scrollTop = top + ROW_H - view;
    this.renderedKey = '';
    this.render();
    const el = this.rowEl(i);
    if (el) el.focus({ preventScroll: true });
    if (open) this.onOpen(i, this.rows.text(i));
  }

  onKey(e) {
    if (!this.rows.length) return;
    const page = Math.max(1, Math.floor(this.el.clientHeight / ROW_H) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) this.select(this.active + moves[e.key]);
    else if (e.key === 'Home') this.select(0);
    else if (e.key === 'End') this.select(this.rows.length - 1);
    else if (e.key === 'Enter' || e.key === ' ') this.select(this.active, true);
    else return;
    e.preventDefault();
  }
}

function headCell(text) {
  const c = document.createElement('div');
  c.setAttribute('role', 'columnheader');
  c.className = 'vcell';
  c.textContent = text;
  c.title = text;
  return c;
}

/** A cell's text: scalars as they are, nested values as JSON (cut short). */
function display(value) {
  if (value === undefined) return '';
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const s = JSON.stringify(value);
    return s.length > 200 ? s.slice(0, 200) + '…' : s;
  }
  const s = String(value);
  return s.length > 200 ? s.slice(0, 200) + '…' : s;
}

/** A column width in px from its name and a sample of values. */
function columnWidth(col, sample) {
  let chars = col.length;
  for (const v of sample) {
    const value = cellOf(v, col);
    // Numbers grow down the table (ids 1..200000): leave room for 7 digits.
    chars = Math.max(chars, display(value).length, typeof value === 'number' ? 7 : 0);
  }
  return Math.round(Math.max(56, Math.min(340, chars * 8 + 22)));
}

/** Columns when the worker sent none: keys of the first 50 rows, in order of first appearance. */
function inferColumns(rows) {
  const seen = new Set();
  for (let i = 0; i < Math.min(50, rows.length); i++) {
    let v;
    try { v = JSON.parse(rows.text(i)); } catch { continue; }
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const k of Object.keys(v)) seen.add(k);
  }
  return seen.size ? [...seen] : ['value'];
}
