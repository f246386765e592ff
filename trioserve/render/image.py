"""``root.png`` / ``root.gif`` / ``root.jpeg``: pictures of objects, when we can draw them.

Two steps, so that a picture never shows an object half-way through an update:

1. :func:`snapshot_image` reads the object where ``root.json`` reads its own (on the event loop
   of a Trio program, in the program's thread with ``sync="app"``) and keeps a private copy of
   what the picture needs: a histogram's bin contents, a graph's points, an array. An object
   that draws itself (``_repr_png_``, a matplotlib ``Figure``) is drawn right there, since that
   drawing *is* the read.
2. :meth:`ImageSnapshot.draw` draws the copy with matplotlib: CPU-bound, so the server runs it
   in a worker thread with a concurrency limit; it touches no live object.

:func:`render_image` does both at once, for a caller that owns the object. Sans-IO apart from
the optional, lazy imports (matplotlib with the Agg backend; Pillow, which matplotlib ships,
for GIF). ``None`` means the object is not drawable or matplotlib is missing (the request then
answers 404, as ROOT does for non-drawable objects).

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
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from trioserve.histograms import Graph, Hist1D, Hist2D, Profile, boost_to_root, is_boost_histogram

__all__ = ["IMAGE_FORMATS", "ImageSnapshot", "render_image", "snapshot_image"]

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


@dataclass(frozen=True, slots=True)
class _Steps:
    """A 1-D histogram: bin edges and contents (``styled``: ours, with title and options)."""

    edges: np.ndarray
    values: np.ndarray
    title: str
    styled: bool

    def plot(self, ax: Any, opts: str) -> None:
        if not self.styled:
            ax.stairs(self.values, self.edges)
            return
        if "hist" in opts:
            ax.bar(self.edges[:-1], self.values, width=np.diff(self.edges), align="edge")
        else:
            ax.stairs(self.values, self.edges)
        ax.set_title(self.title)
        if "logy" in opts:
            ax.set_yscale("log")


@dataclass(frozen=True, slots=True)
class _ColorMap:
    """A 2-D histogram or array as an image, with its axis ranges when it has some."""

    data: np.ndarray
    extent: tuple[float, float, float, float] | None
    title: str | None

    def plot(self, ax: Any, opts: str) -> None:
        _colormap(ax, self.data, self.extent, opts)
        if self.title is not None:
            ax.set_title(self.title)


@dataclass(frozen=True, slots=True)
class _Line:
    """A graph's points (with markers and title), or a 1-D array against its index."""

    x: np.ndarray | None
    y: np.ndarray
    title: str

    def plot(self, ax: Any, opts: str) -> None:
        if self.x is None:
            ax.plot(self.y)
            return
        ax.plot(self.x, self.y, marker=".")
        ax.set_title(self.title)


_Plot = _Steps | _ColorMap | _Line


def _capture(obj: Any) -> _Plot | None:
    """A private copy of what drawing ``obj`` needs (read once, through the objects' public,
    locked accessors); None when it is not drawable."""
    if isinstance(obj, (Hist1D, Profile)):
        edges = np.linspace(obj.xmin, obj.xmax, obj.nbins + 1)
        values = (obj.values if isinstance(obj, Hist1D) else obj.means)[1:-1]  # copies
        return _Steps(edges, values, obj.title, styled=True)
    if isinstance(obj, Hist2D):
        extent = (obj.xmin, obj.xmax, obj.ymin, obj.ymax)
        return _ColorMap(obj.values[1:-1, 1:-1].T, extent, obj.title)
    if isinstance(obj, Graph):
        x, y = np.array(obj.x, dtype=np.float64), np.array(obj.y, dtype=np.float64)
        return _Line(x, y, obj.title)
    if is_boost_histogram(obj):
        rep = boost_to_root(obj)
        if rep is None:
            return None
        xa = rep["fXaxis"]
        cells = np.array(rep["fArray"], dtype=np.float64)
        if rep["_typename"] == "TH1D":
            edges = np.linspace(xa["fXmin"], xa["fXmax"], xa["fNbins"] + 1)
            return _Steps(edges, cells[1:-1], "", styled=False)
        ya = rep["fYaxis"]
        cells = cells.reshape(ya["fNbins"] + 2, xa["fNbins"] + 2)
        extent = (xa["fXmin"], xa["fXmax"], ya["fXmin"], ya["fXmax"])
        return _ColorMap(cells[1:-1, 1:-1], extent, None)
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf" and obj.size:
        if obj.ndim == 1:
            return _Line(None, obj.astype(np.float64), "")
        if obj.ndim == 2:
            return _ColorMap(obj.astype(np.float64), None, None)
    return None


