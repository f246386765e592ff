// Zoom and read values on a drawn plot: drag to zoom an axis range, double-click to unzoom,
// a tooltip naming the bin (or point) under the pointer and its content.
//
// Why the listeners sit on the frame's body and not on the plot: monitoring replaces the plot
// element every interval, and a drag or a tooltip must survive that. The body stays; after
// each redraw the frame calls `attach()`, which finds the new plot's `plotInfo` (frame box,
// scales, `hit()`; see tsui-plot.mjs) and puts the overlay and the tooltip back on top.

import { el } from './tsui-dom.mjs';

const MIN_DRAG = 4; // pixels: anything shorter is a click, not a zoom

export class PlotInteraction {
  /** `onZoom({ x?: [a, b], y?: [c, d] })` and `onUnzoom()` are the frame's. */
  constructor(container, { onZoom, onUnzoom }) {
    this.container = container;
    this.onZoom = onZoom;
    this.onUnzoom = onUnzoom;
    this.plot = null;
    this.drag = null;
    this.pointer = null; // last pointer position over the plot, for the tooltip after redraws
    this.band = el('div', { class: 'zoom-band', hidden: true });
    this.tip = el('div', { class: 'plot-tip', role: 'tooltip', hidden: true });
    container.addEventListener('mousedown', ev => this.down(ev));
    container.addEventListener('mousemove', ev => this.move(ev));
    container.addEventListener('mouseleave', () => { this.pointer = null; this.hideTip(); });
    container.addEventListener('dblclick', ev => {
      if (!this.where(ev)) return;
      ev.preventDefault();
      this.onUnzoom();
    });
    this.up = ev => this.release(ev);
  }

  /** After a redraw: pick up the new plot (or none) and restore the tooltip. */
  attach() {
    const plot = this.container.querySelector('.plot');
    this.plot = plot && plot.plotInfo ? plot : null;
    this.container.append(this.band, this.tip);
    if (this.drag && !this.plot) this.cancel();
    if (this.pointer && this.plot) this.showTip(this.pointer);
    else this.hideTip();
  }

  /** Pointer position in the plot's own pixels, and which part of it is under the pointer. */
  where(ev) {
    if (!this.plot) return null;
    const rect = this.plot.getBoundingClientRect();
    const px = ev.clientX - rect.left;
    const py = ev.clientY - rect.top;
    const { box } = this.plot.plotInfo;
    const inX = px >= box.x0 && px <= box.x1;
    const inY = py >= box.y1 && py <= box.y0;
    let part = null;
    if (inX && inY) part = 'inside';
    else if (inY && px < box.x0) part = 'yaxis';
    else if (inX && py > box.y0 && py < box.h) part = 'xaxis';
    return part ? { px, py, part, rect } : null;
  }

  down(ev) {
    if (ev.button !== 0) return;
    const at = this.where(ev);
    if (!at) return;
    ev.preventDefault(); // no text selection while dragging
    const { axes } = this.plot.plotInfo;
    // inside a 1-D plot a drag zooms x; on a 2-D map a rectangle; on an axis that axis only
    const zoomX = at.part === 'xaxis' || (at.part === 'inside');
    const zoomY = at.part === 'yaxis' || (at.part === 'inside' && axes === 'xy');
    this.drag = { start: at, now: at, zoomX, zoomY };
    window.addEventListener('mouseup', this.up);
    this.drawBand();
  }

  move(ev) {
    const at = this.where(ev);
    if (this.drag) {
      const rect = this.plot?.getBoundingClientRect();
      if (rect) this.drag.now = { px: ev.clientX - rect.left, py: ev.clientY - rect.top };
      this.drawBand();
      this.hideTip();
      return;
    }
    this.pointer = at && at.part === 'inside' ? { clientX: ev.clientX, clientY: ev.clientY } : null;
    if (this.pointer) this.showTip(this.pointer);
    else this.hideTip();
  }

  release() {
    window.removeEventListener('mouseup', this.up);
    const drag = this.drag;
    this.cancel();
    if (!drag || !this.plot) return;
    const { sx, sy, box } = this.plot.plotInfo;
    const clampX = p => Math.min(box.x1, Math.max(box.x0, p));
    const clampY = p => Math.min(box.y0, Math.max(box.y1, p));
    const zoom = {};
    if (drag.zoomX && Math.abs(drag.now.px - drag.start.px) >= MIN_DRAG) {
      const a = sx.invert(clampX(drag.start.px));
      const b = sx.invert(clampX(drag.now.px));
      zoom.x = [Math.min(a, b), Math.max(a, b)];
    }
    if (drag.zoomY && Math.abs(drag.now.py - drag.start.py) >= MIN_DRAG) {
      const a = sy.invert(clampY(drag.start.py));
      const b = sy.invert(clampY(drag.now.py));
      zoom.y = [Math.min(a, b), Math.max(a, b)];
    }
    if (zoom.x || zoom.y) this.onZoom(zoom);
  }

  cancel() {
    this.drag = null;
    this.band.hidden = true;
  }

  /** The translucent band (or rectangle) that shows the range being selected. */
  drawBand() {
    if (!this.drag || !this.plot) return;
    const { box } = this.plot.plotInfo;
    const { start, now, zoomX, zoomY } = this.drag;
    const offset = this.offset();
    const x0 = zoomX ? Math.max(box.x0, Math.min(start.px, now.px)) : box.x0;
    const x1 = zoomX ? Math.min(box.x1, Math.max(start.px, now.px)) : box.x1;
    const y0 = zoomY ? Math.max(box.y1, Math.min(start.py, now.py)) : box.y1;
    const y1 = zoomY ? Math.min(box.y0, Math.max(start.py, now.py)) : box.y0;
    Object.assign(this.band.style, { left: `${offset.x + x0}px`, top: `${offset.y + y0}px`,
      width: `${Math.max(0, x1 - x0)}px`, height: `${Math.max(0, y1 - y0)}px` });
    this.band.hidden = false;
  }

  /** Where the plot's (0, 0) is inside the scrolling container. */
  offset() {
    const c = this.container.getBoundingClientRect();
    const p = this.plot.getBoundingClientRect();
    return { x: p.left - c.left + this.container.scrollLeft, y: p.top - c.top + this.container.scrollTop };
  }

  showTip(pointer) {
    const at = this.where(pointer);
    const hit = at && at.part === 'inside' ? this.plot.plotInfo.hit(at.px, at.py) : null;
    if (!hit) { this.hideTip(); return; }
    this.tip.replaceChildren(...hit.lines.map(line => el('div', { text: line })));
    this.tip.dataset.bin = String(hit.bin);
    const offset = this.offset();
    const { box } = this.plot.plotInfo;
    // keep the tooltip inside the frame: flip it to the left of the pointer near the right edge
    const left = at.px + 14 + 170 > box.w ? at.px - 14 - 170 : at.px + 14;
    Object.assign(this.tip.style, { left: `${offset.x + Math.max(0, left)}px`,
      top: `${offset.y + Math.max(0, at.py - 10)}px` });
    this.tip.hidden = false;
  }

  hideTip() {
    this.tip.hidden = true;
    delete this.tip.dataset.bin;
  }
}
