// Drawing in the page, without any library: 1-D histograms and line plots as SVG (2-D maps
// are in tsui-colormap.mjs). Input is ROOT-style JSON (TH1*, TProfile, TGraph) as our server
// renders it, or plain numeric arrays.
//
// Every plot element gets a `plotInfo`: its frame box, its two scales and a `hit(px, py)`
// that names what lies under a pixel. The zoom and tooltip code (tsui-zoom.mjs) reads only
// that, so it works the same on every kind of plot and survives each monitoring redraw.

import { formatNumber, svg } from './tsui-dom.mjs';
import { logRange, makeScale, niceTicks, parseDrawOpt } from './tsui-scale.mjs';

export { niceTicks };

export const MARGIN = { left: 58, right: 16, top: 28, bottom: 34 };
const LINE = '#1f4e9c';
const FILL = '#9bbbe8';
let clipIds = 0;

/** Bin edges of a TAxis (fixed or variable bins). */
export function axisEdges(axis) {
  const n = Math.max(0, axis?.fNbins | 0);
  const bins = axis?.fXbins;
  if (Array.isArray(bins) && bins.length === n + 1) return bins.map(Number);
  const lo = Number(axis?.fXmin ?? 0);
  const hi = Number(axis?.fXmax ?? n);
  const edges = new Array(n + 1);
  for (let i = 0; i <= n; i++) edges[i] = lo + ((hi - lo) * i) / (n || 1);
  return edges;
}

/** Index of the bin holding x (edges ascending), or -1 outside. */
export function findBin(edges, x) {
  if (!(x >= edges[0]) || !(x <= edges[edges.length - 1])) return -1;
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid] <= x) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** The bins [first, last] a zoom range [a, b] touches: ROOT zooms by whole bins. */
export function binRange(edges, range) {
  const n = edges.length - 1;
  if (!range || n < 1) return [0, n - 1];
  const first = Math.max(0, findBin(edges, Math.max(edges[0], range[0])));
  let last = findBin(edges, Math.min(edges[n], range[1]));
  if (last < 0) last = n - 1;
  // an edge exactly at the right end belongs to the bin before it
  if (last > first && edges[last] >= range[1]) last -= 1;
  return [first, Math.max(first, last)];
}

/** Bin contents of a 1-D histogram (without under/overflow); profiles give bin means. */
export function hist1dContents(obj) {
  const n = obj.fXaxis?.fNbins | 0;
  const array = obj.fArray || [];
  const contents = new Array(n);
  const isProfile = String(obj._typename || '').startsWith('TProfile');
  for (let i = 1; i <= n; i++) {
    let v = Number(array[i] ?? 0);
    if (isProfile) {
      const entries = Number(obj.fBinEntries?.[i] ?? 0);
      v = entries ? v / entries : 0;
    }
    contents[i - 1] = Number.isFinite(v) ? v : 0;
  }
  return contents;
}

/** Entries, mean and standard deviation from the bin contents of bins [first, last]. */
export function hist1dStats(obj, first = 0, last = Infinity) {
  const edges = axisEdges(obj.fXaxis);
  const contents = hist1dContents(obj);
  let sw = 0;
  let swx = 0;
  let swx2 = 0;
  contents.forEach((w, i) => {
    if (i < first || i > last) return;
    const x = (edges[i] + edges[i + 1]) / 2;
    sw += w;
    swx += w * x;
    swx2 += w * x * x;
  });
  const mean = sw ? swx / sw : 0;
  const std = sw ? Math.sqrt(Math.max(0, swx2 / sw - mean * mean)) : 0;
  return { entries: Number(obj.fEntries ?? sw), mean, std };
}

export function frameBox(width, height, extraRight = 0) {
  const w = Math.max(120, width);
  const h = Math.max(90, height);
  return { w, h, x0: MARGIN.left, x1: w - MARGIN.right - extraRight, y0: h - MARGIN.bottom,
    y1: MARGIN.top };
}

/** An SVG text node for a tick label: `10` with a raised exponent for powers of ten. */
function labelText(props, label) {
  const node = svg('text', props);
  if (label.exp !== undefined) {
    node.append(label.base);
    node.append(svg('tspan', { dy: -5, 'font-size': '8.5px' }, label.exp));
  } else node.append(label.text);
  return node;
}

