"""boost-histogram / ``hist`` objects as ROOT ``TH1D``/``TH2D``/``TProfile``/``TProfile2D``
JSON, so JSROOT draws them.

Duck-typed: nothing here imports ``boost_histogram`` or ``hist``. :func:`is_boost_histogram`
only looks in ``sys.modules``, so the renderers can ask about every object they see without
paying for (or requiring) those packages; a program that made a boost histogram has already
imported them.

What each storage becomes, and what ROOT would hold that boost does not (so is derived):

* ``Double``, ``Int64``, ``AtomicInt64``, ``Unlimited``: ``TH1D``/``TH2D``. ``fEntries`` is the
  sum of all cells, flow included: the number of fills when every fill had weight 1 (ROOT
  counts fill *calls*; a weighted fill into a plain storage cannot be told apart). When the
  program filled with weights, boost no longer knows the variances: ``fSumw2`` is then empty,
  so JSROOT takes √content as the error, as ROOT does without ``Sumw2()``.
* ``Weight``: ``TH1D``/``TH2D`` with ``fSumw2`` = Σw². boost keeps no fill count, so
  ``fEntries`` is the *effective* number of entries (Σw)²/Σw² over all cells, what ROOT's
  ``GetEffectiveEntries`` gives; it equals the fill count when all weights are 1.
* ``Mean``: ``TProfile``/``TProfile2D``; every number ROOT keeps is recovered exactly
  (Σw = Σw² = count, Σw·y = count·mean, Σw·y² = Σ(y-mean)² + count·mean²), and
  ``fEntries`` is the count.
* ``WeightedMean``: ``TProfile``/``TProfile2D`` from Σw, Σw², the mean and Σw(y-mean)²,
  exactly; ``fEntries`` is again the effective count (Σw)²/Σw².

The statistics box sums (``fTsumwx``...) use bin centres, so they are those of the binned
data, not of the values filled. The identity: ``name`` and ``title`` given by the caller (the
name and title the object was registered under), else the object's own (a ``hist``
histogram's ``name`` and ``label``), else ``"h"`` and no title.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from trioserve.histograms._boost_axes import BoostAxis, boost_axis, place
from trioserve.histograms._root import _axis, _profile_tail, _th1_head, _th1_tail


def is_boost_histogram(obj: object) -> bool:
    """True for a boost-histogram (or ``hist``) histogram; never imports either package."""
    bh = sys.modules.get("boost_histogram")
    return bh is not None and isinstance(obj, bh.Histogram)


def boost_typename(h: Any) -> str | None:
    """The ROOT class :func:`boost_to_root` makes of ``h`` (a profile for a mean storage),
    read from its dimensions and storage without converting it; None for >2 dimensions."""
    if not is_boost_histogram(h) or h.ndim not in (1, 2):
        return None
    fields = np.asarray(h.view()).dtype.names or ()
    profile = "_sum_of_deltas_squared" in fields or "sum_of_weights" in fields
    if h.ndim == 1:
        return "TProfile" if profile else "TH1D"
    return "TProfile2D" if profile else "TH2D"


@dataclass(frozen=True, slots=True)
class _Cells:
    """A histogram's per-cell sums at ROOT's places (``[x, y]`` arrays with flow cells).

    For a plain histogram ``sumw`` is the content and ``sumw2`` Σw² (None: unknown); for a
    profile ``sumw`` is Σw·y, ``sumw2`` Σw·y², and ``binentries``/``binsumw2`` Σw/Σw².
    """

    sumw: np.ndarray
    sumw2: np.ndarray | None
    entries: float
    binentries: np.ndarray | None = None
    binsumw2: np.ndarray | None = None


def _effective(sumw: np.ndarray, sumw2: np.ndarray) -> float:
    """ROOT's effective entries (Σw)²/Σw² (0 when nothing was filled)."""
    total2 = float(sumw2.sum())
    return float(sumw.sum()) ** 2 / total2 if total2 > 0 else 0.0


