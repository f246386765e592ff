"""The text of JSON leaves as ROOT writes them: strings, member keys, and plain scalars.

Most of what a typical object renders is member names and short strings, numbers and flags,
so these are written without the writer's general dispatch:

* :data:`SCALAR_TEXT` maps the *exact* types ``None``, ``bool``, ``int``, ``float`` and
  ``str`` to their text (subclasses — ``IntEnum``, a ``str`` subclass — take the general
  path, whose rules can differ). Instances of these builtin types cannot claim another
  ``__class__``, so the type alone decides.
* member keys are quoted once and remembered (bounded), for objects written member by
  member (those too large for a remembered shape, :mod:`~trioserve.render._members`). Only
  exact ``str`` public names that are not array indices are remembered, so "remembered" also
  answers :func:`key_order`'s question, and "is this name public", cheaply.
"""

from __future__ import annotations

import json as _stdjson
import re
from collections.abc import Callable
from typing import Any

from trioserve.render._float_text import fmt_exact_float

__all__ = ["SCALAR_TEXT", "fmt_str", "is_array_index", "key_order", "key_table", "key_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")

#: the C string quoter behind ``json.dumps(s, ensure_ascii=False)``, without its per-call
#: Python overhead (strings are most of what a typical object renders)
_encode_basestring = getattr(_stdjson.encoder, "c_encode_basestring", None) or (
    _stdjson.encoder.py_encode_basestring
)


def fmt_str(s: str) -> str:
    """A JSON string literal: valid UTF-8, ``/`` escaped, JS line separators escaped."""
    if type(s) is str and s.isascii():  # no surrogates, no line separators
        text = _encode_basestring(s)
        return text.replace("/", "\\/") if "/" in text else text
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


SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    type(None): {None: "null"}.__getitem__,
    bool: {True: "true", False: "false"}.__getitem__,
    int: int.__repr__,
    float: fmt_exact_float,
    str: fmt_str,
}

#: quoted member keys, one table per key-value separator (``":"`` or ``" : "``)
_KEY_TEXT: dict[str, dict[str, str]] = {":": {}, " : ": {}}
_KEY_CACHE_SIZE = 4096
_KEY_CACHE_LENGTH = 200


def key_text(key: str, kv: str) -> str:
    """``"key"`` followed by ``kv``, remembered for exact ``str`` keys that are no index."""
    text = fmt_str(key) + kv
    cache = _KEY_TEXT[kv]
    if (
        type(key) is str
        and 0 < len(key) <= _KEY_CACHE_LENGTH
        and key[0] not in "_$"  # public names only: the writer's filter trusts the table
        and len(cache) < _KEY_CACHE_SIZE
        and not is_array_index(key)
    ):
        cache[key] = text
    return text


def key_table(kv: str) -> dict[str, str]:
    """The remembered keys for separator ``kv`` (read directly by the writer's loop)."""
    return _KEY_TEXT[kv]


def key_order(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Integer-like keys first, ascending, as JavaScript enumerates them."""
    known = _KEY_TEXT[":"]
    spaced = _KEY_TEXT[" : "]
    for k, _ in items:
        if type(k) is str and (k in known or k in spaced):
            continue
        if is_array_index(k):
            break
    else:
        return items
    ints = [(k, v) for k, v in items if is_array_index(k)]
    ints.sort(key=lambda kv: int(kv[0]))
    return ints + [(k, v) for k, v in items if not is_array_index(k)]


def is_array_index(key: str) -> bool:
    return (
        key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 4294967295
    )
