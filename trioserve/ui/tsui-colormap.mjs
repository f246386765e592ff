// 2-D histograms and numeric matrices as a colour map on a canvas (ROOT's `colz`), with a
// palette axis; logx/logy/logz and zoom ranges as in tsui-plot.mjs. A canvas and not SVG:
// a 100x100 map is 10,000 cells, which SVG nodes make slow to redraw every second.

import { formatNumber } from './tsui-dom.mjs';
import { axisEdges, binRange, findBin, frameBox } from './tsui-plot.mjs';
import { makeScale, parseDrawOpt } from './tsui-scale.mjs';

const PALETTE_SPACE = 62; // room right of the frame for the palette and its labels

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

/** A tick label on the canvas; a power of ten gets a raised exponent, as on the SVG axes. */
function canvasLabel(ctx, label, x, y) {
  if (label.exp === undefined) {
    ctx.fillText(label.text, x, y);
    return;
  }
  const align = ctx.textAlign;
  const baseWidth = ctx.measureText(label.base).width;
  ctx.font = '8.5px system-ui, sans-serif';
  const expWidth = ctx.measureText(label.exp).width;
  ctx.font = '11px system-ui, sans-serif';
  const total = baseWidth + expWidth;
  const left = align === 'center' ? x - total / 2 : align === 'right' ? x - total : x;
  ctx.textAlign = 'left';
  ctx.fillText(label.base, left, y);
  ctx.font = '8.5px system-ui, sans-serif';
  ctx.fillText(label.exp, left + baseWidth, y - 5);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = align;
}

/** An axis scale over bins [first, last] of `edges`, log when asked and possible. */
function binScale(edges, first, last, p0, p1, log) {
  let lo = edges[first];
  const hi = edges[last + 1];
  const useLog = log && hi > 0;
  if (useLog && !(lo > 0)) lo = edges.find(e => e > 0) ?? hi / 1000;
  return makeScale(lo, hi, p0, p1, useLog);
}

/**
 * Draw a colour map: `cell(ix, iy)` for ix < nx, iy < ny; zero cells stay blank (colz).
 * `opt` may hold logx, logy, logz; `zoom` is `{ x: [a, b], y: [c, d] }` in axis units.
 */
