"""The orjson-based number writer and ``$arr`` compression against the slow reference.

``_reference_numbers`` is the writer as it was before the fast path (``json`` on Python
numbers, a Python loop per run). Every path of the fast writer — integer shortcut, values
written apart, numpy re-layout, few/many edits, few/many ``$arr`` blocks — must give the
same bytes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from trioserve.render import _arr, _byte_edits, _numbers, _orjson_layout, render_json

from . import _reference_numbers as ref

F64_EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e-4,
    9.999999999999999e-05,
    1e-5,
    9.999999999999999e-06,
    1.5e-5,
    -3.25e-5,
    1e-6,
    1e-9,
    9.999999999999999e-10,
    1e-10,
    5e-324,
    2.2250738585072014e-308,
    1e15,
    9999999999999998.0,
    1e16,
    1.5e16,
    2.0**53,
    2.0**53 + 2,
    1e300,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1.7976931348623155e308,
    math.nan,
    math.inf,
    -math.inf,
]
F32_EDGES = [
    *F64_EDGES[:18],
    1e-7,
    1.5e-6,
    9.9999e-7,
    1e12,
    1e13,
    1.2345678e13,
    -9.999999e15,
    1e16,
    2.0**24,
    2.0**24 + 2,
    3.4028235e38,
    math.nan,
    math.inf,
    -math.inf,
]


def fast_and_default(arr: np.ndarray, sep: str) -> list[str]:
    """The text as written by default and with the fast path forced for tiny arrays too."""
    texts = [_numbers.join_numbers(arr, sep)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_orjson_layout, "_FEW_FLOATS", 0)
        texts.append(_numbers.join_numbers(arr, sep))
    return texts


def same_as_reference(arr: np.ndarray) -> None:
    for sep in (",", ", "):
        want = ref.join_numbers(arr, sep)
        assert fast_and_default(arr, sep) == [want, want]


def test_installed_orjson_takes_the_fast_path() -> None:
    """The float layout orjson uses is the one the fast path corrects (else it is unused)."""
    assert _orjson_layout._orjson_layout_as_assumed()
    assert _orjson_layout._ORJSON_FLOATS_OK


def test_unknown_orjson_layout_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_orjson_layout, "_ORJSON_FLOATS_OK", False)
    arr = np.array([1.0, 1e-5, 2.5e13, np.inf] * 4, dtype=np.float32)
    assert _numbers.join_numbers(arr, ",") == ref.join_numbers(arr, ",")


# -- table-driven -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([1.0, 2.5, -0.0, 0.0], np.float64, "[1,2.5,-0,0]"),
        ([1.0, 2.0, 3.0], np.float64, "[1,2,3]"),
        ([1e15, 1e16, 1.5e16], np.float64, "[1000000000000000,1e+16,1.5e+16]"),
        ([1e-4, 1e-5, 1.5e-5, -2.5e-5], np.float64, "[0.0001,1e-05,1.5e-05,-2.5e-05]"),
        ([1e-6, 1.25e-9, 1e-10, 5e-324], np.float64, "[1e-06,1.25e-09,1e-10,5e-324]"),
        ([math.nan, math.inf, -math.inf, 1.0], np.float64, "[null,2e308,-2e308,1]"),
        ([1.7976931348623157e308, math.inf], np.float64, "[1.7976931348623157e+308,2e308]"),
        ([0.1, 1e-5, 1e-6, 1e-7], np.float32, "[0.1,1e-05,1e-06,1e-07]"),
        ([1.5e-6, -2.5e-5, 3e-10], np.float32, "[1.5e-06,-2.5e-05,3e-10]"),
        ([1e12, 1e13, 1.2345678e13], np.float32, "[1000000000000,10000000000000,12345678000000]"),
        ([-9.999999e15, 1e16, 3.4028235e38], np.float32, "[-9999999000000000,1e+16,3.4028235e+38]"),
        ([16777216.0, 0.5, math.nan, -math.inf], np.float32, "[16777216,0.5,null,-2e308]"),
        ([1, -2, 3], np.int8, "[1,-2,3]"),
        ([2**64 - 1, 0], np.uint64, "[18446744073709551615,0]"),
        ([True, False], np.bool_, "[true,false]"),
    ],
)
def test_number_text(values: list[float], dtype: type, expected: str) -> None:
    arr = np.array(values, dtype=dtype)
    assert fast_and_default(arr, ",") == [expected] * 2
    assert fast_and_default(arr, ", ") == [expected.replace(",", ", ")] * 2
    assert ref.join_numbers(arr, ",") == expected


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1.0, 2.5], [1e-5, math.inf]]),
        np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
        np.zeros((2, 0)),
        np.zeros((0, 3), dtype=np.float32),
        np.array([], dtype=np.int32),
        np.array([1.5, 2.0], dtype=">f8"),
        np.array([1, 2], dtype=">i4"),
        np.arange(10.0)[::3],
        np.array([1.0, 1e-5, 65504.0, np.nan, np.inf, -np.inf], dtype=np.float16),
        np.array([1.0, 0.1], dtype=np.longdouble).astype(np.float64),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_layouts_and_dtypes(arr: np.ndarray) -> None:
    same_as_reference(arr)


# -- equivalence with the reference -----------------------------------------------------------


def _f64() -> st.SearchStrategy[float]:
    scaled = st.builds(
        lambda m, e: m * 10.0**e, st.floats(-10, 10, allow_nan=False), st.integers(-12, 18)
    )
    return st.one_of(
        st.floats(), st.sampled_from(F64_EDGES), st.integers(-(10**6), 10**6).map(float), scaled
    )


def _to_f32(x: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def _f32() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(width=32), _f64().map(_to_f32))


SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.one_of(SHAPES, st.integers(0, 200)), elements=_f64()))
def test_float64_matches_reference(arr: np.ndarray) -> None:
    same_as_reference(arr)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float32, st.one_of(SHAPES, st.integers(0, 200)), elements=_f32()))
def test_float32_matches_reference(arr: np.ndarray) -> None:
    same_as_reference(arr)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(
        [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
    ).flatmap(lambda dt: hnp.arrays(dt, SHAPES))
)
def test_integers_match_reference(arr: np.ndarray) -> None:
    same_as_reference(arr)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(width=32), min_size=1, max_size=50))
def test_float32_digits_are_numpys(values: list[float]) -> None:
    """orjson's float32 digits are the ones numpy's ``str`` finds (shortest, closest)."""
    arr = np.array(values, dtype=np.float32)
    same_as_reference(arr)


def test_random_bit_patterns() -> None:
    rng = np.random.default_rng(20240601)
    f64 = rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64, endpoint=True).view(np.float64)
    f32 = rng.integers(0, 2**32 - 1, 20_000, dtype=np.uint32, endpoint=True).view(np.float32)
    same_as_reference(f64)
    same_as_reference(f32)


# -- each path on large arrays ----------------------------------------------------------------


def _with_specials(dtype: type, count: int, nan: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arr = rng.normal(size=20_000).astype(dtype)
    arr[np.abs(arr) < 1e-3] = 0.5  # no accidental tiny values
    arr[rng.integers(0, arr.size, 500)] = rng.integers(-50, 50, 500)  # integral ones
    pool = [1.5e-5, -1e-5, 2.5e-6, 1e-7, -3e-9, 1e-12, 1.25e13, 9e15, 1e16]
    arr[rng.integers(0, arr.size, count)] = rng.choice(pool, count)
    arr[rng.integers(0, arr.size, nan)] = np.nan
    arr[rng.integers(0, arr.size, 3)] = np.inf
    return arr


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("count", "nan"),
    [(0, 0), (10, 0), (10, 5), (200, 50), (2_000, 0), (10_000, 100)],
)
def test_large_arrays_every_path(dtype: type, count: int, nan: int) -> None:
    arr = _with_specials(dtype, count, nan, seed=count + nan)
    same_as_reference(arr)
    same_as_reference(arr.reshape(100, 200))


def test_all_integral_and_negative_zero() -> None:
    arr = np.arange(-1000.0, 1000.0)
    same_as_reference(arr)
    arr[5] = -0.0
    same_as_reference(arr)
    same_as_reference(np.array([1e16, 2.0], dtype=np.float64))
    same_as_reference(np.array([2.0**24 + 2, 2.0**30], dtype=np.float32))


def test_infinity_sentinel_avoids_values_in_the_data() -> None:
    top = np.finfo(np.float64).max
    arr = np.array([top, -np.nextafter(top, 0), np.inf, -np.inf, 1.0])
    assert (
        fast_and_default(arr, ",")
        == ["[1.7976931348623157e+308,-1.7976931348623155e+308,2e308,-2e308,1]"] * 2
    )
    same_as_reference(np.array([np.finfo(np.float32).max, np.inf], dtype=np.float32))


@pytest.mark.parametrize("few", [64, -1])
def test_edit_paths_agree(few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edits are applied by slicing (few) or with numpy masks (many): the same bytes."""
    monkeypatch.setattr(_byte_edits, "_FEW_EDITS", few)
    text = b"[0.00001,1e-7,12.5,0.0000125]"
    edits = _byte_edits._Edits()
    edits.delete(np.array([1, 19]), np.array([7, 25]))
    edits.insert(np.array([8, 28]), b"e-05")
    edits.insert(np.array([12]), b"0")
    edits.insert(np.array([26]), b".")
    edits.insert_run(np.array([28]), np.array([2]), ord("x"))
    assert edits.apply(text) == b"[1e-05,1e-07,12.5,1.25e-05xx]"
    assert _byte_edits._Edits().apply(text) == text
    big = np.tile(np.array([1e-5, 1.5e-7, 2.5]), 2000)
    same_as_reference(big)
    same_as_reference(big[:3])


