// Views of values that are not plots of their own: numeric arrays (a line and a table),
// matrices (a colour map and a table), scalars, and a collapsible JSON tree for the rest.

import { el, formatNumber } from './tsui-dom.mjs';
import { drawMatrix } from './tsui-colormap.mjs';
import { drawLine } from './tsui-plot.mjs';

const MAX_TABLE_ROWS = 500;
const MAX_JSON_CHILDREN = 200;

export function scalarText(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value, 10);
  return JSON.stringify(value);
}

export function arrayView(values, width, height, title, opt = '', zoom = null) {
  const numbers = values.map(v => (v === null ? NaN : Number(v)));
  const xs = numbers.map((_, i) => i);
  const plot = drawLine(xs, numbers, width, Math.max(120, Math.floor(height * 0.6)), title, opt, zoom);
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

export function matrixView(rows, width, height, title, opt = '', zoom = null) {
  const map = drawMatrix(rows, width, Math.max(120, Math.floor(height * 0.7)), title, opt, zoom);
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
