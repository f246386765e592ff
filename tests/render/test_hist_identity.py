"""Histograms as physicists hold them (issue 15, items 1-3 and 9's member URLs).

Tables of renderer outputs for boost-histogram and ``hist`` objects (1-D/2-D; Regular,
Variable, Integer, StrCategory, IntCategory axes; Double, Int64, Weight, Mean, WeightedMean
storages), decoded the way JSROOT decodes them; the registered identity (name, title, axis
titles); ROOT-style member paths; the PNG's titles and labels; and JSROOT itself (in node)
drawing what we send.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import trio

from tests.conftest import require_jsroot, require_module, require_tool
from trioserve import Server
from trioserve.histograms import Hist1D, Hist2D, Profile, RootView, boost_typename, view_of_node
from trioserve.render import render_json
from trioserve.render.image import snapshot_image
from trioserve.render.introspect import get_member, typename
from trioserve.tree import Tree

from .jsroot_decode import parse

bh = require_module("boost_histogram")
hist = require_module("hist")

ROOT = Path(__file__).resolve().parents[2]
JSROOT_DIR = Path(
    os.environ.get("TRIOSERVE_JSROOT_DIR", ROOT / ".cache" / "jsroot" / "node_modules" / "jsroot")
)
DRAW_SCRIPT = Path(__file__).with_name("jsroot_draw.mjs")


def decoded(obj: object, compact: int = 23) -> dict[str, Any]:
    """``root.json?compact=N`` of ``obj`` as JSROOT's ``parse`` sees it."""
    out = parse(render_json(obj, compact))
    assert isinstance(out, dict)
    return out


def listed(value: Any) -> list[float]:
    return [float(v) for v in np.asarray(value, dtype=np.float64)]


def labels_of(axis: dict[str, Any]) -> list[str] | None:
    if axis["fLabels"] is None:
        return None
    strings = axis["fLabels"]["arr"]
    assert axis["fLabels"]["_typename"] == "THashList"
    assert all(s["_typename"] == "TObjString" for s in strings)
    assert [s["fUniqueID"] for s in strings] == list(range(1, len(strings) + 1))
    return [s["fString"] for s in strings]


# -- the table: storages and axes -------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    make: Callable[[], Any]
    typename: str
    axes: list[tuple[int, float, float, list[float], list[str] | None, str]]  # per axis
    array: dict[int, float]  # non-zero cells of fArray (ROOT's flat index); all others 0
    entries: float
    sumw2: dict[int, float] | None  # None: fSumw2 is empty (variances unknown)
    binentries: dict[int, float] | None = None  # profiles
    binsumw2: dict[int, float] | None = None


def _filled(h: Any, *args: Any, **kwargs: Any) -> Any:
    h.fill(*args, **kwargs)
    return h