def _cells(h: Any, axes: list[BoostAxis]) -> _Cells | None:
    """The sums of ``h``'s storage, told apart by the fields of its view; None for a storage
    this does not know."""
    view = np.asarray(h.view(flow=True))
    fields = view.dtype.names
    if fields is None:
        sumw = place(np.asarray(h.values(flow=True), dtype=np.float64), axes)
        variances = h.variances(flow=True)
        sumw2 = None if variances is None else place(np.asarray(variances, np.float64), axes)
        return _Cells(sumw, sumw2, float(sumw.sum()))
    if set(fields) == {"value", "variance"}:
        sumw, sumw2 = place(view["value"], axes), place(view["variance"], axes)
        return _Cells(sumw, sumw2, _effective(sumw, sumw2))
    if "count" in fields and "_sum_of_deltas_squared" in fields:
        n, mean = place(view["count"], axes), place(view["value"], axes)
        deltas2 = place(view["_sum_of_deltas_squared"], axes)
        return _Cells(n * mean, deltas2 + n * mean**2, float(n.sum()), n, n.copy())
    if "sum_of_weights" in fields and "_sum_of_weighted_deltas_squared" in fields:
        sw, sw2 = place(view["sum_of_weights"], axes), place(view["sum_of_weights_squared"], axes)
        mean = place(view["value"], axes)
        deltas2 = place(view["_sum_of_weighted_deltas_squared"], axes)
        return _Cells(sw * mean, deltas2 + sw * mean**2, _effective(sw, sw2), sw, sw2)
    return None


def _own(h: Any, attrs: tuple[str, ...]) -> str:
    for attr in attrs:
        value = getattr(h, attr, None)
        if isinstance(value, str) and value:
            return value
    return ""


def boost_to_root(
    h: Any, name: str | None = None, title: str | None = None
) -> dict[str, Any] | None:
    """A boost-histogram/``hist`` 1-D or 2-D histogram as ROOT JSON (see the module
    docstring), named ``name`` and titled ``title`` when given; else None.

    Regular, variable, integer, boolean and category axes are supported; >2 dimensions, an
    axis with infinite edges and unknown storages return None (the object is then rendered
    generically).
    """
    if not is_boost_histogram(h) or h.ndim not in (1, 2):
        return None
    axes: list[BoostAxis] = []
    for ax, axis_name in zip(h.axes, ("xaxis", "yaxis"), strict=False):
        converted = boost_axis(ax, axis_name)
        if converted is None:
            return None
        axes.append(converted)
    cells = _cells(h, axes)
    if cells is None:
        return None
    name = name or _own(h, ("name",)) or "h"
    title = title or _own(h, ("label", "title"))
    return _assemble(axes, cells, name, title)


def _assemble(axes: list[BoostAxis], c: _Cells, name: str, title: str) -> dict[str, Any]:
    profile = c.binentries is not None
    one_d = len(axes) == 1
    # the statistics-box totals weigh bins by Σw: the content, or a profile's bin entries
    weights = c.binentries if c.binentries is not None else c.sumw
    weights2 = c.binsumw2 if profile else c.sumw2 if c.sumw2 is not None else c.sumw
    assert weights is not None and weights2 is not None
    inner = tuple(slice(1, -1) for _ in axes)
    w, w2 = weights[inner], weights2[inner]
    if one_d:
        typename = "TProfile" if profile else "TH1D"
        cx = axes[0].centers
        ncells = axes[0].nbins + 2
    else:
        typename = "TProfile2D" if profile else "TH2D"
        cx, cy = np.meshgrid(axes[0].centers, axes[1].centers, indexing="ij")
        ncells = (axes[0].nbins + 2) * (axes[1].nbins + 2)

    def flat(cells: np.ndarray) -> np.ndarray:
        return cells if one_d else cells.T.ravel()  # x fastest, as ROOT's bin = ix+(nx+2)*iy

    d = _th1_head(typename, name, title, ncells)
    d["fXaxis"] = axes[0].taxis
    d["fYaxis"] = axes[1].taxis if not one_d else _axis(1, 0, 1, "", "yaxis")
    d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
    sumw2: Any = flat(c.sumw2) if c.sumw2 is not None else []
    tail = _th1_tail(c.entries, w.sum(), w2.sum(), (w * cx).sum(), (w * cx**2).sum(), sumw2)
    d.update(tail)
    if not one_d:
        d["fScalefactor"] = 1
        d["fTsumwy"] = float((w * cy).sum())
        d["fTsumwy2"] = float((w * cy**2).sum())
        d["fTsumwxy"] = float((w * cx * cy).sum())
    d["fArray"] = flat(c.sumw)
    if c.binentries is not None and c.binsumw2 is not None:
        totals = float(c.sumw[inner].sum()), float(np.asarray(c.sumw2)[inner].sum())
        d.update(_profile_tail(flat(c.binentries), flat(c.binsumw2), *totals, two_d=not one_d))
    return d
