"""The ROOT JSON shapes every histogram here is written into: ``TAxis``, the ``TH1`` fields
before and after the axes, and the empty ``TList``.

Kept apart from the histogram classes because they are ROOT's layout, not ours: the classes
(and the boost-histogram bridge) fill in numbers, these functions decide which keys JSROOT
finds. What JSROOT needs, learned from JSROOT 7.11's ``createHistogram('TH1D', n)`` /
``toJSON`` (run once as an oracle in node; the key sets are pinned by
tests/render/test_histograms.py):

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
* a labelled axis (ROOT's ``SetBinLabel``, our category axes) carries ``fLabels``: a
  ``THashList`` of ``TObjString`` whose ``fUniqueID`` is the bin number (1-based), with
  ``fXmin`` 0 and ``fXmax`` = ``fNbins``, the range for which JSROOT's axis painter puts label
  *k* under bin *k* (``TAxisPainter.formatLabels``: "regular labels").
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from trioserve.histograms._fixed import Fixed

#: ``fFunctions`` of every histogram: an empty ``TList``, written once (see ``_fixed``)
_EMPTY_TLIST = Fixed(_typename="TList", name="TList", arr=(), opt=())


def _labels(labels: list[str]) -> dict[str, Any]:
    """ROOT's ``fLabels``: a ``THashList`` of ``TObjString``, bin *k* labelled by the string
    whose ``fUniqueID`` is *k*, exactly as ``TAxis::SetBinLabel`` leaves it."""
    strings = [
        {"_typename": "TObjString", "fUniqueID": k, "fBits": 0, "fString": text}
        for k, text in enumerate(labels, start=1)
    ]
    return {
        "_typename": "THashList",
        "name": "THashList",
        "arr": strings,
        "opt": [""] * len(strings),
    }


def _axis(
    nbins: int,
    xmin: float,
    xmax: float,
    title: str = "",
    name: str = "",
    edges: Any = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """A ``TAxis``; ``edges`` for variable binning, ``labels`` (one per bin) for a labelled
    axis, which then spans 0..nbins as ROOT's alphanumeric axes do. A uniform, unlabelled
    axis (nearly all of them) is a shared :class:`Fixed` object, written once per layout."""
    if edges is None and labels is None:
        return _uniform_axis(int(nbins), float(xmin), float(xmax), title, name)
    return _axis_members(nbins, xmin, xmax, title, name, edges, labels)


@functools.lru_cache(maxsize=1024)
def _uniform_axis(nbins: int, xmin: float, xmax: float, title: str, name: str) -> Fixed:
    """The one shared ``TAxis`` with these numbers and texts (kept for the next render)."""
    members = _axis_members(nbins, xmin, xmax, title, name, None, None)
    members["fXbins"] = ()  # (immutable: written as [] all the same)
    return Fixed(members)


def _axis_members(
    nbins: int,
    xmin: float,
    xmax: float,
    title: str,
    name: str,
    edges: Any,
    labels: list[str] | None,
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
        "fLabels": _labels(labels) if labels is not None else None,
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
        "fFunctions": _EMPTY_TLIST,
        "fBufferSize": 0,
        "fBuffer": [],
        "fBinStatErrOpt": 0,
        "fStatOverflows": 2,
    }


def _profile_tail(
    binentries: Any, binsumw2: Any, tsumwy: float, tsumwy2: float, *, two_d: bool = False
) -> dict[str, Any]:
    """The fields a ``TProfile`` (``TProfile2D`` with ``two_d``) adds after ``fArray``: the
    per-cell Σw and Σw², the error mode (0: error on the mean) and the Σw·y, Σw·y² totals
    (ROOT calls the profiled quantity y in 1-D and z in 2-D)."""
    q = "z" if two_d else "y"
    return {
        "fBinEntries": binentries,
        "fErrorMode": 0,
        f"f{q.upper()}min": 0,
        f"f{q.upper()}max": 0,
        "fScaling": False,
        f"fTsumw{q}": float(tsumwy),
        f"fTsumw{q}2": float(tsumwy2),
        "fBinSumw2": binsumw2,
    }
