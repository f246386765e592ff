"""The number writer and ``$arr`` compression as they were before the orjson fast path.

A verbatim copy (slow: ``json`` on Python numbers, a Python loop per special run) kept as the
oracle the fast writers in ``trioserve.render._numbers`` and ``_arr`` must match byte for byte.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

# JSROOT decodes base64 only into native typed arrays of the *same* element layout; Bool is a
# plain Array (decoding throws) and Int64/Uint64 land in a Float64Array (bytes misread).
BASE64_OK = frozenset({"Int8", "Uint8", "Int16", "Uint16", "Int32", "Uint32", "Float32", "Float64"})

_STRIP_DOT_ZERO = re.compile(r"\.0(?=[,\]])")


def fmt_float(x: float) -> str:
    """One double as ROOT-style valid JSON text."""
    if x != x:
        return "null"
    if x in (float("inf"), float("-inf")):
        return "2e308" if x > 0 else "-2e308"
    r = repr(float(x))
    if r.endswith(".0"):
        r = r[:-2]
    return r


def as_printable(arr: np.ndarray) -> Any:
    """Nested Python lists whose ``repr`` is the shortest text for the array's precision."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        # float32 -> its own shortest text -> the double with that text (vectorised).
        arr = arr.astype(str).astype(np.float64)
    return arr.tolist()


def join_numbers(arr: np.ndarray, sep: str) -> str:
    """Plain JSON array text of a numeric array of any dimension (nested for N-D)."""
    text = json.dumps(as_printable(arr), separators=(sep, ":"), allow_nan=True)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            text = text.replace("-Infinity", "-2e308").replace("Infinity", "2e308")
            text = text.replace("NaN", "null")
        text = _STRIP_DOT_ZERO.sub("", text)
    return text


def fmt_scalar(value: Any, arr_type: str) -> str:
    if arr_type == "Bool":
        return "true" if value else "false"
    if arr_type.startswith("Float"):
        if arr_type == "Float32":
            return fmt_float(float(str(np.float32(value))))
        return fmt_float(float(value))
    return str(int(value))


def _runs(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of runs of equal values (NaN never equals NaN, as in C++)."""
    n = seg.shape[0]
    change = np.flatnonzero(seg[1:] != seg[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [n])))
    return starts, lengths


def arr_blocks(arr: np.ndarray, mode: int) -> Iterator[tuple[int | None, np.ndarray, int]]:
    """Blocks of a compressed 1-D array: (position or None, values, repeat count).

    ``position`` is None when the block starts where the previous one ended (first block: at
    index 0). ``repeat`` > 1 means a single value written with an ``n`` counter.
    """
    nz = np.flatnonzero(arr != 0)
    if nz.size == 0:
        return
    a, b = int(nz[0]), int(nz[-1]) + 1
    if mode != 20:
        yield (a if a != 0 else None), arr[a:b], 1
        return
    seg = arr[a:b]
    starts, lengths = _runs(seg)
    is_zero = seg[starts] == 0
    special = np.flatnonzero((is_zero & (lengths > 9)) | (~is_zero & (lengths > 5)))
    lastp = 0
    cursor = 0  # start (in seg) of the material not yet emitted

    def gap(lo: int, hi: int) -> Iterator[tuple[int | None, np.ndarray, int]]:
        nonlocal lastp
        if lo < hi and seg[lo] == 0:
            # a block never starts with zeros: skip the (short) zero run at its head
            nzl = np.flatnonzero(seg[lo:hi] != 0)
            if nzl.size == 0:
                return
            lo += int(nzl[0])
        if lo >= hi:
            return
        p0 = a + lo
        yield (p0 if p0 != lastp else None), seg[lo:hi], 1
        lastp = a + hi

    for k in special:
        s, length = int(starts[k]), int(lengths[k])
        yield from gap(cursor, s)
        if not is_zero[k]:
            p0 = a + s
            yield (p0 if p0 != lastp else None), seg[s : s + 1], length
            lastp = p0 + length
        cursor = s + length
    yield from gap(cursor, b - a)


def arr_object(arr: np.ndarray, arr_type: str, mode: int, sep: str) -> str:
    """The ``{"$arr":...}`` text of a 1-D numeric array for compression ``mode`` 10/20/30."""
    n = int(arr.shape[0])
    parts = [f'{{"$arr":"{arr_type}"{sep}"len":{n}']
    if mode == 30 and arr_type in BASE64_OK:
        nz = np.flatnonzero(arr != 0)
        if nz.size:
            a, b = int(nz[0]), int(nz[-1]) + 1
            size = arr.dtype.itemsize
            if a * size < 5:
                a = 0
            if a > 0:
                parts.append(f'{sep}"o":{a * size}')
            raw = np.ascontiguousarray(arr[a:b], dtype=arr.dtype.newbyteorder("<")).tobytes()
            parts.append(f'{sep}"b":"{base64.b64encode(raw).decode("ascii")}"')
        else:
            parts.append(f'{sep}"b":""')
        parts.append("}")
        return "".join(parts)
    if mode == 30:
        mode = 20
    for idx, (pos, values, repeat) in enumerate(arr_blocks(arr, mode)):
        suffix = str(idx) if idx else ""
        if pos is not None:
            parts.append(f'{sep}"p{suffix}":{pos}')
        if repeat > 1 or values.shape[0] == 1:
            parts.append(f'{sep}"v{suffix}":{fmt_scalar(values[0], arr_type)}')
            if repeat > 1:
                parts.append(f'{sep}"n{suffix}":{repeat}')
        else:
            parts.append(f'{sep}"v{suffix}":{join_numbers(values, sep)}')
    parts.append("}")
    return "".join(parts)


def compressed(data: np.ndarray, arr_type: str, arrays: int, sep: str) -> str:
    """``_Writer._compressed`` as it was: N-D arrays row by row."""
    if data.ndim > 1:
        return "[" + sep.join(compressed(row, arr_type, arrays, sep) for row in data) + "]"
    if data.shape[0] < 6 and arrays != 30:
        return join_numbers(data, sep)
    return arr_object(data, arr_type, arrays, sep)
