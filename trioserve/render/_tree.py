"""The object model shared by the CBOR and XML renderers, as a plain Python tree.

``to_tree(obj)`` applies exactly the JSON renderer's rules (same public members, same
``_typename``, same ``__trioserve_json__`` protocol, same histogram conversion, same object
numbering and ``{"$ref": N}`` for repeats and cycles — see :mod:`trioserve.render.json`) and
returns dicts (objects, ``_typename`` first), lists, str, int, float, bool, None, ``bytes`` and
numeric numpy arrays (left as arrays so each format can encode them natively).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from trioserve.histograms import boost_to_root, is_boost_histogram
from trioserve.render import _numbers
from trioserve.render._json_text import key_order
from trioserve.render.introspect import _is_namedtuple, _is_opaque, is_public_name, typename
from trioserve.render.introspect import public_members as _public_members
from trioserve.render.json import MAX_DEPTH

__all__ = ["to_tree"]


class _Builder:
    def __init__(self) -> None:
        self.count = 0
        self.memo: dict[int, tuple[int, Any]] = {}
        self.active: set[int] = set()

    def build(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH or value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, enum.Enum):
            if isinstance(value, int):
                return int(value)
            return value.name if value.name is not None else self.build(value.value, depth + 1)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, np.ndarray):
            return self.array(value, depth)
        if isinstance(value, np.generic):
            if isinstance(value, np.datetime64):
                return str(np.datetime_as_string(value))
            return self.build(value.item(), depth + 1)
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, datetime.timedelta):
            return value.total_seconds()
        if isinstance(value, (decimal.Decimal, fractions.Fraction)):
            return float(value)
        if isinstance(value, complex):
            return self.obj(value, "complex", [("re", value.real), ("im", value.imag)], depth)
        if isinstance(value, (uuid.UUID, pathlib.PurePath)):
            return str(value)
        if isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except TypeError:
                items = list(value)
            return self.seq(items, depth)
        if _is_opaque(value):
            return None
        if callable(getattr(type(value), "__trioserve_json__", None)):
            return self.protocol(value, depth)
        if is_boost_histogram(value):
            rep = boost_to_root(value)
            if rep is not None:
                return self.rep(value, rep, depth)
        if isinstance(value, Mapping):
            own = value.get("_typename") if "_typename" in value else None
            return self.obj(
                value, own if isinstance(own, str) and own else typename(value), None, depth
            )
        if isinstance(value, (list, tuple)) and not _is_namedtuple(value):
            return self.seq(value, depth)
        return self.obj(value, typename(value), None, depth)

    def obj(self, src: Any, tname: str, items: list[tuple[str, Any]] | None, depth: int) -> Any:
        ref = self.memo.get(id(src))
        if ref is not None:
            return {"$ref": ref[0]}
        self.memo[id(src)] = (self.count, src)
        self.count += 1
        if items is None:
            items = list(_public_members(src).items())
        out: dict[str, Any] = {"_typename": tname}
        for key, value in key_order(items):
            out[key] = self.build(value, depth + 1)
        return out

    def protocol(self, value: Any, depth: int) -> Any:
        key = id(value)
        ref = self.memo.get(key)
        if ref is not None:
            return {"$ref": ref[0]}
        if key in self.active:
            return None
        self.active.add(key)
        try:
            return self.rep(value, value.__trioserve_json__(), depth)
        finally:
            self.active.discard(key)

    def rep(self, value: Any, rep: Any, depth: int) -> Any:
        if isinstance(rep, Mapping):
            own = rep.get("_typename")
            tname = own if isinstance(own, str) and own else typename(value)
            items = [(k, v) for k, v in rep.items() if is_public_name(k) and not _is_opaque(v)]
            return self.obj(value, tname, items, depth)
        return self.build(rep, depth + 1)

    def seq(self, value: Any, depth: int) -> Any:
        key = id(value)
        if key in self.active:
            return None
        self.active.add(key)
        try:
            return [self.build(v, depth + 1) for v in value]
        finally:
            self.active.discard(key)

    def array(self, arr: np.ndarray, depth: int) -> Any:
        if arr.ndim == 0:
            return self.build(arr[()], depth + 1)
        kind = arr.dtype.kind
        if kind == "M":
            return np.datetime_as_string(arr).tolist()
        if kind == "m":
            return self.array(arr / np.timedelta64(1, "s"), depth)
        view = _numbers.numeric_view(arr)
        if view is None:
            return self.seq(arr.tolist(), depth)
        data, _ = view
        return data


def to_tree(obj: object) -> Any:
    """``obj`` as a plain tree following the JSON renderer's object model."""
    return _Builder().build(obj, 0)
