// trioserve's browser UI: hierarchy browser on the left, drawing area on the right.
//
// Static ES modules, no build step, nothing from the internet. Every URL is relative to the
// page, so the UI works wherever it is mounted (behind Apache or lighttpd under any prefix,
// and at any item path of the tree: `/Objects/hists/` shows only that sub-tree).
//
// Top-level fields understood (as JSROOT does): _monitoring, _drawitem, _drawopt, _layout,
// _browser, _toptitle, _username, _noimages (no PNG view: the server lacks its images
// extra); item fields: _hidden, _icon, _kind, _more, _title,
// _realname, _numargs, _fastcmd, _update_item, _hreload. URL parameters: item, opt, layout,
// monitoring, nobrowser, jsroot (switch to the JSROOT page).

import { el, fetchJSON, itemUrl, parseAsArray } from './tsui-dom.mjs';
import { Browser, isCommand, isWebSocket } from './tsui-tree.mjs';
import { Frame } from './tsui-views.mjs';

const BROWSER_MODES = ['fix', 'float', 'no', 'off'];
const LAYOUTS = ['simple', 'grid1x2', 'grid2x1', 'grid2x2', 'grid3x2', 'grid3x3'];

/** `simple`, `gridNxM` (N columns, M rows), `gridN`, `vertN`, `horizN` -> [cols, rows]. */
export function parseLayout(name) {
  const text = String(name || 'simple').toLowerCase();
  let m = /^grid(\d+)x(\d+)$/.exec(text);
  if (m) return [clamp(+m[1]), clamp(+m[2])];
  m = /^grid(\d+)$/.exec(text);
  if (m) return [clamp(+m[1]), clamp(+m[1])];
  m = /^vert(\d+)$/.exec(text);
  if (m) return [1, clamp(+m[1])];
  m = /^horiz(\d+)$/.exec(text);
  if (m) return [clamp(+m[1]), 1];
  return [1, 1];
}

function clamp(n) {
  return Math.min(6, Math.max(1, n | 0));
}

/** The smallest of the offered layouts that holds `count` items. */
export function layoutFor(count) {
  if (count <= 1) return 'simple';
  if (count === 2) return 'grid2x1';
  if (count <= 4) return 'grid2x2';
  if (count <= 6) return 'grid3x2';
  return 'grid3x3';
}

/**
 * The layout the page was asked for. The URL's `layout` wins. Items named in the URL replace
 * the server's `_drawitem`, and the server's `_layout` was chosen for those, so they get a
 * layout that fits their number (one item: the whole area, not one frame of a 2x2 grid).
 * Otherwise the server's `_layout`, else `simple`.
 */
export function chooseLayout(params, top) {
  if (params.get('layout')) return params.get('layout');
  if (params.has('item')) return layoutFor(parseAsArray(params.get('item')).length);
  return top?._layout || 'simple';
}

/** Whether the page's own top node is something to draw (an item's own page). */
function isDrawable(hitem) {
  if (!hitem || isCommand(hitem) || isWebSocket(hitem)) return false;
  const kind = String(hitem._kind || '');
  if (kind === 'ROOT.TFolder' || kind === 'ROOT.Session') return false;
  return Boolean(kind) || !Array.isArray(hitem._childs);
}

class App {
  constructor(root, embedded) {
    this.root = root;
    this.params = new URLSearchParams(location.search);
    this.embedded = embedded;
    this.frames = [];
    this.active = null;
    this.layout = 'simple';
    this.monitorTimer = null;
    this.monitoring = false;
    this.noImages = false;
    this.top = null;
    this.build();
    // one ticker for every frame's "updated 0.8 s ago" and stale mark
    this.ageTimer = setInterval(() => this.tickAges(), 100);
  }

