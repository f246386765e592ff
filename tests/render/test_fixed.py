"""Fixed objects (the shared axes and empty TList of our histograms): written once per layout
and appended afterwards, the text and the ``$ref`` numbering exactly those of a plain dict."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from trioserve.histograms import Fixed, Hist1D
from trioserve.render import render_json
from trioserve.render.json import MAX_DEPTH

COMPACTS = (0, 1, 2, 3, 23, 103, 33)


def _axis_like() -> dict[str, Any]:
    return {
        "_typename": "TAxis",
        "fName": "xaxis",
        "fNbins": 4,
        "fXmin": -1.5,
        "fXbins": (),
        "fLabels": None,
        "fInner": {"_typename": "TInner", "x": 1},
    }


def _as_plain(value: Any, copies: dict[int, Any] | None = None) -> Any:
    """The same structure with every Fixed replaced by a new plain dict at each occurrence
    (a value: what it holds is new too); other containers are copied once each, so what
    was shared stays shared."""
    copies = {} if copies is None else copies
    if isinstance(value, Fixed):
        return copy.deepcopy(dict(value))
    if isinstance(value, dict | list) and id(value) not in copies:
        if isinstance(value, dict):
            copies[id(value)] = {k: _as_plain(v, copies) for k, v in value.items()}
        else:
            copies[id(value)] = [_as_plain(v, copies) for v in value]
    return copies.get(id(value), value)


@pytest.mark.parametrize("compact", COMPACTS)
def test_text_and_refs_as_a_plain_dict(compact: int) -> None:
    fixed = Fixed(_axis_like())
    shared = {"_typename": "TShared", "n": 7}
    value = {"first": shared, "axis": fixed, "again": fixed, "nested": [fixed], "last": shared}
    want = render_json(_as_plain(value), compact)
    for _ in range(3):  # the first render writes and keeps the text, the others append it
        assert render_json(value, compact) == want
    assert '"$ref"' in want  # "last" refers back to "first", counted past the Fixed objects


def test_written_out_at_every_occurrence() -> None:
    fixed = Fixed(_axis_like())
    text = render_json([fixed, fixed], 23)
    assert text.count('"TAxis"') == 2 and '"$ref"' not in text


def test_levels_keep_their_own_text() -> None:
    fixed = Fixed(_axis_like())
    deep = {"a": {"b": {"c": fixed}}, "top": fixed}
    for compact in (0, 1):  # indentation depends on the level
        assert render_json(deep, compact) == render_json(_as_plain(deep), compact)


def test_near_the_depth_limit_as_plain() -> None:
    fixed = Fixed(_axis_like())
    value: Any = fixed
    for _ in range(MAX_DEPTH - 2):
        value = [value]
    for _ in range(2):
        assert render_json(value, 3) == render_json(_as_plain(value), 3)


def test_immutable_and_copies_are_plain_dicts() -> None:
    fixed = Fixed(_axis_like())
    for change in (
        lambda f: f.__setitem__("fNbins", 5),
        lambda f: f.__delitem__("fNbins"),
        lambda f: f.update(fNbins=5),
        lambda f: f.pop("fNbins"),
        lambda f: f.popitem(),
        lambda f: f.setdefault("x", 1),
        lambda f: f.clear(),
    ):
        with pytest.raises(TypeError, match="shared by every render"):
            change(fixed)
    assert fixed["fNbins"] == 4
    for other in (dict(fixed), copy.copy(fixed), copy.deepcopy(fixed), {**fixed}):
        assert type(other) is dict and other == fixed


def test_histograms_share_their_axes() -> None:
    """Two histograms with the same binning take one axis object, written out in each."""
    a, b = Hist1D("a", "", 10, 0.0, 1.0), Hist1D("b", "", 10, 0.0, 1.0)
    da, db = a.__trioserve_json__(), b.__trioserve_json__()
    assert da["fXaxis"] is db["fXaxis"]
    plain = render_json(_as_plain([da, db]), 23)
    assert render_json([a, b], 23) == plain.replace('"_typename":"dict"', '"_typename":"TH1D"')


def test_listed_as_the_dict_it_stands_for() -> None:
    from trioserve.render.introspect import typename

    assert typename(Fixed(_axis_like())) == "dict"
