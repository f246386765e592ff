"""``render_json_bytes`` is ``render_json`` encoded: the bytes path (large arrays stay bytes
in the writer) must never change a character, whatever surrounds the array."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trioserve.render import _arr
from trioserve.render._json_writer import _Writer
from trioserve.render.json import parse_compact, render_json, render_json_bytes

_RNG = np.random.default_rng(3)
_BIG = _RNG.random(20_000)  # text far above the size kept as bytes
_SPARSE = np.zeros(50_000)
_SPARSE[::7] = _RNG.random(_SPARSE[::7].size)  # many $arr blocks in compact 10/20


@dataclasses.dataclass
class _Holder:
    title: str
    values: np.ndarray
    again: np.ndarray
    ints: list[int]


_CASES = {
    "bare float array": _BIG,
    "float32 array": _BIG.astype(np.float32),
    "int array": (_BIG * 1e6).astype(np.int64),
    "sparse array": _SPARSE,
    "tiny values written apart": np.where(_BIG < 0.01, _BIG * 1e-6, _BIG),
    "2-D array": _BIG.reshape(100, 200),
    "non-ASCII around arrays": {"é title ☃": "ünïcode </script>", "a": _BIG, "b": "after ✓"},
    "the same array twice": _Holder("h", _BIG[:5000], _BIG[:5000].copy(), list(range(9000))),
    "nested lists": [[1.5, 2.5] * 5000, {"x": _SPARSE}, "tail"],
    "small object": {"a": 1, "b": [1, 2, 3], "c": "x"},
    "NUL in strings beside a big array": {"\0key": "a\0b", "v": _BIG, "w": "\0"},
}


@pytest.mark.parametrize("compact", [0, 1, 2, 3, 10, 13, 20, 23, 30, 33, 103])
@pytest.mark.parametrize("name", list(_CASES))
def test_the_bytes_path_changes_no_character(
    name: str, compact: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = _CASES[name]
    text = render_json(obj, compact)
    data = render_json_bytes(obj, compact)
    assert data == text.encode()
    # the reference: the same render with every array decoded to str on the spot
    monkeypatch.setattr(_arr, "_BYTES_FROM", 1 << 62)
    assert render_json(obj, compact) == text
    assert render_json_bytes(obj, compact) == data


def test_large_arrays_do_take_the_bytes_path() -> None:
    """(else the test above would compare the str path with itself)"""
    writer = _Writer(parse_compact(23))
    writer.write(_CASES["non-ASCII around arrays"], 0, 0)
    assert len(writer.big) == 1 and sum(map(len, writer.big[0])) > 100_000
