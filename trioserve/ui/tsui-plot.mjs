// Drawing in the page, without any library: 1-D histograms and line plots as SVG, 2-D
// histograms and matrices as a colour map on a canvas. Input is ROOT-style JSON (TH1*, TH2*,
// TProfile, TGraph) as our server renders it, or plain numeric arrays.

import { formatNumber, svg } from './tsui-dom.mjs';

const MARGIN = { left: 58, right: 16, top: 28, bottom: 34 };
const LINE = '#1f4e9c';
const FILL = '#9bbbe8';

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

/** Entries, mean and standard deviation from the bin contents (what the stats box shows). */
export function hist1dStats(obj) {
  const edges = axisEdges(obj.fXaxis);
  const contents = hist1dContents(obj);
  let sw = 0;
  let swx = 0;
  let swx2 = 0;
  contents.forEach((w, i) => {
    const x = (edges[i] + edges[i + 1]) / 2;
    sw += w;
    swx += w * x;
    swx2 += w * x * x;
  });
  const mean = sw ? swx / sw : 0;
  const std = sw ? Math.sqrt(Math.max(0, swx2 / sw - mean * mean)) : 0;
  return { entries: Number(obj.fEntries ?? sw), mean, std };
}

function frameBox(width, height) {
  const w = Math.max(120, width);
  const h = Math.max(90, height);
  return { w, h, x0: MARGIN.left, x1: w - MARGIN.right, y0: h - MARGIN.bottom, y1: MARGIN.top };
}

function axes(root, box, xlo, xhi, ylo, yhi, sx, sy) {
  root.append(svg('rect', { x: box.x0, y: box.y1, width: box.x1 - box.x0,
    height: box.y0 - box.y1, fill: 'none', stroke: '#000', 'stroke-width': 1 }));
  for (const t of niceTicks(xlo, xhi, Math.max(4, Math.floor((box.x1 - box.x0) / 70)))) {
    const x = sx(t);
    root.append(svg('line', { x1: x, x2: x, y1: box.y0, y2: box.y0 - 5, stroke: '#000' }));
    root.append(svg('text', { x, y: box.y0 + 14, 'text-anchor': 'middle', class: 'tick' },
      formatNumber(t)));
  }
  for (const t of niceTicks(ylo, yhi, Math.max(3, Math.floor((box.y0 - box.y1) / 40)))) {
    const y = sy(t);
    root.append(svg('line', { x1: box.x0, x2: box.x0 + 5, y1: y, y2: y, stroke: '#000' }));
    root.append(svg('text', { x: box.x0 - 4, y: y + 4, 'text-anchor': 'end', class: 'tick' },
      formatNumber(t)));
  }
}

function titleText(root, box, text) {
  if (text) root.append(svg('text', { x: box.w / 2, y: 18, 'text-anchor': 'middle',
    class: 'plot-title' }, text));
}

