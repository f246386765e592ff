// The drawing area's frames and the views they show an item with.
//
// A frame fetches its item (root.json, item.json or root.png, all relative to the page) and
// picks a view from the data itself: histograms, graphs, numeric arrays and matrices are drawn,
// text items are shown as text, anything else as a collapsible JSON tree. Monitoring calls
// `refresh()` again; the frame skips a tick while its previous request is still running.

import { decodeArrays, el, fetchJSON, formatNumber, itemUrl } from './tsui-dom.mjs';
import { drawHist1D, drawHist2D, drawLine, drawMatrix } from './tsui-plot.mjs';

const MAX_TABLE_ROWS = 500;
const MAX_JSON_CHILDREN = 200;

/** How a kind is fetched: ROOT objects as root.json, anything else as item.json. */
export function isObjectKind(kind) {
  return typeof kind === 'string' && kind.startsWith('ROOT.') && kind !== 'ROOT.TFolder'
    && kind !== 'ROOT.Session';
}

function isNumberArray(value) {
  return Array.isArray(value) && value.length > 0
    && value.every(v => typeof v === 'number' || v === null);
}

function isMatrix(value) {
  return Array.isArray(value) && value.length > 0 && value.every(isNumberArray);
}

/** Pick the view for fetched data. */
export function viewFor(data) {
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const type = String(data._typename || '');
    if (/^TH2|^TProfile2D/.test(type)) return 'hist2d';
    if (/^TH1|^TProfile$/.test(type)) return 'hist1d';
    if (/^TGraph/.test(type) && Array.isArray(data.fX) && Array.isArray(data.fY)) return 'graph';
    return 'json';
  }
  if (isMatrix(data)) return 'matrix';
  if (isNumberArray(data)) return 'array';
  if (Array.isArray(data)) return 'json';
  return 'scalar';
}

export class Frame {
  constructor(app, index) {
    this.app = app;
    this.index = index;
    this.item = null; // { names, hitem, opt, mode }
    this.data = undefined;
    this.busy = false;
    this.updates = 0;
    this.openPaths = new Set(['']);
    this.title = el('span', { class: 'fname' });
    this.subtitle = el('span', { class: 'ftitle' });
    this.modeSelect = el('select', { class: 'fmode', title: 'how to show this item',
      onchange: () => this.setMode(this.modeSelect.value) },
    el('option', { value: 'auto', text: 'auto' }), el('option', { value: 'json', text: 'JSON' }),
    el('option', { value: 'png', text: 'PNG' }));
    const header = el('div', { class: 'fhead' }, this.title, this.subtitle,
      el('span', { class: 'fspacer' }), this.modeSelect,
      el('button', { class: 'fbtn', title: 'refresh now', text: '\u21bb',
        onclick: ev => { ev.stopPropagation(); this.refresh(true); } }),
      el('button', { class: 'fbtn', title: 'close', text: '\u00d7',
        onclick: ev => { ev.stopPropagation(); this.clear(); } }));
    this.body = el('div', { class: 'fbody' });
    this.element = el('section', { class: 'frame empty', dataset: { frame: String(index) },
      onmousedown: () => app.activate(this) }, header, this.body);
    this.body.append(el('p', { class: 'hint', text: 'Click an item in the browser to show it here.' }));
    this.resizer = new ResizeObserver(() => this.scheduleRedraw());
    this.resizer.observe(this.body);
  }

  get path() {
    return this.item ? this.item.names.join('/') : '';
  }

  /** Show an item (replacing what was here). */
  show(names, hitem, opt = '') {
    const optText = String(opt || '');
    const mode = /(^|;)png($|;)/i.test(optText) ? 'png' : 'auto';
    this.item = { names, hitem, opt: optText, mode };
    this.data = undefined;
    this.updates = 0;
    this.openPaths = new Set(['']);
    this.modeSelect.value = mode;
    this.title.textContent = hitem?._realname || hitem?._name || names.at(-1) || '/';
    this.subtitle.textContent = hitem?._title || '';
    this.subtitle.title = hitem?._title || '';
    this.element.classList.remove('empty');
    this.element.dataset.item = this.path;
    this.body.replaceChildren(el('p', { class: 'hint', text: 'loading\u2026' }));
    return this.refresh(true);
  }

