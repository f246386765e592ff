"""Small numpy-backed histograms that JSROOT draws natively, plus a TGraph-like series.

``Hist1D``, ``Hist2D`` and ``Profile`` render (through the ``__trioserve_json__`` protocol of
:mod:`trioserve.render.json`) as ROOT ``TH1D``, ``TH2D`` and ``TProfile`` JSON; ``Graph`` (made
with :func:`as_graph`) as ``TGraph``. boost-histogram / ``hist`` objects are converted by
:func:`boost_to_root` when those packages are in use (duck-typed: nothing is imported here).

What JSROOT needs, learned from JSROOT 7.11's ``createHistogram('TH1D', n)`` / ``toJSON`` (run
once as an oracle in node; the key sets are pinned by tests/render/test_histograms.py):

* ``fNcells`` = (nx+2)·(ny+2); ``fArray`` holds *all* cells including underflow (index 0) and
  overflow (index nbins+1); 2-D cells are ``ix + (nx+2)·iy`` (x varies fastest).
* axes are ``TAxis`` objects with ``fNbins``, ``fXmin``, ``fXmax`` and ``fXbins`` (empty for
  uniform binning, else the nbins+1 edges); a 1-D histogram still carries ``fYaxis``/``fZaxis``
  (1 bin, 0..1).
* ``fSumw2`` (sum of squared weights per cell) gives the error bars; ``fEntries``, ``fTsumw``,
  ``fTsumw2``, ``fTsumwx``, ``fTsumwx2`` (+ ``fTsumwy``, ``fTsumwy2``, ``fTsumwxy`` in 2-D) feed
  the statistics box; ``fMaximum``/``fMinimum`` = -1111 mean "automatic"; ``fFunctions`` is an
  empty ``TList``; attribute fields (line/fill/marker) keep ROOT's defaults.
* ``TProfile``: ``fArray`` = Σw·y, ``fSumw2`` = Σw·y², ``fBinEntries`` = Σw, ``fBinSumw2`` =
  Σw², ``fErrorMode`` 0 (error on the mean).

Statistics follow ROOT: ``entries`` counts every fill; the sums behind ``mean``/``std`` only
count fills inside the axis range. NaN coordinates are ignored.

Thread safety: each histogram holds a private lock taken by ``fill*``, ``reset`` and by the
snapshot the renderers take, so a render never sees a half-applied ``fill_many``. That is
enough for the demo (fills from a Trio task, renders on the same thread) and for programs that
fill from other threads; a *sequence* of fills is still not atomic as a whole.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

__all__ = ["Graph", "Hist1D", "Hist2D", "Profile", "as_graph", "boost_to_root"]


def _tlist() -> dict[str, Any]:
    return {"_typename": "TList", "name": "TList", "arr": [], "opt": []}


def _axis(
    nbins: int, xmin: float, xmax: float, title: str = "", name: str = "", edges: Any = None
) -> dict[str, Any]:
    return {
        "_typename": "TAxis",
        "fUniqueID": 0,
        "fBits": 0,
        "fName": name,
        "fTitle": title,
        "fNdivisions": 510,
        "fAxisColor": 1,
        "fLabelColor": 1,
        "fLabelFont": 42,
        "fLabelOffset": 0.005,
        "fLabelSize": 0.035,
        "fTickLength": 0.03,
        "fTitleOffset": 1,
        "fTitleSize": 0.035,
        "fTitleColor": 1,
        "fTitleFont": 42,
        "fNbins": int(nbins),
        "fXmin": float(xmin),
        "fXmax": float(xmax),
        "fXbins": np.asarray(edges, dtype=np.float64) if edges is not None else [],
        "fFirst": 0,
        "fLast": 0,
        "fBits2": 0,
        "fTimeDisplay": False,
        "fTimeFormat": "",
        "fLabels": None,
        "fModLabs": None,
    }


def _th1_head(typename: str, name: str, title: str, ncells: int) -> dict[str, Any]:
    return {
        "_typename": typename,
        "fUniqueID": 0,
        "fBits": 8,
        "fName": name,
        "fTitle": title,
        "fLineColor": 602,
        "fLineStyle": 1,
        "fLineWidth": 1,
        "fFillColor": 0,
        "fFillStyle": 1001,
        "fMarkerColor": 1,
        "fMarkerStyle": 1,
        "fMarkerSize": 1,
        "fNcells": int(ncells),
    }


def _th1_tail(
    entries: float, tsumw: float, tsumw2: float, tsumwx: float, tsumwx2: float, sumw2: Any
) -> dict[str, Any]:
    return {
        "fBarOffset": 0,
        "fBarWidth": 1000,
        "fEntries": float(entries),
        "fTsumw": float(tsumw),
        "fTsumw2": float(tsumw2),
        "fTsumwx": float(tsumwx),
        "fTsumwx2": float(tsumwx2),
        "fMaximum": -1111,
        "fMinimum": -1111,
        "fNormFactor": 0,
        "fContour": [],
        "fSumw2": sumw2,
        "fOption": "",
        "fFunctions": _tlist(),
        "fBufferSize": 0,
        "fBuffer": [],
        "fBinStatErrOpt": 0,
        "fStatOverflows": 2,
    }


def _filled(weights: Any, *coordinates: Any) -> tuple[np.ndarray, ...]:
    """The coordinate arrays and the weights of a ``fill_many``, as float64 of one length,
    with every entry that has a NaN coordinate dropped (ROOT skips those too)."""
    arrays = [np.asarray(c, dtype=np.float64).ravel() for c in coordinates]
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError("xs and ys must have the same length")
    w = np.broadcast_to(
        np.asarray(1.0 if weights is None else weights, dtype=np.float64), arrays[0].shape
    )
    ok = ~np.logical_or.reduce([np.isnan(a) for a in arrays])
    return (*(a[ok] for a in arrays), w[ok])


def _bin_index(values: np.ndarray, nbins: int, lo: float, hi: float) -> np.ndarray:
    """ROOT's FindBin, vectorised: 0 underflow, 1..nbins, nbins+1 overflow."""
    scale = nbins / (hi - lo)
    with np.errstate(invalid="ignore", over="ignore"):
        raw = np.floor((values - lo) * scale)
    raw = np.nan_to_num(raw, nan=0.0, posinf=nbins, neginf=-1.0)
    idx = np.clip(raw, -1, nbins).astype(np.int64) + 1
    idx[values < lo] = 0
    idx[values >= hi] = nbins + 1
    return idx