function range(values) {
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

/** Draw a TH1 or TProfile as SVG. `opt`: "" or "hist" (filled steps), "l" (line), "bar". */
export function drawHist1D(obj, width, height, opt = '') {
  const box = frameBox(width, height);
  const root = svg('svg', { width: box.w, height: box.h, class: 'plot hist1d',
    viewBox: `0 0 ${box.w} ${box.h}` });
  const edges = axisEdges(obj.fXaxis);
  const contents = hist1dContents(obj);
  const n = contents.length;
  const [cmin, cmax] = range(contents);
  const ylo = Math.min(0, cmin);
  const yhi = cmax > 0 ? cmax * 1.05 : ylo + 1;
  const xlo = edges[0];
  const xhi = edges[n] ?? xlo + 1;
  const sx = x => box.x0 + ((x - xlo) / (xhi - xlo || 1)) * (box.x1 - box.x0);
  const sy = y => box.y0 - ((y - ylo) / (yhi - ylo || 1)) * (box.y0 - box.y1);
  axes(root, box, xlo, xhi, ylo, yhi, sx, sy);
  const mode = String(opt || '').toLowerCase();
  let drawn = 0;
  if (mode.includes('bar')) {
    contents.forEach((v, i) => {
      if (!v) return;
      const top = sy(Math.max(v, 0));
      const bottom = sy(Math.min(v, 0));
      root.append(svg('rect', { x: sx(edges[i]) + 0.5, y: top,
        width: Math.max(0.5, sx(edges[i + 1]) - sx(edges[i]) - 1), height: bottom - top,
        fill: FILL, stroke: LINE, 'stroke-width': 0.5, class: 'bin' }));
      drawn++;
    });
  } else if (mode.includes('l')) {
    const points = contents.map((v, i) => `${sx((edges[i] + edges[i + 1]) / 2)},${sy(v)}`);
    root.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: LINE,
      'stroke-width': 1.5, class: 'bins' }));
    drawn = contents.filter(v => v !== 0).length;
  } else {
    let d = `M${sx(edges[0])},${sy(0)}`;
    contents.forEach((v, i) => {
      d += `L${sx(edges[i])},${sy(v)}L${sx(edges[i + 1])},${sy(v)}`;
      if (v) drawn++;
    });
    d += `L${sx(edges[n])},${sy(0)}Z`;
    root.append(svg('path', { d, fill: FILL, stroke: LINE, 'stroke-width': 1, class: 'bins' }));
  }
  root.dataset.drawnBins = String(drawn);
  titleText(root, box, obj.fTitle || obj.fName);
  if (obj.fXaxis?.fTitle)
    root.append(svg('text', { x: box.x1, y: box.h - 3, 'text-anchor': 'end', class: 'axis-title' },
      obj.fXaxis.fTitle));
  const stats = hist1dStats(obj);
  const lines = [obj.fName || '', `Entries ${formatNumber(stats.entries, 6)}`,
    `Mean ${formatNumber(stats.mean)}`, `Std Dev ${formatNumber(stats.std)}`];
  const sw = 118;
  const group = svg('g', { class: 'stats', transform: `translate(${box.x1 - sw - 2},${box.y1 + 2})` });
  group.append(svg('rect', { width: sw, height: 14 * lines.length + 6, fill: '#fff',
    stroke: '#000', 'stroke-width': 0.7 }));
  lines.forEach((line, i) => group.append(svg('text', { x: 5, y: 14 * (i + 1), class: 'stat' },
    line)));
  if (box.x1 - box.x0 > 2.2 * sw) root.append(group);
  return root;
}

/** Draw (x, y) points as a line plot (arrays, TGraph). */
export function drawLine(xs, ys, width, height, title = '') {
  const box = frameBox(width, height);
  const root = svg('svg', { width: box.w, height: box.h, class: 'plot line',
    viewBox: `0 0 ${box.w} ${box.h}` });
  const [xlo, xhi] = range(xs);
  let [ylo, yhi] = range(ys);
  const pad = (yhi - ylo) * 0.05;
  ylo -= pad;
  yhi += pad;
  const sx = x => box.x0 + ((x - xlo) / (xhi - xlo || 1)) * (box.x1 - box.x0);
  const sy = y => box.y0 - ((y - ylo) / (yhi - ylo || 1)) * (box.y0 - box.y1);
  axes(root, box, xlo, xhi, ylo, yhi, sx, sy);
  const points = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++)
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) points.push(`${sx(xs[i])},${sy(ys[i])}`);
  root.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: LINE,
    'stroke-width': 1.5, class: 'bins' }));
  root.dataset.drawnBins = String(points.length);
  titleText(root, box, title);
  return root;
}

// ROOT's kBird palette stops (the default of ROOT 6)
const BIRD = [
  [0.2082, 0.1664, 0.5293], [0.0592, 0.3599, 0.8684], [0.078, 0.5041, 0.8385],
  [0.0232, 0.6419, 0.7914], [0.1802, 0.7178, 0.6425], [0.5301, 0.7492, 0.4662],
  [0.8186, 0.7328, 0.3499], [0.9956, 0.7862, 0.1968], [0.9764, 0.9832, 0.0539],
];

/** Palette colour for t in [0, 1] as [r, g, b] 0..255. */
export function palette(t) {
  const x = Math.min(1, Math.max(0, t)) * (BIRD.length - 1);
  const i = Math.min(BIRD.length - 2, Math.floor(x));
  const f = x - i;
  return BIRD[i].map((c, k) => Math.round(255 * (c + (BIRD[i + 1][k] - c) * f)));
}