# -- $arr compression -------------------------------------------------------------------------

ARR_DTYPES = {
    np.int8: "Int8",
    np.uint8: "Uint8",
    np.int16: "Int16",
    np.int32: "Int32",
    np.uint32: "Uint32",
    np.int64: "Int64",
    np.uint64: "Uint64",
    np.float32: "Float32",
    np.float64: "Float64",
    np.bool_: "Bool",
}
POOL = [0.0, 0.0, 1.0, 2.0, 7.0, 3.5, -1.5e-5, 1e-7, 1.5e13, math.nan, math.inf, 200.0]


def _cast(values: list[float], dtype: type) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    if dtype in (np.float32, np.float64):
        return arr.astype(dtype)
    arr = np.nan_to_num(arr, nan=3.0, posinf=5.0)
    if dtype is np.bool_:
        return arr != 0
    arr = np.clip(np.trunc(arr), -100, 120)
    if np.dtype(dtype).kind == "u":
        arr = np.abs(arr)
    return arr.astype(dtype)


runs = st.lists(
    st.tuples(st.sampled_from(POOL), st.sampled_from([1, 1, 2, 3, 5, 6, 7, 9, 10, 11, 25])),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(ARR_DTYPES)), runs, st.sampled_from([10, 20, 30]))
def test_arr_object_matches_reference(
    dtype: type, pieces: list[tuple[float, int]], mode: int
) -> None:
    arr = _cast([v for v, n in pieces for _ in range(n)], dtype)
    arr_type = ARR_DTYPES[dtype]
    for sep in (",", ", "):
        assert _arr.arr_object(arr, arr_type, mode, sep) == ref.arr_object(arr, arr_type, mode, sep)
    if mode != 30:
        got = list(_arr.arr_blocks(arr, mode))
        want = list(ref.arr_blocks(arr, mode))
        assert [(p, n) for p, _, n in got] == [(p, n) for p, _, n in want]
        for (_, a, _), (_, b, _) in zip(got, want, strict=True):
            assert np.array_equal(a, b, equal_nan=True)


