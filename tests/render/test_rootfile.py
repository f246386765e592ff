"""``file.root``'s renderer: every kind of object written with uproot and read back by uproot.

Each object is checked against what it holds (bin contents with under/overflow, edges, names,
titles, entries, statistics; arrays equal with their dtype), and the histograms against the
very ROOT view ``root.json`` shows.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from trioserve.histograms import Hist1D, Hist2D, Profile, as_graph, boost_to_root
from trioserve.render.rootfile import (
    SUPPORTED,
    NotWritableError,
    UprootMissingError,
    render_root_file,
    snapshot_root_file,
    write_root_file,
)

uproot = pytest.importorskip("uproot", reason="SKIPPED LOUDLY: the root extra is not installed")
bh = pytest.importorskip("boost_histogram")
hist = pytest.importorskip("hist")


def read(obj: object, name: str = "obj", title: str = "") -> Any:
    return uproot.open(io.BytesIO(render_root_file(obj, name, title)))


def member(model: Any, name: str) -> Any:
    return model.member(name)


# -- our histograms --------------------------------------------------------------------------
def test_hist1d_round_trips_with_flow_bins_statistics_and_titles() -> None:
    h = Hist1D("hpx", "px distribution", 20, -2, 2, xtitle="px [GeV]", ytitle="count")
    h.fill_many(np.linspace(-2.5, 2.5, 301))
    h.fill(0.1, weight=2.5)
    back = read(h, "hpx")["hpx"]
    assert back.classname == "TH1D"
    assert member(back, "fName") == "hpx" and member(back, "fTitle") == "px distribution"
    np.testing.assert_array_equal(back.values(flow=True), h.values)
    np.testing.assert_array_equal(back.variances(flow=True), h.variances)
    np.testing.assert_allclose(back.axis().edges(), h.edges)
    assert back.axis().member("fTitle") == "px [GeV]"
    assert back.member("fYaxis").member("fTitle") == "count"
    assert member(back, "fEntries") == h.entries == 302
    view = h.__trioserve_json__()
    for key in ("fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
        assert member(back, key) == pytest.approx(view[key])


def test_hist2d_keeps_roots_cell_order() -> None:
    h = Hist2D("hpxpy", "py vs px", 4, 0, 4, 3, 0, 3, xtitle="px", ytitle="py")
    # asymmetric on purpose: a transposed write would not match
    h.fill_many([0.5, 1.5, 1.5, 3.5, -1, 2.5], [0.5, 2.5, 2.5, 1.5, 0.5, 9])
    back = read(h, "hpxpy")["hpxpy"]
    assert back.classname == "TH2D"
    np.testing.assert_array_equal(back.values(flow=True), h.values)
    assert back.values()[1, 2] == 2 and back.values()[3, 1] == 1
    np.testing.assert_allclose(back.axis(0).edges(), np.linspace(0, 4, 5))
    np.testing.assert_allclose(back.axis(1).edges(), np.linspace(0, 3, 4))
    assert (back.axis(0).member("fTitle"), back.axis(1).member("fTitle")) == ("px", "py")
    assert member(back, "fEntries") == 6 and member(back, "fTitle") == "py vs px"
    view = h.__trioserve_json__()
    for key in ("fTsumwy", "fTsumwy2", "fTsumwxy"):
        assert member(back, key) == pytest.approx(view[key])


def test_profile_keeps_the_four_sums_so_means_and_errors_are_roots() -> None:
    p = Profile("prof", "y vs x", 4, 0, 4)
    p.fill_many([0.5, 0.5, 2.5, 9], [1, 3, 5, 7])
    back = read(p, "prof")["prof"]
    assert back.classname == "TProfile"
    np.testing.assert_allclose(back.values(flow=True), p.means)
    assert back.errors()[0] == pytest.approx(1 / np.sqrt(2))  # error on the mean of 1 and 3
    np.testing.assert_array_equal(back.member("fBinEntries"), [0, 2, 0, 1, 0, 1])
    assert member(back, "fEntries") == 4 and member(back, "fTitle") == "y vs x"


# -- boost-histogram and hist --------------------------------------------------------------
def _boost_1d_variable() -> Any:
    h = bh.Histogram(bh.axis.Variable([0, 1, 3, 7], metadata="m"), storage=bh.storage.Weight())
    h.fill([0.5, 2, 2, 5, 8, -1], weight=[1, 2, 2, 0.5, 1, 3])
    return h


def _boost_2d() -> Any:
    h = bh.Histogram(bh.axis.Regular(4, 0, 4), bh.axis.Integer(0, 3))
    h.fill([0.5, 1.5, 1.5, 3.5], [0, 2, 2, 1])
    return h


def _hist_named() -> Any:
    h = hist.Hist(hist.axis.Regular(10, 0, 1, label="x axis"), name="hn", label="hist label")
    h.fill(np.linspace(0, 1, 50, endpoint=False))
    return h


@pytest.mark.parametrize("make", [_boost_1d_variable, _boost_2d, _hist_named])
def test_boost_and_hist_are_written_from_the_view_root_json_shows(make: Any) -> None:
    h = make()
    view = boost_to_root(h)
    assert view is not None
    back = read(h, "bh", title="registered title")["bh"]
    assert back.classname == view["_typename"]
    np.testing.assert_allclose(back.values(), h.values())
    if h.variances() is not None:
        np.testing.assert_allclose(back.variances(), h.variances())
    for i, axis in enumerate(h.axes):
        np.testing.assert_allclose(back.axis(i).edges(), axis.edges)
    assert member(back, "fEntries") == view["fEntries"]
    assert member(back, "fName") == "bh"  # ROOT names a key's object after the key
    assert member(back, "fTitle") == (view["fTitle"] or "registered title")
    assert back.axis(0).member("fTitle") == view["fXaxis"]["fTitle"]


def test_what_the_view_cannot_take_goes_through_uproots_own_conversion() -> None:
    three = bh.Histogram(
        bh.axis.Regular(2, 0, 2), bh.axis.Regular(3, 0, 3), bh.axis.Regular(2, 0, 1)
    )
    three.fill([1.5], [2.5], [0.2])
    mean = bh.Histogram(bh.axis.Regular(3, 0, 3), storage=bh.storage.Mean())
    mean.fill([1, 1, 2], sample=[2, 4, 6])
    f = read({"three": three, "mean": mean})
    assert f["three"].classname == "TH3D"
    np.testing.assert_array_equal(f["three"].values(), three.values())
    assert f["mean"].classname == "TProfile"
    np.testing.assert_allclose(f["mean"].values(), [0, 3, 6])
    assert member(f["mean"], "fName") == "mean"


class Labelled:
    """A histogram whose view carries ROOT's axis labels (``fXaxis.fLabels``)."""

    def __trioserve_json__(self) -> dict[str, Any]:
        h = Hist1D("cat", "categories", 3, 0, 3)
        h.fill_many([0.5, 1.5, 1.5])
        view = h.__trioserve_json__()
        labels = {
            "_typename": "THashList",
            "arr": [
                {"_typename": "TObjString", "fUniqueID": n, "fString": s}
                for n, s in enumerate(["electron", "muon", "tau"], start=1)
            ],
        }
        # (the axes are shared, immutable objects: a changed axis is a new dict)
        view["fXaxis"] = {**view["fXaxis"], "fLabels": labels}
        return view


