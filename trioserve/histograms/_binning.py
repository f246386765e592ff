"""Fixed-width binning shared by :class:`Hist1D`, :class:`Hist2D` and :class:`Profile`:
checking an axis, cleaning the input of a ``fill_many`` and finding each value's bin.

One place for ROOT's rules, so the three classes cannot drift apart: NaN coordinates are
dropped before anything counts them, bin 0 is underflow and nbins+1 overflow, and a value
equal to the axis maximum is overflow (ROOT's ``FindBin``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
