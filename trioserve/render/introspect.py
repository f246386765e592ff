"""The one place that decides which parts of a Python object are public.

Every renderer (JSON, CBOR, XML), the hierarchy (``_more``), URL member access
(``<obj>/<member>/root.json``) and method calls (``exe.*``) ask this module, so a rule fixed
here is fixed everywhere. The rules, in order:

* A *name* is public only if it is a non-empty ``str`` that does not start with ``_`` (so
  ``__class__``, ``__dict__``, ``__globals__``, ``_secret`` are never members) nor with ``$``
  (reserved for JSROOT's ``$ref``/``$arr``/``$pair`` markers, which a user key must not fake).
* Modules, classes, functions, methods and any other callable are *never* members and are
  never traversed: ``public_members`` of such an object is empty, and a member whose value is
  one of them is left out.
* Where members come from:

  - ``Mapping`` (dict, ...): its public string keys as they are, and every other key under
    a derived name (below);
  - ``list``/``tuple`` (not ``str``/``bytes``): elements by decimal index ``"0"``, ``"1"``, ...
    so ``items/0/root.json`` works; only canonical indices (no sign, no leading zeros, no
    negative indices) are accepted by :func:`get_member`;
  - namedtuples: their fields (not indices);
  - dataclass instances: their fields, in declaration order;
  - other objects: instance attributes from ``__dict__`` (insertion order), then ``__slots__``
    along the MRO (unset slots skipped);
  - plus, for any object, the names listed in an optional class attribute
    ``__trioserve_members__`` (a tuple of names). This is the only way a ``property`` (or any
    computed attribute) becomes a member: reading a property runs code, and a read-only server
    must not run code on GET unless the class author said so. A listed name whose evaluation
    raises is silently absent.
* Leaves have no members: ``None``, bool/int/float/complex, str, bytes, numpy arrays and
  scalars, enums, dates, sets. :func:`get_member` also reaches the drawable *view* of a 1-D
  or 2-D numeric array or list (:mod:`trioserve.render.arrays`), ``<array>/graph`` or
  ``<array>/hist``, which JSROOT draws while ``<array>/root.json`` stays the plain array;
  a view is not a member (not rendered, not counted by :func:`has_members`).

Names, as ROOT names items (:func:`trioserve.tree.sanitize_name`). A member has a *key* (what
``root.json`` writes) and an *item name* (what ``h.json`` lists and a URL reaches):

* a dict key that is not a ``str`` (``1``, ``2.5``, ``(run, lumi)``, ``None``, an enum) gets
  the key ``sanitize_name`` of its text (numbers and ``None`` as ``str`` writes them, enums
  by member name, tuples joined with ``,``, any other object by its class name, so that no
  user ``__str__`` runs on a GET); a text that would start with ``_`` or ``$`` (``-1`` becomes
  ``_1``) is prefixed with ``key``, and a clash with another key gets ``_0``, ``_1``...;
* a key or attribute name that is not a clean item name (``"a/b"``, ``"two words"``) keeps
  its key in ``root.json`` (scripts read it as written) and gets the item name
  ``sanitize_name(key)``, made unique the same way. Clean names keep theirs, so a name never
  changes meaning when a dirtier sibling appears;
* ``h.json`` lists each member under its item name with ``_realname`` holding the original
  text when they differ (:func:`named_members`); :func:`get_member` accepts the item name
  (and, for a ``str`` key, the key itself).

``typename(obj)`` gives the ``_typename`` written into JSON: a class attribute
``__trioserve_typename__`` when present (our histograms say ``TH1D``, ``TH2D``, ``TProfile``,
``TGraph`` so JSROOT draws them natively; boost-histogram/``hist`` objects of 1 or 2 dimensions
are ``TH1D``/``TH2D``), otherwise the class ``__qualname__`` (``dict``,
``MyData``, ``Outer.Inner``; a ``func.<locals>.`` prefix and the module are left out, as
ROOT leaves out namespaces of well-known classes). It depends only on the class, so it is
stable between requests.

``public_methods(obj)`` lists methods callable by ``exe.*``: plain functions defined in a
Python class (inherited ones included) with a public name, bound to ``obj``. Static and class
methods, properties, and the methods of builtin/C types (``dict.clear``, ``list.append``,
numpy methods) are deliberately *not* callable.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import inspect
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from trioserve.histograms import boost_typename
from trioserve.render._per_type import _by_type, _per_type
from trioserve.render.arrays import VIEW_NAMES, array_view, is_drawable
from trioserve.tree import sanitize_name

__all__ = [
    "get_member",
    "has_members",
    "is_leaf",
    "is_public_name",
    "key_name",
    "mapping_keys",
    "named_members",
    "public_members",
    "public_methods",
    "typename",
]

_MISSING = object()

# Types whose instances are never traversed and never become members.
_OPAQUE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    property,
    staticmethod,
    classmethod,
)

_LEAF = (
    str,
    bytes,
    bytearray,
    memoryview,
    bool,
    int,
    float,
    complex,
    enum.Enum,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    set,
    frozenset,
)

# Bound how much of a sequence has_members() looks at: the hierarchy asks per request.
_HAS_MEMBERS_SCAN = 1000


def is_public_name(name: object) -> bool:
    """True for a name that may be rendered or reached from a URL."""
    return isinstance(name, str) and name != "" and name[0] not in "_$"


def _is_opaque(value: object) -> bool:
    """Things never traversed nor exposed as members (modules, classes, callables...)."""
    return _by_type(_OPAQUE_BY_TYPE, value, _opaque_uncached)


def _opaque_uncached(value: object) -> bool:
    if isinstance(value, _OPAQUE):
        return True
    # Any other callable (functools.partial, objects with __call__) is code, not data.
    return callable(value)


def _is_numpy(value: object) -> bool:
    mod = type(value).__module__
    return mod == "numpy" or mod.startswith("numpy.")


def is_leaf(obj: object) -> bool:
    """True when ``obj`` is rendered as a value (no members to list or reach)."""
    return obj is None or _by_type(_LEAF_BY_TYPE, obj, _leaf_uncached)


def _leaf_uncached(obj: object) -> bool:
    return isinstance(obj, _LEAF) or _is_numpy(obj) or _opaque_uncached(obj)


# These answers depend on the type alone, and a listing asks them several times per item, so
# they are remembered per type (see trioserve.render._per_type, which also says when not).
_OPAQUE_BY_TYPE: dict[type, bool] = {}
_LEAF_BY_TYPE: dict[type, bool] = {}
_FIELDS_BY_TYPE: dict[type, tuple[str, ...]] = {}
_EXTRA_BY_TYPE: dict[type, tuple[str, ...]] = {}
_SLOTS_BY_TYPE: dict[type, tuple[str, ...]] = {}
_TYPENAME_BY_TYPE: dict[type, tuple[str | None, str]] = {}


def _is_namedtuple(obj: object) -> bool:
    return isinstance(obj, tuple) and isinstance(getattr(type(obj), "_fields", None), tuple)


def _extra_names(obj: object) -> tuple[str, ...]:
    return _per_type(_EXTRA_BY_TYPE, type(obj), _extra_names_of)


def _extra_names_of(cls: type) -> tuple[str, ...]:
    names = getattr(cls, "__trioserve_members__", ())
    if isinstance(names, str):
        names = (names,)
    try:
        return tuple(n for n in names if is_public_name(n))
    except TypeError:
        return ()


def _slot_names(cls: type) -> tuple[str, ...]:
    return _per_type(_SLOTS_BY_TYPE, cls, _slot_names_uncached)


def _slot_names_uncached(cls: type) -> tuple[str, ...]:
    out: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for s in slots:
            if isinstance(s, str) and s not in out:
                out.append(s)
    return tuple(out)


def _dataclass_public_fields(cls: type) -> tuple[str, ...]:
    """A dataclass's public field names, read once per class: ``dataclasses.fields`` costs
    more than the rest of ``has_members`` and a listing asks it for every item."""
    return _per_type(_FIELDS_BY_TYPE, cls, _dataclass_fields_uncached)


def _dataclass_fields_uncached(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if is_public_name(f.name))


def _attr_candidates(obj: object) -> Iterator[tuple[str, Any]]:
    """``(name, value)`` of a non-container object's public attributes, in rendering order
    (a name may come twice; its first value counts). A generator, so that
    :func:`has_members` can stop at the first one."""
    if _is_namedtuple(obj):
        for name in type(obj)._fields:  # type: ignore[attr-defined]
            if is_public_name(name):
                yield name, getattr(obj, name)
    elif dataclasses.is_dataclass(obj):
        for name in _dataclass_public_fields(type(obj)):
            value = getattr(obj, name, _MISSING)
            if value is not _MISSING:
                yield name, value
    else:
        try:
            d = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            d = None
        if isinstance(d, dict):
            for name, value in list(d.items()):
                if is_public_name(name):
                    yield name, value
        for name in _slot_names(type(obj)):
            if is_public_name(name):
                try:
                    yield name, object.__getattribute__(obj, name)
                except AttributeError:
                    pass
    for name in _extra_names(obj):
        try:
            yield name, getattr(obj, name)
        except Exception:
            # A computed member that fails is simply absent; rendering must not fail.
            continue


def _attr_members(obj: object) -> dict[str, Any]:
    """Members of a non-container object (dataclass, plain object, namedtuple)."""
    out: dict[str, Any] = {}
    for name, value in _attr_candidates(obj):
        if name not in out:
            out[name] = value
    return {k: v for k, v in out.items() if not _is_opaque(v)}


def public_members(obj: object) -> dict[str, Any]:
    """Name -> value of every public member of ``obj`` (see the module docstring)."""
    route = _ROUTE_BY_TYPE.get(type(obj))
    if route is None:
        route = _by_type(_ROUTE_BY_TYPE, obj, _members_route)
    return route(obj)


def _members_route(obj: object) -> Callable[[Any], dict[str, Any]]:
    """Where the members of ``obj`` come from: the type decides (remembered per type)."""
    if is_leaf(obj):
        return _no_members
    if isinstance(obj, Mapping):
        return _mapping_members
    if isinstance(obj, (list, tuple)) and not _is_namedtuple(obj):
        return _sequence_members
    if dataclasses.is_dataclass(obj) and not _is_namedtuple(obj) and not _extra_names(obj):
        return _dataclass_members
    return _attr_members


_ROUTE_BY_TYPE: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _no_members(obj: object) -> dict[str, Any]:
    return {}


def _mapping_members(obj: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in list(obj.items()):
        if not isinstance(key, str):  # named by key_name(): the slower, general path
            return {k: v for k, v, _ in _mapping_entries(obj)}
        if is_public_name(key) and not _is_opaque(value):
            out[key] = value
    return out


def _mapping_entries(obj: Mapping[Any, Any]) -> list[tuple[str, Any, str | None]]:
    """``(key, value, realname)`` of a mapping's members in its own order (``realname``: the
    text of a non-``str`` key when its name differs from it)."""
    items = list(obj.items())
    names = mapping_keys([key for key, _ in items])
    out: list[tuple[str, Any, str | None]] = []
    for (key, value), name in zip(items, names, strict=True):
        if name is None or _is_opaque(value):
            continue
        if isinstance(key, str):
            out.append((name, value, None))
        else:
            text = _key_text(key)
            out.append((name, value, text if text != name else None))
    return out


def mapping_keys(keys: list[Any]) -> list[str | None]:
    """The ``root.json`` key of each of a mapping's ``keys``: a public ``str`` key itself,
    None for a private one, a unique :func:`key_name` for any other key. The names depend on
    the keys alone (not on the values), so they stay put while values change."""
    taken = {key for key in keys if isinstance(key, str) and is_public_name(key)}
    out: list[str | None] = []
    for key in keys:
        if isinstance(key, str):
            out.append(key if is_public_name(key) else None)
            continue
        name = _unique(key_name(key), taken)
        taken.add(name)
        out.append(name)
    return out


#: key types whose text is their ``str()`` (builtin, so no user code runs on a GET)
_PLAIN_KEY_TYPES = (
    int,
    float,
    complex,
    bytes,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)


def _key_text(key: object) -> str:
    """The text a non-``str`` key is named after (see the module docstring)."""
    if key is None or isinstance(key, bool):
        return str(key)
    if isinstance(key, enum.Enum):
        return str(key.name)
    if isinstance(key, str):
        return str.__str__(key)
    if type(key) in _PLAIN_KEY_TYPES:
        return str(key)
    if type(key) is tuple:
        return ",".join(_key_text(k) for k in key)
    return type(key).__name__


def _public_form(name: str) -> str:
    """``name`` made a reachable, public item name: never ``.``/``..``, never ``_``/``$``
    first (those are private), never empty."""
    if name in (".", ".."):
        name = name.replace(".", "_")
    return name if is_public_name(name) else "key" + name


def _unique(name: str, taken: set[str]) -> str:
    """ROOT's rule for clashing item names: ``name``, else ``name_0``, ``name_1``..."""
    if name not in taken:
        return name
    i = 0
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def key_name(key: object) -> str:
    """The ``root.json`` key of a dict key that is not a ``str``, before clashes are settled
    (see the module docstring)."""
    return _public_form(sanitize_name(_key_text(key)))


