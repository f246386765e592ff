from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from trioserve.histograms import Hist1D, Hist2D, Profile, as_graph
from trioserve.render import render_json

from .jsroot_decode import parse

# Key sets produced by JSROOT 7.11 createHistogram(...)/createTGraph + toJSON (node oracle).
TH1_KEYS = {
    "_typename",
    "fUniqueID",
    "fBits",
    "fName",
    "fTitle",
    "fLineColor",
    "fLineStyle",
    "fLineWidth",
    "fFillColor",
    "fFillStyle",
    "fMarkerColor",
    "fMarkerStyle",
    "fMarkerSize",
    "fNcells",
    "fXaxis",
    "fYaxis",
    "fZaxis",
    "fBarOffset",
    "fBarWidth",
    "fEntries",
    "fTsumw",
    "fTsumw2",
    "fTsumwx",
    "fTsumwx2",
    "fMaximum",
    "fMinimum",
    "fNormFactor",
    "fContour",
    "fSumw2",
    "fOption",
    "fFunctions",
    "fBufferSize",
    "fBuffer",
    "fBinStatErrOpt",
    "fStatOverflows",
    "fArray",
}
TH2_KEYS = TH1_KEYS | {"fScalefactor", "fTsumwy", "fTsumwy2", "fTsumwxy"}
TAXIS_KEYS = {
    "_typename",
    "fUniqueID",
    "fBits",
    "fName",
    "fTitle",
    "fNdivisions",
    "fAxisColor",
    "fLabelColor",
    "fLabelFont",
    "fLabelOffset",
    "fLabelSize",
    "fTickLength",
    "fTitleOffset",
    "fTitleSize",
    "fTitleColor",
    "fTitleFont",
    "fNbins",
    "fXmin",
    "fXmax",
    "fXbins",
    "fFirst",
    "fLast",
    "fBits2",
    "fTimeDisplay",
    "fTimeFormat",
    "fLabels",
    "fModLabs",
}
TGRAPH_KEYS = {
    "_typename",
    "fUniqueID",
    "fBits",
    "fName",
    "fTitle",
    "fLineColor",
    "fLineStyle",
    "fLineWidth",
    "fFillColor",
    "fFillStyle",
    "fMarkerColor",
    "fMarkerStyle",
    "fMarkerSize",
    "fFunctions",
    "fHistogram",
    "fMaxSize",
    "fMaximum",
    "fMinimum",
    "fNpoints",
    "fX",
    "fY",
}


def test_th1d_layout_and_values() -> None:
    h = Hist1D("hpx", "px distribution", 4, 0.0, 4.0)
    h.fill_many([0.5, 1.5, 1.5, 3.9, -1.0, 4.0, 10.0, np.nan])
    h.fill(2.5, weight=2.0)
    for compact in (0, 3, 23):
        d = parse(render_json(h, compact))
        assert set(d) == TH1_KEYS
        assert set(d["fXaxis"]) == TAXIS_KEYS
        assert d["_typename"] == "TH1D" and d["fXaxis"]["_typename"] == "TAxis"
        assert d["fNcells"] == 6
        assert list(np.asarray(d["fArray"])) == [1, 1, 2, 2, 1, 2]
        assert list(np.asarray(d["fSumw2"])) == [1, 1, 2, 4, 1, 2]
        assert d["fEntries"] == 8
        assert d["fTsumw"] == 6 and d["fTsumw2"] == 8
        assert d["fTsumwx"] == pytest.approx(0.5 + 3.0 + 3.9 + 5.0)
        assert d["fXaxis"]["fNbins"] == 4 and d["fXaxis"]["fXmax"] == 4
        assert d["fFunctions"]["_typename"] == "TList"
    assert h.mean == pytest.approx((0.5 + 3.0 + 3.9 + 5.0) / 6)
    assert h.entries == 8
    h.reset()
    assert h.entries == 0 and not h.values.any()


def test_th2d_cell_order_x_fastest() -> None:
    h = Hist2D("h2", "t", 3, 0, 3, 2, 0, 2)
    h.fill(0.5, 1.5, 3.0)  # ix=1, iy=2
    d = parse(render_json(h, 23))
    assert set(d) == TH2_KEYS
    arr = np.asarray(d["fArray"])
    assert d["fNcells"] == arr.size == 20
    assert arr[1 + 5 * 2] == 3 and arr.sum() == 3
    assert d["fTsumwxy"] == pytest.approx(3 * 0.5 * 1.5)