/** Draw a colour map: `cell(ix, iy)` for ix < nx, iy < ny; zero cells stay blank (colz). */
export function drawColorMap(nx, ny, cell, xedges, yedges, width, height, title = '') {
  const w = Math.max(160, width);
  const h = Math.max(120, height);
  const ratio = window.devicePixelRatio || 1;
  const canvas = document.createElement('canvas');
  canvas.className = 'plot hist2d';
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  const box = { x0: MARGIN.left, x1: w - MARGIN.right - 46, y0: h - MARGIN.bottom, y1: MARGIN.top };
  let vmin = Infinity;
  let vmax = -Infinity;
  for (let iy = 0; iy < ny; iy++)
    for (let ix = 0; ix < nx; ix++) {
      const v = cell(ix, iy);
      if (!Number.isFinite(v) || v === 0) continue;
      if (v < vmin) vmin = v;
      if (v > vmax) vmax = v;
    }
  const xlo = xedges[0];
  const xhi = xedges[nx];
  const ylo = yedges[0];
  const yhi = yedges[ny];
  const sx = x => box.x0 + ((x - xlo) / (xhi - xlo || 1)) * (box.x1 - box.x0);
  const sy = y => box.y0 - ((y - ylo) / (yhi - ylo || 1)) * (box.y0 - box.y1);
  let drawn = 0;
  if (vmax >= vmin) {
    for (let iy = 0; iy < ny; iy++)
      for (let ix = 0; ix < nx; ix++) {
        const v = cell(ix, iy);
        if (!Number.isFinite(v) || v === 0) continue;
        const [r, g, b] = palette(vmax > vmin ? (v - vmin) / (vmax - vmin) : 1);
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        const x = sx(xedges[ix]);
        const y = sy(yedges[iy + 1]);
        ctx.fillRect(x, y, sx(xedges[ix + 1]) - x + 0.4, sy(yedges[iy]) - y + 0.4);
        drawn++;
      }
  }
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x0, box.y1, box.x1 - box.x0, box.y0 - box.y1);
  ctx.fillStyle = '#000';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (const t of niceTicks(xlo, xhi, Math.max(4, Math.floor((box.x1 - box.x0) / 70)))) {
    ctx.fillRect(sx(t), box.y0 - 5, 1, 5);
    ctx.fillText(formatNumber(t), sx(t), box.y0 + 14);
  }
  ctx.textAlign = 'right';
  for (const t of niceTicks(ylo, yhi, Math.max(3, Math.floor((box.y0 - box.y1) / 40)))) {
    ctx.fillRect(box.x0, sy(t), 5, 1);
    ctx.fillText(formatNumber(t), box.x0 - 4, sy(t) + 4);
  }
  // palette axis on the right
  const px = box.x1 + 8;
  for (let i = 0; i < 64; i++) {
    const [r, g, b] = palette(i / 63);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    const y0 = box.y0 - ((i + 1) / 64) * (box.y0 - box.y1);
    ctx.fillRect(px, y0, 12, (box.y0 - box.y1) / 64 + 0.5);
  }
  ctx.fillStyle = '#000';
  ctx.textAlign = 'left';
  if (vmax >= vmin) {
    ctx.fillText(formatNumber(vmax), px + 14, box.y1 + 8);
    ctx.fillText(formatNumber(vmin), px + 14, box.y0);
  }
  if (title) {
    ctx.textAlign = 'center';
    ctx.font = '13px system-ui, sans-serif';
    ctx.fillText(title, w / 2, 18);
  }
  canvas.dataset.drawnBins = String(drawn);
  return canvas;
}

/** Draw a TH2* histogram (fArray holds (nx+2)*(ny+2) cells with under/overflow). */
export function drawHist2D(obj, width, height) {
  const nx = obj.fXaxis?.fNbins | 0;
  const ny = obj.fYaxis?.fNbins | 0;
  const array = obj.fArray || [];
  const cell = (ix, iy) => Number(array[(ix + 1) + (nx + 2) * (iy + 1)] ?? 0);
  return drawColorMap(nx, ny, cell, axisEdges(obj.fXaxis), axisEdges(obj.fYaxis), width, height,
    obj.fTitle || obj.fName || '');
}

/** Draw a numeric matrix (rows of equal length) as a colour map, row 0 at the bottom. */
export function drawMatrix(rows, width, height, title = '') {
  const ny = rows.length;
  const nx = Math.max(0, ...rows.map(r => r.length));
  const edges = n => Array.from({ length: n + 1 }, (_, i) => i);
  return drawColorMap(nx, ny, (ix, iy) => Number(rows[iy]?.[ix] ?? 0), edges(nx), edges(ny),
    width, height, title);
}
