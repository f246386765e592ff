"""Numbers as ROOT-style JSON text: which arrays are numeric, and plain number lists.

One number is written as :func:`~trioserve.render._float_text.fmt_float` says (ROOT's text for
a double, adapted to valid JSON: ``1`` for 1.0, NaN as ``null``, ±Inf as ``±2e308``, float32
by its own shortest digits). Whole arrays are written by ``orjson`` with the layout corrected
on the bytes (:mod:`trioserve.render._orjson_layout`); what orjson cannot take goes through
the reference writer here (``json`` on Python numbers), which defines the expected bytes.
ROOT's ``$arr`` compression of arrays is :mod:`trioserve.render._arr`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import orjson

from trioserve.render._float_text import fmt_float
from trioserve.render._orjson_layout import Pieces, float_pieces

__all__ = [
    "ARR_TYPES",
    "fmt_float",
    "int_list_text",
    "join_numbers",
    "number_bytes",
    "number_pieces",
    "numeric_list",
    "numeric_view",
]

ARR_TYPES: dict[str, str] = {
    "b1": "Bool",
    "i1": "Int8",
    "u1": "Uint8",
    "i2": "Int16",
    "u2": "Uint16",
    "i4": "Int32",
    "u4": "Uint32",
    "i8": "Int64",
    "u8": "Uint64",
    "f4": "Float32",
    "f8": "Float64",
}

_STRIP_DOT_ZERO = re.compile(r"\.0(?=[,\]])")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def numeric_view(arr: np.ndarray) -> tuple[np.ndarray, str] | None:
    """(array in a JSON-friendly dtype, ``$arr`` type name) or None if not numeric."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.bool_, copy=False), "Bool"
    if kind in "iu":
        if arr.dtype.itemsize > 8:
            return None
        key = f"{kind}{arr.dtype.itemsize}"
        return arr, ARR_TYPES[key]
    if kind == "f":
        if arr.dtype.itemsize < 8:
            return arr.astype(np.float32, copy=False), "Float32"
        if arr.dtype.itemsize > 8:
            return arr.astype(np.float64), "Float64"
        return arr, "Float64"
    return None


def numeric_list(
    value: list[Any] | tuple[Any, ...], types: set[type] | None = None
) -> np.ndarray | None:
    """A numpy array for a list of only bools, or only ints/floats; else None.

    ``types`` is ``set(map(type, value))`` if the caller has it already.
    """
    if not value:
        return None
    if types is None:
        types = set(map(type, value))  # C speed: large lists of numbers are common
    if types == {bool}:
        return np.array(value, dtype=np.bool_)
    if not types <= {int, float}:
        return None
    if float in types:
        return np.array(value, dtype=np.float64)
    try:
        arr = np.array(value, dtype=np.int64)
    except OverflowError:
        return None
    if arr.size and -(2**31) <= arr.min() and arr.max() < 2**31:
        arr = arr.astype(np.int32)
    return arr


# -- plain arrays -----------------------------------------------------------------------------


def join_numbers(arr: np.ndarray, sep: str) -> str:
    """Plain JSON array text of a numeric array of any dimension (nested for N-D)."""
    return number_bytes(arr, sep).decode("ascii")


def number_bytes(arr: np.ndarray, sep: str = ",") -> bytes:
    """:func:`join_numbers` as ASCII bytes (what the fast path produces anyway)."""
    pieces = number_pieces(arr, sep)
    return pieces[0] if len(pieces) == 1 and isinstance(pieces[0], bytes) else b"".join(pieces)


def number_pieces(arr: np.ndarray, sep: str = ",") -> Pieces:
    """:func:`number_bytes` before its join (see :data:`~._orjson_layout.Pieces`)."""
    pieces = _fast_pieces(arr)
    if pieces is None:
        pieces = [_slow_text(arr).encode("ascii")]
    if sep != ",":
        pieces = [b"".join(pieces).replace(b",", sep.encode("ascii"))]
    return pieces


def _slow_text(arr: np.ndarray) -> str:
    """The reference writer (``json`` on Python numbers), for what orjson cannot take."""
    values = arr
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        # float32 -> its own shortest text -> the double with that text (vectorised).
        values = arr.astype(str).astype(np.float64)
    text = json.dumps(values.tolist(), separators=(",", ":"), allow_nan=True)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            text = text.replace("-Infinity", "-2e308").replace("Infinity", "2e308")
            text = text.replace("NaN", "null")
        text = _STRIP_DOT_ZERO.sub("", text)
    return text


def _fast_pieces(arr: np.ndarray) -> Pieces | None:
    """ROOT-style text of a numeric array through orjson, or None to use the reference."""
    kind = arr.dtype.kind
    if kind == "f":
        return float_pieces(arr)
    if kind not in "biu":  # pragma: no cover - numeric_view hands over numbers only
        return None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    try:
        return [orjson.dumps(np.ascontiguousarray(arr), option=_NUMPY)]
    except TypeError:  # pragma: no cover - an integer dtype orjson does not know
        return None


def int_list_text(value: list[int] | tuple[int, ...]) -> str | None:
    """A plain list of ints straight through orjson: the text numpy would give, sooner."""
    try:
        return orjson.dumps(value).decode("ascii")
    except orjson.JSONEncodeError:  # an int beyond 64 bits: written one by one
        return None
