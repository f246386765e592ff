"""``Profile``: the mean of y in bins of x, rendered as ROOT ``TProfile``.

It keeps the four per-bin sums ROOT keeps (Σw·y, Σw·y², Σw, Σw²) rather than means, so
fills stay additive and JSROOT computes the same errors ROOT would (error on the mean).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from trioserve.histograms._binning import _bin_index, _check_axis, _filled
from trioserve.histograms._root import _axis, _profile_tail, _th1_head, _th1_tail


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
        d.update(_profile_tail(w, w2, s[4], s[5]))
        return d
