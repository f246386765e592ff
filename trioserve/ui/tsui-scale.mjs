// Axis scales (linear and logarithmic), their ticks, and ROOT-style draw options.
//
// Why a module of its own: the SVG plots, the canvas colour maps, the palette axis and the
// zoom/tooltip code all convert between data and pixels the same way, so a log axis, once
// right here, is right everywhere. A scale is a plain object: `map(value) -> pixel`,
// `invert(pixel) -> value`, `ticks(count) -> [{ value, label, major }]`.

import { formatNumber } from './tsui-dom.mjs';

/** "Nice" tick positions between lo and hi (about `count` of them). */
export function niceTicks(lo, hi, count = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(f => f * mag).find(s => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/**
 * A label for a power of ten: plain digits where they read well (0.01 .. 10000), else a base
 * and an exponent that the drawing code sets as a superscript (`10` and `-5`).
 */
export function decadeLabel(exponent) {
  if (exponent >= -2 && exponent <= 4) return { text: formatNumber(10 ** exponent, 6) };
  return { text: `10^${exponent}`, base: '10', exp: String(exponent) };
}

/** Ticks of a log axis: every decade labelled; 2..9 between them, labelled when few decades. */
export function logTicks(lo, hi, count = 6) {
  if (!(lo > 0) || !(hi > lo)) return [];
  const first = Math.floor(Math.log10(lo));
  const last = Math.ceil(Math.log10(hi));
  const decades = last - first;
  // too many decades for one label each: label every n-th, as ROOT thins them
  const every = Math.max(1, Math.ceil(decades / Math.max(2, count)));
  const ticks = [];
  for (let k = first; k <= last; k++) {
    const base = 10 ** k;
    if (base >= lo * (1 - 1e-9) && base <= hi * (1 + 1e-9))
      ticks.push({ value: base, major: true, label: (k - first) % every === 0 ? decadeLabel(k) : null });
    if (decades > 6) continue; // minor ticks would only blacken the axis
    for (let m = 2; m <= 9; m++) {
      const v = m * base;
      if (v < lo || v > hi) continue;
      // under two decades in view the minor ticks carry the reading: label 2 and 5
      const labelled = decades <= 2 && (m === 2 || m === 5);
      ticks.push({ value: v, major: false, label: labelled ? { text: formatNumber(v, 6) } : null });
    }
  }
  return ticks.sort((a, b) => a.value - b.value);
}

/** A scale from data [lo, hi] to pixels [p0, p1] (p1 < p0 for a y axis); `log` needs lo > 0. */
export function makeScale(lo, hi, p0, p1, log = false) {
  if (log) {
    const l0 = Math.log10(lo);
    const l1 = Math.log10(hi);
    const span = l1 - l0 || 1;
    return {
      lo, hi, log: true,
      map: v => p0 + ((Math.log10(Math.max(v, lo * 1e-3)) - l0) / span) * (p1 - p0),
      invert: p => 10 ** (l0 + ((p - p0) / (p1 - p0)) * span),
      ticks: count => logTicks(lo, hi, count),
    };
  }
  const span = hi - lo || 1;
  return {
    lo, hi, log: false,
    map: v => p0 + ((v - lo) / span) * (p1 - p0),
    invert: p => lo + ((p - p0) / (p1 - p0)) * span,
    ticks: count => niceTicks(lo, hi, count).map(value => ({ value, major: true,
      label: { text: formatNumber(value) } })),
  };
}

/**
 * The range a log axis shows for values: ROOT's choice, from half the smallest positive value
 * to twice the largest (`null` when nothing is positive, and the axis stays linear).
 */
export function logRange(values) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return null;
  return [min * 0.5, max * 2];
}

/**
 * Split a ROOT draw option into the log flags and what is left (the style). `logy` is
 * recognised anywhere in the text, case-insensitively, as JSROOT does (`hist;logy`, `colzlogz`);
 * it is removed before the style is read, so `logy` alone is not taken for the line style `l`.
 */
export function parseDrawOpt(opt) {
  let rest = String(opt || '').toLowerCase();
  const flags = { logx: false, logy: false, logz: false };
  for (const axis of ['x', 'y', 'z']) {
    const re = new RegExp(`log${axis}`, 'g');
    if (re.test(rest)) {
      flags[`log${axis}`] = true;
      rest = rest.replace(re, '');
    }
  }
  const style = rest.split(/[;,\s]+/).filter(Boolean).join(';');
  return { ...flags, style };
}