function axes(root, box, sx, sy) {
  root.append(svg('rect', { x: box.x0, y: box.y1, width: box.x1 - box.x0,
    height: box.y0 - box.y1, fill: 'none', stroke: '#000', 'stroke-width': 1 }));
  for (const t of sx.ticks(Math.max(4, Math.floor((box.x1 - box.x0) / 70)))) {
    const x = sx.map(t.value);
    root.append(svg('line', { x1: x, x2: x, y1: box.y0, y2: box.y0 - (t.major ? 5 : 3), stroke: '#000' }));
    if (t.label) root.append(labelText({ x, y: box.y0 + 14, 'text-anchor': 'middle',
      class: 'tick xtick' }, t.label));
  }
  for (const t of sy.ticks(Math.max(3, Math.floor((box.y0 - box.y1) / 40)))) {
    const y = sy.map(t.value);
    root.append(svg('line', { x1: box.x0, x2: box.x0 + (t.major ? 5 : 3), y1: y, y2: y, stroke: '#000' }));
    if (t.label) root.append(labelText({ x: box.x0 - 4, y: y + 4, 'text-anchor': 'end',
      class: 'tick ytick' }, t.label));
  }
}

function titleText(root, box, text) {
  if (text) root.append(svg('text', { x: box.w / 2, y: 18, 'text-anchor': 'middle',
    class: 'plot-title' }, text));
}

export function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

/** A y scale for `values`: the zoomed range, else log (ROOT's range) or linear from `linear`;
 * a log axis with nothing positive to show falls back to linear, as in ROOT. */
function yScale(box, values, zoomY, log, linear) {
  if (zoomY) return makeScale(zoomY[0], zoomY[1], box.y0, box.y1, log && zoomY[0] > 0);
  const logged = log ? logRange(values) : null;
  if (logged) return makeScale(logged[0], logged[1], box.y0, box.y1, true);
  const [lo, hi] = linear();
  return makeScale(lo, hi, box.y0, box.y1, false);
}

function plotRoot(box, kind) {
  const root = svg('svg', { width: box.w, height: box.h, class: `plot ${kind}`,
    viewBox: `0 0 ${box.w} ${box.h}` });
  const id = `tsui-clip-${++clipIds}`;
  root.append(svg('clipPath', { id }, svg('rect', { x: box.x0, y: box.y1, width: box.x1 - box.x0,
    height: box.y0 - box.y1 })));
  const inside = svg('g', { 'clip-path': `url(#${id})`, class: 'inside' });
  return { root, inside };
}

function markScales(root, sx, sy, flags) {
  root.dataset.logx = String(sx.log);
  root.dataset.logy = String(sy.log);
  root.dataset.xrange = `${sx.lo} ${sx.hi}`;
  root.dataset.yrange = `${sy.lo} ${sy.hi}`;
  if (flags) root.dataset.opt = flags.style;
}

/**
 * Draw a TH1 or TProfile as SVG. `opt`: a ROOT draw option, `hist` (filled steps, the
 * default), `l` (line), `bar`, with `logx`/`logy` anywhere in it. `zoom`: `{ x: [a, b],
 * y: [c, d] }`, either may be missing.
 */