def test_axis_labels_become_roots_labelled_axis() -> None:
    back = read(Labelled(), "cat")["cat"]
    assert back.axis().labels() == ["electron", "muon", "tau"]
    labels = back.axis().member("fLabels")
    assert [label.member("@fUniqueID") for label in labels] == [1, 2, 3]  # what JSROOT matches
    np.testing.assert_array_equal(back.values(), [1, 2, 0])


# -- arrays ----------------------------------------------------------------------------------
ARRAYS = [
    np.arange(7, dtype=np.int8),
    np.arange(7, dtype=np.uint16),
    np.arange(-3, 4, dtype=np.int32),
    np.array([2**40, -(2**40)], dtype=np.int64),
    np.linspace(0, 1, 9, dtype=np.float32),
    np.array([0.1, np.nan, np.inf, -1e300]),
    np.array([True, False, True]),
    np.zeros(0),
]


@pytest.mark.parametrize("arr", ARRAYS, ids=lambda a: f"{a.dtype}x{a.size}")
def test_1d_arrays_become_a_tree_with_one_branch_value(arr: np.ndarray) -> None:
    tree = read(arr, "a", title="an array")["a"]
    assert tree.classname == "TTree" and tree.title == "an array"
    assert tree.keys() == ["value"] and tree.num_entries == arr.size
    back = tree["value"].array(library="np")
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)


def test_2d_arrays_are_rows_of_fixed_size() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(4, 3)
    back = read(arr, "grid")["grid"]["value"].array(library="np")
    assert back.shape == (4, 3) and back.dtype == np.float32
    np.testing.assert_array_equal(back, arr)


def test_record_arrays_get_a_branch_per_field() -> None:
    arr = np.zeros(3, dtype=[("energy", "f8"), ("hits", "i4")])
    arr["energy"], arr["hits"] = [1.5, 2.5, 3.5], [4, 5, 6]
    tree = read(arr, "events")["events"]
    assert tree.keys() == ["energy", "hits"]
    np.testing.assert_array_equal(tree["energy"].array(library="np"), arr["energy"])
    np.testing.assert_array_equal(tree["hits"].array(library="np"), arr["hits"])


@pytest.mark.parametrize(
    ("values", "dtype"), [([0, 1, 4, 9], np.int32), ([0.5, 1, 2.25], np.float64), ([], np.float64)]
)
def test_lists_of_numbers_are_arrays(values: list[float], dtype: Any) -> None:
    back = read(values, "squares")["squares"]["value"].array(library="np")
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, values)