many_runs = st.lists(
    st.tuples(st.sampled_from(POOL), st.sampled_from([1, 2, 6, 7, 10, 12])),
    min_size=70,
    max_size=150,
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(ARR_DTYPES)), many_runs)
def test_many_blocks_match_reference(dtype: type, pieces: list[tuple[float, int]]) -> None:
    """Both block writers (one by one, and vectorised) on the same inputs."""
    arr = _cast([v for v, n in pieces for _ in range(n)], dtype)
    arr_type = ARR_DTYPES[dtype]
    for few in (_arr._FEW_BLOCKS, 0):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_arr, "_FEW_BLOCKS", few)
            for sep in (",", ", "):
                want = ref.arr_object(arr, arr_type, 20, sep)
                assert _arr.arr_object(arr, arr_type, 20, sep) == want


@pytest.mark.parametrize("dtype", list(ARR_DTYPES))
def test_many_blocks_large(dtype: type) -> None:
    rng = np.random.default_rng(7)
    values = rng.choice(POOL, 3000)
    lengths = rng.choice([1, 2, 6, 7, 10, 12], 3000)
    arr = _cast(np.repeat(values, lengths).tolist(), dtype)
    arr_type = ARR_DTYPES[dtype]
    assert _arr._block_table(arr, 20).lo.size > _arr._FEW_BLOCKS
    for mode in (20, 30):
        for sep in (",", ", "):
            assert _arr.arr_object(arr, arr_type, mode, sep) == ref.arr_object(
                arr, arr_type, mode, sep
            )


