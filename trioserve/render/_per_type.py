"""Answers that depend on an object's type alone, remembered per type — and when that is safe.

The renderers ask the same questions about every value they meet (is it opaque, is it a leaf,
which fields does its dataclass have, which branch of the JSON writer takes it), and for all
objects of one class the answer is the same. So the answers are kept in dicts keyed by the
class, bounded in size (a program that makes classes on the fly cannot grow them without end).

One exception makes it subtle: ``isinstance`` consults ``__class__``, and a *proxy* reports
the class of what it wraps, possibly a different one per instance, while ``type()`` is the
proxy's own class. An answer computed for a proxy is therefore never remembered
(:func:`_is_own_class`). A class that changes after its first rendering (gains
``__trioserve_members__``, ``__trioserve_typename__``, ``__trioserve_json__`` or new slots,
or is registered with an ABC) keeps its first answers.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TypeVar

__all__ = ["_by_type", "_is_own_class", "_per_type"]

_TYPE_CACHE_SIZE = 4096
_T = TypeVar("_T")


def _per_type(cache: dict[type, _T], cls: type, compute: Callable[[type], _T]) -> _T:
    """``compute(cls)`` for an answer read from the class itself, remembered."""
    try:
        return cache[cls]
    except KeyError:
        pass
    answer = compute(cls)
    if len(cache) < _TYPE_CACHE_SIZE:
        cache[cls] = answer
    return answer


def _by_type(cache: dict[type, _T], value: object, compute: Callable[[object], _T]) -> _T:
    """``compute(value)``, remembered for ``type(value)`` when that is safe (never None)."""
    cls = type(value)
    known = cache.get(cls)
    if known is not None:
        return known
    answer = compute(value)
    if len(cache) < _TYPE_CACHE_SIZE and _is_own_class(value, cls):
        cache[cls] = answer
    return answer


def _is_own_class(value: object, cls: type) -> bool:
    """Whether ``isinstance`` answers for ``value`` hold for every instance of ``cls``.

    They do unless ``__class__`` says something else than ``type()``: a proxy, which may
    report a different class per instance. Checked on the class as well as on ``value``, so
    a proxy class never enters a cache through an instance that happened to tell the truth.
    """
    if getattr(value, "__class__", None) is not cls:
        return False
    for klass in cls.__mro__[:-1]:
        own = klass.__dict__
        if "__class__" in own:
            return False
        getter = own.get("__getattribute__")
        if getter is not None and not isinstance(getter, types.WrapperDescriptorType):
            return False
    return True
