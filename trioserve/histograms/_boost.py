"""boost-histogram / ``hist`` objects as ROOT ``TH1D``/``TH2D`` JSON, so JSROOT draws them.

Duck-typed: nothing here imports ``boost_histogram`` or ``hist``. :func:`is_boost_histogram`
only looks in ``sys.modules``, so the renderers can ask about every object they see without
paying for (or requiring) those packages; a program that made a boost histogram has already
imported them.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from trioserve.histograms._root import _axis, _th1_head, _th1_tail


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