  setMode(mode) {
    if (!this.item) return;
    this.item.mode = mode;
    this.data = undefined;
    this.refresh(true);
  }

  clear() {
    this.item = null;
    this.data = undefined;
    this.element.classList.add('empty');
    delete this.element.dataset.item;
    delete this.element.dataset.view;
    this.title.textContent = '';
    this.subtitle.textContent = '';
    this.body.replaceChildren(el('p', { class: 'hint',
      text: 'Click an item in the browser to show it here.' }));
  }

  /** Fetch the item again and redraw; `force` runs even while monitoring is off. */
  async refresh(force = false) {
    if (!this.item || (this.busy && !force)) return;
    const item = this.item;
    this.busy = true;
    try {
      const data = await this.load(item);
      if (item !== this.item) return; // replaced while loading
      this.data = data;
      this.updates += 1;
      this.element.dataset.updates = String(this.updates);
      this.render();
      this.element.classList.remove('failed');
    } catch (err) {
      if (item !== this.item) return;
      this.element.classList.add('failed');
      this.body.replaceChildren(el('p', { class: 'error', text: String(err.message || err) }));
      this.app.status(`${this.path}: ${err.message || err}`, 'error');
    } finally {
      this.busy = false;
    }
  }

  async load(item) {
    const url = itemUrl(item.names);
    const kind = item.hitem?._kind || '';
    if (item.mode === 'png') return { image: true };
    if (item.mode === 'json' && !isObjectKind(kind)) return { json: await fetchJSON(`${url}item.json?compact`) };
    if (kind === 'Text') {
      const info = await fetchJSON(`${url}item.json?compact`);
      return { text: String(info.value ?? ''), mathjax: info.mathjax };
    }
    if (isObjectKind(kind) || !kind) {
      return { json: decodeArrays(await fetchJSON(`${url}root.json?compact=3`)) };
    }
    return { json: await fetchJSON(`${url}item.json?compact`) };
  }

  scheduleRedraw() {
    if (this.redrawPending || !this.item || this.data === undefined) return;
    const view = this.element.dataset.view;
    if (!['hist1d', 'hist2d', 'graph', 'array', 'matrix'].includes(view)) return;
    const size = `${this.body.clientWidth}x${this.body.clientHeight}`;
    if (size === this.drawnSize) return;
    this.redrawPending = true;
    requestAnimationFrame(() => { this.redrawPending = false; this.render(); });
  }

  render() {
    const { data, item } = this;
    if (!item || data === undefined) return;
    const width = Math.max(160, this.body.clientWidth - 4);
    const height = Math.max(120, this.body.clientHeight - 4);
    this.drawnSize = `${this.body.clientWidth}x${this.body.clientHeight}`;
    let view;
    let content;
    if (data.image) {
      view = 'image';
      const src = `${itemUrl(item.names)}root.png?w=${Math.round(width)}&h=${Math.round(height)}`
        + (item.opt && !/^png$/i.test(item.opt) ? `&opt=${encodeURIComponent(item.opt)}` : '')
        + `&_=${this.updates}`;
      content = el('img', { class: 'image', alt: `${this.path} as an image`, src,
        onerror: () => this.app.status(`${this.path}: no image for this item`, 'error') });
    } else if ('text' in data) {
      view = 'text';
      content = el('pre', { class: 'text-item', text: data.text });
    } else {
      const value = data.json;
      view = item.mode === 'json' ? 'json' : viewFor(value);
      const opt = item.opt || item.hitem?._drawopt || '';
      if (view === 'hist1d') content = drawHist1D(value, width, height, opt);
      else if (view === 'hist2d') content = drawHist2D(value, width, height);
      else if (view === 'graph') content = drawLine(value.fX.map(Number), value.fY.map(Number),
        width, height, value.fTitle || value.fName || '');
      else if (view === 'array') content = arrayView(value, width, height, this.path);
      else if (view === 'matrix') content = matrixView(value, width, height, this.path);
      else if (view === 'scalar') content = el('div', { class: 'scalar' },
        el('span', { class: 'scalar-value', text: scalarText(value) }));
      else content = jsonTree(value, this.openPaths);
    }
    this.element.dataset.view = view;
    const scroll = this.body.scrollTop;
    this.body.replaceChildren(content);
    this.body.scrollTop = scroll;
  }
}

