from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trioserve.render
from trioserve.render import render_json

from .jsroot_decode import parse

# The worked example of thttpserver.md §3.5 (Int32, length 26).
SPEC = [0, 0, 1, 2, 3] + [0] * 11 + [7] * 7 + [0, 9, 0]


@dataclasses.dataclass
class Named:
    fName: str
    fTitle: str
    _secret: str = "hidden"


@pytest.mark.parametrize(
    ("compact", "expected"),
    [
        (0, '{\n  "_typename" : "Named",\n  "fName" : "obj",\n  "fTitle" : "title"\n}'),
        (1, '{\n"_typename" : "Named",\n"fName" : "obj",\n"fTitle" : "title"\n}'),
        (2, '{"_typename" : "Named","fName" : "obj","fTitle" : "title"}'),
        (3, '{"_typename":"Named","fName":"obj","fTitle":"title"}'),
        (5, '{\n  "_typename" : "Named",\n  "fName" : "obj",\n  "fTitle" : "title"\n}'),
        (23, '{"_typename":"Named","fName":"obj","fTitle":"title"}'),
        (103, '{"fName":"obj","fTitle":"title"}'),
    ],
)
def test_units_digit_layout(compact: int, expected: str) -> None:
    assert render_json(Named("obj", "title"), compact) == expected


def test_nested_indent_and_arrays_on_one_line() -> None:
    text = render_json({"a": {"b": [1, 2]}}, 0)
    assert text == (
        '{\n  "_typename" : "dict",\n  "a" : {\n    "_typename" : "dict",\n    "b" : [1, 2]\n  }\n}'
    )


@pytest.mark.parametrize(
    ("compact", "expected"),
    [
        (23, '{"$arr":"Int32","len":26,"p":2,"v":[1,2,3],"p1":16,"v1":7,"n1":7,"p2":24,"v2":9}'),
        (
            20,
            '{"$arr":"Int32", "len":26, "p":2, "v":[1, 2, 3], "p1":16, "v1":7, "n1":7, '
            '"p2":24, "v2":9}',
        ),
        (
            13,
            '{"$arr":"Int32","len":26,"p":2,"v":[1,2,3,0,0,0,0,0,0,0,0,0,0,0,7,7,7,7,7,7,7,0,9]}',
        ),
        (3, "[" + ",".join(map(str, SPEC)) + "]"),
        (0, "[" + ", ".join(map(str, SPEC)) + "]"),
    ],
)
def test_spec_worked_example(compact: int, expected: str) -> None:
    assert render_json(np.array(SPEC, dtype=np.int32), compact) == expected


@pytest.mark.parametrize(
    ("values", "compact", "expected"),
    [
        ([0, 0, 0, 0, 0, 0], 13, '{"$arr":"Int32","len":6}'),
        ([0, 0, 5, 0, 0, 0], 13, '{"$arr":"Int32","len":6,"p":2,"v":5}'),
        ([1, 2, 3, 4, 5, 6], 13, '{"$arr":"Int32","len":6,"v":[1,2,3,4,5,6]}'),
        ([1, 2, 3, 4, 5], 13, "[1,2,3,4,5]"),  # shorter than 6: plain
        ([4] * 8, 23, '{"$arr":"Int32","len":8,"v":4,"n":8}'),
        ([1, 0, 0, 7, 7, 7, 7, 7, 7], 23, '{"$arr":"Int32","len":9,"v":[1,0,0],"v1":7,"n1":6}'),
        ([1.5, 0, 0, 0, 0, 0, 2.5], 13, '{"$arr":"Float64","len":7,"v":[1.5,0,0,0,0,0,2.5]}'),
        ([0, 0, 0, 1, 2, 3], 33, '{"$arr":"Int32","len":6,"o":12,"b":"AQAAAAIAAAADAAAA"}'),
        ([0, 1, 2, 3, 4, 5], 33, '{"$arr":"Int32","len":6,"b":"AAAAAAEAAAACAAAAAwAAAAQAAAAFAAAA"}'),
        ([0] * 6, 33, '{"$arr":"Int32","len":6,"b":""}'),
    ],
)
def test_compression_vectors(values: list[float], compact: int, expected: str) -> None:
    dtype = np.float64 if any(isinstance(v, float) for v in values) else np.int32
    assert render_json(np.array(values, dtype=dtype), compact) == expected


