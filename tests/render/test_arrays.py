"""Plain arrays get a view JSROOT draws (issue 15, item 6); root.json stays the plain array,
and a bare array is never a top-level ``$arr`` (which JSROOT's parse() leaves undecoded)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.render.jsroot_decode import parse
from trioserve.render import render_json
from trioserve.render.arrays import ArrayHist2D, array_view, is_drawable, plain_top_compact
from trioserve.render.introspect import get_member
from trioserve.render.json import render_json_bytes


@pytest.mark.parametrize(
    ("value", "drawable"),
    [
        ([0, 1, 4, 9], True),
        ((1.5, 2), True),
        ([True, False], True),
        ([[1, 2], [3, 4.5]], True),
        (np.arange(5), True),
        (np.zeros((2, 3), dtype=np.float32), True),
        (np.zeros((2, 2, 2)), False),
        (np.array([], dtype=float), False),
        (np.array(["a", "b"]), False),
        (np.array([1 + 2j]), False),
        ([], False),
        ([1, "two"], False),
        ([1, True], False),
        ([[1, 2], [3]], False),
        ([[1, 2], "ab"], False),
        ([[]], False),
        ({"a": 1}, False),
        ("text", False),
    ],
)
def test_what_is_drawable(value: object, drawable: bool) -> None:
    assert is_drawable(value) is drawable
    assert (array_view(value) is not None) is drawable


def test_1d_view_is_a_tgraph_of_index_and_value() -> None:
    view = get_member([0, 1, 4, 9], "graph")
    graph = parse(render_json(view, 23))
    assert graph["_typename"] == "TGraph" and graph["fNpoints"] == 4
    assert list(graph["fX"]) == [0, 1, 2, 3] and list(graph["fY"]) == [0, 1, 4, 9]
    with pytest.raises(KeyError):
        get_member([0, 1, 4, 9], "hist")  # a 1-D array has a graph, no hist


def test_2d_view_is_a_th2d_with_one_unit_bin_per_element() -> None:
    data = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # 2 rows, 3 columns
    hist = parse(render_json(get_member(data, "hist"), 23))
    assert hist["_typename"] == "TH2D"
    nx, ny = hist["fXaxis"]["fNbins"], hist["fYaxis"]["fNbins"]
    assert (nx, ny) == (3, 2) and hist["fNcells"] == 5 * 4
    assert (hist["fXaxis"]["fXmin"], hist["fXaxis"]["fXmax"]) == (0, 3)
    cells = np.asarray(hist["fArray"]).reshape(ny + 2, nx + 2)  # ROOT: bin = ix + (nx+2)*iy
    assert (cells[1:-1, 1:-1] == data).all() and cells.sum() == data.sum()
    assert hist["fEntries"] == 6 and hist["fTsumw"] == 21
    # the mean JSROOT's stats box shows: x of (column + 0.5) weighted by the contents
    assert hist["fTsumwx"] / hist["fTsumw"] == pytest.approx((5 * 0.5 + 7 * 1.5 + 9 * 2.5) / 21)
    with pytest.raises(ValueError):
        ArrayHist2D(np.zeros(3))


def test_view_is_a_copy() -> None:
    data = [1.0, 2.0]
    view = get_member(data, "graph")
    data[0] = 99.0
    assert list(parse(render_json(view, 0))["fY"]) == [1, 2]


def test_plain_json_of_the_array_is_unchanged() -> None:
    assert json.loads(render_json([0, 1, 4, 9])) == [0, 1, 4, 9]
    assert json.loads(render_json(np.arange(3))) == [0, 1, 2]


@pytest.mark.parametrize(
    "value",
    [
        np.arange(10.0),
        np.zeros(8, dtype=np.int32),
        [0.0] * 8,
        (1,) * 7,
        b"\0" * 9,
        {1, 2, 3, 4, 5, 6},
    ],
)
@pytest.mark.parametrize("compact", [10, 13, 23, 33, 113])
def test_a_bare_array_is_written_plain_at_every_compact(value: Any, compact: int) -> None:
    body = render_json_bytes(value, plain_top_compact(value, compact))
    decoded = json.loads(body)
    assert isinstance(decoded, list) and len(decoded) == len(value)
    assert plain_top_compact(value, compact) % 10 == compact % 10  # the layout is kept


def test_arrays_inside_objects_stay_compressed() -> None:
    obj = {"a": np.zeros(100)}
    assert plain_top_compact(obj, 23) == 23
    assert '"$arr"' in render_json(obj, 23) and parse(render_json(obj, 23))["a"].size == 100
    assert plain_top_compact(np.zeros((4, 4)), 23) == 23  # rows are list elements: decoded
