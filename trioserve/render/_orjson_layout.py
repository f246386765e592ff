"""Float arrays written by ``orjson`` with Python's (and so ROOT's) layout restored on the bytes.

Why the code below looks the way it does: a 10⁶-element array must render at a good fraction
of ``orjson``'s speed, because the render runs inside the observed program. So numbers are
written by ``orjson`` (which finds the same shortest digits as ``repr`` for doubles and as
numpy for float32 — the tests hold it to that), and only the *layout* is corrected, on the
bytes, with numpy and without a Python loop per element:

* orjson writes ``1.0``, ROOT ``1``: ``.0`` before a separator is cut with a byte mask, or the
  whole array goes through orjson's integer writer when every value is a small integer;
* orjson writes one-digit negative exponents (``1e-7``) and Python two (``1e-07``); orjson
  writes ``0.00001`` (doubles) or ``0.000001``/``1e+13`` (float32) where Python switches
  between plain and exponent notation at 1e-4 and 1e16. Which values are affected follows
  from their decade. A few of them (at most one in 64) go through orjson as NaN and their
  ``null`` is replaced by Python's text; many are edited in place with numpy
  (:class:`~trioserve.render._byte_edits._Edits`);
* orjson writes ``null`` for ±Inf too: infinities are swapped for a finite sentinel value
  that does not occur in the data, whose text is then replaced by ``2e308``.

The text every path must produce is :func:`trioserve.render._float_text.fmt_float` of each
element; ``tests/render/test_numbers.py`` compares every path with the slow reference.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import orjson

from trioserve.render._byte_edits import _Edits
from trioserve.render._float_text import fmt_float

__all__ = ["Pieces", "float_bytes", "float_pieces"]

#: a text as consecutive buffers, joined once where it is sent: every join of a 10^6-float
#: text is a copy of 20 MB, and a render used to make four of them
Pieces = list[bytes | memoryview]

_STRIP_DOT_ZERO_BYTES = re.compile(rb"\.0(?=[,\]])")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_COMMA, _OPEN, _CLOSE, _DOT, _MINUS, _ZERO, _E = b",[].-0e"
#: fewer floats than this are written by the reference (numpy's per-call costs would dominate)
_FEW_FLOATS = 8


class _Layout(NamedTuple):
    """Where orjson's float layout differs from Python's, for one float dtype.

    Python writes plain notation for 1e-4 <= |x| < 1e16 and exponents of at least two
    digits; orjson switches at other powers of ten. All bounds are the dtype's values nearest
    to the powers of ten: the shortest text grows with the value, so comparing *values* with
    them tells exactly which *texts* are written in which notation.
    """

    dtype: type[np.floating[Any]]
    tiny: np.floating[Any]  # from here up orjson writes one-digit negative exponents
    plain: np.floating[Any]  # from here up orjson writes 0.0000ddd (Python: from small up)
    small: np.floating[Any]  # 1e-4, where Python starts writing plain notation
    huge: np.floating[Any]  # from here up orjson writes exponents (Python: from large up)
    large: np.floating[Any]  # 1e16, where Python starts writing exponents
    int_max: float  # integral values below this are written like the integer itself


_F64 = _Layout(
    dtype=np.float64,
    tiny=np.float64(1e-9),
    plain=np.float64(1e-5),
    small=np.float64(1e-4),
    huge=np.float64(1e16),
    large=np.float64(1e16),
    int_max=1e16,
)
_F32 = _Layout(
    dtype=np.float32,
    tiny=np.float32(1e-9),
    plain=np.float32(1e-6),
    small=np.float32(1e-4),
    huge=np.float32(1e13),
    large=np.float32(1e16),
    int_max=2.0**24,
)


def _orjson_layout_as_assumed() -> bool:
    """Whether this orjson lays floats out as :class:`_Layout` expects (checked at import).

    Another orjson release could move its notation switches; then floats take the slow,
    reference path instead of coming out wrong.
    """
    f64 = np.array([1.0, 1e16, 1e15, 1e-4, 1e-5, 1.5e-5, 1e-7, 1e-10, 1e300, -0.0, np.nan])
    f32 = np.array([1e-4, 1e-6, 1e-7, 1e12, 1e13, 1.5e13, 1e16, 0.1, np.inf], dtype=np.float32)
    return orjson.dumps([f64, f32], option=_NUMPY) == (
        b"[[1.0,1e+16,1000000000000000.0,0.0001,0.00001,0.000015,1e-7,1e-10,1e+300,-0.0,null],"
        b"[0.0001,0.000001,1e-7,1000000000000.0,1e+13,1.5e+13,1e+16,0.1,null]]"
    )


_ORJSON_FLOATS_OK = _orjson_layout_as_assumed()


_LAYOUTS = {8: _F64, 4: _F32}


def float_bytes(arr: np.ndarray) -> bytes | None:
    """ROOT-style text of a float array through orjson, or None to use the reference."""
    pieces = float_pieces(arr)
    return None if pieces is None else b"".join(pieces)


def float_pieces(arr: np.ndarray) -> Pieces | None:
    """:func:`float_bytes` before its one join."""
    layout = _LAYOUTS.get(arr.dtype.itemsize)
    if layout is None or arr.size < _FEW_FLOATS or not _ORJSON_FLOATS_OK:
        return None
    a = np.ascontiguousarray(arr, dtype=layout.dtype)
    if np.isfinite(a).all():  # (isfinite signals nothing, not even for a signalling NaN)
        return _float_pieces(a, layout, finite=True)
    with np.errstate(invalid="ignore"):  # signalling NaNs are NaNs all the same
        return _float_pieces(a, layout, finite=False)


def _float_pieces(a: np.ndarray, layout: _Layout, finite: bool) -> Pieces | None:
    sentinel = b""
    nan = None
    if not finite:
        isnan = np.isnan(a)
        if isnan.any():
            nan = isnan
        isinf = np.isinf(a)
        if isinf.any():
            value = _sentinel(a, layout)
            if value is None:  # pragma: no cover - the data holds the 16 largest values
                return None
            a = np.where(isinf, np.copysign(value, a), a)
            sentinel = orjson.dumps(np.array([value]), option=_NUMPY)[1:-1]
    absa = np.abs(a)
    integral = np.trunc(a) == a  # NaN is not
    if (
        integral.all()
        and absa.max(initial=0) < layout.int_max
        and not (np.signbit(a) & (a == 0)).any()  # -0.0 is written "-0"
    ):
        return [orjson.dumps(a.astype(np.int64), option=_NUMPY)]
    special = (absa >= layout.tiny) & (absa < layout.small)
    if layout.huge < layout.large:
        special |= (absa >= layout.huge) & (absa < layout.large)
    count = int(np.count_nonzero(special))
    pieces: Pieces
    if not count:
        pieces = [orjson.dumps(a, option=_NUMPY)]
    else:
        nulls = count if nan is None else count + int(np.count_nonzero(nan))
        if nulls * _SPARSE <= a.size:
            pieces = _write_apart(a, special, nan, layout)
        else:
            pieces = [_relayout(orjson.dumps(a, option=_NUMPY), absa, layout)]
    if not integral.any() and not sentinel:
        return pieces
    text = b"".join(pieces)
    if integral.any():
        text = _strip_dot_zero(text)
    if sentinel:
        text = text.replace(sentinel, b"2e308")
    return [text]


#: at most one value in this many is written apart (by Python) rather than re-laid out
_SPARSE = 64


def _write_apart(
    a: np.ndarray, special: np.ndarray, nan: np.ndarray | None, layout: _Layout
) -> Pieces:
    """orjson's text with the few ``special`` values written by :func:`fmt_float` instead.

    They go through orjson as NaN, and the ``null`` texts (located by their 'n', which no
    number contains) are replaced, in order, by their own texts or by ``null`` for a NaN.
    """
    values = a[special]
    if layout.dtype is np.float32:
        values = values.astype(str).astype(np.float64)
    texts = [fmt_float(x).encode("ascii") for x in values.tolist()]
    if nan is not None:
        order = iter(texts)
        texts = [next(order) if s else b"null" for s in special[special | nan].tolist()]
    text = orjson.dumps(np.where(special, np.nan, a), option=_NUMPY)
    view = memoryview(text)  # (slices of it copy nothing)
    parts: Pieces = []
    last = 0
    find = text.find
    for piece in texts:
        # 'n' starts every null and occurs in no number; a one-byte find is a memchr
        # (searching for b"null" is slow here: its skip table collides with the digits)
        at = find(b"n", last)
        parts.append(view[last:at])
        parts.append(piece)
        last = at + 4
    parts.append(view[last:])
    return parts


def _relayout(text: bytes, absa: np.ndarray, layout: _Layout) -> bytes:
    """Many values in another layout than Python's: edit their texts with numpy."""
    edits = _Edits()
    buf = np.frombuffer(text, dtype=np.uint8)
    starts, ends = _token_bounds(buf)
    starts = starts + (buf[starts] == _MINUS)
    if ((absa >= layout.tiny) & (absa < layout.plain)).any():
        # "1e-7" to "1e-07": 'e', '-', one digit, then a separator
        e = np.flatnonzero(buf == _E)
        e = e[(buf[e + 1] == _MINUS) & ~_is_digit(buf[e + 3])]
        edits.insert(e + 2, b"0")
    idx = np.flatnonzero(((absa >= layout.plain) & (absa < layout.small)).ravel())
    if idx.size:
        # "0.0000123" to "1.23e-05" (float32 has a fifth zero from 1e-6: "e-06")
        s, end = starts[idx], ends[idx]
        five = buf[s + 6] == _ZERO
        first = s + 6 + five  # the first significant digit
        edits.delete(s, first)
        dot = first + 1 < end
        edits.insert(first[dot] + 1, b".")
        edits.insert(end[~five], b"e-05")
        edits.insert(end[five], b"e-06")
    idx = np.flatnonzero(((absa >= layout.huge) & (absa < layout.large)).ravel())
    if idx.size:
        # float32 "1.2345e+13" to "12345000000000" (integral, so no ".0" to strip)
        s, end = starts[idx], ends[idx]
        e = end - 4
        dot = e - s > 1
        edits.delete(s[dot] + 1, s[dot] + 2)
        edits.delete(e, end)
        exponent = 10 + buf[e + 3].astype(np.intp) - _ZERO
        edits.insert_run(e, exponent - np.where(dot, e - s - 2, 0), _ZERO)
    return edits.apply(text)


