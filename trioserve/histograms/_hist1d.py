"""``Hist1D``: a 1-D fixed-binning histogram that renders as ROOT ``TH1D``.

The statistics follow ROOT (``entries`` counts every fill, ``mean``/``std`` only fills inside
the axis range); the lock makes a render see whole ``fill_many`` calls only (see
:mod:`trioserve.histograms`).
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
        #: Σw² per bin, None until a fill with a weight other than 1 (ROOT's ``Sumw2()``)
        self._sumw2: np.ndarray | None = None
        self._clear()

    def _clear(self) -> None:
        self._sumw = np.zeros(self.nbins + 2)
        if self._sumw2 is not None:  # as ROOT's Reset(): a weighted histogram stays so
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
        unit = _unit_weights(weights)
        sumw2 = None if unit else np.bincount(idx, weights=w * w, minlength=self.nbins + 2)
        tsumw = float(wi.sum())
        with self._lock:
            self._sumw2 = _add_fill(self._sumw, self._sumw2, sumw, sumw2)
            self._entries += int(xs.size)
            self._tsumw += tsumw
            self._tsumw2 += tsumw if unit else float((wi * wi).sum())
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
        """Σw² per bin (the contents themselves while every weight was 1)."""
        with self._lock:
            return (self._sumw if self._sumw2 is None else self._sumw2).copy()

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
            sumw = self._sumw.copy()
            sumw2: Any = [] if self._sumw2 is None else self._sumw2.copy()
            stats = (self._entries, self._tsumw, self._tsumw2, self._tsumwx, self._tsumwx2)
        d = _th1_head("TH1D", self.name, self.title, self.nbins + 2)
        d["fXaxis"] = _axis(self.nbins, self.xmin, self.xmax, self.xtitle, "xaxis")
        d["fYaxis"] = _axis(1, 0, 1, self.ytitle, "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(*stats, sumw2))
        d["fArray"] = sumw
        return d
