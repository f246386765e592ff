"""Python objects as ROOT-style JSON: the dialect of TBufferJSON that JSROOT reads.

``render_json(obj, compact=0)`` is what ``root.json?compact=N`` answers (ROOT's
``TBufferJSON::ToJSON``). Sans-IO and pure: no Trio, no sockets.

The ``compact`` number, digit by digit (as ``TBufferJSON::SetCompact``):

* units — 0: newline before every member, 2-space indent per object level, ``" : "``;
  1: newlines, no indentation; 2: no newlines; 3: no spaces at all (``:`` and ``,``).
  Members are separated by ``,`` (+ newline for 0/1); array elements by ``", "`` (``","`` for
  3); arrays are always written on one line. Digits 5..9 mean the same as 0..4 (ROOT's
  map-as-object flag; our dicts are always objects).
* tens — 0: plain arrays; 10: zero suppression; 20: same-value suppression; 30: base64
  (see :mod:`trioserve.render._numbers`); other values behave like 10, as in ROOT. Applies to
  numeric arrays of at least 6 elements (numpy arrays, bytes, and lists made only of ints, only
  of floats/ints, or only of bools); N-D arrays are nested lists whose innermost rows are
  compressed, as ROOT does for multi-dimensional members.
* hundreds — 100: no ``_typename`` anywhere (not readable back by JSROOT).

Objects
  Every JSON object starts with ``"_typename"`` (:func:`~trioserve.render.introspect.typename`).
  Dataclasses, plain objects, namedtuples and dicts become objects holding exactly their
  :func:`~trioserve.render.introspect.public_members` (nothing starting with ``_`` or ``$``).
  A dict's own ``"_typename"`` string, if it has one, is used as its type name (this is how
  ``__trioserve_json__`` output names nested objects such as a ``TAxis``). Integer-like keys
  are written first in ascending order because JavaScript enumerates them first: that keeps
  our object numbering equal to JSROOT's (below).

References (``$ref``)
  JSROOT's ``parse`` numbers *every* JSON object it meets, depth-first in key order, starting
  with the top object as 0, except ``$ref``, ``$arr`` and ``$pair`` objects (read in JSROOT
  7.11 core.mjs and checked with its ``parse``); ROOT's writer numbers objects the same way
  (``fJsonrCnt``). We count identically, and when the same Python object (by identity) comes
  again — repeated or a cycle — write ``{"$ref":N}`` with N its number. Lists are JSON arrays,
  which JSROOT cannot reference: a repeated list is written again, and a list that contains
  itself is written as ``null`` at the point of recursion. Nesting deeper than
  ``MAX_DEPTH`` is cut with ``null`` rather than overflowing the stack.

Scalars
  ``None`` → ``null``; bool; int; float (see ``_numbers.fmt_float``: ``1`` for 1.0, NaN →
  ``null``, ±Inf → ``±2e308``, what ROOT writes); ``str`` → valid UTF-8 JSON string with ``/``
  written as ``\\/`` (as ROOT does; so ``</script>`` can never appear), U+2028/U+2029 escaped,
  lone surrogates replaced by U+FFFD; ``bytes``/``bytearray``/``memoryview`` → a ``Uint8``
  numeric array (plain, or ``$arr``/base64 per the tens digit; JSROOT turns it into a
  Uint8Array); ``IntEnum``/``IntFlag`` → their integer, other ``Enum`` → member name;
  ``datetime``/``date``/``time`` → ISO 8601 string; ``timedelta`` → seconds; ``Decimal`` /
  ``Fraction`` → number; ``complex`` → ``{"_typename":"complex","re":..,"im":..}``; UUID and
  paths → string; sets → arrays (sorted when sortable); numpy scalars like their Python value;
  modules, classes, functions and other callables → ``null`` (never traversed).

Custom representation protocol
  A class may define ``__trioserve_json__(self) -> object`` returning a JSON-able structure
  (dicts, lists, numbers, strings, numpy arrays, other objects — rendered by these same rules).
  If it returns a dict, that dict stands for the object: it gets the object's ``$ref`` number,
  its ``"_typename"`` entry (if a string) or else ``typename(obj)``, and its other ``_`` keys
  are dropped. Our histograms use it to produce ``TH1D``/``TH2D``/``TProfile``/``TGraph``.
  The protocol is called on every render, so it should be cheap and must not mutate.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import json as _stdjson
import pathlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from trioserve.histograms import boost_to_root, is_boost_histogram
from trioserve.render import _numbers
from trioserve.render.introspect import (
    _is_namedtuple,
    _is_opaque,
    is_public_name,
    public_members,
    typename,
)

__all__ = ["MAX_DEPTH", "parse_compact", "render_json"]

MAX_DEPTH = 150
_LIST_MIN_COMPRESS = 6

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclasses.dataclass(frozen=True, slots=True)
class Compact:
    """The decoded ``compact`` parameter."""

    fmt: int  # 0..3
    arrays: int  # 0, 10, 20 or 30
    typeinfo: bool  # write _typename


def parse_compact(compact: int) -> Compact:
    """Decode ``compact`` like ``TBufferJSON::SetCompact`` (negative → 0)."""
    level = max(int(compact), 0)
    fmt = level % 10
    if fmt >= 5:
        fmt -= 5
    fmt = min(fmt, 3)
    arrays = (level // 10) % 10 * 10
    if arrays > 30:
        arrays = 10
    return Compact(fmt=fmt, arrays=arrays, typeinfo=(level // 100) % 10 != 1)


#: the C string quoter behind ``json.dumps(s, ensure_ascii=False)``, without its per-call
#: Python overhead (strings are most of what a typical object renders)
_encode_basestring = getattr(_stdjson.encoder, "c_encode_basestring", None) or (
    _stdjson.encoder.py_encode_basestring
)


def fmt_str(s: str) -> str:
    """A JSON string literal: valid UTF-8, ``/`` escaped, JS line separators escaped."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = _SURROGATE.sub("\ufffd", s)
    text = _encode_basestring(s)
    if "/" in text:
        text = text.replace("/", "\\/")
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def _key_order(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Integer-like keys first, ascending, as JavaScript enumerates them."""
    ints = [(k, v) for k, v in items if _is_array_index(k)]
    if not ints:
        return items
    ints.sort(key=lambda kv: int(kv[0]))
    return ints + [(k, v) for k, v in items if not _is_array_index(k)]


def _is_array_index(key: str) -> bool:
    return (
        key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 4294967295
    )


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


def _int_list_text(value: list[int] | tuple[int, ...]) -> str | None:
    """A plain list of ints straight through orjson: the text numpy would give, sooner."""
    try:
        return orjson.dumps(value).decode("ascii")
    except orjson.JSONEncodeError:  # an int beyond 64 bits: written one by one
        return None


class _Writer:
    def __init__(self, compact: Compact) -> None:
        self.c = compact
        self.kv = ":" if compact.fmt >= 3 else " : "
        self.sep = "," if compact.fmt >= 3 else ", "
        self.out: list[str] = []
        self.count = 0
        self.memo: dict[int, tuple[int, Any]] = {}
        self.active: set[int] = set()

    def nl(self, level: int) -> str:
        if self.c.fmt == 0:
            return "\n" + "  " * level
        if self.c.fmt == 1:
            return "\n"
        return ""

    # -- dispatch -------------------------------------------------------------------------
    def write(self, value: Any, level: int, depth: int) -> None:
        out = self.out
        if depth > MAX_DEPTH:
            out.append("null")
            return
        if value is None:
            out.append("null")
        elif value is True:
            out.append("true")
        elif value is False:
            out.append("false")
        elif isinstance(value, enum.Enum):
            if isinstance(value, int):
                out.append(str(int(value)))
            else:
                name = value.name
                self.write(name if name is not None else value.value, level, depth + 1)
        elif isinstance(value, int):
            out.append(str(int(value)))
        elif isinstance(value, float):
            out.append(_numbers.fmt_float(value))
        elif isinstance(value, str):
            out.append(fmt_str(value))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self.write_ndarray(np.frombuffer(bytes(value), dtype=np.uint8), level, depth)
        elif isinstance(value, np.ndarray):
            self.write_ndarray(value, level, depth)
        elif isinstance(value, np.generic):
            self.write_npscalar(value, level, depth)
        elif isinstance(value, (datetime.date, datetime.time)):
            out.append(fmt_str(value.isoformat()))
        elif isinstance(value, datetime.timedelta):
            out.append(_numbers.fmt_float(value.total_seconds()))
        elif isinstance(value, (decimal.Decimal, fractions.Fraction)):
            out.append(_numbers.fmt_float(float(value)))
        elif isinstance(value, complex):
            self.write_object(
                value, "complex", [("re", value.real), ("im", value.imag)], level, depth
            )
        elif isinstance(value, (uuid.UUID, pathlib.PurePath)):
            out.append(fmt_str(str(value)))
        elif isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except TypeError:
                items = list(value)
            self.write_list(items, level, depth)
        elif _is_opaque(value):
            out.append("null")
        elif callable(getattr(type(value), "__trioserve_json__", None)):
            self.write_protocol(value, level, depth)
        elif is_boost_histogram(value) and (rep := boost_to_root(value)) is not None:
            self.write_rep(value, rep, level, depth)
        elif isinstance(value, Mapping):
            own = value.get("_typename") if "_typename" in value else None
            tname = own if isinstance(own, str) and own else typename(value)
            self.write_object(value, tname, None, level, depth)
        elif isinstance(value, (list, tuple)) and not _is_namedtuple(value):
            self.write_list(value, level, depth)
        else:
            self.write_object(value, typename(value), None, level, depth)

    # -- objects --------------------------------------------------------------------------
    def write_object(
        self,
        src: Any,
        tname: str,
        items: list[tuple[str, Any]] | None,
        level: int,
        depth: int,
    ) -> None:
        out = self.out
        ref = self.memo.get(id(src))
        if ref is not None:
            out.append(f'{{"$ref":{ref[0]}}}')
            return
        # keep src alive while rendering so its id cannot be reused by a temporary
        self.memo[id(src)] = (self.count, src)
        self.count += 1
        if items is None:
            items = list(public_members(src).items())
        items = _key_order(items)
        fields: list[tuple[str, Any]] = []
        if self.c.typeinfo:
            fields.append(("_typename", tname))
        fields.extend(items)
        if not fields:
            out.append("{}")
            return
        out.append("{")
        inner = self.nl(level + 1)
        for i, (key, value) in enumerate(fields):
            if i:
                out.append(",")
            out.append(inner)
            out.append(fmt_str(key))
            out.append(self.kv)
            self.write(value, level + 1, depth + 1)
        out.append(self.nl(level))
        out.append("}")

    def write_protocol(self, value: Any, level: int, depth: int) -> None:
        key = id(value)
        ref = self.memo.get(key)
        if ref is not None:
            self.out.append(f'{{"$ref":{ref[0]}}}')
            return
        if key in self.active:
            self.out.append("null")
            return
        self.active.add(key)
        try:
            self.write_rep(value, value.__trioserve_json__(), level, depth)
        finally:
            self.active.discard(key)

    def write_rep(self, value: Any, rep: Any, level: int, depth: int) -> None:
        """Write ``rep`` (a custom representation) in place of ``value``."""
        if isinstance(rep, Mapping):
            own = rep.get("_typename")
            tname = own if isinstance(own, str) and own else typename(value)
            items = [(k, v) for k, v in rep.items() if is_public_name(k) and not _is_opaque(v)]
            self.write_object(value, tname, items, level, depth)
        else:
            self.write(rep, level, depth + 1)

    # -- arrays ---------------------------------------------------------------------------
    def write_list(self, value: Any, level: int, depth: int) -> None:
        key = id(value)
        if key in self.active:
            self.out.append("null")
            return
        if len(value) >= _LIST_MIN_COMPRESS or self.c.arrays == 30:
            types = set(map(type, value))
            if types == {int} and not self.c.arrays:
                text = _int_list_text(value)
                if text is not None:
                    self.out.append(text if self.sep == "," else text.replace(",", self.sep))
                    return
            arr = numeric_list(value, types)
            if arr is not None:
                self.write_ndarray(arr, level, depth)
                return
        self.active.add(key)
        try:
            out = self.out
            out.append("[")
            for i, item in enumerate(value):
                if i:
                    out.append(self.sep)
                self.write(item, level, depth + 1)
            out.append("]")
        finally:
            self.active.discard(key)

    def write_ndarray(self, arr: np.ndarray, level: int, depth: int) -> None:
        if arr.ndim == 0:
            self.write_npscalar(arr.reshape(1)[0], level, depth)
            return
        kind = arr.dtype.kind
        if kind == "M":
            self.write_list(np.datetime_as_string(arr).tolist(), level, depth)
            return
        if kind == "m":
            self.write_ndarray(arr / np.timedelta64(1, "s"), level, depth)
            return
        view = _numbers.numeric_view(arr)
        if view is None:
            self.write_list(arr.tolist(), level, depth)
            return
        data, arr_type = view
        if self.c.arrays == 0 or data.size == 0:
            self.out.append(_numbers.join_numbers(data, self.sep))
            return
        self.out.append(self._compressed(data, arr_type))

    def _compressed(self, data: np.ndarray, arr_type: str) -> str:
        if data.shape[-1] < _LIST_MIN_COMPRESS and self.c.arrays != 30:
            # rows too short to compress: the whole array is plain (one call, not one per row)
            return _numbers.join_numbers(data, self.sep)
        if data.ndim > 1:
            rows = [self._compressed(row, arr_type) for row in data]
            return "[" + self.sep.join(rows) + "]"
        return _numbers.arr_object(data, arr_type, self.c.arrays, self.sep)

    def write_npscalar(self, value: np.generic, level: int, depth: int) -> None:
        if isinstance(value, np.floating) and value.dtype.itemsize < 8:
            self.out.append(_numbers.fmt_float(float(str(np.float32(value)))))
        elif isinstance(value, np.datetime64):
            self.out.append(fmt_str(str(np.datetime_as_string(value))))
        else:
            self.write(value.item(), level, depth + 1)


def render_json(obj: object, compact: int = 0) -> str:
    """``obj`` as ROOT-style JSON text (see the module docstring for every rule)."""
    writer = _Writer(parse_compact(compact))
    writer.write(obj, 0, 0)
    return "".join(writer.out)