def test_profile_and_graph() -> None:
    p = Profile("p", "t", 2, 0, 2)
    p.fill_many([0.5, 0.5, 1.5], [1.0, 3.0, 5.0])
    d = parse(render_json(p, 3))
    assert d["_typename"] == "TProfile"
    assert list(d["fBinEntries"]) == [0, 2, 1, 0]
    assert list(d["fArray"]) == [0, 4, 5, 0]
    assert list(p.means) == [0, 2, 5, 0]
    g = parse(render_json(as_graph([1, 2, 3], [4, 5, 6], title="g"), 3))
    assert set(g) == TGRAPH_KEYS
    assert g["fNpoints"] == 3 and list(g["fY"]) == [4, 5, 6]


def test_bad_axes_refused() -> None:
    with pytest.raises(ValueError):
        Hist1D("h", "t", 0, 0, 1)
    with pytest.raises(ValueError):
        Hist1D("h", "t", 5, 1, 1)


def test_edges_of_range_like_root() -> None:
    h = Hist1D("h", "t", 10, 0, 1)
    h.fill_many([0.0, 0.1, 0.999999, 1.0, -1e-12, np.inf, -np.inf])
    assert list(h.values) == [2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2]


@pytest.mark.skipif(
    importlib.util.find_spec("boost_histogram") is None,
    reason="boost-histogram not installed: boost/hist rendering NOT TESTED",
)
def test_boost_histogram_as_th1d_th2d() -> None:
    import boost_histogram as bh

    h = bh.Histogram(bh.axis.Regular(4, 0, 4))
    h.fill([0.5, 1.5, 1.5, -3, 9])
    d = parse(render_json(h, 23))
    assert set(d) == TH1_KEYS and d["_typename"] == "TH1D"
    assert list(d["fArray"]) == [1, 1, 2, 0, 0, 1]
    v = bh.Histogram(bh.axis.Variable([0, 1, 3]), bh.axis.Regular(2, 0, 2, underflow=False))
    v.fill([0.5, 2.0], [0.5, 1.5])
    d2 = parse(render_json(v, 3))
    assert d2["_typename"] == "TH2D" and d2["fNcells"] == 16
    assert list(d2["fXaxis"]["fXbins"]) == [0, 1, 3]
    arr = np.asarray(d2["fArray"])
    assert arr[1 + 4 * 1] == 1 and arr[2 + 4 * 2] == 1 and arr.sum() == 2


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_sumw2_appears_with_the_first_weight_other_than_one(kind: str) -> None:
    """As ROOT's TH1::Fill: no fSumw2 while every weight is 1 (errors are then √content in
    ROOT and JSROOT alike); the first other weight starts it from the contents so far."""
    if kind == "1d":
        h: Hist1D | Hist2D = Hist1D("h", "", 4, 0.0, 4.0)
        h.fill_many([0.5, 1.5, 1.5])
        h.fill(2.5, weight=1.0)  # an explicit 1 is no weight
    else:
        h = Hist2D("h", "", 2, 0.0, 2.0, 2, 0.0, 2.0)
        h.fill_many([0.5, 1.5, 1.5], [0.5, 0.5, 1.5], weights=[1, 1, 1])
    for compact in (0, 23):
        d = parse(render_json(h, compact))
        assert list(d["fSumw2"]) == []
        assert d["fTsumw2"] == d["fTsumw"]
    before = np.asarray(parse(render_json(h, 0))["fArray"], dtype=float)
    if isinstance(h, Hist1D):
        np.testing.assert_array_equal(h.variances, h.values)
        h.fill(0.5, weight=3.0)
        cell = 1
    else:
        h.fill(0.5, 0.5, weight=3.0)
        cell = 1 + 4 * 1  # ix + (nx + 2) * iy
    d = parse(render_json(h, 23))
    expected = before.copy()
    expected[cell] += 9.0
    np.testing.assert_array_equal(np.asarray(d["fSumw2"], dtype=float), expected)
    assert d["fTsumw2"] == d["fTsumw"] - 3.0 + 9.0
    h.reset()  # ROOT's Reset() keeps Sumw2
    if isinstance(h, Hist1D):
        h.fill(0.5)
    else:
        h.fill(0.5, 0.5)
    d = parse(render_json(h, 0))
    assert list(d["fSumw2"]) == list(d["fArray"])
    assert sum(d["fSumw2"]) == 1