export function drawColorMap(nx, ny, cell, xedges, yedges, width, height, title = '', opt = '',
  zoom = null) {
  const flags = parseDrawOpt(opt);
  const box = frameBox(Math.max(160, width), Math.max(120, height), PALETTE_SPACE - 16);
  const { w, h } = box;
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
  const [fx, lx] = binRange(xedges, zoom?.x);
  const [fy, ly] = binRange(yedges, zoom?.y);
  const sx = binScale(xedges, fx, lx, box.x0, box.x1, flags.logx);
  const sy = binScale(yedges, fy, ly, box.y0, box.y1, flags.logy);
  let vmin = Infinity;
  let vmax = -Infinity;
  for (let iy = fy; iy <= ly; iy++)
    for (let ix = fx; ix <= lx; ix++) {
      const v = cell(ix, iy);
      if (!Number.isFinite(v) || v === 0 || (flags.logz && v < 0)) continue;
      if (v < vmin) vmin = v;
      if (v > vmax) vmax = v;
    }
  const have = vmax >= vmin;
  const logz = flags.logz && have && vmin > 0;
  if (have && vmax === vmin) { vmin = logz ? vmin / 2 : vmin - 1; vmax = logz ? vmax * 2 : vmax + 1; }
  const sz = have ? makeScale(vmin, vmax, 0, 1, logz) : null;
  let drawn = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.x0, box.y1, box.x1 - box.x0, box.y0 - box.y1);
  ctx.clip();
  if (sz) {
    for (let iy = fy; iy <= ly; iy++)
      for (let ix = fx; ix <= lx; ix++) {
        const v = cell(ix, iy);
        if (!Number.isFinite(v) || v === 0 || (logz && v < 0)) continue;
        const [r, g, b] = palette(sz.map(v));
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        const x = sx.map(xedges[ix]);
        const y = sy.map(yedges[iy + 1]);
        ctx.fillRect(x, y, sx.map(xedges[ix + 1]) - x + 0.4, sy.map(yedges[iy]) - y + 0.4);
        drawn++;
      }
  }
  ctx.restore();
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x0, box.y1, box.x1 - box.x0, box.y0 - box.y1);
  ctx.fillStyle = '#000';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (const t of sx.ticks(Math.max(4, Math.floor((box.x1 - box.x0) / 70)))) {
    ctx.fillRect(sx.map(t.value), box.y0 - (t.major ? 5 : 3), 1, t.major ? 5 : 3);
    if (t.label) canvasLabel(ctx, t.label, sx.map(t.value), box.y0 + 14);
  }
  ctx.textAlign = 'right';
  for (const t of sy.ticks(Math.max(3, Math.floor((box.y0 - box.y1) / 40)))) {
    ctx.fillRect(box.x0, sy.map(t.value), t.major ? 5 : 3, 1);
    if (t.label) canvasLabel(ctx, t.label, box.x0 - 4, sy.map(t.value) + 4);
  }
  // palette axis on the right, labelled with the z scale's own ticks (decades for logz)
  const px = box.x1 + 8;
  for (let i = 0; i < 64; i++) {
    const [r, g, b] = palette(i / 63);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    const y0 = box.y0 - ((i + 1) / 64) * (box.y0 - box.y1);
    ctx.fillRect(px, y0, 12, (box.y0 - box.y1) / 64 + 0.5);
  }
  ctx.fillStyle = '#000';
  ctx.textAlign = 'left';
  if (sz) {
    const pz = makeScale(vmin, vmax, box.y0, box.y1, logz);
    for (const t of pz.ticks(Math.max(3, Math.floor((box.y0 - box.y1) / 40)))) {
      ctx.fillRect(px + 12, pz.map(t.value), t.major ? 4 : 2, 1);
      if (t.label) canvasLabel(ctx, t.label, px + 17, pz.map(t.value) + 4);
    }
  }
  if (title) {
    ctx.textAlign = 'center';
    ctx.font = '13px system-ui, sans-serif';
    ctx.fillText(title, w / 2, 18);
  }
  canvas.dataset.drawnBins = String(drawn);
  canvas.dataset.logx = String(sx.log);
  canvas.dataset.logy = String(sy.log);
  canvas.dataset.logz = String(logz);
  canvas.dataset.xrange = `${sx.lo} ${sx.hi}`;
  canvas.dataset.yrange = `${sy.lo} ${sy.hi}`;
  canvas.plotInfo = { box, sx, sy, axes: 'xy', hit: (px0, py0) => {
    const ix = findBin(xedges, sx.invert(px0));
    const iy = findBin(yedges, sy.invert(py0));
    if (ix < 0 || iy < 0 || ix >= nx || iy >= ny) return null;
    const range = (edges, i) => `[${formatNumber(edges[i], 6)}, ${formatNumber(edges[i + 1], 6)})`;
    return { bin: `${ix + 1},${iy + 1}`, lines: [`x ${range(xedges, ix)}`, `y ${range(yedges, iy)}`,
      `content ${formatNumber(cell(ix, iy), 8)}`] };
  } };
  return canvas;
}

/** Draw a TH2* histogram (fArray holds (nx+2)*(ny+2) cells with under/overflow). */
export function drawHist2D(obj, width, height, opt = '', zoom = null) {
  const nx = obj.fXaxis?.fNbins | 0;
  const ny = obj.fYaxis?.fNbins | 0;
  const array = obj.fArray || [];
  const cell = (ix, iy) => Number(array[(ix + 1) + (nx + 2) * (iy + 1)] ?? 0);
  return drawColorMap(nx, ny, cell, axisEdges(obj.fXaxis), axisEdges(obj.fYaxis), width, height,
    obj.fTitle || obj.fName || '', opt, zoom);
}

/** Draw a numeric matrix (rows of equal length) as a colour map, row 0 at the bottom. */
export function drawMatrix(rows, width, height, title = '', opt = '', zoom = null) {
  const ny = rows.length;
  const nx = Math.max(0, ...rows.map(r => r.length));
  const edges = n => Array.from({ length: n + 1 }, (_, i) => i);
  return drawColorMap(nx, ny, (ix, iy) => Number(rows[iy]?.[ix] ?? 0), edges(nx), edges(ny),
    width, height, title, opt, zoom);
}