def _sentinel(a: np.ndarray, layout: _Layout) -> np.floating[Any] | None:
    """A huge finite value whose magnitude does not occur in ``a`` (stands in for Inf)."""
    value = np.finfo(layout.dtype).max
    absa = np.abs(a)
    for _ in range(16):
        if not (absa == value).any():
            return value
        value = np.nextafter(value, layout.dtype(0))
    return None  # pragma: no cover


def _is_digit(values: np.ndarray) -> np.ndarray:
    return (values >= _ZERO) & (values <= _ZERO + 9)


def _strip_dot_zero(text: bytes) -> bytes:
    """Remove every ``.0`` that ends a number (integral floats).

    A regex on short texts; on long ones byte masks, a window of 256 KiB at a time (which
    keeps the temporary arrays in cache and their size bounded).
    """
    if len(text) < 4096:
        return _STRIP_DOT_ZERO_BYTES.sub(b"", text)
    buf = np.frombuffer(text, dtype=np.uint8)
    parts = []
    for start in range(0, buf.size, _WINDOW):
        lo = max(start - 1, 0)  # a '.' just before the window drops with its '0'
        w = buf[lo : start + _WINDOW + 2]  # the two bytes after it decide its last '.'
        hit = np.zeros(w.size, dtype=np.bool_)
        hit[:-2] = (w[:-2] == _DOT) & (w[1:-1] == _ZERO) & ((w[2:] == _COMMA) | (w[2:] == _CLOSE))
        hit[1:] |= hit[:-1].copy()
        own = slice(start - lo, start - lo + min(_WINDOW, buf.size - start))
        parts.append(w[own][~hit[own]].tobytes())
    return b"".join(parts)


_WINDOW = 1 << 18


def _token_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of every element's text (number or ``null``), in C order."""
    structural = (buf == _COMMA) | (buf == _OPEN) | (buf == _CLOSE)
    body = ~structural
    starts = np.flatnonzero(body[1:] & structural[:-1]) + 1
    ends = np.flatnonzero(structural[1:] & body[:-1]) + 1
    return starts, ends
