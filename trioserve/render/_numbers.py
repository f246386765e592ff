"""Number formatting and ROOT array compression shared by the JSON and XML renderers.

Floats are written the way ROOT's TBufferJSON writes doubles, adapted to valid JSON:

* integral values without a fractional part (``1`` for ``1.0``), everything else as the
  shortest text that reads back to the same double (Python's ``repr``);
* ``NaN`` as ``null`` and ``±Inf`` as ``±2e308`` — exactly what ROOT 6 writes (the literal
  overflows to ``Infinity`` in JavaScript and in Python's ``json``; ROOT reads ``null`` back
  as NaN). Python's ``json`` would write ``NaN``/``Infinity``, which is not JSON.
* float32/float16 data is first reduced to its own shortest text (``0.1`` not
  ``0.10000000149011612``) and then written as the double with that text.

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
  ``null`` is replaced by Python's text; many are edited in place with numpy (``_Edits``);
* orjson writes ``null`` for ±Inf too: infinities are swapped for a finite sentinel value
  that does not occur in the data, whose text is then replaced by ``2e308``.

Array compression (tens digit of ``compact``) follows ``TBufferJSON::JsonWriteArrayCompress``
(read in ROOT's io/io/src/TBufferJSON.cxx): arrays of fewer than 6 elements stay plain; the
``$arr`` object is always written on one line with bare ``:`` and the array separator
between entries. The blocks of the same-value mode (20) come from a table computed with
numpy on *runs* (:func:`_block_table`). A few blocks are written one by one; many blocks
(up to one per three elements in the worst case) are written by formatting every number of
the object — values, positions, counts and key suffixes — in one orjson call and splicing
the constant key texts between them, so no Python loop runs per block either.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import orjson

__all__ = [
    "ARR_TYPES",
    "arr_blocks",
    "arr_object",
    "fmt_float",
    "fmt_scalar",
    "join_numbers",
    "number_bytes",
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

# JSROOT decodes base64 only into native typed arrays of the *same* element layout; Bool is a
# plain Array (decoding throws) and Int64/Uint64 land in a Float64Array (bytes misread).
BASE64_OK = frozenset({"Int8", "Uint8", "Int16", "Uint16", "Int32", "Uint32", "Float32", "Float64"})

_STRIP_DOT_ZERO = re.compile(r"\.0(?=[,\]])")
_STRIP_DOT_ZERO_BYTES = re.compile(rb"\.0(?=[,\]])")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_COMMA, _OPEN, _CLOSE, _DOT, _MINUS, _ZERO, _E, _N = b",[].-0en"
#: more blocks than this are written by the vectorised $arr writer
_FEW_BLOCKS = 32
#: fewer floats than this are written by ``json`` (numpy's per-call costs would dominate)
_FEW_FLOATS = 8


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


# -- plain arrays -----------------------------------------------------------------------------


def join_numbers(arr: np.ndarray, sep: str) -> str:
    """Plain JSON array text of a numeric array of any dimension (nested for N-D)."""
    return number_bytes(arr, sep).decode("ascii")


def number_bytes(arr: np.ndarray, sep: str = ",") -> bytes:
    """:func:`join_numbers` as ASCII bytes (what the fast path produces anyway)."""
    text = _fast_bytes(arr)
    if text is None:
        text = _slow_text(arr).encode("ascii")
    if sep != ",":
        text = text.replace(b",", sep.encode("ascii"))
    return text


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


def _fast_bytes(arr: np.ndarray) -> bytes | None:
    """ROOT-style text of a numeric array through orjson, or None to use the reference."""
    kind = arr.dtype.kind
    if kind == "f":
        layout = {8: _F64, 4: _F32}.get(arr.dtype.itemsize)
        if layout is None or arr.size < _FEW_FLOATS or not _ORJSON_FLOATS_OK:
            return None
        with np.errstate(invalid="ignore"):  # signalling NaNs are NaNs all the same
            return _float_bytes(np.ascontiguousarray(arr, dtype=layout.dtype), layout)
    if kind not in "biu":  # pragma: no cover - numeric_view hands over numbers only
        return None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    try:
        return orjson.dumps(np.ascontiguousarray(arr), option=_NUMPY)
    except TypeError:  # pragma: no cover - an integer dtype orjson does not know
        return None


def _float_bytes(a: np.ndarray, layout: _Layout) -> bytes | None:
    sentinel = b""
    nan = None
    if not np.isfinite(a).all():
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
        return orjson.dumps(a.astype(np.int64), option=_NUMPY)
    special = (absa >= layout.tiny) & (absa < layout.small)
    if layout.huge < layout.large:
        special |= (absa >= layout.huge) & (absa < layout.large)
    count = int(np.count_nonzero(special))
    if not count:
        text = orjson.dumps(a, option=_NUMPY)
    else:
        nulls = count if nan is None else count + int(np.count_nonzero(nan))
        if nulls * _SPARSE <= a.size:
            text = _write_apart(a, special, nan, layout)
        else:
            text = _relayout(orjson.dumps(a, option=_NUMPY), absa, layout)
    if integral.any():
        text = _strip_dot_zero(text)
    if sentinel:
        text = text.replace(sentinel, b"2e308")
    return text


#: at most one value in this many is written apart (by Python) rather than re-laid out
_SPARSE = 64
#: up to this many edits (or one per KiB) are applied by slicing the text, more with numpy
_FEW_EDITS = 64


def _write_apart(
    a: np.ndarray, special: np.ndarray, nan: np.ndarray | None, layout: _Layout
) -> bytes:
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
    parts = []
    last = 0
    for at, piece in zip(_find_nulls(text), texts, strict=True):
        parts.append(text[last:at])
        parts.append(piece)
        last = at + 4
    parts.append(text[last:])
    return b"".join(parts)


def _find_nulls(text: bytes) -> list[int]:
    """Offsets of the ``null`` texts (``bytes.find`` is slow here: its skip table collides)."""
    found: list[int] = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == _N).tolist()
    return found


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


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every offset k with lo[i] <= k < hi[i], for all i, in order."""
    counts = hi - lo
    begin = np.cumsum(counts) - counts
    return np.repeat(lo - begin, counts) + np.arange(int(counts.sum()))