CASES = {
    "boost Regular Double": Case(
        lambda: _filled(bh.Histogram(bh.axis.Regular(3, 0, 3)), [0.5, 1.5, 1.5, -1, 7]),
        "TH1D",
        [(3, 0, 3, [], None, "")],
        {0: 1, 1: 1, 2: 2, 4: 1},
        5,
        {0: 1, 1: 1, 2: 2, 4: 1},
    ),
    "boost Variable Int64": Case(
        lambda: _filled(
            bh.Histogram(bh.axis.Variable([0, 1, 3]), storage=bh.storage.Int64()), [0.5, 2, 2]
        ),
        "TH1D",
        [(2, 0, 3, [0, 1, 3], None, "")],
        {1: 1, 2: 2},
        3,
        {1: 1, 2: 2},
    ),
    "boost Integer Weight": Case(
        lambda: _filled(
            bh.Histogram(bh.axis.Integer(0, 3), storage=bh.storage.Weight()),
            [0, 1, 1, 5],
            weight=[1, 2, 0.5, 1],
        ),
        "TH1D",
        [(3, 0, 3, [], None, "")],
        {1: 1, 2: 2.5, 4: 1},
        4.5**2 / 6.25,  # effective entries (Σw)²/Σw²
        {1: 1, 2: 4.25, 4: 1},
    ),
    "boost Double filled with weights": Case(
        lambda: _filled(bh.Histogram(bh.axis.Regular(2, 0, 2)), [0.5, 1.5], weight=[2, 3]),
        "TH1D",
        [(2, 0, 2, [], None, "")],
        {1: 2, 2: 3},
        5,  # the sum of weights: a plain storage cannot tell weights from fills
        None,
    ),
    "hist StrCategory Double": Case(
        lambda: _filled(
            hist.Hist(hist.axis.StrCategory(["a", "b", "c"], label="channel")),
            ["a", "c", "c", "zz"],
        ),
        "TH1D",
        [(3, 0, 3, [], ["a", "b", "c"], "channel")],
        {1: 1, 3: 2, 4: 1},  # "zz" is boost's "other" bin: ROOT's overflow
        4,
        {1: 1, 3: 2, 4: 1},
    ),
    "boost empty growing StrCategory": Case(
        lambda: bh.Histogram(bh.axis.StrCategory([], growth=True)),
        "TH1D",
        [(1, 0, 1, [], None, "")],
        {},
        0,
        {},
    ),
    "boost IntCategory Mean": Case(
        lambda: _filled(
            bh.Histogram(bh.axis.IntCategory([10, 20]), storage=bh.storage.Mean()),
            [10, 10, 20],
            sample=[1, 3, 5],
        ),
        "TProfile",
        [(2, 0, 2, [], ["10", "20"], "")],
        {1: 4, 2: 5},  # Σy
        3,  # the count Mean keeps
        {1: 10, 2: 25},  # Σy²
        {1: 2, 2: 1},
        {1: 2, 2: 1},
    ),
    "hist Regular WeightedMean": Case(
        lambda: _filled(
            hist.Hist(hist.axis.Regular(2, 0, 2), storage=hist.storage.WeightedMean()),
            [0.5, 0.5, 1.5],
            sample=[1, 3, 2],
            weight=[1, 3, 2],
        ),
        "TProfile",
        [(2, 0, 2, [], None, "Axis 0")],  # hist names an unlabelled axis itself
        {1: 10, 2: 4},  # Σw·y
        6**2 / 14,  # effective entries
        {1: 28, 2: 8},  # Σw·y²
        {1: 4, 2: 2},
        {1: 10, 2: 4},
    ),
    "boost 2-D Regular x StrCategory": Case(
        lambda: _filled(
            bh.Histogram(bh.axis.Regular(2, 0, 2), bh.axis.StrCategory(["x", "y"])),
            [0.5, 1.5, 1.5],
            ["x", "y", "q"],
        ),
        "TH2D",
        [(2, 0, 2, [], None, ""), (2, 0, 2, [], ["x", "y"], "")],
        {1 + 4 * 1: 1, 2 + 4 * 2: 1, 2 + 4 * 3: 1},  # bin = ix + (nx+2)*iy
        3,
        {1 + 4 * 1: 1, 2 + 4 * 2: 1, 2 + 4 * 3: 1},
    ),
    "hist 2-D Variable x IntCategory Mean": Case(
        lambda: _filled(
            hist.Hist(
                hist.axis.Variable([0, 1, 4], label="r"),
                hist.axis.IntCategory([1, 2], label="layer"),
                storage=hist.storage.Mean(),
            ),
            [0.5, 2],
            [1, 2],
            sample=[3, 6],
        ),
        "TProfile2D",
        [(2, 0, 4, [0, 1, 4], None, "r"), (2, 0, 2, [], ["1", "2"], "layer")],
        {5: 3, 10: 6},
        2,
        {5: 9, 10: 36},
        {5: 1, 10: 1},
        {5: 1, 10: 1},
    ),
}


def _cells(values: dict[int, float], size: int) -> list[float]:
    out = [0.0] * size
    for index, value in values.items():
        out[index] = float(value)
    return out


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
@pytest.mark.parametrize("compact", [0, 3, 23])
def test_storages_and_axes_as_root(case: Case, compact: int) -> None:
    h = case.make()
    d = decoded(h, compact)
    assert d["_typename"] == case.typename == boost_typename(h)
    names = ["fXaxis", "fYaxis"]
    ncells = 1
    for key, (nbins, xmin, xmax, xbins, labels, title) in zip(names, case.axes, strict=False):
        axis = d[key]
        assert (axis["fNbins"], axis["fXmin"], axis["fXmax"]) == (nbins, xmin, xmax)
        assert listed(axis["fXbins"]) == xbins
        assert labels_of(axis) == labels
        assert axis["fTitle"] == title
        ncells *= nbins + 2
    assert d["fNcells"] == ncells
    assert listed(d["fArray"]) == _cells(case.array, ncells)
    assert d["fEntries"] == pytest.approx(case.entries)
    if case.sumw2 is None:
        assert listed(d["fSumw2"]) == []
    else:
        assert listed(d["fSumw2"]) == _cells(case.sumw2, ncells)
    if case.binentries is not None:
        assert case.binsumw2 is not None
        assert listed(d["fBinEntries"]) == _cells(case.binentries, ncells)
        assert listed(d["fBinSumw2"]) == _cells(case.binsumw2, ncells)
        assert d["fErrorMode"] == 0
    else:
        assert "fBinEntries" not in d