def _is_clean(name: str) -> bool:
    return sanitize_name(name) == name and name not in (".", "..")


def named_members(obj: object) -> list[tuple[str, str | None, Any]]:
    """``(item name, realname, value)`` of every public member of ``obj``, in order: what
    ``h.json`` lists and what :func:`get_member` resolves (see the module docstring).
    ``realname`` is the original text when it differs from the item name, else None."""
    if isinstance(obj, Mapping) and not is_leaf(obj):
        entries = _mapping_entries(obj)
    else:
        entries = [(k, v, None) for k, v in public_members(obj).items()]
    taken = {key for key, _, _ in entries if _is_clean(key)}
    out: list[tuple[str, str | None, Any]] = []
    for key, value, realname in entries:
        if _is_clean(key):
            out.append((key, realname, value))
            continue
        name = _unique(_public_form(sanitize_name(key)), taken)
        taken.add(name)
        out.append((name, key, value))
    return out


def _sequence_members(obj: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    return {str(i): v for i, v in enumerate(obj) if not _is_opaque(v)}


def _dataclass_members(obj: object) -> dict[str, Any]:
    """:func:`_attr_members` for a dataclass without extra names: its fields, read once
    each (field names are unique, so no name can come twice)."""
    out: dict[str, Any] = {}
    opaque = _OPAQUE_BY_TYPE
    for name in _dataclass_public_fields(type(obj)):
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            continue
        hidden = opaque.get(type(value))
        if hidden is None:
            hidden = _is_opaque(value)
        if not hidden:
            out[name] = value
    return out


def _parse_index(name: str) -> int | None:
    if name.isascii() and name.isdigit() and (name == "0" or name[0] != "0"):
        return int(name)
    return None


def get_member(obj: object, name: str) -> Any:
    """The public member ``name`` of ``obj``; ``KeyError`` for anything not public.

    Used for ``<obj>/<member>/root.json``. ``name`` is an item name as :func:`named_members`
    lists it (or a ``str`` key as it is). Refuses every dunder, ``_private`` name, ``$`` name,
    method, property not listed in ``__trioserve_members__``, and anything inside modules,
    classes and functions.
    """
    if not is_public_name(name):
        raise KeyError(name)
    if name in VIEW_NAMES and is_drawable(obj):
        view = array_view(obj)
        if view is not None and view[0] == name:
            return view[1]
    if is_leaf(obj):
        raise KeyError(name)
    if isinstance(obj, Mapping):
        try:
            present = name in obj  # not obj[name]: a defaultdict would grow on a GET
        except TypeError:
            present = False
        if present:
            try:
                value = obj[name]
            except (KeyError, TypeError, IndexError):
                raise KeyError(name) from None
            if _is_opaque(value):
                raise KeyError(name)
            return value
        return _by_item_name(obj, name)
    if isinstance(obj, (list, tuple)) and not _is_namedtuple(obj):
        index = _parse_index(name)
        if index is None or index >= len(obj) or _is_opaque(obj[index]):
            raise KeyError(name)
        return obj[index]
    members = _attr_members(obj)
    if name in members:
        return members[name]
    return _by_item_name(obj, name)


def _by_item_name(obj: object, name: str) -> Any:
    """The member listed as ``name`` by :func:`named_members` (a renamed key or attribute)."""
    for item_name, _, value in named_members(obj):
        if item_name == name:
            return value
    raise KeyError(name)


def has_members(obj: object) -> bool:
    """True when the hierarchy should offer to expand ``obj`` (``_more``).

    A list/tuple counts only when one of its first elements is itself structured: a list of
    numbers is shown as an array, not as a folder of thousands of numbers. (The view of a
    drawable array is no member: :mod:`trioserve.hierarchy` lists it.)
    """
    if is_leaf(obj):
        return False
    if isinstance(obj, Mapping):
        return any(not isinstance(k, str) or is_public_name(k) for k in obj)
    if isinstance(obj, (list, tuple)) and not _is_namedtuple(obj):
        for i, value in enumerate(obj):
            if i >= _HAS_MEMBERS_SCAN:
                break
            if not is_leaf(value) and value is not None:
                return True
        return False
    if _some_field_is_data(obj):
        return True
    seen: set[str] = set()
    for name, value in _attr_candidates(obj):
        if name not in seen:
            if not _is_opaque(value):
                return True
            seen.add(name)
    return False


def _some_field_is_data(obj: object) -> bool:
    """The quick yes of :func:`has_members` for the usual objects, asked for every item of a
    listing: a dataclass's or a plain object's first public attribute that is data. Its
    ``False`` proves nothing (the full walk then decides): it looks at fewer places."""
    cls = type(obj)
    if dataclasses.is_dataclass(cls) and not _is_namedtuple(obj):
        for name in _dataclass_public_fields(cls):
            value = getattr(obj, name, _MISSING)
            if value is not _MISSING and not _is_opaque(value):
                return True
        return False
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return False
    if type(d) is dict:
        try:
            for name, value in d.items():  # (no copy, unlike the full walk)
                if is_public_name(name) and not _is_opaque(value):
                    return True
        except RuntimeError:  # another thread changed the object meanwhile: walk it fully
            return False
    return False


def public_methods(obj: object) -> dict[str, Any]:
    """Public bound methods of ``obj`` that ``exe.*`` may call (see the module docstring)."""
    if isinstance(obj, _OPAQUE):
        return {}
    cls = type(obj)
    out: dict[str, Any] = {}
    for name in dir(cls):
        if not is_public_name(name):
            continue
        try:
            raw = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if not isinstance(raw, types.FunctionType):
            continue
        bound = getattr(obj, name, None)
        if isinstance(bound, types.MethodType) and bound.__self__ is obj:
            out[name] = bound
    return out


def typename(obj: object) -> str:
    """The ``_typename`` of ``obj`` (see the module docstring)."""
    explicit, plain = _per_type(_TYPENAME_BY_TYPE, type(obj), _class_typenames)
    if explicit is not None:
        return explicit
    # a boost histogram's class follows its dimension and storage (a mean is a profile)
    return boost_typename(obj) or plain


def _class_typenames(cls: type) -> tuple[str | None, str]:
    """The parts of :func:`typename` read from the class alone: the explicit name (if any)
    and the name from ``__qualname__``; the boost-histogram check between them looks at the
    object, so it is not remembered."""
    explicit = getattr(cls, "__trioserve_typename__", None)
    # classes defined inside functions: drop the "f.<locals>." prefix, keep the class path
    plain = cls.__qualname__.rsplit("<locals>.", 1)[-1]
    return (explicit if isinstance(explicit, str) and explicit else None), plain
