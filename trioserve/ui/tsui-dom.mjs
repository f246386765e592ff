// Small DOM helpers shared by the UI modules.
//
// Every piece of server data (names, titles, values) reaches the page through textContent,
// attribute setters or SVG text nodes: never through innerHTML. That one rule is what keeps an
// object called `<img src=x onerror=...>` a harmless string.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an element. `props` keys: class, text, dataset, on<event>, or plain attributes. */
export function el(tag, props = {}, ...children) {
  return fill(document.createElement(tag), props, children);
}

/** Create an SVG element (same conventions as `el`). */
export function svg(tag, props = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), props, children);
}

function fill(node, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function')
      node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child); // strings become text nodes
  }
  return node;
}

/** The URL of an item, relative to the page: names encoded one by one, trailing slash. */
export function itemUrl(names) {
  return names.length ? names.map(encodeURIComponent).join('/') + '/' : '';
}

/** Fetch JSON; throws an Error with the status and the server's message on failure. */
export async function fetchJSON(url, { signal } = {}) {
  const reply = await fetch(url, { signal, cache: 'no-store' });
  const text = await reply.text();
  if (!reply.ok) throw replyError(reply.status, text);
  return JSON.parse(text);
}

/** Fetch a binary body (an image) as a Blob; failures as in fetchJSON. */
export async function fetchBlob(url, { signal } = {}) {
  const reply = await fetch(url, { signal, cache: 'no-store' });
  if (!reply.ok) throw replyError(reply.status, await reply.text());
  return reply.blob();
}

/** An Error carrying the HTTP status and the message of the server's JSON error body. */
function replyError(status, text) {
  let message = text;
  try { message = JSON.parse(text).message || text; } catch { /* plain text */ }
  const err = new Error(`HTTP ${status}: ${String(message).slice(0, 200)}`);
  err.status = status; // callers tell "the server said no" from "no server"
  return err;
}

/** JSROOT's array syntax for `_drawitem`/`_drawopt`: `[a,b]`, `a`, with optional quotes. */
export function parseAsArray(value) {
  if (value === undefined || value === null) return [];
  const text = String(value).trim();
  if (!text) return [];
  if (!(text.startsWith('[') && text.endsWith(']'))) return [unquote(text)];
  const inner = text.slice(1, -1);
  const result = [];
  let depth = 0;
  let quote = null;
  let current = '';
  for (const ch of inner) {
    if (quote) {
      if (ch === quote) quote = null;
      current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === '[') { depth++; current += ch; }
    else if (ch === ']') { depth--; current += ch; }
    else if (ch === ',' && depth === 0) { result.push(unquote(current.trim())); current = ''; }
    else current += ch;
  }
  if (current.trim() || result.length) result.push(unquote(current.trim()));
  return result;
}

function unquote(text) {
  if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0])
    return text.slice(1, -1);
  return text;
}

/** Decode ROOT's compressed arrays (`$arr` with `len`, `p`/`v`, `b`) into plain arrays. */
export function decodeArrays(value) {
  if (Array.isArray(value)) return value.map(decodeArrays);
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.$arr === 'string' && Number.isInteger(value.len)) return decodeArr(value);
  const out = {};
  for (const [key, member] of Object.entries(value)) out[key] = decodeArrays(member);
  return out;
}

function decodeArr(obj) {
  const len = Math.min(obj.len, 1e8);
  const result = new Array(len).fill(0);
  if (typeof obj.b === 'string') {
    const bytes = Uint8Array.from(atob(obj.b), c => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    const kind = obj.$arr;
    const size = { Float64: 8, Float32: 4, Int32: 4, Uint32: 4, Int16: 2, Uint16: 2,
      Int8: 1, Uint8: 1, Int64: 8, Uint64: 8 }[kind] || 8;
    const offset = Number.isInteger(obj.o) ? obj.o : 0;
    for (let i = 0; i < len && (i + 1) * size <= bytes.length; i++) {
      const p = i * size;
      const v = { Float64: () => view.getFloat64(p, true), Float32: () => view.getFloat32(p, true),
        Int32: () => view.getInt32(p, true), Uint32: () => view.getUint32(p, true),
        Int16: () => view.getInt16(p, true), Uint16: () => view.getUint16(p, true),
        Int8: () => view.getInt8(p), Uint8: () => view.getUint8(p),
        Int64: () => Number(view.getBigInt64(p, true)),
        Uint64: () => Number(view.getBigUint64(p, true)) }[kind];
      if (i + offset < len) result[i + offset] = v ? v() : 0;
    }
    return result;
  }
  // p/v (and p/v/n) sections: values start at p; n repeats a single value
  const sections = [];
  for (let k = 0; ; k++) {
    const suffix = k ? String(k) : '';
    if (!(`p${suffix}` in obj)) break;
    sections.push([obj[`p${suffix}`], obj[`v${suffix}`], obj[`n${suffix}`]]);
  }
  for (const [p, v, n] of sections) {
    if (!Number.isInteger(p)) continue;
    if (Number.isInteger(n)) {
      for (let i = 0; i < n && p + i < len; i++) result[p + i] = v;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length && p + i < len; i++) result[p + i] = v[i];
    } else {
      result[p] = v;
    }
  }
  return result;
}

/** Short human form of a number for labels. */
export function formatNumber(value, digits = 4) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(digits - 2).replace('e+', 'e');
  return String(Number(value.toPrecision(digits)));
}