  build() {
    this.heading = el('h1', { class: 'heading' });
    this.browserButton = el('button', { class: 'tbtn', title: 'show or hide the browser',
      text: '\u2630', onclick: () => this.root.classList.toggle('browser-hidden') });
    this.layoutSelect = el('select', { class: 'layout', title: 'drawing area layout',
      onchange: () => this.setLayout(this.layoutSelect.value) });
    this.monitorBox = el('input', { type: 'checkbox', class: 'monitor',
      onchange: () => this.setMonitoring(this.monitorBox.checked) });
    this.intervalInput = el('input', { type: 'number', class: 'interval', min: '100', step: '100',
      value: '1000', title: 'monitoring interval, ms',
      onchange: () => this.setMonitoring(this.monitorBox.checked) });
    this.fastButtons = el('span', { class: 'fastcmds' });
    this.userLabel = el('span', { class: 'user' });
    const toolbar = el('header', { class: 'toolbar' },
      this.browserButton, this.heading,
      el('button', { class: 'tbtn reload', title: 'reload the hierarchy', text: '\u21bb',
        onclick: () => this.reload() }),
      el('label', { class: 'tlabel' }, 'layout ', this.layoutSelect),
      el('label', { class: 'tlabel', title: 'refresh displayed items periodically' },
        this.monitorBox, ' monitor every ', this.intervalInput, ' ms'),
      this.fastButtons, el('span', { class: 'fspacer' }), this.userLabel);
    this.treeBox = el('nav', { class: 'browser', 'aria-label': 'objects' });
    this.browser = new Browser(this, this.treeBox);
    this.area = el('main', { class: 'area' });
    this.statusBar = el('footer', { class: 'status', role: 'status' });
    this.dialog = el('dialog', { class: 'cmd-dialog' });
    this.root.replaceChildren(toolbar, el('div', { class: 'content' }, this.treeBox,
      el('div', { class: 'splitter', onmousedown: ev => this.dragSplitter(ev) }), this.area),
    this.statusBar, this.dialog);
  }

  status(message, kind = 'info') {
    this.statusBar.textContent = message;
    this.statusBar.dataset.kind = kind;
  }

  async start() {
    let top = this.embedded;
    if (!top || typeof top !== 'object') {
      try {
        top = await fetchJSON('h.json?compact=3');
      } catch (err) {
        this.status(`cannot read the hierarchy: ${err.message}`, 'error');
        top = null;
      }
    }
    this.applyTop(top);
    await this.drawInitialItems();
    this.root.dataset.ready = 'true';
  }

  applyTop(top) {
    this.top = top;
    const p = this.params;
    const title = top?._toptitle || top?._title || top?._name || 'trioserve';
    document.title = String(title);
    this.heading.textContent = String(top?._toptitle || top?._name || 'trioserve');
    if (top?._title) this.heading.title = String(top._title);
    this.userLabel.textContent = top?._username ? `user: ${top._username}` : '';
    let mode = String(top?._browser || 'fix').toLowerCase();
    if (p.has('nobrowser')) mode = 'off';
    if (p.has('browser')) mode = String(p.get('browser')).toLowerCase();
    if (!BROWSER_MODES.includes(mode)) mode = 'fix';
    this.root.dataset.browser = mode;
    this.root.classList.toggle('browser-hidden', mode === 'no' || mode === 'off');
    this.noImages = top?._noimages === true || top?._noimages === 'true';
    this.root.dataset.images = this.noImages ? 'no' : 'yes';
    this.browser.setHierarchy(top);
    const layout = chooseLayout(p, top);
    for (const name of new Set([...LAYOUTS, layout]))
      this.layoutSelect.append(el('option', { value: name, text: name }));
    this.setLayout(layout);
    const every = Number(p.get('monitoring') || top?._monitoring || 0);
    if (every > 0) this.intervalInput.value = String(Math.max(100, every));
    this.setMonitoring(every > 0 && !p.has('nomonitoring'));
    this.updateToolbar();
  }

  async reload() {
    try {
      const top = await fetchJSON('h.json?compact=3');
      this.top = top;
      this.browser.setHierarchy(top);
      this.userLabel.textContent = top?._username ? `user: ${top._username}` : '';
      this.updateToolbar();
      this.status('hierarchy reloaded');
    } catch (err) {
      this.status(`cannot reload the hierarchy: ${err.message}`, 'error');
    }
  }

  // -- drawing area -------------------------------------------------------------------
  setLayout(name) {
    const [cols, rows] = parseLayout(name);
    this.layout = name;
    this.layoutSelect.value = name;
    const shown = this.frames.filter(f => f.item).map(f => [f.item.names, f.item.hitem, f.item.opt]);
    for (const frame of this.frames) frame.resizer.disconnect();
    this.frames = [];
    this.area.replaceChildren();
    this.area.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    this.area.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    this.area.dataset.layout = `${cols}x${rows}`;
    for (let i = 0; i < cols * rows; i++) {
      const frame = new Frame(this, i);
      this.frames.push(frame);
      this.area.append(frame.element);
    }
    this.activate(this.frames[0]);
    for (const [names, hitem, opt] of shown.slice(0, this.frames.length))
      this.display(names, hitem, opt);
  }