function scalarText(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value, 10);
  return JSON.stringify(value);
}

function arrayView(values, width, height, title) {
  const numbers = values.map(v => (v === null ? NaN : Number(v)));
  const xs = numbers.map((_, i) => i);
  const plot = drawLine(xs, numbers, width, Math.max(120, Math.floor(height * 0.6)), title);
  return el('div', { class: 'array-view' }, plot, valueTable(numbers));
}

function valueTable(numbers) {
  const body = el('tbody');
  const shown = Math.min(numbers.length, MAX_TABLE_ROWS);
  for (let i = 0; i < shown; i++)
    body.append(el('tr', {}, el('td', { text: String(i) }), el('td', { text: formatNumber(numbers[i], 8) })));
  const table = el('table', { class: 'values' },
    el('thead', {}, el('tr', {}, el('th', { text: 'index' }), el('th', { text: 'value' }))), body);
  if (numbers.length > shown)
    return el('div', {}, table, el('p', { class: 'hint',
      text: `${numbers.length - shown} more values not shown` }));
  return table;
}

function matrixView(rows, width, height, title) {
  const map = drawMatrix(rows, width, Math.max(120, Math.floor(height * 0.7)), title);
  const body = el('tbody');
  const nrows = Math.min(rows.length, 50);
  for (let r = 0; r < nrows; r++) {
    const tr = el('tr', {}, el('th', { text: String(r) }));
    for (const v of rows[r].slice(0, 50)) tr.append(el('td', { text: formatNumber(Number(v), 6) }));
    body.append(tr);
  }
  return el('div', { class: 'array-view' }, map, el('table', { class: 'values matrix' }, body));
}

/** A collapsible tree of any JSON value; children are built only when a node is opened. */
export function jsonTree(value, openPaths = new Set(['']), key = null, path = '') {
  const isContainer = value !== null && typeof value === 'object';
  const label = el('span', { class: 'jkey', text: key === null ? '' : String(key) });
  if (!isContainer) {
    const cls = value === null ? 'jnull' : `j${typeof value}`;
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return el('div', { class: 'jleaf' }, label, key === null ? '' : ': ', el('span', { class: cls, text }));
  }
  // the type name is shown on the node's own line, not repeated as a member
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v])
    : Object.entries(value).filter(([k]) => k !== '_typename');
  const summaryText = Array.isArray(value) ? `[${value.length}]`
    : value._typename ? `${value._typename} {${entries.length}}` : `{${entries.length}}`;
  const details = el('details', { class: 'jnode', dataset: { jpath: path } });
  details.append(el('summary', {}, label, key === null ? '' : ' ', el('span', { class: 'jtype', text: summaryText })));
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const shown = entries.slice(0, MAX_JSON_CHILDREN);
    for (const [k, v] of shown) details.append(jsonTree(v, openPaths, k, `${path}/${k}`));
    if (entries.length > shown.length) {
      const more = el('button', { class: 'more', text: `show ${entries.length - shown.length} more`,
        onclick: () => {
          more.remove();
          for (const [k, v] of entries.slice(MAX_JSON_CHILDREN))
            details.append(jsonTree(v, openPaths, k, `${path}/${k}`));
        } });
      details.append(more);
    }
  };
  details.addEventListener('toggle', () => {
    if (details.open) { build(); openPaths.add(path); } else openPaths.delete(path);
  });
  if (openPaths.has(path)) { build(); details.open = true; }
  return details;
}
