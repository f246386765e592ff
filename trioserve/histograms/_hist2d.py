"""``Hist2D``: a 2-D fixed-binning histogram that renders as ROOT ``TH2D``.

Cells are kept as an ``[ix, iy]`` array for readable code and flattened x-fastest only when
rendered, as ROOT stores them (bin = ix + (nx+2)·iy).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from trioserve.histograms._binning import (
    _add_fill,
    _bin_index,
    _check_axis,
    _filled,
    _unit_weights,
)
from trioserve.histograms._root import _axis, _th1_head, _th1_tail


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
        #: Σw² per cell, None until a fill with a weight other than 1 (ROOT's ``Sumw2()``)
        self._sumw2: np.ndarray | None = None
        self._clear()

    def _clear(self) -> None:
        shape = (self.nx + 2, self.ny + 2)
        self._sumw = np.zeros(shape)
        if self._sumw2 is not None:  # as ROOT's Reset(): a weighted histogram stays so
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
        shape = self._sumw.shape
        sumw = np.bincount(flat, weights=w, minlength=size).reshape(shape)
        unit = _unit_weights(weights)
        sumw2 = None if unit else np.bincount(flat, weights=w * w, minlength=size).reshape(shape)
        inr = (ix >= 1) & (ix <= self.nx) & (iy >= 1) & (iy <= self.ny)
        wi, xi, yi = w[inr], x[inr], y[inr]
        tsumw = wi.sum()
        stats = np.array(
            [
                tsumw,
                tsumw if unit else (wi * wi).sum(),
                (wi * xi).sum(),
                (wi * xi * xi).sum(),
                (wi * yi).sum(),
                (wi * yi * yi).sum(),
                (wi * xi * yi).sum(),
            ]
        )
        with self._lock:
            self._sumw2 = _add_fill(self._sumw, self._sumw2, sumw, sumw2)
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
            sumw = self._sumw.copy()
            sumw2: Any = [] if self._sumw2 is None else self._sumw2.T.ravel()
            entries, s = self._entries, self._stats.copy()
        d = _th1_head("TH2D", self.name, self.title, (self.nx + 2) * (self.ny + 2))
        d["fXaxis"] = _axis(self.nx, self.xmin, self.xmax, self.xtitle, "xaxis")
        d["fYaxis"] = _axis(self.ny, self.ymin, self.ymax, self.ytitle, "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(entries, s[0], s[1], s[2], s[3], sumw2))
        d["fScalefactor"] = 1
        d["fTsumwy"] = float(s[4])
        d["fTsumwy2"] = float(s[5])
        d["fTsumwxy"] = float(s[6])
        d["fArray"] = sumw.T.ravel()  # x fastest, as ROOT's bin = ix + (nx+2)*iy
        return d