def test_python_lists_are_compressed_like_arrays() -> None:
    assert render_json(SPEC, 23).startswith('{"$arr":"Int32","len":26,"p":2')
    assert render_json([True] * 7, 23) == '{"$arr":"Bool","len":7,"v":true,"n":7}'
    assert render_json([1, "x", 2, 3, 4, 5], 23) == '[1,"x",2,3,4,5]'


DTYPES = [
    np.int8,
    np.uint8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.float32,
    np.float64,
    np.bool_,
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(DTYPES),
    st.lists(st.sampled_from([0, 0, 0, 1, 2, 7]), min_size=0, max_size=60),
    st.sampled_from([3, 13, 23, 33, 10, 20, 30]),
)
def test_compressed_arrays_decode_back(dtype: type, values: list[int], compact: int) -> None:
    arr = np.array(values, dtype=dtype)
    decoded = parse(render_json({"x": arr}, compact))["x"]
    assert np.array_equal(np.asarray(decoded, dtype=dtype), arr)


def test_float_formatting_nan_inf() -> None:
    text = render_json([1.0, 0.5, math.nan, math.inf, -math.inf, 1e300, -0.25], 3)
    assert text == "[1,0.5,null,2e308,-2e308,1e+300,-0.25]"
    assert json.loads(text)[3] == math.inf
    arr = np.array([1.0, np.nan, np.inf, 0.1], dtype=np.float32)
    assert render_json(arr, 3) == "[1,null,2e308,0.1]"
    assert render_json(np.float32(0.1)) == "0.1"
    assert render_json(np.nan) == "null"


def test_refs_repeated_and_cycles() -> None:
    class Node:
        pass

    shared = {"k": 1}
    a = Node()
    a.inner = shared
    cyc = Node()
    cyc.me = cyc
    top = {"a": a, "b": a, "c": cyc, "s": shared, "lst": [a]}
    text = render_json(top, 3)
    assert text == (
        '{"_typename":"dict","a":{"_typename":"Node","inner":{"_typename":"dict","k":1}},'
        '"b":{"$ref":1},"c":{"_typename":"Node","me":{"$ref":3}},"s":{"$ref":2},'
        '"lst":[{"$ref":1}]}'
    )
    got = parse(text)
    assert got["b"] is got["a"]
    assert got["c"]["me"] is got["c"]
    assert got["s"] is got["a"]["inner"]


def test_refs_count_integer_keys_first_like_javascript() -> None:
    inner = {"v": 1}
    text = render_json({"z": inner, "10": {"q": 1}, "2": inner}, 3)
    assert text.index('"2"') < text.index('"10"') < text.index('"z"')
    got = parse(text)
    assert got["z"] is got["2"]


def test_self_containing_list_is_cut() -> None:
    lst: list[object] = [1]
    lst.append(lst)
    assert render_json(lst, 3) == "[1,null]"


def test_deep_nesting_does_not_overflow() -> None:
    d: dict[str, object] = {}
    cur = d
    for _ in range(2000):
        nxt: dict[str, object] = {}
        cur["n"] = nxt
        cur = nxt
    json.loads(render_json(d, 3))


def test_private_names_never_rendered() -> None:
    class Obj:
        __slots__ = ("_s", "pub", "unset")

        def __init__(self) -> None:
            self._s = 1
            self.pub = 2

    class Plain:
        def __init__(self) -> None:
            self.ok = 1
            self._priv = 2
            self.__mangled = 3
            self.fn = print
            self.mod = json
            self.cls = int

        def method(self) -> int:
            return 1

        @property
        def prop(self) -> int:
            return 1

    data = {"x": Named("a", "b"), "_k": 1, "$ref": 2, 3: "int key", "o": Obj(), "p": Plain()}
    text = render_json(data, 3)
    for bad in (
        "_secret",
        "hidden",
        "_k",
        '$ref":2',
        "_s",
        "_priv",
        "mangled",
        "method",
        "prop",
        "fn",
        "mod",
        "cls",
        "unset",
    ):
        assert bad not in text, bad
    assert '"pub":2' in text and '"ok":1' in text
    assert '"3":"int key"' in text  # a non-string key is rendered under its name (issue 15)


