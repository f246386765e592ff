"""Plain arrays as JSROOT can draw them: a view item next to the plain JSON.

A 1-D or 2-D numeric array (numpy of bool/int/float, or a ``list``/``tuple`` of numbers; 2-D:
a list of equal-length rows) is data a physicist wants to *see*, but its ``root.json`` is the
plain array that scripts read, and JSROOT draws nothing it cannot find a ``_typename`` for.

How JSROOT is told, and why this way: for any item whose ``_kind`` starts with ``ROOT.``,
JSROOT (7.x ``HierarchyPainter.getOnlineItem``) fetches ``<item>/root.json.gz?compact=23`` and
draws the reply by its ``_typename``; only a JavaScript function in the page (``_make_request``
or a draw handle's ``make_request``) could make it ask for anything else. A stock JSROOT, as a
ROOT user points it at the server, runs no code of ours. So the drawable form gets its own
path, as a *view* child of the array:

* 1-D: ``<array>/graph``, a ``TGraph`` of (index, value): the line ``root.png`` draws;
* 2-D: ``<array>/hist``, a ``TH2D`` with one bin per element, x = column and y = row (bin
  ``(i, j)`` spans ``[i, i+1) x [j, j+1)``): the colour map ``root.png`` draws.

``h.json`` marks a drawable array ``_more`` and lists the view as its only child (see
:mod:`trioserve.hierarchy`), so JSROOT's "+" shows it and a click draws it, and
``jsroot.htm?item=<array>/graph`` draws it at once; ``<array>/root.json`` is unchanged. A view
is made from a copy of the numbers at the moment it is read, like any other render.

:func:`plain_top_compact` is the other half of item 6 of issue 15: JSROOT's ``parse()``
decodes a ``{"$arr": ...}`` object where it replaces a *member* (or a list element), never
the document itself, so a bare 1-D array answered at ``compact`` >= 10 stayed an undecoded
object in the browser. A top-level array is therefore written plain.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trioserve.histograms import Graph
from trioserve.histograms._root import _axis, _th1_head, _th1_tail
from trioserve.render._numbers import numeric_list

__all__ = ["VIEW_NAMES", "ArrayHist2D", "array_view", "numeric_array", "plain_top_compact"]

#: the names a view may have (no array or list has a member by these names)
VIEW_NAMES = ("graph", "hist")

_NUMBER_TYPES = frozenset({int, float})


def _is_numbers(value: list[Any] | tuple[Any, ...]) -> bool:
    """Only ints/floats, or only bools (what :func:`numeric_list` turns into an array)."""
    types = set(map(type, value))  # C speed, for the large lists a listing may meet
    return bool(types) and (types <= _NUMBER_TYPES or types == {bool})


def _is_plain_sequence(value: object) -> bool:
    # exact list/tuple only: a namedtuple (or another subclass) is a record, not an array
    return type(value) is list or type(value) is tuple


def is_drawable(value: object) -> bool:
    """True when ``value`` has a view (cheap: no copy; a list is scanned for its types)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf" and value.ndim in (1, 2) and value.size > 0
    if not _is_plain_sequence(value) or not value:
        return False
    assert isinstance(value, (list, tuple))
    if _is_numbers(value):
        return True
    first = value[0]
    if not _is_plain_sequence(first) or not first:
        return False
    width = len(first)
    return all(_is_plain_sequence(row) and len(row) == width and _is_numbers(row) for row in value)


def numeric_array(value: object) -> np.ndarray | None:
    """A float64 copy of a drawable ``value`` (1-D or 2-D), or None."""
    if not is_drawable(value):
        return None
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    assert isinstance(value, (list, tuple))
    rows = value if _is_plain_sequence(value[0]) else [value]
    arrays = [numeric_list(row) for row in rows]
    if any(arr is None for arr in arrays):  # ints too large for a number array
        return None
    out = np.array(arrays, dtype=np.float64)
    return out if out.ndim == 2 and rows is value else out.reshape(-1)


class ArrayHist2D:
    """A 2-D array as a ROOT ``TH2D`` with one unit bin per element (x = column, y = row)."""

    __slots__ = ("_data",)
    __trioserve_typename__ = "TH2D"

    def __init__(self, data: np.ndarray) -> None:
        self._data = np.array(data, dtype=np.float64)  # a private copy
        if self._data.ndim != 2:
            raise ValueError("ArrayHist2D needs a 2-D array")

    @property
    def data(self) -> np.ndarray:
        """The numbers as ``[row, column]`` (a copy)."""
        return self._data.copy()

    def __trioserve_json__(self) -> dict[str, Any]:
        data = self._data
        ny, nx = data.shape
        cells = np.zeros((ny + 2, nx + 2))
        cells[1:-1, 1:-1] = data  # x fastest, as ROOT's bin = ix + (nx+2)*iy
        finite = np.where(np.isfinite(data), data, 0.0)
        x = np.arange(nx) + 0.5
        y = (np.arange(ny) + 0.5)[:, None]
        stats = (
            float(finite.sum()),
            float((finite * finite).sum()),
            float((finite * x).sum()),
            float((finite * x * x).sum()),
        )
        d = _th1_head("TH2D", "hist", "", (nx + 2) * (ny + 2))
        d["fXaxis"] = _axis(nx, 0, nx, "column", "xaxis")
        d["fYaxis"] = _axis(ny, 0, ny, "row", "yaxis")
        d["fZaxis"] = _axis(1, 0, 1, "", "zaxis")
        d.update(_th1_tail(float(data.size), *stats, []))
        d["fScalefactor"] = 1
        d["fTsumwy"] = float((finite * y).sum())
        d["fTsumwy2"] = float((finite * y * y).sum())
        d["fTsumwxy"] = float((finite * x * y).sum())
        d["fArray"] = cells.ravel()
        return d


def array_view(value: object) -> tuple[str, Any] | None:
    """``(name, view)`` for a drawable ``value`` (see the module docstring), else None."""
    data = numeric_array(value)
    if data is None:
        return None
    if data.ndim == 1:
        return "graph", Graph(np.arange(data.size, dtype=np.float64), data, name="graph")
    return "hist", ArrayHist2D(data)


def plain_top_compact(value: object, compact: int) -> int:
    """``compact`` for rendering ``value`` as a whole ``root.json``: the array digit (tens)
    dropped when ``value`` would otherwise be written as a top-level ``$arr`` object, which
    JSROOT's ``parse()`` does not decode (see the module docstring). Lists, tuples and sets
    are written plain as a whole: an array nested in them is then plain too, which any reader
    decodes."""
    arrays = (compact // 10) % 10
    if compact < 0 or not arrays:
        return compact
    top_array = (
        (isinstance(value, np.ndarray) and value.ndim == 1)
        or isinstance(value, (bytes, bytearray, memoryview, set, frozenset))
        or _is_plain_sequence(value)
    )
    return compact - arrays * 10 if top_array else compact