def test_profile_statistics_match_our_profile() -> None:
    """A Mean storage becomes exactly the TProfile our own Profile makes from the same fills
    (both keep ROOT's four sums), entries and totals included."""
    xs, ys = [0.5, 1.5, 1.5, 2.5, -1.0], [2.0, 4.0, 5.0, 1.0, 7.0]
    ours = Profile("p", "", 3, 0, 3)
    ours.fill_many(xs, ys)
    theirs = bh.Histogram(bh.axis.Regular(3, 0, 3), storage=bh.storage.Mean())
    theirs.fill(xs, sample=ys)
    a, b = decoded(ours), decoded(theirs)
    for key in ("fArray", "fSumw2", "fBinEntries", "fBinSumw2"):
        assert listed(a[key]) == pytest.approx(listed(b[key])), key
    for key in ("fEntries", "fTsumw", "fTsumw2", "fTsumwy", "fTsumwy2"):
        assert a[key] == pytest.approx(b[key]), key


def test_weight_storage_entries_are_the_fill_count_when_weights_are_one() -> None:
    xs = np.linspace(-0.5, 3.5, 17)
    weighted = bh.Histogram(bh.axis.Regular(3, 0, 3), storage=bh.storage.Weight())
    weighted.fill(xs, weight=np.ones_like(xs))
    counted = Hist1D("c", "", 3, 0, 3)
    counted.fill_many(xs)
    assert decoded(weighted)["fEntries"] == pytest.approx(decoded(counted)["fEntries"]) == 17


# -- identity: the registered name and title, the object's own --------------------------------
def _registered(obj: object, **kw: Any) -> tuple[Tree, Any]:
    tree = Tree()
    node = tree.register("hists", obj, **kw)
    return tree, view_of_node(node, get_member)


def _boost_1d() -> Any:
    return _filled(bh.Histogram(bh.axis.Regular(4, 0, 4)), [0.5, 1.5])


def _hist_named() -> Any:
    h = hist.Hist(
        hist.axis.Regular(4, 0, 4, label="p_{T} [GeV]"),
        hist.axis.Regular(2, 0, 2, name="eta", label="#eta"),
        name="hpt",
        label="pT vs eta",
    )
    return _filled(h, [0.5], [1.5])


IDENTITY = {
    "boost, registered name and title": (
        _boost_1d,
        {"name": "hpx", "title": "px distribution"},
        ("hpx", "px distribution", "", ""),
    ),
    "hist, its own name, label and axis labels": (
        _hist_named,
        {},
        ("hpt", "pT vs eta", "p_{T} [GeV]", "#eta"),
    ),
    "hist, registered name and title win": (
        _hist_named,
        {"name": "other", "title": "as registered"},
        ("other", "as registered", "p_{T} [GeV]", "#eta"),
    ),
    "hist, registered name, its own label kept": (
        _hist_named,
        {"name": "other"},
        ("other", "pT vs eta", "p_{T} [GeV]", "#eta"),
    ),
    "a name sanitised for the URL keeps the real one": (
        _boost_1d,
        {"name": "h px [GeV]", "title": "t"},
        ("h px [GeV]", "t", "", ""),
    ),
    "our Hist1D registered under another name": (
        lambda: Hist1D("a", "own title", 4, 0, 4, xtitle="x [cm]", ytitle="counts"),
        {"name": "b"},
        ("b", "own title", "x [cm]", "counts"),
    ),
    "our Hist2D with a registered title": (
        lambda: Hist2D("h2", "", 2, 0, 2, 2, 0, 2, xtitle="x", ytitle="y"),
        {"title": "registered"},
        ("h2", "registered", "x", "y"),
    ),
}


@pytest.mark.parametrize("make, kw, expected", IDENTITY.values(), ids=list(IDENTITY))
def test_registered_identity(make: Callable[[], Any], kw: dict[str, str], expected: Any) -> None:
    _, view = _registered(make(), **kw)
    assert isinstance(view, RootView)
    d = decoded(view)
    assert (d["fName"], d["fTitle"], d["fXaxis"]["fTitle"], d["fYaxis"]["fTitle"]) == expected
    assert typename(view) == d["_typename"]  # what root.bin's RootClassName says


def test_unregistered_histograms_keep_their_own_identity() -> None:
    """Inside a container there is no registration: a boost histogram is "h", a ``hist``
    one is named by itself."""
    d = decoded({"plain": _boost_1d(), "named": _hist_named()})
    assert (d["plain"]["fName"], d["plain"]["fTitle"]) == ("h", "")
    assert (d["named"]["fName"], d["named"]["fTitle"]) == ("hpt", "pT vs eta")