def test_unicode_round_trip_and_no_script_close() -> None:
    s = "Gänsefüßchen ✓ 😀 </script><b> \u2028 \x00 \ud800"
    text = render_json({"s": s, "</script>": 1}, 0)
    assert "</" not in text
    text.encode("utf-8")  # valid UTF-8: no lone surrogate survives
    back = json.loads(text)
    assert back["s"] == s.replace("\ud800", "\ufffd")
    assert back["</script>"] == 1


class Color(enum.Enum):
    RED = "r"


class Level(enum.IntEnum):
    HIGH = 3


def test_scalar_types() -> None:
    value = {
        "none": None,
        "t": True,
        "i": 12345678901234567890,
        "e": Color.RED,
        "ie": Level.HIGH,
        "dt": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "d": datetime.date(2024, 1, 2),
        "td": datetime.timedelta(seconds=1.5),
        "c": 1 + 2j,
        "set": {3, 1, 2},
        "np": np.int16(7),
        "nb": np.bool_(True),
        "by": b"\x00\x01\x02",
        "fn": len,
    }
    got = json.loads(render_json(value, 3))
    assert got["none"] is None and got["t"] is True
    assert got["i"] == 12345678901234567890
    assert got["e"] == "RED" and got["ie"] == 3
    assert got["dt"] == "2024-01-02T03:04:05" and got["d"] == "2024-01-02"
    assert got["td"] == 1.5
    assert got["c"] == {"_typename": "complex", "re": 1, "im": 2}
    assert got["set"] == [1, 2, 3]
    assert got["np"] == 7 and got["nb"] is True
    assert got["by"] == [0, 1, 2]
    assert "fn" not in got  # callables are never members


def test_bytes_are_uint8_arrays() -> None:
    expected = '{"$arr":"Uint8","len":8,"p":2,"v":5,"n":6}'
    assert render_json(b"\x00" * 2 + b"\x05" * 6, 23) == expected


def test_numpy_nd_and_other_dtypes() -> None:
    m = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert render_json(m, 3) == "[[0,1,2],[3,4,5]]"
    z = np.zeros((2, 7))
    z[1, 3] = 2.5
    assert render_json(z, 23) == (
        '[{"$arr":"Float64","len":7},{"$arr":"Float64","len":7,"p":3,"v":2.5}]'
    )
    assert render_json(np.array(["a", "b"]), 3) == '["a","b"]'
    assert render_json(np.array(["2024-01-01"], dtype="datetime64[D]"), 3) == '["2024-01-01"]'
    assert render_json(np.array(5.0), 3) == "5"


def test_large_array_fast_path_correct() -> None:
    rng = np.random.default_rng(42)
    arr = rng.normal(size=1_000_000)
    arr[::1000] = 0.0
    arr[5] = np.nan
    for compact in (3, 23):
        got = np.asarray(parse(render_json({"a": arr}, compact))["a"], dtype=np.float64)
        assert got.shape == arr.shape
        assert np.array_equal(got, arr, equal_nan=True)


def test_float32_large_array_shortest_text() -> None:
    arr = np.full(1000, 0.1, dtype=np.float32)
    text = render_json(arr, 3)
    assert text.count("0.1") == 1000 and "0.100000" not in text


def test_protocol() -> None:
    class Custom:
        def __init__(self) -> None:
            self.child = {"x": 1}

        def __trioserve_json__(self) -> object:
            return {"value": 42, "_hidden": 1, "child": self.child, "self": self}

    class Listy:
        def __trioserve_json__(self) -> object:
            return [1, 2, self]

    c = Custom()
    got = parse(render_json({"c": c, "again": c, "l": Listy()}, 3))
    assert got["c"]["_typename"] == "Custom" and got["c"]["value"] == 42
    assert "_hidden" not in got["c"]
    assert got["again"] is got["c"] and got["c"]["self"] is got["c"]
    assert got["l"] == [1, 2, None]


def test_public_api_reexported() -> None:
    assert trioserve.render.render_json is render_json
    for name in (
        "render_cbor",
        "render_xml",
        "render_image",
        "public_members",
        "get_member",
        "public_methods",
        "typename",
        "has_members",
    ):
        assert callable(getattr(trioserve.render, name))
