"""``root.png`` / ``root.gif`` / ``root.jpeg``: pictures of objects, when we can draw them.

Sans-IO apart from the optional, lazy imports (matplotlib with the Agg backend; Pillow, which
matplotlib ships, for GIF). It is CPU-bound: the dispatcher runs it in a worker thread with a
concurrency limit. Returns ``None`` when the object is not drawable or matplotlib is missing
(the request then answers 404, as ROOT does for non-drawable objects).

What is drawable, in order:

1. an object with ``_repr_png_()`` (IPython's protocol) — used as is for PNG, converted for
   GIF/JPEG (via Pillow);
2. a matplotlib ``Figure`` — saved at ``width`` x ``height`` pixels when given;
3. our histograms (``Hist1D``/``Profile`` as steps, ``Hist2D`` as a colour map), ``Graph`` as a
   line with markers, boost-histogram 1-D/2-D, and numeric numpy arrays (1-D as a line, 2-D as
   an image).

``_repr_svg_`` alone is not rasterised (that would need cairosvg): such objects give ``None``.
Default size is ROOT's 300x200 canvas; ``width``/``height`` are honoured only when > 10 (ROOT)
and capped at 4000 so a request cannot ask for a gigapixel image. ``opt`` is accepted for
ROOT compatibility; ``"logy"`` (and ``"logz"`` for 2-D) switch to a log scale, ``"hist"`` draws
histograms as bars.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np

from trioserve.histograms import Graph, Hist1D, Hist2D, Profile, boost_to_root, is_boost_histogram

__all__ = ["IMAGE_FORMATS", "render_image"]

log = logging.getLogger("trioserve.render")

IMAGE_FORMATS = ("png", "gif", "jpeg")
_DEFAULT_W, _DEFAULT_H = 300, 200
_MAX_SIDE = 4000
_DPI = 100


def _size(width: int | None, height: int | None) -> tuple[int, int]:
    w = width if width is not None and width > 10 else _DEFAULT_W
    h = height if height is not None and height > 10 else _DEFAULT_H
    return min(int(w), _MAX_SIDE), min(int(h), _MAX_SIDE)


def _convert(png: bytes, fmt: str) -> bytes | None:
    if fmt == "png":
        return png
    try:
        from PIL import Image
    except ImportError:
        return None
    img = Image.open(io.BytesIO(png))
    out = io.BytesIO()
    if fmt == "jpeg":
        img.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        img.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(out, format="GIF")
    return out.getvalue()


def _plot(obj: Any, ax: Any, opt: str) -> bool:
    """Draw ``obj`` on ``ax``; False when it is not drawable."""
    opts = opt.lower()
    if isinstance(obj, (Hist1D, Profile)):
        edges = np.linspace(obj.xmin, obj.xmax, obj.nbins + 1)
        values = (obj.values if isinstance(obj, Hist1D) else obj.means)[1:-1]
        if "hist" in opts:
            ax.bar(edges[:-1], values, width=np.diff(edges), align="edge")
        else:
            ax.stairs(values, edges)
        ax.set_title(obj.title)
        if "logy" in opts:
            ax.set_yscale("log")
        return True
    if isinstance(obj, Hist2D):
        vals = obj.values[1:-1, 1:-1]
        _colormap(ax, vals.T, (obj.xmin, obj.xmax, obj.ymin, obj.ymax), opts)
        ax.set_title(obj.title)
        return True
    if isinstance(obj, Graph):
        ax.plot(obj.x, obj.y, marker=".")
        ax.set_title(obj.title)
        return True
    if is_boost_histogram(obj):
        rep = boost_to_root(obj)
        if rep is None:
            return False
        xa = rep["fXaxis"]
        if rep["_typename"] == "TH1D":
            edges = np.linspace(xa["fXmin"], xa["fXmax"], xa["fNbins"] + 1)
            ax.stairs(np.asarray(rep["fArray"])[1:-1], edges)
        else:
            ya = rep["fYaxis"]
            cells = np.asarray(rep["fArray"]).reshape(ya["fNbins"] + 2, xa["fNbins"] + 2)
            extent = (xa["fXmin"], xa["fXmax"], ya["fXmin"], ya["fXmax"])
            _colormap(ax, cells[1:-1, 1:-1], extent, opts)
        return True
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf" and obj.size:
        if obj.ndim == 1:
            ax.plot(obj.astype(np.float64))
            return True
        if obj.ndim == 2:
            _colormap(ax, obj.astype(np.float64), None, opts)
            return True
    return False


def _colormap(ax: Any, data: np.ndarray, extent: Any, opts: str) -> None:
    norm = None
    if "logz" in opts:
        from matplotlib.colors import LogNorm

        norm = LogNorm()
    image = ax.imshow(data, origin="lower", aspect="auto", extent=extent, norm=norm)
    ax.figure.colorbar(image, ax=ax)


def render_image(
    obj: object,
    fmt: str = "png",
    width: int | None = None,
    height: int | None = None,
    opt: str = "",
) -> bytes | None:
    """An image of ``obj`` in ``fmt`` (png, gif or jpeg), or None when not drawable."""
    fmt = fmt.lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}")
    repr_png = getattr(type(obj), "_repr_png_", None)
    if callable(repr_png):
        try:
            png = obj._repr_png_()  # type: ignore[attr-defined]
        except Exception:
            log.exception("_repr_png_ failed")
            png = None
        if isinstance(png, (bytes, bytearray)) and png:
            return _convert(bytes(png), fmt)
    try:
        # Figure + savefig use the Agg renderer without touching pyplot or the global backend
        from matplotlib.figure import Figure
    except ImportError:
        return None
    w, h = _size(width, height)
    if isinstance(obj, Figure):
        fig = obj
        buf = io.BytesIO()
        if width is not None or height is not None:
            dpi = fig.get_dpi()
            old = fig.get_size_inches().copy()
            try:
                fig.set_size_inches(w / dpi, h / dpi)
                fig.savefig(buf, format="png", dpi=dpi)
            finally:
                fig.set_size_inches(float(old[0]), float(old[1]))
        else:
            fig.savefig(buf, format="png")
        return _convert(buf.getvalue(), fmt)
    fig = Figure(figsize=(w / _DPI, h / _DPI), dpi=_DPI)
    ax = fig.add_subplot()
    if not _plot(obj, ax, opt):
        return None
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return _convert(buf.getvalue(), fmt)