def _colormap(ax: Any, data: np.ndarray, extent: Any, opts: str) -> None:
    norm = None
    if "logz" in opts:
        from matplotlib.colors import LogNorm

        norm = LogNorm()
    image = ax.imshow(data, origin="lower", aspect="auto", extent=extent, norm=norm)
    ax.figure.colorbar(image, ax=ax)


@dataclass(frozen=True, slots=True)
class ImageSnapshot:
    """What one picture needs, copied from its object at one moment: drawing it touches no
    live object, so it may run in any thread, later. ``png`` is set when the object drew
    itself (``_repr_png_``, a ``Figure``); ``plot`` holds the data matplotlib will draw."""

    fmt: str
    width: int
    height: int
    opt: str = ""
    png: bytes | None = None
    plot: _Plot | None = None

    def draw(self) -> bytes | None:
        """The image bytes, or None when a library it needs is missing."""
        if self.png is not None:
            return _convert(self.png, self.fmt)
        if self.plot is None:
            return None
        try:
            # Figure + savefig use the Agg renderer without touching pyplot or the global backend
            from matplotlib.figure import Figure
        except ImportError:
            return None
        fig = Figure(figsize=(self.width / _DPI, self.height / _DPI), dpi=_DPI)
        ax = fig.add_subplot()
        self.plot.plot(ax, self.opt.lower())
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI)
        return _convert(buf.getvalue(), self.fmt)


def _format(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}")
    return fmt


def _save_figure(fig: Any, width: int | None, height: int | None, w: int, h: int) -> bytes:
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
    return buf.getvalue()


def snapshot_image(
    obj: object,
    fmt: str = "png",
    width: int | None = None,
    height: int | None = None,
    opt: str = "",
) -> ImageSnapshot | None:
    """Read ``obj`` for a picture in ``fmt`` (png, gif or jpeg); None when not drawable.

    Call it where the object may be read (where ``root.json`` renders); then
    :meth:`ImageSnapshot.draw` anywhere. Cheap for data (a copy of the arrays); an object that
    draws itself is drawn here, since that drawing reads it.
    """
    fmt = _format(fmt)
    w, h = _size(width, height)
    repr_png = getattr(type(obj), "_repr_png_", None)
    if callable(repr_png):
        try:
            png = obj._repr_png_()  # type: ignore[attr-defined]
        except Exception:
            log.exception("_repr_png_ failed")
            png = None
        if isinstance(png, (bytes, bytearray)) and png:
            return ImageSnapshot(fmt, w, h, opt, png=bytes(png))
    # an object can only be a Figure once matplotlib.figure is imported: no import here
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and isinstance(obj, figure.Figure):
        return ImageSnapshot(fmt, w, h, opt, png=_save_figure(obj, width, height, w, h))
    plot = _capture(obj)
    if plot is None:
        return None
    return ImageSnapshot(fmt, w, h, opt, plot=plot)


def render_image(
    obj: object,
    fmt: str = "png",
    width: int | None = None,
    height: int | None = None,
    opt: str = "",
) -> bytes | None:
    """An image of ``obj`` in ``fmt`` (png, gif or jpeg), or None when not drawable: the
    snapshot and the drawing at once, for a caller that owns ``obj``."""
    snapshot = snapshot_image(obj, fmt, width, height, opt)
    return None if snapshot is None else snapshot.draw()
