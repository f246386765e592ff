"""``Graph`` and :func:`as_graph`: an (x, y) series that renders as ROOT ``TGraph``.

A plain pair of arrays renders as arrays; wrapping it in a ``Graph`` is how a program says
"draw these as points", which JSROOT does natively for ``TGraph``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trioserve.histograms._root import _EMPTY_TLIST


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
            "fFunctions": _EMPTY_TLIST,
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