  activate(frame) {
    this.active = frame;
    for (const f of this.frames) f.element.classList.toggle('active', f === frame);
  }

  /** Show an item: refresh it where it is already shown, else in a free or the active frame. */
  display(names, hitem, opt = '') {
    const path = names.join('/');
    const existing = this.frames.find(f => f.item && f.path === path);
    if (existing && !opt) {
      this.activate(existing);
      return existing.refresh(true);
    }
    let frame = this.active;
    if (!frame || frame.item) frame = this.frames.find(f => !f.item) || this.active || this.frames[0];
    this.activate(frame);
    const next = this.frames[(this.frames.indexOf(frame) + 1) % this.frames.length];
    const shown = frame.show(names, hitem, opt);
    if (!next.item) this.activate(next);
    this.status(`showing ${path || hitem?._name || '/'}`);
    return shown;
  }

  async drawInitialItems() {
    const items = this.params.has('item') ? parseAsArray(this.params.get('item'))
      : parseAsArray(this.top?._drawitem);
    const opts = this.params.has('opt') ? parseAsArray(this.params.get('opt'))
      : parseAsArray(this.top?._drawopt);
    if (!this.params.has('item') && !items.length && isDrawable(this.top)) {
      // an item's own page (/Objects/hists/hpx/): its top node is the item, drawn at once
      await this.display([], this.top, opts[0] ?? '');
      return;
    }
    const jobs = [];
    for (const [i, path] of items.entries()) {
      const names = path.split('/').filter(Boolean);
      jobs.push(this.findItem(names).then(hitem => {
        if (hitem) return this.display(names, hitem, opts[i] ?? opts[0] ?? '');
        this.status(`item to draw not found: ${path}`, 'error');
        return undefined;
      }));
    }
    await Promise.all(jobs);
    this.activate(this.frames.find(f => !f.item) || this.frames[0]);
  }

  /** The hierarchy item at `names`: from the loaded tree, else from `<path>/item.json`. */
  async findItem(names) {
    const loaded = this.browser.find(names);
    if (loaded) return loaded;
    try {
      return await fetchJSON(`${itemUrl(names)}item.json?compact`);
    } catch {
      return null;
    }
  }

  // -- monitoring ---------------------------------------------------------------------
  /** The monitoring interval in ms, as the toolbar says. */
  interval() {
    return Math.max(100, Number(this.intervalInput.value) || 1000);
  }

  tickAges() {
    const now = performance.now();
    for (const frame of this.frames) frame.tickAge(now);
  }

  setMonitoring(on) {
    this.monitoring = on;
    this.monitorBox.checked = on;
    this.root.dataset.monitoring = on ? 'on' : 'off';
    clearTimeout(this.monitorTimer);
    this.monitorTimer = null;
    if (on) this.scheduleMonitor();
  }

  scheduleMonitor() {
    const every = this.interval();
    this.monitorTimer = setTimeout(async () => {
      await Promise.all(this.frames.filter(f => f.item).map(f => f.refresh()));
      if (this.monitorBox.checked) this.scheduleMonitor();
    }, every);
  }

  // -- commands -----------------------------------------------------------------------
  updateToolbar() {
    const buttons = [];
    for (const [hitem, names] of this.browser.walk()) {
      if (!isCommand(hitem) || !hitem._fastcmd || hitem._fastcmd === 'false') continue;
      if ('_hidden' in hitem) continue;
      const label = hitem._realname || hitem._name;
      const button = el('button', { class: 'tbtn fastcmd', title: hitem._title || label,
        dataset: { path: names.join('/') }, onclick: () => this.runCommand(names, hitem, null) });
      if (typeof hitem._icon === 'string' && hitem._icon) {
        const img = el('img', { alt: '', src: hitem._icon, onerror: () => img.remove() });
        button.append(img);
      }
      button.append(el('span', { text: label }));
      buttons.push(button);
    }
    this.fastButtons.replaceChildren(...buttons);
  }