def test_other_objects_are_not_wrapped() -> None:
    tree = Tree()
    for obj in ({"a": 1}, np.arange(3), [1, 2]):
        node = tree.register("x", obj, name=f"o{len(tree.top.children)}{id(obj)}")
        assert view_of_node(node, get_member) is obj


# -- ROOT-style member paths ------------------------------------------------------------------
def _member_tree() -> Tree:
    tree = Tree()
    h = Hist1D("hpx", "px distribution", 100, -4, 4, xtitle="px")
    h.fill_many([0.5, 1.5, 9])
    tree.register("hists", h)
    cat = _filled(bh.Histogram(bh.axis.StrCategory(["a", "b"])), ["a", "b", "b"])
    tree.register("hists", cat, name="hcat", title="categories")
    return tree


MEMBERS = {
    "hists/hpx/fTitle": "px distribution",
    "hists/hpx/fName": "hpx",
    "hists/hpx/fXaxis/fNbins": 100,
    "hists/hpx/fXaxis/fXmin": -4.0,
    "hists/hpx/fXaxis/fTitle": "px",
    "hists/hpx/fEntries": 3,
    "hists/hpx/entries": 3,  # our own members are still there
    "hists/hcat/fTitle": "categories",
    "hists/hcat/fName": "hcat",
    "hists/hcat/fXaxis/fLabels/arr/1/fString": "b",
    "hists/hcat/fXaxis/fLabels/arr/1/fUniqueID": 2,
    "hists/hcat/fEntries": 3,
}


@pytest.mark.parametrize("path, expected", MEMBERS.items(), ids=list(MEMBERS))
def test_root_member_paths(path: str, expected: object) -> None:
    found = _member_tree().resolve("Objects/" + path, get_member=get_member)
    assert found is not None and found.is_member
    assert json.loads(render_json(found.value)) == expected


def test_member_objects_render_as_root_classes() -> None:
    tree = _member_tree()
    found = tree.resolve("Objects/hists/hcat/fXaxis", get_member=get_member)
    assert found is not None
    axis = json.loads(render_json(found.value, 3))
    assert axis["_typename"] == "TAxis" and axis["fNbins"] == 2
    assert labels_of(axis) == ["a", "b"]
    found = tree.resolve("Objects/hists/hpx/fArray", get_member=get_member)
    assert found is not None and len(found.value) == 102


@pytest.mark.parametrize(
    "path",
    [
        "hists/hpx/_typename",
        "hists/hpx/fNothing",
        "hists/hpx/__class__",
        "hists/hpx/_lock",
        "hists/hpx/fill",
        "hists/hcat/_hist",
        "hists/hcat/fTitle/x",
    ],
)
def test_private_and_missing_members_are_unreachable(path: str) -> None:
    assert _member_tree().resolve("Objects/" + path, get_member=get_member) is None


# -- the picture ------------------------------------------------------------------------------
def _axes_after_drawing(obj: object, opt: str = "") -> Any:
    snapshot = snapshot_image(obj, "png", opt=opt)
    assert snapshot is not None and snapshot.plot is not None
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    snapshot.plot.plot(ax, opt)
    png = snapshot.draw()
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    return ax


def test_png_draws_registered_title_axis_titles_and_labels() -> None:
    h = hist.Hist(hist.axis.StrCategory(["ee", "mumu", "emu"], label="channel"))
    h.fill(["ee", "emu", "emu"])
    _, view = _registered(h, name="hch", title="events per channel")
    ax = _axes_after_drawing(view)
    assert ax.get_title() == "events per channel"
    assert ax.get_xlabel() == "channel"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ee", "mumu", "emu"]
    assert [tick for tick in ax.get_xticks()] == [0.5, 1.5, 2.5]


def test_png_of_2d_category_and_variable_axes() -> None:
    h = _filled(
        hist.Hist(
            hist.axis.Variable([0, 1, 4], label="r [cm]"),
            hist.axis.IntCategory([7, 9], label="layer"),
            label="hits",
        ),
        [0.5, 2],
        [7, 9],
    )
    ax = _axes_after_drawing(h, "logz")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("hits", "r [cm]", "layer")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["7", "9"]
    mesh = ax.collections[0]  # variable x bins: cells at their edges, not stretched
    assert list(mesh.get_array().ravel()) == [1, 0, 0, 1]
    assert ax.get_xlim() == (0.0, 4.0)