def test_a_graph_is_a_tree_of_x_and_y() -> None:
    tree = read(as_graph([1, 2, 3], [4, 5, 6], title="points"), "g")["g"]
    assert tree.keys() == ["x", "y"] and tree.title == "points"
    np.testing.assert_array_equal(tree["y"].array(library="np"), [4, 5, 6])


# -- dicts, strings, names -------------------------------------------------------------------
def test_a_dict_gives_several_keys_and_a_dict_inside_it_a_directory() -> None:
    h = Hist1D("h", "t", 4, 0, 4)
    h.fill(1.5)
    data = {
        "hpx": h,
        "a/b": np.arange(3),
        "note": "calibrated",
        "_secret": np.arange(3),  # not public: root.json does not show it either
        "more": {"inner": [1.0, 2.0], "x;1": np.ones(2)},
    }
    f = read(data, "bundle")
    assert sorted(f.keys(recursive=True, cycle=False)) == [
        "a_b",
        "hpx",
        "more",
        "more/inner",
        "more/x_1",
        "note",
    ]
    assert f["note"] == "calibrated" and f.classnames()["more;1"] == "TDirectory"
    np.testing.assert_array_equal(f["hpx"].values(flow=True), h.values)
    np.testing.assert_array_equal(f["more/inner"]["value"].array(library="np"), [1.0, 2.0])
    assert b"calibrated" in render_root_file(data, "bundle")
    assert b"_secret" not in render_root_file(data, "bundle")


def test_a_string_item_is_a_tobjstring() -> None:
    f = read("hello ROOT", "message")
    assert f.classnames() == {"message;1": "TObjString"} and f["message"] == "hello ROOT"


@dataclass
class Settings:
    gain: float = 1.5


class Loop(dict[str, Any]):
    pass


def _loop() -> Loop:
    d = Loop()
    d["self"] = d
    return d


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        (Settings(), "obj: a Settings cannot"),
        (object(), "obj: a object cannot"),
        (["a", "b"], "obj: only lists of numbers"),
        (np.array([1 + 2j]), "obj: arrays of complex128"),
        (np.float64(3.0), "obj: a float64 cannot"),
        (np.array(3.0), "obj: a single number"),
        ({"ok": [1, 2], "bad": Settings()}, "bad: a Settings cannot"),
        ({"deep": {"bad": None}}, "deep/bad: a NoneType cannot"),
        ({}, "obj: an empty dict"),
        (_loop(), "self: dicts nested too deep"),
    ],
)
def test_anything_else_is_refused_with_a_message_naming_what_is_supported(
    obj: object, where: str
) -> None:
    with pytest.raises(NotWritableError) as caught:
        snapshot_root_file(obj, "obj")
    assert where in str(caught.value)
    if "nested" not in where and "empty" not in where and "single" not in where:
        assert SUPPORTED in str(caught.value)


# -- one consistent image, stable bytes -------------------------------------------------------
def test_the_snapshot_is_a_private_copy() -> None:
    h = Hist1D("h", "t", 4, 0, 4)
    h.fill(0.5)
    arr = np.arange(4.0)
    snapshot = snapshot_root_file({"h": h, "arr": arr}, "d")
    h.fill_many([1.5] * 10)
    arr[:] = -1
    f = uproot.open(io.BytesIO(write_root_file(snapshot).data))
    assert f["h"].values().tolist() == [1, 0, 0, 0] and f["h"].member("fEntries") == 1
    np.testing.assert_array_equal(f["arr"]["value"].array(library="np"), [0, 1, 2, 3])


def test_same_contents_same_bytes_and_etag_other_contents_same_layout() -> None:
    h = Hist1D("live", "a live histogram", 50, 0, 1)
    h.fill_many(np.linspace(0, 1, 100))
    first = write_root_file(snapshot_root_file(h, "live"))
    again = write_root_file(snapshot_root_file(h, "live"))
    assert again.data == first.data and again.etag == first.etag
    h.fill_many(np.linspace(0, 0.5, 1000))
    later = write_root_file(snapshot_root_file(h, "live"))
    assert later.etag != first.etag and later.data != first.data
    # uncompressed records: a histogram being filled keeps every record at its offset, so a
    # reader's next Range request lands where the file it started reading said
    assert len(later.data) == len(first.data)
    old, new = uproot.open(io.BytesIO(first.data)), uproot.open(io.BytesIO(later.data))
    assert old.key("live").data_cursor.index == new.key("live").data_cursor.index
    assert new["live"].member("fEntries") == 1100


def test_the_file_uuid_carries_no_host_address() -> None:
    f = uproot.open(io.BytesIO(render_root_file(np.arange(3), "a")))
    assert f.file.uuid.version == 4  # uuid1 (uproot's default) would carry the MAC address


def test_without_uproot_a_clear_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = snapshot_root_file(np.arange(5) * 7.25, "not-remembered-yet")
    monkeypatch.setitem(sys.modules, "uproot", None)
    with pytest.raises(UprootMissingError, match=r"pip install 'trioserve\[root\]'"):
        write_root_file(snapshot)