def test_many_blocks_float32_beyond_exact_positions_uses_the_loop() -> None:
    table = _arr._Blocks(np.array([0]), np.array([1]), np.array([False]))
    big = np.broadcast_to(np.float32(1), (2**24,))
    assert _arr._many_blocks(big, "Float32", table, "{") is None


@pytest.mark.parametrize("compact", [3, 13, 23, 33, 20])
@pytest.mark.parametrize("shape", [(50, 3), (4, 7), (2, 3, 5), (3, 0)])
def test_nd_arrays_match_reference(compact: int, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    arr = rng.choice([0.0, 0.0, 1.0, 2.5, 1e-5], size=shape)
    sep = "," if compact % 10 == 3 else ", "
    arrays = compact // 10 * 10
    expected = (
        ref.join_numbers(arr, sep)
        if arrays == 0 or arr.size == 0
        else ref.compressed(arr, "Float64", arrays, sep)
    )
    assert render_json(arr, compact) == expected


@pytest.mark.parametrize("compact", [0, 3, 23])
def test_large_python_lists(compact: int) -> None:
    rng = np.random.default_rng(11)
    floats = rng.normal(size=5000)
    floats[::7] = 0.0
    sep = "," if compact % 10 == 3 else ", "
    arrays = compact // 10 * 10
    for values, arr_type in (
        (floats.tolist(), "Float64"),
        (rng.integers(-5, 5, 5000).tolist(), "Int32"),
        ([1, 2.5, 10**17, *range(10)], "Float64"),
    ):
        arr = np.array(values, dtype=np.float64 if arr_type == "Float64" else np.int32)
        want = ref.arr_object(arr, arr_type, arrays, sep) if arrays else ref.join_numbers(arr, sep)
        assert render_json(values, compact) == want


@pytest.mark.parametrize("compact", [0, 3])
@pytest.mark.parametrize(
    "values",
    [
        list(range(-3, 7)),
        [2**31, -(2**31) - 1, 0, 1, 2, 3],
        [2**63, 2**64 - 1, 0, 1, 2, 3],
        [2**70, 1, 2, 3, 4, 5],
        [-(2**63) - 1, 1, 2, 3, 4, 5],
    ],
    ids=["small", "int64", "uint64", "huge", "negative-huge"],
)
def test_plain_int_lists(values: list[int], compact: int) -> None:
    sep = "," if compact == 3 else ", "
    assert render_json(values, compact) == "[" + sep.join(map(str, values)) + "]"
    assert render_json(tuple(values), compact) == "[" + sep.join(map(str, values)) + "]"


@pytest.mark.parametrize("window", [1, 2, 3, 5, 64])
def test_strip_windows(window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``.0`` is cut wherever the window boundaries fall (long texts go by windows)."""
    monkeypatch.setattr(_orjson_layout, "_WINDOW", window)
    rng = np.random.default_rng(window)
    values = rng.choice([0.0, 1.0, 10.0, 2.5, 1.05, -0.0, 100.5], size=2000)
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    assert len(text) >= 4096
    assert _orjson_layout._strip_dot_zero(text) == re.sub(rb"\.0(?=[,\]])", b"", text)