def _check_axis(nbins: int, lo: float, hi: float) -> None:
    if int(nbins) < 1:
        raise ValueError("nbins must be at least 1")
    if not (float(lo) < float(hi)):
        raise ValueError("axis minimum must be below its maximum")


class Hist1D:
    """A 1-D histogram with fixed binning; renders as ROOT ``TH1D``."""

    __trioserve_typename__ = "TH1D"
    __trioserve_members__ = ("entries", "mean", "std", "values")

    def __init__(
        self,
        name: str,
        title: str,
        nbins: int,
        xmin: float,
        xmax: float,
        *,
        xtitle: str = "",
        ytitle: str = "",
    ) -> None:
        _check_axis(nbins, xmin, xmax)
        self.name = name
        self.title = title
        self.nbins = int(nbins)
        self.xmin = float(xmin)
        self.xmax = float(xmax)
        self.xtitle = xtitle
        self.ytitle = ytitle
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._sumw = np.zeros(self.nbins + 2)
        self._sumw2 = np.zeros(self.nbins + 2)
        self._entries = 0
        self._tsumw = self._tsumw2 = self._tsumwx = self._tsumwx2 = 0.0

    def reset(self) -> None:
        """Empty every bin and statistic (ROOT's ``Reset()``)."""
        with self._lock:
            self._clear()

    def fill(self, x: float, weight: float = 1.0) -> None:
        """Add one value."""
        self.fill_many(np.array([x], dtype=np.float64), weight)

    def fill_many(self, values: Any, weights: Any = None) -> None:
        """Add many values at once (vectorised); ``weights`` is a scalar or one per value."""
        xs, w = _filled(weights, values)
        idx = _bin_index(xs, self.nbins, self.xmin, self.xmax)
        inrange = (idx >= 1) & (idx <= self.nbins)
        wi, xi = w[inrange], xs[inrange]
        sumw = np.bincount(idx, weights=w, minlength=self.nbins + 2)
        sumw2 = np.bincount(idx, weights=w * w, minlength=self.nbins + 2)
        with self._lock:
            self._sumw += sumw
            self._sumw2 += sumw2
            self._entries += int(xs.size)
            self._tsumw += float(wi.sum())
            self._tsumw2 += float((wi * wi).sum())
            self._tsumwx += float((wi * xi).sum())
            self._tsumwx2 += float((wi * xi * xi).sum())

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def values(self) -> np.ndarray:
        """Bin contents including underflow (index 0) and overflow (last)."""
        with self._lock:
            return self._sumw.copy()

    @property
    def variances(self) -> np.ndarray:
        with self._lock:
            return self._sumw2.copy()

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.xmin, self.xmax, self.nbins + 1)

    @property
    def mean(self) -> float:
        return self._tsumwx / self._tsumw if self._tsumw else 0.0

    @property
    def std(self) -> float:
        if not self._tsumw:
            return 0.0
        m = self._tsumwx / self._tsumw
        return float(np.sqrt(max(self._tsumwx2 / self._tsumw - m * m, 0.0)))

    def __trioserve_json__(self) -> dict[str, Any]:
        with self._lock:
            sumw, sumw2 = self._sumw.copy(), self._sumw2.copy()
            stats = (self._entries, self._tsumw, self._tsumw2, self._tsumwx, self._tsumwx2)
        d = _th1_head("TH1D", self.name, self.title, self.nbins + 2)
        d["fXaxis"] = _axis(self.nbins, self.xmin, self.xmax, self.xtitle, "xaxis")
        d["fYaxis"] = _axis(1, 0, 1, self.ytitle, "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(*stats, sumw2))
        d["fArray"] = sumw
        return d


class Hist2D:
    """A 2-D histogram with fixed binning; renders as ROOT ``TH2D``."""

    __trioserve_typename__ = "TH2D"
    __trioserve_members__ = ("entries", "values")

    def __init__(
        self,
        name: str,
        title: str,
        nx: int,
        xmin: float,
        xmax: float,
        ny: int,
        ymin: float,
        ymax: float,
        *,
        xtitle: str = "",
        ytitle: str = "",
    ) -> None:
        _check_axis(nx, xmin, xmax)
        _check_axis(ny, ymin, ymax)
        self.name = name
        self.title = title
        self.nx, self.xmin, self.xmax = int(nx), float(xmin), float(xmax)
        self.ny, self.ymin, self.ymax = int(ny), float(ymin), float(ymax)
        self.xtitle = xtitle
        self.ytitle = ytitle
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        shape = (self.nx + 2, self.ny + 2)
        self._sumw = np.zeros(shape)
        self._sumw2 = np.zeros(shape)
        self._entries = 0
        self._stats = np.zeros(7)  # tsumw tsumw2 tsumwx tsumwx2 tsumwy tsumwy2 tsumwxy

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def fill(self, x: float, y: float, weight: float = 1.0) -> None:
        self.fill_many([x], [y], weight)

    def fill_many(self, xs: Any, ys: Any, weights: Any = None) -> None:
        x, y, w = _filled(weights, xs, ys)
        ix = _bin_index(x, self.nx, self.xmin, self.xmax)
        iy = _bin_index(y, self.ny, self.ymin, self.ymax)
        flat = ix * (self.ny + 2) + iy
        size = (self.nx + 2) * (self.ny + 2)
        sumw = np.bincount(flat, weights=w, minlength=size).reshape(self._sumw.shape)
        sumw2 = np.bincount(flat, weights=w * w, minlength=size).reshape(self._sumw.shape)
        inr = (ix >= 1) & (ix <= self.nx) & (iy >= 1) & (iy <= self.ny)
        wi, xi, yi = w[inr], x[inr], y[inr]
        stats = np.array(
            [
                wi.sum(),
                (wi * wi).sum(),
                (wi * xi).sum(),
                (wi * xi * xi).sum(),
                (wi * yi).sum(),
                (wi * yi * yi).sum(),
                (wi * xi * yi).sum(),
            ]
        )
        with self._lock:
            self._sumw += sumw
            self._sumw2 += sumw2
            self._entries += int(x.size)
            self._stats += stats

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def values(self) -> np.ndarray:
        """Contents as ``[ix, iy]`` including under/overflow rows and columns."""
        with self._lock:
            return self._sumw.copy()

    def __trioserve_json__(self) -> dict[str, Any]:
        with self._lock:
            sumw, sumw2 = self._sumw.copy(), self._sumw2.copy()
            entries, s = self._entries, self._stats.copy()
        d = _th1_head("TH2D", self.name, self.title, (self.nx + 2) * (self.ny + 2))
        d["fXaxis"] = _axis(self.nx, self.xmin, self.xmax, self.xtitle, "xaxis")
        d["fYaxis"] = _axis(self.ny, self.ymin, self.ymax, self.ytitle, "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(entries, s[0], s[1], s[2], s[3], sumw2.T.ravel()))
        d["fScalefactor"] = 1
        d["fTsumwy"] = float(s[4])
        d["fTsumwy2"] = float(s[5])
        d["fTsumwxy"] = float(s[6])
        d["fArray"] = sumw.T.ravel()  # x fastest, as ROOT's bin = ix + (nx+2)*iy
        return d


class Profile:
    """Mean of y in bins of x; renders as ROOT ``TProfile``."""

    __trioserve_typename__ = "TProfile"
    __trioserve_members__ = ("entries", "means")

    def __init__(self, name: str, title: str, nbins: int, xmin: float, xmax: float) -> None:
        _check_axis(nbins, xmin, xmax)
        self.name = name
        self.title = title
        self.nbins, self.xmin, self.xmax = int(nbins), float(xmin), float(xmax)
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        n = self.nbins + 2
        self._wy = np.zeros(n)
        self._wy2 = np.zeros(n)
        self._w = np.zeros(n)
        self._w2 = np.zeros(n)
        self._entries = 0
        self._stats = np.zeros(6)  # tsumw tsumw2 tsumwx tsumwx2 tsumwy tsumwy2

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def fill(self, x: float, y: float, weight: float = 1.0) -> None:
        self.fill_many([x], [y], weight)

    def fill_many(self, xs: Any, ys: Any, weights: Any = None) -> None:
        x, y, w = _filled(weights, xs, ys)
        n = self.nbins + 2
        idx = _bin_index(x, self.nbins, self.xmin, self.xmax)
        parts = [np.bincount(idx, weights=v, minlength=n) for v in (w * y, w * y * y, w, w * w)]
        inr = (idx >= 1) & (idx <= self.nbins)
        wi, xi, yi = w[inr], x[inr], y[inr]
        stats = np.array(
            [
                wi.sum(),
                (wi * wi).sum(),
                (wi * xi).sum(),
                (wi * xi * xi).sum(),
                (wi * yi).sum(),
                (wi * yi * yi).sum(),
            ]
        )
        with self._lock:
            self._wy += parts[0]
            self._wy2 += parts[1]
            self._w += parts[2]
            self._w2 += parts[3]
            self._entries += int(x.size)
            self._stats += stats

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def means(self) -> np.ndarray:
        """Mean y per bin (0 for empty bins), including under/overflow."""
        with self._lock:
            w, wy = self._w.copy(), self._wy.copy()
        out = np.zeros_like(w)
        np.divide(wy, w, out=out, where=w > 0)
        return out

    def __trioserve_json__(self) -> dict[str, Any]:
        with self._lock:
            wy, wy2, w, w2 = self._wy.copy(), self._wy2.copy(), self._w.copy(), self._w2.copy()
            entries, s = self._entries, self._stats.copy()
        d = _th1_head("TProfile", self.name, self.title, self.nbins + 2)
        d["fXaxis"] = _axis(self.nbins, self.xmin, self.xmax, "", "xaxis")
        d["fYaxis"] = _axis(1, 0, 1, "", "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(entries, s[0], s[1], s[2], s[3], wy2))
        d["fArray"] = wy
        d["fBinEntries"] = w
        d["fErrorMode"] = 0
        d["fYmin"] = 0
        d["fYmax"] = 0
        d["fScaling"] = False
        d["fTsumwy"] = float(s[4])
        d["fTsumwy2"] = float(s[5])
        d["fBinSumw2"] = w2
        return d


class Graph:
    """Points (x, y); renders as ROOT ``TGraph``. Build one with :func:`as_graph`."""

    __trioserve_typename__ = "TGraph"

    def __init__(self, x: Any, y: Any, name: str = "graph", title: str = "") -> None:
        self.x = np.asarray(x, dtype=np.float64).ravel().copy()
        self.y = np.asarray(y, dtype=np.float64).ravel().copy()
        if self.x.shape != self.y.shape:
            raise ValueError("x and y must have the same length")
        self.name = name
        self.title = title

    def __trioserve_json__(self) -> dict[str, Any]:
        n = int(self.x.size)
        return {
            "_typename": "TGraph",
            "fUniqueID": 0,
            "fBits": 1032,
            "fName": self.name,
            "fTitle": self.title,
            "fLineColor": 1,
            "fLineStyle": 1,
            "fLineWidth": 1,
            "fFillColor": 0,
            "fFillStyle": 0,
            "fMarkerColor": 1,
            "fMarkerStyle": 1,
            "fMarkerSize": 1,
            "fFunctions": _tlist(),
            "fHistogram": None,
            "fMaxSize": n,
            "fMaximum": -1111,
            "fMinimum": -1111,
            "fNpoints": n,
            "fX": self.x,
            "fY": self.y,
        }


def as_graph(x: Any, y: Any, name: str = "graph", title: str = "") -> Graph:
    """An (x, y) series that renders as a ROOT ``TGraph`` (arrays stay arrays otherwise)."""
    return Graph(x, y, name=name, title=title)


# -- boost-histogram / hist --------------------------------------------------------------


def is_boost_histogram(obj: object) -> bool:
    """True for a boost-histogram (or ``hist``) histogram; never imports either package."""
    bh = sys.modules.get("boost_histogram")
    return bh is not None and isinstance(obj, bh.Histogram)


def _boost_axis(ax: Any, name: str) -> tuple[dict[str, Any], int, int, np.ndarray] | None:
    edges = np.asarray(getattr(ax, "edges", None), dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        return None
    n = edges.size - 1
    widths = np.diff(edges)
    uniform = np.allclose(widths, widths[0], rtol=1e-9, atol=0)
    title = str(getattr(ax, "label", "") or "")
    axis = _axis(n, edges[0], edges[-1], title, name, None if uniform else edges)
    traits = getattr(ax, "traits", None)
    under = 1 if getattr(traits, "underflow", False) else 0
    over = 1 if getattr(traits, "overflow", False) else 0
    return axis, under, over, edges


def _boost_cells(values: np.ndarray, flows: list[tuple[int, int]]) -> np.ndarray:
    """Pad a boost flow array so every axis has both flow cells, like ROOT."""
    pad = [(1 - u, 1 - o) for u, o in flows]
    return np.pad(values, pad)


def boost_to_root(h: Any) -> dict[str, Any] | None:
    """A boost-histogram/``hist`` 1-D or 2-D histogram as ``TH1D``/``TH2D`` JSON, else None.

    Regular, variable and integer axes are supported (variable binning → ``fXbins``);
    category axes, >2 dimensions and mean/weighted-mean storages return None (the object is
    then rendered generically).
    """
    if not is_boost_histogram(h) or h.ndim not in (1, 2):
        return None
    if str(getattr(h, "kind", "COUNT")).upper().endswith("MEAN"):
        return None
    names = ("xaxis", "yaxis")
    axes = []
    for i, ax in enumerate(h.axes):
        info = _boost_axis(ax, names[i])
        if info is None:
            return None
        axes.append(info)
    flows = [(u, o) for _, u, o, _ in axes]
    values = _boost_cells(np.asarray(h.values(flow=True), dtype=np.float64), flows)
    variances = h.variances(flow=True)
    sumw2 = (
        _boost_cells(np.asarray(variances, dtype=np.float64), flows)
        if variances is not None
        else values.copy()
    )
    name = str(getattr(h, "name", None) or "h")
    title = str(getattr(h, "label", None) or "")
    inner = values[tuple(slice(1, -1) for _ in axes)]
    inner2 = sumw2[tuple(slice(1, -1) for _ in axes)]
    centers = [0.5 * (e[1:] + e[:-1]) for _, _, _, e in axes]
    entries = float(values.sum())
    tsumw, tsumw2 = float(inner.sum()), float(inner2.sum())
    if h.ndim == 1:
        cx = centers[0]
        d = _th1_head("TH1D", name, title, values.size)
        d["fXaxis"] = axes[0][0]
        d["fYaxis"] = _axis(1, 0, 1, "", "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(
            _th1_tail(
                entries,
                tsumw,
                tsumw2,
                float((inner * cx).sum()),
                float((inner * cx**2).sum()),
                sumw2,
            )
        )
        d["fArray"] = values
        return d
    cx, cy = np.meshgrid(centers[0], centers[1], indexing="ij")
    d = _th1_head("TH2D", name, title, values.size)
    d["fXaxis"] = axes[0][0]
    d["fYaxis"] = axes[1][0]
    d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
    d.update(
        _th1_tail(
            entries,
            tsumw,
            tsumw2,
            float((inner * cx).sum()),
            float((inner * cx**2).sum()),
            sumw2.T.ravel(),
        )
    )
    d["fScalefactor"] = 1
    d["fTsumwy"] = float((inner * cy).sum())
    d["fTsumwy2"] = float((inner * cy**2).sum())
    d["fTsumwxy"] = float((inner * cx * cy).sum())
    d["fArray"] = values.T.ravel()
    return d
