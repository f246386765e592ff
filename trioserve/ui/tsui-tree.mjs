// The hierarchy browser: a tree built from h.json.
//
// Children are put into the DOM only when their parent is expanded, and then at most CHUNK
// rows at a time ("show more" adds the next chunk), so a folder with thousands of items stays
// responsive. Objects with `_more` are expanded by asking the server for `<item>/h.json`.

import { el, fetchJSON, itemUrl } from './tsui-dom.mjs';
import { isObjectKind } from './tsui-views.mjs';

export const CHUNK = 200;

export function isCommand(hitem) {
  return hitem?._kind === 'Command';
}

export function isWebSocket(hitem) {
  return Boolean(hitem) && ('_ws' in hitem || /websocket|wshandler/i.test(String(hitem._kind || '')));
}

function isFolderOnly(hitem) {
  const kind = hitem._kind || '';
  return kind === 'ROOT.TFolder' || kind === 'ROOT.Session'
    || (!kind && Array.isArray(hitem._childs));
}

function canExpand(hitem) {
  if (isCommand(hitem)) return false;
  if (Array.isArray(hitem._childs)) return true;
  return hitem._more === true || hitem._more === 'true';
}

function iconClass(hitem) {
  const kind = String(hitem._kind || '');
  if (isCommand(hitem)) return 'icon-command';
  if (isWebSocket(hitem)) return 'icon-ws';
  if (isFolderOnly(hitem)) return 'icon-folder';
  if (kind === 'Text') return 'icon-text';
  if (/^ROOT\.(TH2|TProfile2D)/.test(kind)) return 'icon-h2';
  if (/^ROOT\.(TH1|TProfile)/.test(kind)) return 'icon-h1';
  if (/^ROOT\.TGraph/.test(kind)) return 'icon-graph';
  if (/ndarray|list|tuple|array/i.test(kind)) return 'icon-array';
  return 'icon-object';
}

export class Browser {
  constructor(app, container) {
    this.app = app;
    this.container = container;
    this.top = null;
  }

  setHierarchy(top) {
    this.top = top;
    const list = el('ul', { class: 'tree', role: 'tree' });
    this.container.replaceChildren(list);
    if (!top) return;
    const row = this.makeItem(top, [], list, 0);
    list.append(row);
    this.expand(row, top, [], 0).then(() => {
      // open the first level of folders too when that stays small
      const folders = (top._childs || []).filter(c => !('_hidden' in c) && isFolderOnly(c));
      if (folders.length > 8) return;
      for (const child of folders) {
        const li = [...list.querySelectorAll(':scope > li > ul > li')]
          .find(node => node.dataset.path === child._name);
        if (li && (child._childs || []).length <= 50) this.expand(li, child, [child._name], 1);
      }
    });
  }

  /** The loaded hierarchy item at `names` (or null when not loaded yet). */
  find(names) {
    let node = this.top;
    for (const name of names) {
      node = (node?._childs || []).find(c => c._name === name) || null;
      if (!node) return null;
    }
    return node;
  }

  /** Every loaded item, depth first, with its names (for the command toolbar). */
  *walk(node = this.top, names = []) {
    if (!node) return;
    yield [node, names];
    for (const child of node._childs || []) yield* this.walk(child, [...names, child._name]);
  }

  makeItem(hitem, names, parentList, depth) {
    const li = el('li', { class: 'titem', role: 'treeitem', dataset: { path: names.join('/') } });
    const expandable = canExpand(hitem);
    const toggle = el('span', { class: expandable ? 'toggle' : 'toggle leaf', 'aria-hidden': 'true' });
    const icon = el('span', { class: `icon ${iconClass(hitem)}` });
    if (typeof hitem._icon === 'string' && hitem._icon) {
      const img = el('img', { class: 'custom-icon', alt: '', src: hitem._icon,
        onerror: () => img.remove(), onload: () => icon.classList.add('has-img') });
      icon.append(img);
    }
    const label = hitem._realname || hitem._name || '';
    let name;
    if (isWebSocket(hitem)) {
      name = el('a', { class: 'tname ws-link', href: itemUrl(names), target: '_blank',
        rel: 'noopener', text: label });
    } else {
      name = el('span', { class: 'tname', text: label, tabindex: '0' });
    }
    if (hitem._title) name.title = hitem._title;
    const row = el('div', { class: 'trow' }, toggle, icon, name);
    li.append(row);
    if (depth === 0) li.classList.add('top');
    toggle.addEventListener('click', () => this.toggle(li, hitem, names, depth));
    if (!isWebSocket(hitem)) {
      const activate = () => {
        if (isCommand(hitem)) this.app.runCommand(names, hitem, li);
        else if (isFolderOnly(hitem)) this.toggle(li, hitem, names, depth);
        else this.app.display(names, hitem);
      };
      name.addEventListener('click', activate);
      name.addEventListener('keydown', ev => { if (ev.key === 'Enter') activate(); });
      name.addEventListener('dblclick', () => { if (expandable) this.toggle(li, hitem, names, depth); });
    }
    return li;
  }

  async toggle(li, hitem, names, depth) {
    if (li.classList.contains('open')) {
      li.classList.remove('open');
      li.querySelector(':scope > ul')?.remove();
      return;
    }
    await this.expand(li, hitem, names, depth);
  }

  async expand(li, hitem, names, depth) {
    if (!canExpand(hitem) || li.classList.contains('open')) return;
    if (!Array.isArray(hitem._childs)) {
      li.classList.add('loading');
      try {
        const sub = await fetchJSON(`${itemUrl(names)}h.json?compact=3`);
        hitem._childs = Array.isArray(sub?._childs) ? sub._childs : [];
      } catch (err) {
        this.app.status(`${names.join('/')}: ${err.message}`, 'error');
        return;
      } finally {
        li.classList.remove('loading');
      }
    }
    const children = hitem._childs.filter(c => !('_hidden' in c));
    const ul = el('ul', { role: 'group' });
    li.querySelector(':scope > ul')?.remove();
    li.append(ul);
    li.classList.add('open');
    this.appendChunk(ul, children, 0, names, depth + 1);
    // fast commands found in members fetched just now get their toolbar buttons
    if (children.some(c => isCommand(c) && c._fastcmd)) this.app.updateToolbar();
  }

  appendChunk(ul, children, start, names, depth) {
    const end = Math.min(children.length, start + CHUNK);
    const fragment = document.createDocumentFragment();
    for (let i = start; i < end; i++) {
      const child = children[i];
      fragment.append(this.makeItem(child, [...names, child._name], ul, depth));
    }
    ul.append(fragment);
    if (end < children.length) {
      const more = el('li', { class: 'tmore' });
      more.append(el('button', { class: 'more', text: `show ${Math.min(CHUNK, children.length - end)} more of ${children.length - end}`,
        onclick: () => { more.remove(); this.appendChunk(ul, children, end, names, depth); } }));
      ul.append(more);
    }
  }

  /** Mark a command row with the outcome of its last run. */
  static markCommand(li, ok) {
    if (!li) return;
    li.classList.remove('cmd-ok', 'cmd-fail');
    li.classList.add(ok ? 'cmd-ok' : 'cmd-fail');
  }
}

export { isObjectKind };