class _Edits:
    """Deletions and insertions at offsets of one text, applied together."""

    def __init__(self) -> None:
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.at: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.data: list[np.ndarray] = []

    def delete(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Delete offsets lo[i] <= k < hi[i]."""
        self.lo.append(lo)
        self.hi.append(hi)

    def insert(self, at: np.ndarray, piece: bytes) -> None:
        """Insert ``piece`` before every offset in ``at``."""
        self.at.append(at)
        self.counts.append(np.full(at.size, len(piece), dtype=np.intp))
        self.data.append(np.tile(np.frombuffer(piece, dtype=np.uint8), at.size))

    def insert_run(self, at: np.ndarray, counts: np.ndarray, byte: int) -> None:
        """Insert ``counts[i]`` copies of ``byte`` before offset ``at[i]``."""
        self.at.append(at)
        self.counts.append(counts)
        self.data.append(np.full(int(counts.sum()), byte, dtype=np.uint8))

    def apply(self, text: bytes) -> bytes:
        if not self.lo and not self.at:
            return text
        empty = np.zeros(0, dtype=np.intp)
        lo = np.concatenate(self.lo) if self.lo else empty
        hi = np.concatenate(self.hi) if self.hi else empty
        at = np.concatenate(self.at) if self.at else empty
        counts = np.concatenate(self.counts) if self.at else empty
        data = np.concatenate(self.data) if self.at else np.zeros(0, dtype=np.uint8)
        if lo.size + at.size <= max(_FEW_EDITS, len(text) >> 10):
            return _splice_few(text, lo, hi, at, counts, data)
        order = np.argsort(at, kind="stable")
        begin = np.cumsum(counts) - counts
        data = data[_ranges(begin[order], begin[order] + counts[order])]
        deleted = np.sort(_ranges(lo, hi))
        buf = np.frombuffer(text, dtype=np.uint8)
        return _splice(buf, deleted, at[order], counts[order], data).tobytes()


def _splice_few(
    text: bytes,
    lo: np.ndarray,
    hi: np.ndarray,
    at: np.ndarray,
    counts: np.ndarray,
    data: np.ndarray,
) -> bytes:
    """:meth:`_Edits.apply` for a few edits: slices of the text joined once."""
    raw = data.tobytes()
    ends = np.cumsum(counts).tolist()
    edits = [
        (p, p, raw[e - c : e]) for p, c, e in zip(at.tolist(), counts.tolist(), ends, strict=True)
    ]
    edits += [(a, b, b"") for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    edits.sort(key=lambda edit: edit[:2])  # an insertion goes before a deletion at its offset
    parts = []
    last = 0
    for a, b, piece in edits:
        parts.append(text[last:a])
        parts.append(piece)
        last = b
    parts.append(text[last:])
    return b"".join(parts)


def _splice(
    buf: np.ndarray, deleted: np.ndarray, at: np.ndarray, counts: np.ndarray, data: np.ndarray
) -> np.ndarray:
    """``buf`` without the bytes at ``deleted`` (sorted offsets) and with ``data`` inserted.

    ``data`` is the concatenation of pieces of ``counts[i]`` bytes, piece ``i`` going before
    original offset ``at[i]`` (``at`` sorted; pieces at one offset keep their order). A few
    numpy passes over the buffer, whatever the number of edits.
    """
    if deleted.size:
        keep = np.ones(buf.size, dtype=np.bool_)
        keep[deleted] = False
        buf = buf[keep]
        at = at - np.searchsorted(deleted, at)
    dest = np.repeat(at, counts) + np.arange(data.size)
    out = np.empty(buf.size + data.size, dtype=np.uint8)
    inserted = np.zeros(out.size, dtype=np.bool_)
    inserted[dest] = True
    out[dest] = data
    out[~inserted] = buf
    return out


def fmt_scalar(value: Any, arr_type: str) -> str:
    if arr_type == "Bool":
        return "true" if value else "false"
    if arr_type.startswith("Float"):
        if arr_type == "Float32":
            return fmt_float(float(str(np.float32(value))))
        return fmt_float(float(value))
    return str(int(value))


# -- $arr compression -------------------------------------------------------------------------


class _Blocks(NamedTuple):
    """The blocks of a compressed 1-D array, as arrays (one entry per block)."""

    lo: np.ndarray  # first element
    hi: np.ndarray  # end (exclusive)
    same: np.ndarray  # True: arr[lo] repeated hi - lo times (written with an "n" count)


def _nonzero_span(arr: np.ndarray) -> tuple[int, int] | None:
    """First nonzero element and the end of the last one (NaN counts as nonzero)."""
    nonzero = arr != 0
    if not nonzero.any():
        return None
    return int(nonzero.argmax()), arr.shape[0] - int(nonzero[::-1].argmax())


def _has_long_run(seg: np.ndarray) -> bool:
    """Whether ``seg`` holds 6 equal values in a row (cheaper than finding all runs)."""
    if seg.shape[0] < 6:
        return False
    eq = seg[1:] == seg[:-1]
    two = eq[:-1] & eq[1:]
    four = two[:-2] & two[2:]
    return bool((four[:-1] & eq[4:]).any())


def _block_table(arr: np.ndarray, mode: int) -> _Blocks:
    """The blocks ``TBufferJSON`` writes for ``arr`` in compression ``mode`` 10 or 20.

    Mode 10 writes the span from the first to the last nonzero value. Mode 20 also writes
    runs of more than 5 equal nonzero values as one value and a count, and leaves out runs
    of more than 9 zeros; the material between such runs is written as arrays, never
    starting with a zero. NaN never equals NaN, as in C++.
    """
    span = _nonzero_span(arr)
    if span is None:
        empty = np.zeros(0, dtype=np.intp)
        return _Blocks(empty, empty, np.zeros(0, dtype=np.bool_))
    a, b = span
    seg = arr[a:b]
    if mode != 20 or not _has_long_run(seg):
        return _Blocks(np.array([a]), np.array([b]), np.array([False]))
    m = seg.shape[0]
    starts = np.concatenate(([0], np.flatnonzero(seg[1:] != seg[:-1]) + 1))
    bounds = np.append(starts, m)  # run r covers bounds[r]:bounds[r + 1]
    lengths = np.diff(bounds)
    is_zero = seg[starts] == 0
    special = np.flatnonzero(np.where(is_zero, lengths > 9, lengths > 5))
    # the gaps between special runs: runs first[g]:end[g], minus a leading (short) zero run
    first = np.concatenate(([0], special + 1))
    end = np.append(special, starts.size)
    nonempty = first < end
    first[nonempty] += is_zero[first[nonempty]]
    k = special.size
    lo = np.empty(2 * k + 1, dtype=np.intp)
    hi = np.empty(2 * k + 1, dtype=np.intp)
    same = np.zeros(2 * k + 1, dtype=np.bool_)
    valid = np.empty(2 * k + 1, dtype=np.bool_)
    lo[0::2] = bounds[first]
    hi[0::2] = bounds[end]
    valid[0::2] = first < end
    lo[1::2] = starts[special]
    hi[1::2] = bounds[special + 1]
    same[1::2] = True
    valid[1::2] = ~is_zero[special]
    return _Blocks(lo[valid] + a, hi[valid] + a, same[valid])


def arr_blocks(arr: np.ndarray, mode: int) -> Iterator[tuple[int | None, np.ndarray, int]]:
    """Blocks of a compressed 1-D array: (position or None, values, repeat count).

    ``position`` is None when the block starts where the previous one ended (first block: at
    index 0). ``repeat`` > 1 means a single value written with an ``n`` counter.
    """
    table = _block_table(arr, mode)
    last = 0
    for lo, hi, same in zip(table.lo.tolist(), table.hi.tolist(), table.same.tolist(), strict=True):
        if same:
            yield (lo if lo != last else None), arr[lo : lo + 1], hi - lo
        else:
            yield (lo if lo != last else None), arr[lo:hi], 1
        last = hi


def arr_object(arr: np.ndarray, arr_type: str, mode: int, sep: str) -> str:
    """The ``{"$arr":...}`` text of a 1-D numeric array for compression ``mode`` 10/20/30."""
    head = f'{{"$arr":"{arr_type}","len":{int(arr.shape[0])}'
    if mode == 30 and arr_type in BASE64_OK:
        members, payload = _base64_members(arr)
        return (head + members).replace(",", sep) + payload
    table = _block_table(arr, 20 if mode == 30 else mode)
    text = _many_blocks(arr, arr_type, table, head) if table.lo.size > _FEW_BLOCKS else None
    if text is None:
        text = _few_blocks(arr, arr_type, table, head)
    if sep != ",":
        text = text.replace(b",", sep.encode("ascii"))
    return text.decode("ascii")


def _base64_members(arr: np.ndarray) -> tuple[str, str]:
    """The members before the base64 text, and the rest (which holds no separator)."""
    span = _nonzero_span(arr)
    if span is None:
        return ',"b":', '""}'
    a, b = span
    size = arr.dtype.itemsize
    if a * size < 5:
        a = 0
    offset = f',"o":{a * size}' if a > 0 else ""
    raw = np.ascontiguousarray(arr[a:b], dtype=arr.dtype.newbyteorder("<")).tobytes()
    return f'{offset},"b":', f'"{base64.b64encode(raw).decode("ascii")}"}}'


def _few_blocks(arr: np.ndarray, arr_type: str, table: _Blocks, head: str) -> bytes:
    """Members of a few blocks, one block at a time."""
    parts = [head.encode("ascii")]
    last = 0
    rows = zip(table.lo.tolist(), table.hi.tolist(), table.same.tolist(), strict=True)
    for idx, (lo, hi, same) in enumerate(rows):
        suffix = str(idx) if idx else ""
        member = f',"p{suffix}":{lo}' if lo != last else ""
        if same or hi - lo == 1:
            member += f',"v{suffix}":{fmt_scalar(arr[lo], arr_type)}'
            if same:
                member += f',"n{suffix}":{hi - lo}'
            parts.append(member.encode("ascii"))
        else:
            parts.append(f'{member},"v{suffix}":'.encode("ascii"))
            parts.append(number_bytes(arr[lo:hi]))
        last = hi
    parts.append(b"}")
    return b"".join(parts)


# The texts between the numbers of a many-block $arr object; the numbers are, per block:
# "p" key suffix, position, "v" key suffix, value(s), "n" key suffix, count. Block 0 has no
# key suffixes. The "]" variants close the previous block's array.
_GLUE = (b",", b',"p', b'],"p', b',"v', b'],"v', b'":', b'":[')
_GLUE0 = (b',"p":', b',"v":', b',"v":[', b',"n":', b',"n')
_G_KEEP, _G_P, _G_CLOSE_P, _G_V, _G_CLOSE_V, _G_COLON, _G_COLON_OPEN = range(7)
_G0_P, _G0_V, _G0_V_OPEN, _G0_N, _G_N = range(7, 12)
_GLUE_ALL = (*_GLUE, *_GLUE0)
_GLUE_SIZES = np.array([len(g) for g in _GLUE_ALL], dtype=np.intp)
_GLUE_ROWS = np.array([list(g.ljust(8, b" ")) for g in _GLUE_ALL], dtype=np.uint8)


def _many_blocks(arr: np.ndarray, arr_type: str, table: _Blocks, head: str) -> bytes | None:
    """Members of many blocks: all numbers in one orjson call, the key texts spliced in."""
    lo, hi, same = table
    nb = lo.size
    values = arr
    if arr_type == "Bool":
        # true/false go through the integer stream as -1/-2 (no other number is negative)
        values = np.where(arr, -1, -2)
        dtype: type[np.generic] = np.int64
    elif arr_type == "Float64":
        dtype = np.float64
    elif arr_type == "Float32":
        if arr.shape[0] >= 2**24:  # positions must stay exact in the float32 stream
            return None
        dtype = np.float32
    else:
        dtype = np.uint64 if arr_type == "Uint64" else np.int64
    block = np.arange(nb)
    keyed = block > 0
    scalar = same | (hi - lo == 1)
    at_pos = lo != np.concatenate(([0], hi[:-1]))
    nvals = np.where(scalar, 1, hi - lo)
    # tokens per block and slot: "p" suffix, position, "v" suffix, values, "n" suffix, count
    counts = np.stack([at_pos & keyed, at_pos, keyed, nvals, same & keyed, same], axis=1)
    counts = counts.astype(np.intp)
    ends = np.cumsum(counts.ravel()).reshape(nb, 6)
    first = ends - counts  # token index of each slot's first token
    stream = np.empty(int(ends[-1, -1]), dtype=dtype)
    for slot, number in ((0, block), (1, lo), (2, block), (4, block), (5, hi - lo)):
        present = counts[:, slot] > 0
        stream[first[present, slot]] = number[present]
    stream[_ranges(first[:, 3], ends[:, 3])] = values[_ranges(lo, lo + nvals)]

    # the text that replaces the comma before each slot's first token (later values keep it)
    closes = keyed & np.concatenate(([False], ~scalar[:-1]))  # after an array block
    glue = np.stack(
        [
            _G_P + (closes & at_pos),
            np.where(keyed, _G_COLON, _G0_P),
            _G_V + (closes & ~at_pos),
            np.where(keyed, _G_COLON, _G0_V) + ~scalar,
            np.full(nb, _G_N),
            np.where(keyed, _G_COLON, _G0_N),
        ],
        axis=1,
    )
    present = counts > 0
    tokens = first[present]
    gids = glue[present]

    buf = np.frombuffer(number_bytes(stream), dtype=np.uint8)[1:-1]
    where = np.flatnonzero(buf == _COMMA)[tokens[1:] - 1]  # token 0 starts the text
    body = _replace_bytes(buf, where, _GLUE_ROWS[gids[1:]], _GLUE_SIZES[gids[1:]])
    out = b"".join(
        [
            head.encode("ascii"),
            _GLUE_ALL[gids[0]],
            body.tobytes(),
            b"}" if scalar[-1] else b"]}",
        ]
    )
    if arr_type == "Bool":
        out = out.replace(b"-1", b"true").replace(b"-2", b"false")
    return out


def _replace_bytes(
    buf: np.ndarray, where: np.ndarray, rows: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """``buf`` with the byte at offset ``where[i]`` (sorted) replaced by ``rows[i, :sizes[i]]``.

    The inner loop of a many-block ``$arr`` object, where the pieces are rows of a padded
    table: piece ``i`` lands after the ``i`` pieces (``sizes[:i].sum()`` bytes) before it.
    """
    total = int(sizes.sum())
    dest = np.repeat(where - np.arange(where.size), sizes) + np.arange(total)
    out = np.empty(buf.size - where.size + total, dtype=np.uint8)
    inserted = np.zeros(out.size, dtype=np.bool_)
    inserted[dest] = True
    out[dest] = rows[np.arange(rows.shape[1]) < sizes[:, None]]
    keep = np.ones(buf.size, dtype=np.bool_)
    keep[where] = False
    out[~inserted] = buf[keep]
    return out
