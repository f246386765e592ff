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


def _unit_weights(weights: Any) -> bool:
    """Whether every weight of a fill is 1. Until a fill with another weight, a histogram
    keeps no Σw² per bin (it equals the contents) and writes an empty ``fSumw2``, as ROOT
    does: ``TH1::Fill`` calls ``Sumw2()`` only for a weight other than 1, and without
    ``fSumw2`` ROOT and JSROOT take √content as the error, the same numbers. That halves
    the arrays rendered (and the bytes sent) for the usual unweighted histogram, and the
    program's own fills skip a ``bincount``."""
    if weights is None:
        return True
    return bool((np.asarray(weights) == 1).all())


def _add_fill(
    sumw: np.ndarray, sumw2: np.ndarray | None, cells: np.ndarray, cells2: np.ndarray | None
) -> np.ndarray | None:
    """Add one fill's Σw per cell (and its Σw², None for unit weights) to a histogram's sums,
    in place; returns the histogram's Σw² array: None while every weight was 1, started from
    the contents at the first other weight, as ROOT's ``Sumw2()`` does."""
    if cells2 is not None and sumw2 is None:
        sumw2 = sumw.copy()
    sumw += cells
    if sumw2 is not None:
        sumw2 += cells if cells2 is None else cells2
    return sumw2


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
