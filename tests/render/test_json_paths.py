"""The JSON writer's fast paths give the bytes its rules give.

The writer remembers things between renders (the branch per type, the shape of each key
sequence with the texts of the values it saw, see ``trioserve.render._members``) and within
one render (arrays already written). Each case here is rendered more than once, so that later
renders go through what earlier ones remembered, and compared with text written out by hand,
or with ``histograms_pinned.json``: the renders of the writer before these paths existed
(commit 2a5519f), kept as the oracle for the shapes histograms take.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trioserve.histograms import Hist1D, Hist2D, Profile
from trioserve.render import render_json
from trioserve.render.json import MAX_DEPTH

PINNED = Path(__file__).with_name("histograms_pinned.json")


def twice(obj: object, compact: int) -> str:
    """The text of ``obj``, checked to be the same when rendered again."""
    first = render_json(obj, compact)
    assert render_json(obj, compact) == first
    return first


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (0.0, "0"),
        (-0.0, "-0"),
        (None, "null"),
        ("1", '"1"'),
        (1.5, "1.5"),
        (float("nan"), "null"),
        (2**70, str(2**70)),
    ],
)
def test_equal_values_of_other_types_are_not_confused(value: object, text: str) -> None:
    """The same key sequence with values that compare equal but are written differently:
    a remembered text is reused for the very same object only."""
    for other in (1, 1.0, True, 0, 0.0, None, "x"):
        render_json({"v": other, "w": [other]}, 3)  # a shape remembered with another value
        assert (
            twice({"v": value, "w": [value]}, 3)
            == f'{{"_typename":"dict","v":{text},"w":[{text}]}}'
        )


@dataclasses.dataclass
class Reading:
    name: str = "probe/1"
    count: int = 3
    level: float = 0.5
    ok: bool = True
    tags: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    note: Any = None


def test_changed_values_after_the_shape_is_remembered() -> None:
    r = Reading()
    want = '{"_typename":"Reading","name":"probe\\/1","count":3,"level":0.5,"ok":true,'
    assert twice(r, 3) == want + '"tags":[1,2],"note":null}'
    r.count, r.level, r.ok, r.name, r.note = 4, 2.0, False, "é\u2028", len
    assert twice(r, 3) == (
        '{"_typename":"Reading","name":"é\\u2028","count":4,"level":2,"ok":false,"tags":[1,2]}'
    )
    r.note = Reading(name="inner", tags=[])
    assert twice(r, 23) == (
        '{"_typename":"Reading","name":"é\\u2028","count":4,"level":2,"ok":false,"tags":[1,2],'
        '"note":{"_typename":"Reading","name":"inner","count":3,"level":0.5,"ok":true,'
        '"tags":[],"note":null}}'
    )


@pytest.mark.parametrize(
    ("compact", "expected"),
    [
        (3, '{"_typename":"dict","b":{"_typename":"dict"},"c":1}'),
        (103, '{"b":{},"c":1}'),
        (0, '{\n  "_typename" : "dict",\n  "b" : {\n    "_typename" : "dict"\n  },\n  "c" : 1\n}'),
        (101, '{\n"b" : {},\n"c" : 1\n}'),
    ],
)
def test_hidden_members_in_every_layout(compact: int, expected: str) -> None:
    """Private names and code are left out with their keys, first member included."""
    obj = {"_p": 1, "a": len, "b": {"f": print, "_g": 2}, "c": 1, "$d": 2, "e": int}
    assert twice(obj, compact) == expected
    assert twice({"f": len}, compact % 100 + 100) == "{}"


def test_integer_like_keys_first_with_remembered_shapes() -> None:
    obj = {"b": 1, "10": 2, "2": 3, "01": 4, "-1": 5, "4294967294": 6, "4294967295": 7}
    want = '{"_typename":"dict","2":3,"10":2,"4294967294":6,"b":1,"01":4,"-1":5,"4294967295":7}'
    assert twice(obj, 3) == want
    assert twice(dict(reversed(obj.items())), 3).startswith('{"_typename":"dict","2":3,"10":2,')


def test_large_objects_are_written_member_by_member() -> None:
    """Objects with more members than a shape holds take the other path: same rules."""
    obj: dict[str, Any] = {f"k{i}": (i if i % 2 else i / 4) for i in range(100)}
    obj.update({"7": "seven", "_hidden": 1, "fn": len, "3": [3]})
    members = ['"3":[3]', '"7":"seven"']
    for i in range(100):
        value = i if i % 2 else i / 4
        members.append(f'"k{i}":{json.dumps(value).removesuffix(".0")}')
    assert twice(obj, 3) == '{"_typename":"dict",' + ",".join(members) + "}"
    assert twice(obj, 103) == "{" + ",".join(members) + "}"


def _nested(inner: object, levels: int) -> object:
    for _ in range(levels):
        inner = {"k": inner}
    return inner


@pytest.mark.parametrize(
    ("levels", "deepest"),
    [
        (MAX_DEPTH - 1, '{"_typename":"dict","a":1,"b":"x","c":[null]}'),
        (MAX_DEPTH, '{"_typename":null,"a":null,"b":null,"c":null}'),
        (MAX_DEPTH + 1, '{"_typename":null,"k":null}'),
    ],
)
def test_values_past_max_depth_are_null(levels: int, deepest: str) -> None:
    """Values deeper than MAX_DEPTH are null: the scalars of the deepest object too."""
    obj = _nested({"a": 1, "b": "x", "c": [1]}, levels)
    outer = min(levels, MAX_DEPTH)
    assert twice(obj, 3) == '{"_typename":"dict","k":' * outer + deepest + "}" * outer


class Chameleon:
    """Reports another class when asked to (as some proxies do), per instance."""

    def __init__(self, disguise: type | None = None, data: dict[str, int] | None = None):
        self._disguise = disguise
        self._data = data or {}
        self.plain = 1

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return self._disguise or type(self)

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, key: str) -> int:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: object = None) -> object:
        return self._data.get(key, default)

    def items(self) -> Any:
        return self._data.items()


def test_a_proxy_never_fixes_the_answer_for_its_class() -> None:
    """An instance that tells the truth about its class first does not make the writer
    treat the next one, which claims to be a dict, as a plain object."""
    assert twice(Chameleon(), 3) == '{"_typename":"Chameleon","plain":1}'
    assert twice(Chameleon(dict, {"a": 1}), 3) == '{"_typename":"Chameleon","a":1}'
    assert twice(Chameleon(), 3) == '{"_typename":"Chameleon","plain":1}'


def test_repeated_arrays_in_one_render() -> None:
    """An array met again is written from its first text; arrays that only look alike
    (another dtype, -0.0 for 0.0, another shape) are not."""
    a = np.array([0.0, 0, 1.5, 2, 2, 2, 2, 2, 2, 0], dtype=np.float64)
    b = a.copy()
    b[0] = -0.0
    cases = {
        "a": a,
        "again": a.copy(),
        "f32": a.astype(np.float32),
        "i64": a.astype(np.int64),
        "negzero": b,
        "shape": a.reshape(2, 5),
        "list": a.tolist(),
    }
    for compact in (3, 23, 33):
        whole = twice(cases, compact)
        parts = ",".join(f'"{k}":{render_json(v, compact)}' for k, v in cases.items())
        assert whole == '{"_typename":"dict",' + parts + "}"


def _histograms() -> dict[str, object]:
    """The histograms of histograms_pinned.json, filled the same way."""
    h = Hist1D("h", "t/1", 4, 0, 4, xtitle="x")
    h.fill_many([0.5, 1.5, 1.5, -1, 9, 2.25])
    hw = Hist1D("hw", "", 4, 0, 4)
    hw.fill_many([0.5, 1.5, 3.5], [0.5, 2.0, 1.25])
    h2 = Hist2D("h2", "", 2, 0, 2, 2, 0, 2)
    h2.fill_many([0.5, 1.5, 1.5], [0.5, 0.5, 1.5])
    p = Profile("p", "", 3, 0, 3)
    p.fill_many([0.5, 1.5, 1.5], [2.0, 4.0, 5.0])
    found: dict[str, object] = {"h": h, "hw": hw, "h2": h2, "p": p}
    if importlib.util.find_spec("boost_histogram") is not None:
        import boost_histogram as bh

        b = bh.Histogram(bh.axis.Regular(3, 0, 3), storage=bh.storage.Weight())
        b.fill([0.5, 1.5, 1.5, 7], weight=[1, 2, 0.5, 1])
        found["boost"] = b
    return found


def test_histogram_texts_as_before() -> None:
    pinned: dict[str, str] = json.loads(PINNED.read_text(encoding="utf-8"))
    objects = _histograms()
    checked = 0
    for case, text in pinned.items():
        name, compact = case.split()
        if name in objects:
            assert twice(objects[name], int(compact)) == text, case
            checked += 1
    assert checked >= len(pinned) - 1  # all but the boost case when boost is missing
    both = twice([objects["h"], objects["hw"], objects["h"]], 23)
    assert both == f'[{pinned["h 23"]},{pinned["hw 23"]},{{"$ref":0}}]'