def test_png_of_a_mean_storage_draws_the_means() -> None:
    h = _filled(
        bh.Histogram(bh.axis.Regular(2, 0, 2), storage=bh.storage.Mean()),
        [0.5, 0.5, 1.5],
        sample=[2, 4, 10],
    )
    ax = _axes_after_drawing(h)
    steps = ax.patches[0]  # matplotlib's StepPatch of the stairs
    assert list(steps.get_data().values) == [3, 10]


# -- HTTP: a real server ----------------------------------------------------------------------
@pytest.fixture
async def base(nursery: trio.Nursery) -> str:
    server = Server(top_name="identity")
    h = _filled(bh.Histogram(bh.axis.StrCategory(["a", "b", "c"])), ["a", "c", "c"])
    server.register("hists", h, name="hpx", title="px distribution")
    server.register("hists", _hist_named())
    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    return f"http://{host}:{port}"


async def test_registered_identity_and_members_over_http(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        whole = parse((await c.get("/Objects/hists/hpx/root.json.gz?compact=23")).text)
        assert (whole["fName"], whole["fTitle"]) == ("hpx", "px distribution")
        assert labels_of(whole["fXaxis"]) == ["a", "b", "c"]
        title = await c.get("/Objects/hists/hpx/fTitle/root.json")
        assert title.status_code == 200 and title.json() == "px distribution"
        axis = (await c.get("/Objects/hists/hpx/fXaxis/root.json?compact=3")).json()
        assert axis["_typename"] == "TAxis" and labels_of(axis) == ["a", "b", "c"]
        nbins = await c.get("/Objects/hists/hpx/fXaxis/fNbins/root.json")
        assert nbins.json() == 3
        binary = await c.get("/Objects/hists/hpt/root.bin")
        assert binary.headers["RootClassName"] == "TH2D"
        xml = (await c.get("/Objects/hists/hpt/root.xml")).text
        assert "pT vs eta" in xml
        for bad in ("_typename", "fNothing", "__class__", "fTitle/x"):
            missing = await c.get(f"/Objects/hists/hpx/{bad}/root.json")
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        png = await c.get("/Objects/hists/hpx/root.png")
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"


# -- JSROOT itself, in node -------------------------------------------------------------------
def jsroot_svgs(cases: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Draw each ``key: (root.json text, draw option)`` with JSROOT's own ``parse`` and
    ``makeSVG`` in node; the text elements of each picture."""
    node = require_tool("node", "/usr/bin/node")
    main = require_jsroot(JSROOT_DIR)
    listing = [{"key": k, "json": text, "option": opt} for k, (text, opt) in cases.items()]
    done = subprocess.run(
        [node, str(DRAW_SCRIPT), main.as_uri()],
        input=json.dumps(listing),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    svgs: dict[str, str] = json.loads(done.stdout)
    return {k: re.findall(r"<text[^>]*>([^<]*)</text>", svg) for k, svg in svgs.items()}


def test_jsroot_draws_titles_labels_and_stats() -> None:
    cat = _filled(
        bh.Histogram(bh.axis.StrCategory(["alpha", "beta", "gamma"]), storage=bh.storage.Weight()),
        ["alpha", "beta", "beta", "zz"],
        weight=[1, 2, 1, 3],
    )
    _, cat_view = _registered(cat, name="hcat", title="per category")
    prof = _filled(
        hist.Hist(hist.axis.Regular(3, 0, 3, label="x [cm]"), storage=hist.storage.Mean()),
        [0.5, 1.5, 1.5],
        sample=[2, 4, 5],
    )
    _, prof_view = _registered(prof, name="prof", title="mean y")
    two = _filled(
        hist.Hist(
            hist.axis.Regular(4, 0, 4, label="px"),
            hist.axis.IntCategory([11, 22, 33], label="run"),
            name="h2",
            label="per run",
        ),
        [0.5, 1.5, 2.5],
        [11, 22, 33],
    )
    texts = jsroot_svgs(
        {
            "cat": (render_json(cat_view, 23), ""),
            "prof": (render_json(prof_view, 23), ""),
            "two": (render_json(two, 23), "colz"),
        }
    )
    cat_texts = texts["cat"]
    assert {"alpha", "beta", "gamma", "per category", "hcat", "Entries"} <= set(cat_texts)
    assert cat_texts[cat_texts.index("Entries") + 1] == "3.266667"  # (Σw)²/Σw² = 49/15
    assert {"x [cm]", "mean y", "prof", "Mean y"} <= set(texts["prof"])
    prof_texts = texts["prof"]
    assert prof_texts[prof_texts.index("Mean y") + 1] == "3.667"  # (2+4+5)/3
    assert {"px", "run", "11", "22", "33", "per run", "h2"} <= set(texts["two"])
