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
for GIF). ``None`` means the object is not drawable or matplotlib is missing; the request
tells the two apart with :func:`images_available` (404 as ROOT for the first, 501 naming the
``images`` extra for the second).

What is drawable, in order:

1. an object with ``_repr_png_()`` (IPython's protocol) — used as is for PNG, converted for
   GIF/JPEG (via Pillow);
2. a matplotlib ``Figure`` — saved at ``width`` x ``height`` pixels when given;
3. histograms, ours and boost-histogram/``hist`` ones alike, drawn from their ROOT JSON (1-D
   as steps, a profile's bin means, 2-D as a colour map) with the title and axis titles JSROOT
   shows and category labels under their bins; ``Graph`` as a line with markers, and numeric
   arrays — numpy arrays and lists or tuples of numbers, 2-D as lists of equal rows
   (:mod:`trioserve.render.arrays`) — 1-D as a line, 2-D as an image (so is an array's
   ``hist`` view).

``_repr_svg_`` alone is not rasterised (that would need cairosvg): such objects give ``None``.
Default size is ROOT's 300x200 canvas; ``width``/``height`` are honoured only when > 10 (ROOT)
and capped at 4000 so a request cannot ask for a gigapixel image. ``opt`` is accepted for
ROOT compatibility; ``"logy"`` (and ``"logz"`` for 2-D) switch to a log scale, ``"hist"`` draws
histograms as bars.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from trioserve.histograms import Graph, RootView, root_of
from trioserve.render.arrays import ArrayHist2D, numeric_array

__all__ = ["IMAGE_FORMATS", "ImageSnapshot", "images_available", "render_image", "snapshot_image"]

log = logging.getLogger("trioserve.render")

IMAGE_FORMATS = ("png", "gif", "jpeg")
_DEFAULT_W, _DEFAULT_H = 300, 200
_MAX_SIDE = 4000
_DPI = 100


_AVAILABLE: list[bool] = []


def images_available() -> bool:
    """True when matplotlib (the ``images`` extra) can be imported, without importing it.

    Asked by every listing (``_noimages``) and by a picture that could not be made, so the
    answer is found once: ``find_spec`` looks on the path (a ``sys.modules`` entry set to
    None, the way to make a module unimportable, counts as missing)."""
    if not _AVAILABLE:
        try:
            found = importlib.util.find_spec("matplotlib") is not None
        except (ImportError, ValueError):
            found = False
        _AVAILABLE.append(found)
    return _AVAILABLE[0]


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
    """A 1-D histogram: bin edges and contents (``styled``: a histogram, with its title, axis
    titles, category labels under their bins, and options)."""

    edges: np.ndarray
    values: np.ndarray
    title: str
    styled: bool
    xtitle: str = ""
    ytitle: str = ""
    labels: tuple[str, ...] | None = None

    def plot(self, ax: Any, opts: str) -> None:
        if not self.styled:
            ax.stairs(self.values, self.edges)
            return
        if "hist" in opts:
            ax.bar(self.edges[:-1], self.values, width=np.diff(self.edges), align="edge")
        else:
            ax.stairs(self.values, self.edges)
        _titles(ax, self.title, self.xtitle, self.ytitle)
        if self.labels is not None:
            ax.set_xticks(0.5 * (self.edges[1:] + self.edges[:-1]), self.labels)
        if "logy" in opts:
            ax.set_yscale("log")


@dataclass(frozen=True, slots=True)
class _ColorMap:
    """A 2-D histogram or array as an image, with its axis ranges when it has some; a
    histogram's also with its axis titles, its bin edges when they are not uniform, and the
    labels of its category axes."""

    data: np.ndarray
    extent: tuple[float, float, float, float] | None
    title: str | None
    xtitle: str = ""
    ytitle: str = ""
    edges: tuple[np.ndarray, np.ndarray] | None = None
    xlabels: tuple[str, ...] | None = None
    ylabels: tuple[str, ...] | None = None

    def plot(self, ax: Any, opts: str) -> None:
        if self.edges is not None:
            _edges_map(ax, self.data, self.edges, opts)
        else:
            _colormap(ax, self.data, self.extent, opts)
        if self.title is not None:
            _titles(ax, self.title, self.xtitle, self.ytitle)
        if self.xlabels is not None and self.extent is not None:
            ax.set_xticks(np.arange(len(self.xlabels)) + 0.5, self.xlabels)
        if self.ylabels is not None and self.extent is not None:
            ax.set_yticks(np.arange(len(self.ylabels)) + 0.5, self.ylabels)


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
    # histograms (ours, boost/hist, registered ones with their identity): from their ROOT
    # JSON, a private copy made under their lock, with titles and category labels
    rep = obj.__trioserve_json__() if isinstance(obj, RootView) else root_of(obj)
    if rep is not None:
        return _histogram_plot(rep)
    if isinstance(obj, Graph):
        x, y = np.array(obj.x, dtype=np.float64), np.array(obj.y, dtype=np.float64)
        return _Line(x, y, obj.title)
    if isinstance(obj, ArrayHist2D):  # a 2-D array's view: unit bins, column x row
        cells = obj.data
        return _ColorMap(cells, (0, cells.shape[1], 0, cells.shape[0]), None)
    data = numeric_array(obj)  # numpy arrays, lists and tuples of numbers (a copy)
    if data is None:
        return None
    if data.ndim == 1:
        return _Line(None, data, "")
    return _ColorMap(data, None, None)


def _titles(ax: Any, title: str, xtitle: str, ytitle: str) -> None:
    ax.set_title(title)
    if xtitle:
        ax.set_xlabel(xtitle)
    if ytitle:
        ax.set_ylabel(ytitle)


def _axis_edges(axis: dict[str, Any]) -> np.ndarray:
    """A ``TAxis``'s bin edges: ``fXbins`` when variable, else uniform over its range."""
    if len(axis["fXbins"]):
        return np.array(axis["fXbins"], dtype=np.float64)
    return np.linspace(axis["fXmin"], axis["fXmax"], axis["fNbins"] + 1)


def _axis_labels(axis: dict[str, Any]) -> tuple[str, ...] | None:
    """A labelled ``TAxis``'s labels in bin order (bin *k* is the string with fUniqueID *k*)."""
    listed = axis.get("fLabels")
    if not listed:
        return None
    texts = [""] * int(axis["fNbins"])
    for string in listed["arr"]:
        if 1 <= string["fUniqueID"] <= len(texts):
            texts[string["fUniqueID"] - 1] = string["fString"]
    return tuple(texts)


def _histogram_plot(rep: dict[str, Any]) -> _Plot:
    """The picture of a histogram's ROOT JSON: contents (a profile's mean per bin), edges,
    title, axis titles and category labels, as JSROOT would draw them."""
    xa, ya = rep["fXaxis"], rep["fYaxis"]
    cells = np.array(rep["fArray"], dtype=np.float64)
    if "fBinEntries" in rep:  # a profile: the mean of each bin
        n = np.array(rep["fBinEntries"], dtype=np.float64)
        cells = np.divide(cells, n, out=np.zeros_like(cells), where=n > 0)
    title, xtitle, ytitle = str(rep["fTitle"]), str(xa["fTitle"]), str(ya["fTitle"])
    xedges = _axis_edges(xa)
    if rep["_typename"] in ("TH1D", "TProfile"):
        labels = _axis_labels(xa)
        return _Steps(xedges, cells[1:-1], title, True, xtitle, ytitle, labels)
    cells = cells.reshape(ya["fNbins"] + 2, xa["fNbins"] + 2)[1:-1, 1:-1]
    yedges = _axis_edges(ya)
    extent = (float(xedges[0]), float(xedges[-1]), float(yedges[0]), float(yedges[-1]))
    uniform = not len(xa["fXbins"]) and not len(ya["fXbins"])
    edges = None if uniform else (xedges, yedges)
    xlabels, ylabels = _axis_labels(xa), _axis_labels(ya)
    return _ColorMap(cells, extent, title, xtitle, ytitle, edges, xlabels, ylabels)


def _edges_map(ax: Any, data: np.ndarray, edges: tuple[np.ndarray, np.ndarray], opts: str) -> None:
    """A 2-D histogram with variable bins: cells drawn at their edges."""
    norm = None
    if "logz" in opts:
        from matplotlib.colors import LogNorm

        norm = LogNorm()
    mesh = ax.pcolormesh(edges[0], edges[1], data, norm=norm)
    ax.figure.colorbar(mesh, ax=ax)


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
