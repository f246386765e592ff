"""The member texts of an object, remembered per key sequence (its *shape*).

An object of a given class — and every ``TH1``, ``TAxis`` and ``TList`` a histogram renders
as — has the same member names in the same order at every render, and most of its values are
the very same objects as last time (constants, attributes that did not change). So for each
key sequence the JSON writer remembers (bounded):

* which members are written, in which order: public names only, integer-like keys first in
  ascending order as JavaScript enumerates them (:func:`~trioserve.render._json_text.key_order`);
* the text in front of each value: separator, indentation, quoted key and ``:``;
* for values of the immutable builtin types (exact ``None``, ``bool``, ``int``, ``float``,
  short ``str``) seen when the shape was made: that value and the whole member text.

A later render reuses a whole member text when its value *is* the remembered object. Identity,
not equality: ``1``, ``1.0`` and ``True`` are equal but written differently. The shape keeps
the value alive, so its identity cannot pass to another object. Everything else (opaque
values left out, nested objects, arrays) is decided at each render, exactly as before.

Shapes are looked up by the tuple of keys, which compares equal keys as equal: a ``str``
subclass whose ``__eq__`` claims equality with another string would be written with the other
string's text (such a key cannot be told apart by a dict either). Keys that are not exact
``str`` (a dict's ``1``, ``2.5``, ``(run, lumi)``) are written under the names
:func:`~trioserve.render.introspect.mapping_keys` gives them, and their shapes are not
remembered: ``1``, ``1.0`` and ``True`` are equal keys with different names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, NamedTuple

from trioserve.render._json_text import SCALAR_TEXT, fmt_str, is_array_index, key_table, key_text
from trioserve.render.introspect import _is_opaque, is_public_name, mapping_keys

__all__ = [
    "SHAPE_MAX_MEMBERS",
    "Shape",
    "public_items",
    "shape_of",
    "write_one_by_one",
    "write_shaped",
]

#: how the writer writes a value: ``write(value, level, depth)``
Write = Callable[[Any, int, int], None]

#: objects with more members than this are written member by member (and not remembered)
SHAPE_MAX_MEMBERS = 64
_SHAPES_PER_LAYOUT = 2048
_LAYOUTS = 64
#: longest member text (key and value) remembered whole
_WHOLE_MAX = 200

_NOTHING = object()  # no remembered value: never the same object as a value


class Shape(NamedTuple):
    """How the members of objects with one key sequence are written, in one layout."""

    select: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None  # values written, in order
    heads: tuple[str, ...]  # what precedes each value: ",", indentation, key, ":"
    seen: tuple[Any, ...]  # the value each whole text was made from (or _NOTHING)
    whole: tuple[str, ...]  # head + that value's text


_SHAPES: dict[tuple[str, str], dict[tuple[Any, ...], Shape]] = {}


def shape_of(keys: tuple[Any, ...], values: tuple[Any, ...], lead: str, kv: str) -> Shape:
    """The shape for ``keys`` with members separated by ``lead`` and keys ended by ``kv``.

    ``values`` (one per key) are the ones being written; made into a new shape's
    remembered values when ``keys`` is seen for the first time.
    """
    table = _SHAPES.get((lead, kv))
    if table is None:
        table = {}
        if len(_SHAPES) < _LAYOUTS:
            _SHAPES[(lead, kv)] = table
    known = table.get(keys)
    if known is not None:
        return known
    plain = all(type(key) is str for key in keys)
    made = _make(keys, values, lead, kv, plain)
    if plain and len(table) < _SHAPES_PER_LAYOUT:
        table[keys] = made
    return made


def _make(
    keys: tuple[Any, ...], values: tuple[Any, ...], lead: str, kv: str, plain: bool = True
) -> Shape:
    names: tuple[Any, ...] = keys if plain else tuple(mapping_keys(list(keys)))
    picks = [i for i, name in enumerate(names) if is_public_name(name)]
    indices = [i for i in picks if is_array_index(names[i])]
    if indices:
        indices.sort(key=lambda i: int(names[i]))
        picks = indices + [i for i in picks if not is_array_index(names[i])]
    heads = tuple(lead + fmt_str(names[i]) + kv for i in picks)
    seen: list[Any] = []
    whole: list[str] = []
    for i, head in zip(picks, heads, strict=True):
        value = values[i]
        text = SCALAR_TEXT.get(type(value))
        member = head + text(value) if text is not None else ""
        if member and len(member) <= _WHOLE_MAX:
            seen.append(value)
            whole.append(member)
        else:
            seen.append(_NOTHING)
            whole.append("")
    return Shape(_selector(picks, len(keys)), heads, tuple(seen), tuple(whole))


def _selector(picks: list[int], size: int) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A function taking the written values out of all values, in order; None for all."""
    if picks == list(range(size)):
        return None
    if not picks:
        return lambda values: ()
    if len(picks) == 1:
        only = picks[0]
        return lambda values: (values[only],)
    get: Callable[[tuple[Any, ...]], tuple[Any, ...]] = itemgetter(*picks)
    return get