export function drawHist1D(obj, width, height, opt = '', zoom = null) {
  const flags = parseDrawOpt(opt);
  const box = frameBox(width, height);
  const { root, inside } = plotRoot(box, 'hist1d');
  const edges = axisEdges(obj.fXaxis);
  const contents = hist1dContents(obj);
  const n = contents.length;
  const [first, last] = binRange(edges, zoom?.x);
  const shown = contents.slice(first, last + 1);
  let xlo = edges[first] ?? 0;
  const xhi = edges[last + 1] ?? xlo + 1;
  const logx = flags.logx && xhi > 0;
  if (logx && !(xlo > 0)) xlo = edges.find(e => e > 0) ?? xhi / 1000;
  const sx = makeScale(xlo, xhi, box.x0, box.x1, logx);
  const sy = yScale(box, shown, zoom?.y, flags.logy, () => {
    const [cmin, cmax] = range(shown);
    const ylo = Math.min(0, cmin);
    return [ylo, cmax > 0 ? cmax * 1.05 : ylo + 1];
  });
  axes(root, box, sx, sy);
  root.append(inside);
  const base = sy.log ? sy.lo : Math.max(sy.lo, Math.min(0, sy.hi));
  const y = v => sy.map(sy.log && !(v > 0) ? sy.lo : v);
  let drawn = 0;
  if (flags.style.includes('bar')) {
    for (let i = first; i <= last; i++) {
      const v = contents[i];
      if (!v || (sy.log && v <= 0)) continue;
      const top = Math.min(y(v), y(base));
      const bottom = Math.max(y(v), y(base));
      inside.append(svg('rect', { x: sx.map(edges[i]) + 0.5, y: top,
        width: Math.max(0.5, sx.map(edges[i + 1]) - sx.map(edges[i]) - 1), height: bottom - top,
        fill: FILL, stroke: LINE, 'stroke-width': 0.5, class: 'bin' }));
      drawn++;
    }
  } else if (/(^|;)l($|;)/.test(flags.style)) {
    const points = [];
    for (let i = first; i <= last; i++) {
      points.push(`${sx.map((edges[i] + edges[i + 1]) / 2)},${y(contents[i])}`);
      if (contents[i] !== 0) drawn++;
    }
    inside.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: LINE,
      'stroke-width': 1.5, class: 'bins' }));
  } else {
    let d = `M${sx.map(edges[first])},${y(base)}`;
    for (let i = first; i <= last; i++) {
      const v = contents[i];
      d += `L${sx.map(edges[i])},${y(v)}L${sx.map(edges[i + 1])},${y(v)}`;
      if (v) drawn++;
    }
    d += `L${sx.map(edges[last + 1])},${y(base)}Z`;
    inside.append(svg('path', { d, fill: FILL, stroke: LINE, 'stroke-width': 1, class: 'bins' }));
  }
  root.dataset.drawnBins = String(drawn);
  markScales(root, sx, sy, flags);
  titleText(root, box, obj.fTitle || obj.fName);
  if (obj.fXaxis?.fTitle)
    root.append(svg('text', { x: box.x1, y: box.h - 3, 'text-anchor': 'end', class: 'axis-title' },
      obj.fXaxis.fTitle));
  const stats = hist1dStats(obj, first, last);
  const lines = [obj.fName || '', `Entries ${formatNumber(stats.entries, 6)}`,
    `Mean ${formatNumber(stats.mean)}`, `Std Dev ${formatNumber(stats.std)}`];
  const sw = 118;
  const group = svg('g', { class: 'stats', transform: `translate(${box.x1 - sw - 2},${box.y1 + 2})` });
  group.append(svg('rect', { width: sw, height: 14 * lines.length + 6, fill: '#fff',
    stroke: '#000', 'stroke-width': 0.7 }));
  lines.forEach((line, i) => group.append(svg('text', { x: 5, y: 14 * (i + 1), class: 'stat' },
    line)));
  if (box.x1 - box.x0 > 2.2 * sw) root.append(group);
  root.plotInfo = { box, sx, sy, axes: 'x', hit: (px) => {
    const i = findBin(edges, sx.invert(px));
    if (i < 0 || i >= n) return null;
    return { bin: i + 1, lines: [`bin ${i + 1}: [${formatNumber(edges[i], 6)}, ${formatNumber(edges[i + 1], 6)})`,
      `content ${formatNumber(contents[i], 8)}`] };
  } };
  return root;
}

/** Draw (x, y) points as a line plot (arrays, TGraph); `opt` may hold logx/logy. */
export function drawLine(xs, ys, width, height, title = '', opt = '', zoom = null) {
  const flags = parseDrawOpt(opt);
  const box = frameBox(width, height);
  const { root, inside } = plotRoot(box, 'line');
  let [xlo, xhi] = zoom?.x || range(xs);
  const positive = xs.filter(v => v > 0);
  const logx = flags.logx && positive.length > 0;
  if (logx && !(xlo > 0)) xlo = range(positive)[0];
  if (logx && !(xhi > xlo)) xhi = xlo * 10;
  const sx = makeScale(xlo, xhi, box.x0, box.x1, logx);
  const visible = ys.filter((_, i) => xs[i] >= sx.lo && xs[i] <= sx.hi);
  const sy = yScale(box, visible, zoom?.y, flags.logy, () => {
    const [lo, hi] = range(visible);
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  });
  axes(root, box, sx, sy);
  root.append(inside);
  const points = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
    if ((sx.log && xs[i] <= 0) || (sy.log && ys[i] <= 0)) continue;
    points.push(`${sx.map(xs[i])},${sy.map(ys[i])}`);
  }
  inside.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: LINE,
    'stroke-width': 1.5, class: 'bins' }));
  root.dataset.drawnBins = String(points.length);
  markScales(root, sx, sy, flags);
  titleText(root, box, title);
  root.plotInfo = { box, sx, sy, axes: 'x', hit: (px) => {
    const x = sx.invert(px);
    let best = -1;
    for (let i = 0; i < xs.length; i++)
      if (Number.isFinite(xs[i]) && (best < 0 || Math.abs(xs[i] - x) < Math.abs(xs[best] - x))) best = i;
    if (best < 0) return null;
    return { bin: best, lines: [`point ${best}: x ${formatNumber(xs[best], 8)}`,
      `y ${formatNumber(ys[best], 8)}`] };
  } };
  return root;
}
