"""The JSON writer behind :func:`trioserve.render.json.render_json`: one render's state
(output pieces, ``$ref`` numbering, the arrays already written) and what it does per type.

The rules it follows are the module docstring of :mod:`trioserve.render.json`; this module is
how they are applied quickly, because a monitored program pays for every render:

* exact ``None``/``bool``/``int``/``float``/``str`` values are written through
  :data:`~trioserve.render._json_text.SCALAR_TEXT`, inline in the loops over members and
  list items, without a call to ``write`` each;
* any other value takes the branch :func:`_branch` chose for its type once, remembered per
  type (:mod:`~trioserve.render._per_type`, which never remembers a proxy);
* an object's members go through the shape remembered for its key sequence
  (:mod:`~trioserve.render._members`);
* a numeric array met again in the same render (by dtype, shape and bytes) reuses its text.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trioserve.histograms import Fixed, boost_to_root, is_boost_histogram
from trioserve.render import _arr, _numbers
from trioserve.render._float_text import fmt_float
from trioserve.render._json_text import SCALAR_TEXT, fmt_str, key_order, key_table
from trioserve.render._members import (
    SHAPE_MAX_MEMBERS,
    public_items,
    write_one_by_one,
    write_shaped,
)
from trioserve.render._numbers import int_list_text, numeric_list
from trioserve.render._orjson_layout import Pieces
from trioserve.render._per_type import _by_type
from trioserve.render.introspect import _is_namedtuple, _is_opaque, public_members, typename

__all__ = ["MAX_DEPTH", "Compact", "_Writer"]

MAX_DEPTH = 150
#: numeric arrays up to this size are remembered (by contents) for the rest of a render,
#: up to this many of one dtype and shape
_SAME_ARRAY_MAX = 8192
_SAME_ARRAY_CANDIDATES = 4
#: per layout (``fmt`` 0, 1, 2-3), what starts a line at each nesting level that can occur
_NEWLINES = (
    tuple("\n" + "  " * level for level in range(MAX_DEPTH + 3)),
    ("\n",) * (MAX_DEPTH + 3),
    ("",) * (MAX_DEPTH + 3),
)
#: a Fixed object's text is kept only where the depth limit cannot cut into it
_FIXED_DEPTH = 8
#: used for the children of an object or list that sits at MAX_DEPTH: they are all ``null``
_NO_SCALARS: dict[type, Callable[[Any], str]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class Compact:
    """The decoded ``compact`` parameter."""

    fmt: int  # 0..3
    arrays: int  # 0, 10, 20 or 30
    typeinfo: bool  # write _typename


class _Writer:
    """One render: the output pieces, the object numbering of ``$ref``, the objects and
    lists being written (cycles) and the arrays already written (see the module docstring).
    """

    def __init__(self, compact: Compact) -> None:
        self.c = compact
        self.kv = ":" if compact.fmt >= 3 else " : "
        self.sep = "," if compact.fmt >= 3 else ", "
        self.keys = key_table(self.kv)
        self.out: list[str] = []
        self.count = 0
        self.memo: dict[int, tuple[int, Any]] = {}
        self.active: set[int] = set()
        self.arrays: dict[tuple[str, tuple[int, ...]], list[tuple[bytes, str | Pieces]]] = {}
        self.newlines = _NEWLINES[min(compact.fmt, 2)]
        #: large arrays' texts as ASCII buffers, each standing at a ``_BIG`` mark in ``out``
        self.big: list[Pieces] = []

    # -- output ---------------------------------------------------------------------------
    def put(self, piece: str | Pieces) -> None:
        """Append an array's text. Large ones come as bytes and stay bytes: ``out`` gets a
        mark where they go, so the render of a big array is never decoded to ``str`` and
        encoded back, and ``out`` keeps one entry per piece (``write_object`` edits its
        entries by position)."""
        if isinstance(piece, str):
            self.out.append(piece)
        else:
            self.big.append(piece)
            self.out.append(_BIG)

    def text(self) -> str:
        """The whole render as ``str``."""
        text = "".join(self.out)
        if not self.big:
            return text
        parts = text.split(_BIG)
        pieces = [parts[0]]
        for big, part in zip(self.big, parts[1:], strict=True):
            pieces += (b"".join(big).decode("ascii"), part)
        return "".join(pieces)

    def utf8(self) -> bytes:
        """The whole render as UTF-8 bytes (what a reply sends)."""
        raw = "".join(self.out).encode()
        if not self.big:
            return raw
        parts = raw.split(_BIG_BYTES)
        pieces: Pieces = [parts[0]]
        for big, part in zip(self.big, parts[1:], strict=True):
            pieces += big
            pieces.append(part)
        return b"".join(pieces)  # the one copy of the large texts

    # -- dispatch -------------------------------------------------------------------------
    def write(self, value: Any, level: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.out.append("null")
            return
        cls = type(value)
        text = SCALAR_TEXT.get(cls)
        if text is not None:
            self.out.append(text(value))
            return
        branch = _BRANCHES.get(cls)
        if branch is None:
            branch = _by_type(_BRANCHES, value, _branch)
        branch(self, value, level, depth)

    def _null(self, value: Any, level: int, depth: int) -> None:
        self.out.append("null")

    def _int(self, value: Any, level: int, depth: int) -> None:
        self.out.append(str(int(value)))

    def _enum(self, value: enum.Enum, level: int, depth: int) -> None:
        name = value.name
        self.write(name if name is not None else value.value, level, depth + 1)

    def _float(self, value: Any, level: int, depth: int) -> None:
        self.out.append(fmt_float(value))

    def _str(self, value: str, level: int, depth: int) -> None:
        self.out.append(fmt_str(value))

    def _bytes(self, value: bytes | bytearray | memoryview, level: int, depth: int) -> None:
        self.write_ndarray(np.frombuffer(bytes(value), dtype=np.uint8), level, depth)

    def _isoformat(self, value: datetime.date | datetime.time, level: int, depth: int) -> None:
        self.out.append(fmt_str(value.isoformat()))

    def _seconds(self, value: datetime.timedelta, level: int, depth: int) -> None:
        self.out.append(fmt_float(value.total_seconds()))

    def _real(self, value: decimal.Decimal | fractions.Fraction, level: int, depth: int) -> None:
        self.out.append(fmt_float(float(value)))

    def _complex(self, value: complex, level: int, depth: int) -> None:
        self.write_object(value, "complex", [("re", value.real), ("im", value.imag)], level, depth)

    def _str_of(self, value: Any, level: int, depth: int) -> None:
        self.out.append(fmt_str(str(value)))

    def _set(self, value: set[Any] | frozenset[Any], level: int, depth: int) -> None:
        try:
            items = sorted(value)
        except TypeError:
            items = list(value)
        self.write_list(items, level, depth)

    def _boost(self, value: Any, level: int, depth: int) -> None:
        rep = boost_to_root(value)
        if rep is not None:
            self.write_rep(value, rep, level, depth)
        else:  # not convertible: the branches after the boost check decide
            _generic_branch(value)(self, value, level, depth)

    def _mapping(self, value: Mapping[Any, Any], level: int, depth: int) -> None:
        own = value.get("_typename") if "_typename" in value else None
        tname = own if isinstance(own, str) and own else typename(value)
        if type(value) is dict:  # filtered by the writer as public_members() would, sooner
            self.write_object(value, tname, value, level, depth, checked=False)
        else:
            self.write_object(value, tname, None, level, depth)

    def _object(self, value: Any, level: int, depth: int) -> None:
        self.write_object(value, typename(value), None, level, depth)

    def _fixed(self, value: Fixed, level: int, depth: int) -> None:
        """A :class:`~trioserve.histograms.Fixed` object: its text for this layout and level,
        written once and then appended, counting its objects as if written again. Never a
        ``$ref`` target: it is a value, written out wherever it stands."""
        key = (self.c, level)
        keep = depth + _FIXED_DEPTH <= MAX_DEPTH
        known = value.texts.get(key) if keep else None
        if known is not None:
            self.out.append(known[0])
            self.count += known[1]
            return
        start, count, known_before = len(self.out), self.count, len(self.memo)
        self._mapping(value, level, depth)
        # neither it nor what it holds is a $ref target (written out wherever it stands)
        for key_of_inner in list(self.memo)[known_before:]:
            del self.memo[key_of_inner]
        text = "".join(self.out[start:])
        if keep and _BIG not in text and '"$ref"' not in text:
            value.texts[key] = (text, self.count - count)

    # -- objects --------------------------------------------------------------------------
    def write_object(
        self,
        src: Any,
        tname: str,
        members: dict[Any, Any] | list[tuple[str, Any]] | None,
        level: int,
        depth: int,
        *,
        checked: bool = True,
    ) -> None:
        """Write ``src`` as an object numbered for ``$ref``: ``_typename``, then ``members``.

        ``members`` None means ``public_members(src)``, read only after the ``$ref`` check
        (reading runs listed properties). ``checked=False``: a plain dict whose names and
        values are still to be filtered as :func:`public_members` filters a mapping's.
        """
        out = self.out
        ref = self.memo.get(id(src))
        if ref is not None:
            out.append(f'{{"$ref":{ref[0]}}}')
            return
        # keep src alive while rendering so its id cannot be reused by a temporary
        self.memo[id(src)] = (self.count, src)
        self.count += 1
        if members is None:
            members = public_members(src)
        elif not checked:
            members = members.copy()  # a snapshot, taken at once
        lvl, child = level + 1, depth + 1
        inner = self.newlines[lvl]
        lead = "," + inner
        if self.c.typeinfo:  # "_typename" always comes first
            out.append("{" + inner + '"_typename"' + self.kv)
            text = SCALAR_TEXT.get(type(tname)) if child <= MAX_DEPTH else None
            if text is not None:
                out.append(text(tname))
            else:
                self.write(tname, lvl, child)
        else:
            out.append("{")
        start = len(out)
        if isinstance(members, dict) and len(members) <= SHAPE_MAX_MEMBERS and child <= MAX_DEPTH:
            keys, values = tuple(members), tuple(members.values())
            write_shaped(out, self.write, keys, values, lead, self.kv, lvl, child)
        else:
            items = list(members.items()) if isinstance(members, dict) else members
            if not checked:
                items = public_items(items, self.keys)
            scalars = SCALAR_TEXT if child <= MAX_DEPTH else _NO_SCALARS
            write_one_by_one(out, self.write, key_order(items), lead, self.kv, scalars, lvl, child)
        if not self.c.typeinfo:
            if len(out) == start:
                out[-1] = "{}"
                return
            out[start] = out[start][1:]  # the first member has no comma before it
        out.append(self.newlines[level] + "}")

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
            if type(rep) is dict:
                self.write_object(value, tname, rep, level, depth, checked=False)
            else:
                items = public_items(rep.items(), self.keys)
                self.write_object(value, tname, items, level, depth)
        else:
            self.write(rep, level, depth + 1)

    # -- arrays ---------------------------------------------------------------------------
    def write_list(self, value: Any, level: int, depth: int) -> None:
        key = id(value)
        if key in self.active:
            self.out.append("null")
            return
        if not value and (type(value) is list or type(value) is tuple):
            self.out.append("[]")  # (ROOT's objects hold many empty arrays)
            return
        if len(value) >= _arr.MIN_COMPRESS or self.c.arrays == 30:
            types = set(map(type, value))
            if types == {int} and not self.c.arrays:
                plain = int_list_text(value)
                if plain is not None:
                    self.out.append(plain if self.sep == "," else plain.replace(",", self.sep))
                    return
            arr = numeric_list(value, types)
            if arr is not None:
                self.write_ndarray(arr, level, depth)
                return
        self.active.add(key)
        try:
            out = self.out
            out.append("[")
            child = depth + 1
            scalars = SCALAR_TEXT if child <= MAX_DEPTH else _NO_SCALARS
            write, sep = self.write, self.sep
            first = True
            for item in value:
                if first:
                    first = False
                else:
                    out.append(sep)
                text = scalars.get(type(item))
                if text is not None:
                    out.append(text(item))
                else:
                    write(item, level, child)
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
        if data.size > _SAME_ARRAY_MAX:
            self.put(_arr.array_piece(data, arr_type, self.c.arrays, self.sep))
            return
        # the same numbers again in this render (a histogram filled without weights has
        # fSumw2 equal to fArray): the same text, written once. The bytes are a snapshot,
        # compared (not hashed) with those of the arrays of the same dtype and shape.
        raw = data.tobytes()
        seen = self.arrays.setdefault((data.dtype.str, data.shape), [])
        for other, known in seen:
            if other == raw:
                self.put(known)
                return
        text = _arr.array_piece(data, arr_type, self.c.arrays, self.sep)
        if len(seen) < _SAME_ARRAY_CANDIDATES:
            seen.append((raw, text))
        self.put(text)

    def write_npscalar(self, value: np.generic, level: int, depth: int) -> None:
        if isinstance(value, np.floating) and value.dtype.itemsize < 8:
            self.out.append(fmt_float(float(str(np.float32(value)))))
        elif isinstance(value, np.datetime64):
            self.out.append(fmt_str(str(np.datetime_as_string(value))))
        else:
            self.write(value.item(), level, depth + 1)


#: where a large array's bytes go in ``_Writer.out``: JSON text never holds a raw NUL (strings
#: escape it as ``\\u0000``), so the mark cannot be confused with rendered text
_BIG = "\0"
_BIG_BYTES = _BIG.encode()

_Branch = Callable[[_Writer, Any, int, int], None]
#: what ``_Writer.write`` does with values of a type (filled by :func:`_branch`)
_BRANCHES: dict[type, _Branch] = {}


def _branch(value: Any) -> _Branch:
    """The branch ``write`` takes for ``value``; it depends on the type alone.

    The order of the checks is the rule (a ``str`` subclass that is also callable is a
    string, an ``IntEnum`` is an integer). ``None``, ``bool`` and the exact scalar types never
    get here (:data:`SCALAR_TEXT`).
    """
    w = _Writer
    if value is None:
        return w._null
    if isinstance(value, enum.Enum):
        return w._int if isinstance(value, int) else w._enum
    if isinstance(value, int):  # bool: True/False are always exactly bool, never here
        return w._int
    if isinstance(value, float):
        return w._float
    if isinstance(value, str):
        return w._str
    if isinstance(value, (bytes, bytearray, memoryview)):
        return w._bytes
    if isinstance(value, np.ndarray):
        return w.write_ndarray
    if isinstance(value, np.generic):
        return w.write_npscalar
    if isinstance(value, (datetime.date, datetime.time)):
        return w._isoformat
    if isinstance(value, datetime.timedelta):
        return w._seconds
    if isinstance(value, (decimal.Decimal, fractions.Fraction)):
        return w._real
    if isinstance(value, complex):
        return w._complex
    if isinstance(value, (uuid.UUID, pathlib.PurePath)):
        return w._str_of
    if isinstance(value, (set, frozenset)):
        return w._set
    if isinstance(value, Fixed):
        return w._fixed
    if _is_opaque(value):
        return w._null
    if callable(getattr(type(value), "__trioserve_json__", None)):
        return w.write_protocol
    if is_boost_histogram(value):
        return w._boost  # its conversion may still decline: then _generic_branch
    return _generic_branch(value)


def _generic_branch(value: Any) -> _Branch:
    if isinstance(value, Mapping):
        return _Writer._mapping
    if isinstance(value, (list, tuple)) and not _is_namedtuple(value):
        return _Writer.write_list
    return _Writer._object
