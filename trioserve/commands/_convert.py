"""URL text to a typed Python value, by the parameter's annotation: :func:`convert`.

The one rule that keeps ``exe.*``/``cmd.json`` from being ROOT's code-pasting: a value is
parsed as the annotation says or refused, never evaluated. Annotations are resolved with
:func:`typing.get_type_hints` by the caller; the mapping is:

* ``str`` (or none), ``int`` (decimal), ``float``, ``bool`` (``1/0/true/false/yes/no/on/off``,
  ROOT's ``kTRUE/kFALSE``), ``bytes`` (UTF-8), ``Enum`` subclasses (by member name, then by
  value);
* ``Literal[...]``, ``X | None`` (``""``/``null``/``None`` give ``None``), unions tried in order;
* ``list[X]``/``tuple[X, ...]``/``tuple[X, Y]``/``set[X]`` from comma lists or a JSON array.

Any other annotation cannot come from a URL: :class:`_Unconvertible` (a 400 at the call, a
``TypeError`` at registration), unless the caller takes the value from the POST body instead.
A value that does not parse is a ``ValueError`` with a short reason the caller puts in its 400.
"""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

_TRUE = frozenset({"1", "true", "yes", "on", "ktrue"})
_FALSE = frozenset({"0", "false", "no", "off", "kfalse"})
_NONE = frozenset({"", "null", "none"})


class _Unconvertible(Exception):
    """An annotation no URL text can produce (raised at registration or at the call)."""


def _describe(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "str"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def _convert_scalar(annotation: Any, text: str) -> Any:
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is str:
        return text
    if annotation is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _convert_enum(annotation, text)
    if annotation is int:
        stripped = text.strip()
        body = stripped[1:] if stripped[:1] in "+-" else stripped
        if not (body.isascii() and body.isdigit()):
            raise ValueError("expected a decimal integer")
        return int(stripped)
    if annotation is float:
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if annotation is bytes:
        return text.encode("utf-8")
    raise _Unconvertible(f"type {_describe(annotation)} cannot be given in a URL")


def _convert_enum(cls: type[enum.Enum], text: str) -> enum.Enum:
    stripped = text.strip()
    member = cls.__members__.get(stripped)
    if member is not None:
        return member
    for member in cls:
        if str(member.value) == stripped:
            return member
    names = ", ".join(cls.__members__)
    raise ValueError(f"expected one of {names}")


def _split_list(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise ValueError("expected a comma list or a JSON array") from None
        if not isinstance(data, list):
            raise ValueError("expected a comma list or a JSON array")
        return [item if isinstance(item, str) else json.dumps(item) for item in data]
    if not stripped:
        return []
    return [part.strip() for part in stripped.split(",")]


def convert(annotation: Any, text: str) -> Any:
    """URL text -> a value of ``annotation``; ``ValueError`` (with a short reason) or
    ``_Unconvertible`` when it cannot be."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        for choice in args:
            try:
                value = convert(type(choice), text)
            except (ValueError, _Unconvertible):
                continue
            if value == choice and type(value) is type(choice):
                return value
        raise ValueError("expected one of " + ", ".join(repr(c) for c in args))
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        if len(options) < len(args) and text.strip().lower() in _NONE:
            return None
        reasons = []
        for option in options:
            try:
                return convert(option, text)
            except ValueError as exc:
                reasons.append(str(exc))
        if not reasons:
            raise _Unconvertible(f"type {_describe(annotation)} cannot be given in a URL")
        raise ValueError(" or ".join(reasons))
    if origin in (list, tuple, set, frozenset, Sequence, Iterable):
        parts = _split_list(text)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(parts) != len(args):
                raise ValueError(f"expected {len(args)} comma-separated values")
            return tuple(convert(a, p) for a, p in zip(args, parts, strict=True))
        item = args[0] if args else str
        values = [convert(item, p) for p in parts]
        if origin in (tuple, Sequence, Iterable):
            return tuple(values) if origin is tuple else values
        return origin(values) if origin in (set, frozenset) else values
    if annotation in (list, tuple, set):
        return annotation(_split_list(text))
    if isinstance(annotation, str):
        raise _Unconvertible(f"annotation {annotation!r} cannot be resolved")
    return _convert_scalar(annotation, text)
