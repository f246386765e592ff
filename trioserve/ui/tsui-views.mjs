// The drawing area's frames.
//
// A frame fetches its item (root.json, item.json or root.png, all relative to the page) and
// picks a view from the data itself: histograms, graphs, numeric arrays and matrices are drawn,
// text items are shown as text, anything else as a collapsible JSON tree. Monitoring calls
// `refresh()` again; the frame skips a tick while its previous request is still running.
//
// What a frame shows is the last answer it got, and it says how old that is. When the server
// cannot be reached the picture stays, marked "disconnected, retrying", and the frame retries
// on its own until an answer comes; a server that answers with an error gets its message shown.

import { decodeArrays, el, fetchBlob, fetchJSON, itemUrl } from './tsui-dom.mjs';
import { formatAge, isConnectionLoss, isStale, retryDelay } from './tsui-age.mjs';
import { drawHist2D } from './tsui-colormap.mjs';
import { drawHist1D, drawLine } from './tsui-plot.mjs';
import { arrayView, jsonTree, matrixView, scalarText } from './tsui-values.mjs';
import { PlotInteraction } from './tsui-zoom.mjs';

export { jsonTree };

const DRAWN_VIEWS = ['hist1d', 'hist2d', 'graph', 'array', 'matrix'];

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
    this.zoom = null; // { x: [a, b], y: [c, d] } in axis units
    this.fetchedAt = null; // performance.now() of the last answer
    this.failures = 0; // connection losses in a row (sets the retry delay)
    this.retryTimer = null;
    this.imageUrl = null;
    this.openPaths = new Set(['']);
    this.title = el('span', { class: 'fname' });
    this.subtitle = el('span', { class: 'ftitle' });
    this.age = el('span', { class: 'fage', 'aria-live': 'off' });
    const modes = [el('option', { value: 'auto', text: 'auto' }), el('option', { value: 'json', text: 'JSON' })];
    // without the server's images extra (h.json's `_noimages`) there is no picture to offer
    if (!app.noImages) modes.push(el('option', { value: 'png', text: 'PNG' }));
    this.modeSelect = el('select', { class: 'fmode', title: 'how to show this item',
      onchange: () => this.setMode(this.modeSelect.value) }, ...modes);
    const header = el('div', { class: 'fhead' }, this.title, this.subtitle,
      el('span', { class: 'fspacer' }), this.age, this.modeSelect,
      el('button', { class: 'fbtn', title: 'refresh now', text: '\u21bb',
        onclick: ev => { ev.stopPropagation(); this.refresh(true); } }),
      el('button', { class: 'fbtn', title: 'close', text: '\u00d7',
        onclick: ev => { ev.stopPropagation(); this.clear(); } }));
    this.body = el('div', { class: 'fbody' });
    this.mark = el('div', { class: 'conn-mark', role: 'status', hidden: true,
      text: 'disconnected, retrying\u2026' });
    this.element = el('section', { class: 'frame empty', dataset: { frame: String(index) },
      onmousedown: () => app.activate(this) }, header, this.body, this.mark);
    this.body.append(el('p', { class: 'hint', text: 'Click an item in the browser to show it here.' }));
    this.interaction = new PlotInteraction(this.body, {
      onZoom: zoom => { this.zoom = { ...this.zoom, ...zoom }; this.render(); },
      onUnzoom: () => { if (this.zoom) { this.zoom = null; this.render(); } },
    });
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
    this.reset();
    this.modeSelect.value = mode;
    this.title.textContent = hitem?._realname || hitem?._name || names.at(-1) || '/';
    this.subtitle.textContent = hitem?._title || '';
    this.subtitle.title = hitem?._title || '';
    this.element.classList.remove('empty');
    this.element.dataset.item = this.path;
    this.body.replaceChildren(el('p', { class: 'hint', text: 'loading\u2026' }));
    return this.refresh(true);
  }

  /** Forget what was shown: data, zoom, age, connection state. */
  reset() {
    this.data = undefined;
    this.updates = 0;
    this.zoom = null;
    this.fetchedAt = null;
    this.openPaths = new Set(['']);
    this.setConnection(true);
    this.setImage(null);
    this.age.textContent = '';
    this.element.classList.remove('stale', 'failed');
    delete this.element.dataset.stale;
  }

  setMode(mode) {
    if (!this.item) return;
    this.item.mode = mode;
    this.data = undefined;
    this.refresh(true);
  }

  clear() {
    this.item = null;
    this.reset();
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
      this.fetchedAt = performance.now();
      this.element.dataset.updates = String(this.updates);
      this.setConnection(true);
      this.render();
      this.element.classList.remove('failed');
      this.tickAge(this.fetchedAt);
    } catch (err) {
      if (item !== this.item) return;
      if (isConnectionLoss(err)) this.lost(err);
      else this.failed(err);
    } finally {
      this.busy = false;
    }
  }

  /** The server answered with an error: show its message instead of the picture. */
  failed(err) {
    this.setConnection(true);
    this.element.classList.add('failed');
    this.data = undefined;
    this.setImage(null);
    delete this.element.dataset.view;
    this.body.replaceChildren(el('p', { class: 'error', text: String(err.message || err) }));
    this.app.status(`${this.path}: ${err.message || err}`, 'error');
  }

  /** No server: keep the last picture, mark it, and retry (monitoring or not). */
  lost(err) {
    this.failures += 1;
    this.setConnection(false);
    if (this.data === undefined)
      this.body.replaceChildren(el('p', { class: 'hint', text: 'no answer from the server yet' }));
    this.app.status(`${this.path}: disconnected (${err.message || err}), retrying`, 'error');
    clearTimeout(this.retryTimer);
    const item = this.item;
    this.retryTimer = setTimeout(() => { if (item === this.item) this.refresh(); },
      retryDelay(this.failures - 1));
  }

  setConnection(ok) {
    if (ok) {
      this.failures = 0;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.mark.hidden = ok;
    this.element.classList.toggle('disconnected', !ok);
    this.element.dataset.connection = ok ? 'ok' : 'lost';
  }

  /** Update the age label and the stale mark (called by the page's one ticker). */
  tickAge(now) {
    if (!this.item || this.fetchedAt === null) return;
    const age = now - this.fetchedAt;
    this.age.textContent = formatAge(age);
    const stale = isStale(age, this.app.monitoring, this.app.interval());
    this.element.classList.toggle('stale', stale);
    if (stale) this.element.dataset.stale = 'true';
    else delete this.element.dataset.stale;
  }

  async load(item) {
    const url = itemUrl(item.names);
    const kind = item.hitem?._kind || '';
    if (item.mode === 'png') return { image: await fetchBlob(this.imageUrlFor(item)) };
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

  /** root.png at the size of the frame, with the item's draw option. */
  imageUrlFor(item) {
    const width = Math.max(160, this.body.clientWidth - 4);
    const height = Math.max(120, this.body.clientHeight - 4);
    return `${itemUrl(item.names)}root.png?w=${Math.round(width)}&h=${Math.round(height)}`
      + (item.opt && !/^png$/i.test(item.opt) ? `&opt=${encodeURIComponent(item.opt)}` : '');
  }

  /** Hold one object URL for the fetched image at a time (each would keep its blob alive). */
  setImage(blob) {
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = blob ? URL.createObjectURL(blob) : null;
    return this.imageUrl;
  }

  scheduleRedraw() {
    if (this.redrawPending || !this.item || this.data === undefined) return;
    if (!DRAWN_VIEWS.includes(this.element.dataset.view)) return;
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
    const opt = item.opt || item.hitem?._drawopt || '';
    const zoom = this.zoom;
    let view;
    let content;
    if (data.image) {
      view = 'image';
      const img = el('img', { class: 'image', alt: `${this.path} as an image` });
      // the test (and a user's script) wait on this, not on a time budget
      img.addEventListener('load', () => { img.dataset.loaded = 'true'; }, { once: true });
      if (!this.imageUrl || data.image !== this.imageBlob) {
        this.imageBlob = data.image;
        this.setImage(data.image);
      }
      img.src = this.imageUrl;
      content = img;
    } else if ('text' in data) {
      view = 'text';
      content = el('pre', { class: 'text-item', text: data.text });
    } else {
      const value = data.json;
      view = item.mode === 'json' ? 'json' : viewFor(value);
      if (view === 'hist1d') content = drawHist1D(value, width, height, opt, zoom);
      else if (view === 'hist2d') content = drawHist2D(value, width, height, opt, zoom);
      else if (view === 'graph') content = drawLine(value.fX.map(Number), value.fY.map(Number),
        width, height, value.fTitle || value.fName || '', opt, zoom);
      else if (view === 'array') content = arrayView(value, width, height, this.path, opt, zoom);
      else if (view === 'matrix') content = matrixView(value, width, height, this.path, opt, zoom);
      else if (view === 'scalar') content = el('div', { class: 'scalar' },
        el('span', { class: 'scalar-value', text: scalarText(value) }));
      else content = jsonTree(value, this.openPaths);
    }
    this.element.dataset.view = view;
    if (zoom) this.element.dataset.zoomed = 'true';
    else delete this.element.dataset.zoomed;
    const scroll = this.body.scrollTop;
    this.body.replaceChildren(content);
    this.body.scrollTop = scroll;
    this.interaction.attach();
  }
}
