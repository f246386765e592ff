"""One boost-histogram / ``hist`` axis in ROOT's terms: a ``TAxis``, its bin centres, and where
its cells go among ROOT's.

ROOT gives every axis an underflow and an overflow cell; boost only the ones its traits ask
for (a category axis has an overflow, "other", and no underflow; ``underflow=False`` drops
one). :meth:`BoostAxis.place` puts boost's cells where ROOT keeps them, leaving ROOT's extra
flow cells empty.

Category axes (``StrCategory``, ``IntCategory``) become ROOT's *labelled* axes: bins 1..n
over 0..n with ``fLabels`` (see :mod:`trioserve.histograms._root`), so JSROOT and the PNG
show the categories, not 0, 1, 2. A growing category axis that has seen nothing yet has no
bins, which ROOT cannot express: it is shown as one unlabelled empty bin.

Titles: a ``hist`` axis's ``label`` (which ``hist`` itself falls back to the axis name, or to
"Axis N" for an unnamed axis of a ``Hist``); a plain boost axis has one only when the program
set ``label`` (or ``name``) in its metadata.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from trioserve.histograms._root import _axis


@dataclass(frozen=True, slots=True)
class BoostAxis:
    """A boost axis as ROOT holds it: ``taxis`` (the ``TAxis`` JSON), ``nbins`` (ROOT's, at
    least 1), ``centers`` (one per ROOT bin), ``edges``, ``labels`` (categories, else None)
    and which flow cells boost keeps."""

    taxis: dict[str, Any]
    nbins: int
    centers: np.ndarray
    edges: np.ndarray
    labels: tuple[str, ...] | None
    size: int  # boost's own number of bins (0 for an empty growing category axis)
    under: bool
    over: bool

    def destinations(self) -> np.ndarray:
        """For each of boost's flow cells along this axis, its index among ROOT's nbins+2."""
        inner = np.arange(1, self.size + 1)
        parts = [np.array([0])] if self.under else []
        parts.append(inner)
        if self.over:
            parts.append(np.array([self.nbins + 1]))
        return np.concatenate(parts).astype(np.intp)


def axis_title(ax: Any) -> str:
    """The title an axis carries: ``label``, else ``name``, else none (plain boost axes
    answer AttributeError for metadata nobody set)."""
    for attr in ("label", "name"):
        value = getattr(ax, attr, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _is_category(ax: Any) -> bool:
    bh = sys.modules.get("boost_histogram")
    if bh is None:
        return False
    return isinstance(ax, (bh.axis.StrCategory, bh.axis.IntCategory))


def boost_axis(ax: Any, name: str) -> BoostAxis | None:
    """``ax`` in ROOT's terms, named ``name`` (``xaxis``/``yaxis``); None if ROOT cannot hold
    it (non-finite edges)."""
    traits = getattr(ax, "traits", None)
    under = bool(getattr(traits, "underflow", False))
    over = bool(getattr(traits, "overflow", False))
    title = axis_title(ax)
    if _is_category(ax):
        labels = tuple(str(value) for value in ax)
        nbins = max(len(labels), 1)
        edges = np.arange(nbins + 1, dtype=np.float64)
        taxis = _axis(nbins, 0, nbins, title, name, labels=list(labels) if labels else None)
        centers = edges[:-1] + 0.5
        return BoostAxis(taxis, nbins, centers, edges, labels or None, len(labels), under, over)
    edges = np.asarray(getattr(ax, "edges", None), dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        return None
    nbins = edges.size - 1
    widths = np.diff(edges)
    uniform = bool(np.allclose(widths, widths[0], rtol=1e-9, atol=0))
    taxis = _axis(nbins, edges[0], edges[-1], title, name, None if uniform else edges)
    centers = 0.5 * (edges[1:] + edges[:-1])
    return BoostAxis(taxis, nbins, centers, edges, None, nbins, under, over)


def place(cells: np.ndarray, axes: list[BoostAxis]) -> np.ndarray:
    """boost's flow cells (indexed ``[x, y]``) at ROOT's places, in an ``[x, y]`` array of
    ROOT's shape (nbins+2 per axis); ROOT's flow cells that boost lacks stay 0."""
    out = np.zeros(tuple(a.nbins + 2 for a in axes), dtype=np.float64)
    out[np.ix_(*(a.destinations() for a in axes))] = cells
    return out