def write_shaped(
    out: list[str],
    write: Write,
    keys: tuple[Any, ...],
    values: tuple[Any, ...],
    lead: str,
    kv: str,
    level: int,
    depth: int,
) -> None:
    """Append the members (``keys`` and ``values`` of one object) through their shape.

    A remembered value written again is one append; other scalars are written inline; an
    opaque value (code, classes, modules) is left out with its key; anything else goes to
    ``write`` at ``level``/``depth`` (those of the members).
    """
    shape = shape_of(keys, values, lead, kv)
    if shape.select is not None:
        values = shape.select(values)
    append, scalars = out.append, SCALAR_TEXT
    for head, seen, whole, value in zip(shape.heads, shape.seen, shape.whole, values, strict=True):
        if value is seen:
            append(whole)
            continue
        text = scalars.get(type(value))
        if text is not None:
            append(head)
            append(text(value))
        elif not _is_opaque(value):
            append(head)
            write(value, level, depth)


def write_one_by_one(
    out: list[str],
    write: Write,
    items: list[tuple[str, Any]],
    lead: str,
    kv: str,
    scalars: dict[type, Callable[[Any], str]],
    level: int,
    depth: int,
) -> None:
    """Append members already filtered and ordered, without a shape: those of large objects
    and of the deepest ones (whose values are all ``null``: ``scalars`` is then empty)."""
    keys = key_table(kv)
    for key, value in items:
        out.append(lead)
        ktext = keys.get(key)
        if ktext is None or type(key) is not str:
            ktext = key_text(key, kv)
        out.append(ktext)
        text = scalars.get(type(value))
        if text is not None:
            out.append(text(value))
        else:
            write(value, level, depth)


def public_items(pairs: Iterable[tuple[Any, Any]], keys: dict[str, str]) -> list[tuple[str, Any]]:
    """The pairs with a public name whose value is not opaque (code, classes, modules), as
    :func:`~trioserve.render.introspect.public_members` filters a mapping's.

    A name in a key table is public (only those are remembered) and an exact scalar is never
    opaque, so most pairs pass without a call. Keys that are not ``str`` get their
    :func:`~trioserve.render.introspect.mapping_keys` names.
    """
    pairs = list(pairs)
    if not all(isinstance(k, str) for k, _ in pairs):
        names = mapping_keys([k for k, _ in pairs])
        return [
            (name, v)
            for (_, v), name in zip(pairs, names, strict=True)
            if name is not None and not _is_opaque(v)
        ]
    return [
        (k, v)
        for k, v in pairs
        if ((type(k) is str and k in keys) or is_public_name(k))
        and (type(v) in SCALAR_TEXT or not _is_opaque(v))
    ]