  /** Ask for `_numargs` arguments in a dialog; resolves to the list, or null if cancelled. */
  askArguments(hitem, count) {
    const inputs = [];
    const form = el('form', { method: 'dialog' });
    form.append(el('h2', { text: `Run ${hitem._realname || hitem._name}` }));
    if (hitem._title) form.append(el('p', { class: 'hint', text: hitem._title }));
    for (let i = 1; i <= count; i++) {
      const input = el('input', { name: `arg${i}`, class: 'cmd-arg', autocomplete: 'off' });
      inputs.push(input);
      form.append(el('label', {}, `arg${i} `, input));
    }
    const ok = el('button', { value: 'ok', class: 'cmd-ok-btn', text: 'Run' });
    const cancel = el('button', { value: 'cancel', type: 'button', text: 'Cancel',
      onclick: () => this.dialog.close('cancel') });
    form.append(el('div', { class: 'buttons' }, cancel, ok));
    this.dialog.replaceChildren(form);
    return new Promise(resolve => {
      this.dialog.addEventListener('close', () => {
        resolve(this.dialog.returnValue === 'ok' ? inputs.map(i => i.value) : null);
      }, { once: true });
      this.dialog.returnValue = '';
      this.dialog.showModal();
      inputs[0]?.focus();
    });
  }

  async runCommand(names, hitem, li) {
    const count = Math.min(100, Math.max(0, parseInt(hitem._numargs ?? '0', 10) || 0));
    let args = [];
    if (count > 0) {
      args = await this.askArguments(hitem, count);
      if (args === null) { this.status('command cancelled'); return; }
    }
    const query = args.map((v, i) => `arg${i + 1}=${encodeURIComponent(v)}`).join('&');
    const path = names.join('/');
    const label = hitem._realname || hitem._name;
    let ok = false;
    let detail = '';
    try {
      const reply = await fetch(`${itemUrl(names)}cmd.json${query ? `?${query}` : ''}`, { cache: 'no-store' });
      const text = (await reply.text()).trim();
      ok = reply.ok && text !== '' && text !== 'false';
      detail = reply.ok ? text : `HTTP ${reply.status}`;
    } catch (err) {
      detail = String(err.message || err);
    }
    Browser.markCommand(li || this.treeBox.querySelector(`li[data-path="${CSS.escape(path)}"]`), ok);
    this.status(`command ${label}: ${ok ? 'done' : 'FAILED'}${detail ? ` (${detail.slice(0, 200)})` : ''}`,
      ok ? 'ok' : 'error');
    this.root.dataset.lastCommand = ok ? 'ok' : 'fail';
    if (!ok) return;
    if (hitem._hreload !== undefined) await this.reload();
    for (const target of parseAsArray(hitem._update_item).flatMap(s => s.split(';'))) {
      const frame = this.frames.find(f => f.item && f.path === target.replace(/^\/+/, ''));
      if (frame) frame.refresh(true);
    }
  }

  // -- browser width ------------------------------------------------------------------
  dragSplitter(ev) {
    ev.preventDefault();
    const move = e => {
      const width = Math.min(window.innerWidth * 0.8, Math.max(120, e.clientX));
      this.root.style.setProperty('--browser-width', `${width}px`);
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }
}

/**
 * The hierarchy the server embedded in the page, or null (token not replaced, or unreadable).
 *
 * It sits in a non-executed JSON script element at the very end of the document. Why: inside
 * any script element the HTML parser treats `<!--<script>` specially, so a name or title
 * holding it (with `<` not escaped by the server) could make the element run on to the end of
 * the document. Being last, it can swallow nothing; JSON.parse then fails and the UI simply
 * fetches `h.json` instead.
 */
export function readEmbedded(id) {
  const node = document.getElementById(id);
  if (!node) return null;
  try {
    const value = JSON.parse(node.textContent);
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

/** Start the UI in `root`; `embedded` is the hierarchy the server put into the page. */
export async function startUI(root, embedded) {
  const params = new URLSearchParams(location.search);
  if (params.has('jsroot')) {
    // keep the other options exactly as written (JSROOT reads bare flags like `nobrowser`)
    const rest = location.search.slice(1).split('&')
      .filter(part => part && decodeURIComponent(part.split('=')[0]) !== 'jsroot').join('&');
    location.replace(`jsroot.htm${rest ? `?${rest}` : ''}`);
    return null;
  }
  const app = new App(root, embedded);
  window.tsui = app;
  await app.start();
  return app;
}
