"""A registered histogram as ROOT would hold it: :func:`registered_view`.

In ROOT an object *is* named: ``RegisterObject`` files it under its own ``GetName()``, and its
``fName``/``fTitle`` are what JSROOT's stats box, title and hierarchy show. Here the name and
title live on the registration (``register("hists", h, name="hpx", title="px distribution")``),
and a boost histogram has neither. So what a request renders for a registered histogram is a
:class:`RootView`: the histogram's ROOT JSON with the registered identity, which

* renders (``root.json``/``.xml``/``.bin``, ``root.png``) as that JSON: ``fName`` is the
  registered name (``_realname``, the name before sanitising), ``fTitle`` the registered title,
  else the object's own title (a ``hist`` label), so a title never disappears by registering;
* is what ROOT-style member URLs walk: ``hpx/fTitle/root.json`` answers ``"px distribution"``,
  ``hpx/fXaxis/fNbins/root.json`` answers ``100``, as ROOT's sniffer scans a ``TH1``'s data
  members. Other names fall through to the object's own public members (``hpx/entries``), by
  the ``members`` function the caller passes (the rules for those live in the renderers).

The view reads the histogram once, when made (through the locked accessors of ours), so every
member of one request comes from one state of the histogram. Its class says the ROOT class
(``typename`` and ``root.bin``'s ``RootClassName`` read it from the class): one small subclass
per ROOT class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, cast

from trioserve.histograms._boost import boost_to_root, is_boost_histogram
from trioserve.histograms._hist1d import Hist1D
from trioserve.histograms._hist2d import Hist2D
from trioserve.histograms._profile import Profile

__all__ = ["RootView", "registered_view", "root_of", "view_of_node"]

#: ``members(obj, name)``: the object's own public member ``name``; raises KeyError
Members = Callable[[Any, str], Any]


def root_of(
    obj: object, name: str | None = None, title: str | None = None
) -> dict[str, Any] | None:
    """The ROOT JSON of a histogram (ours or boost/``hist``), named ``name`` and titled
    ``title`` when those are non-empty; None for anything else."""
    if isinstance(obj, (Hist1D, Hist2D, Profile)):
        rep = obj.__trioserve_json__()
        if name:
            rep["fName"] = name
        if title:
            rep["fTitle"] = title
        return rep
    if is_boost_histogram(obj):
        return boost_to_root(obj, name or None, title or None)
    return None


def _is_root_member(name: str) -> bool:
    """ROOT's data members are ``f`` + capital (``fTitle``, ``fXaxis``); our own members are
    lower case (``entries``, ``values``), so the two never shadow each other."""
    return len(name) > 1 and name[0] == "f" and name[1].isupper()


class RootView(Mapping[str, Any]):
    """A histogram's ROOT JSON with the identity it was registered under; see the module
    docstring. Made by :func:`registered_view`."""

    __slots__ = ("_members", "_obj", "_rep")
    __trioserve_typename__ = "TH1D"

    def __init__(self, obj: object, rep: dict[str, Any], members: Members | None) -> None:
        self._obj = obj
        self._rep = rep
        self._members = members

    @property
    def histogram(self) -> object:
        """The registered object itself."""
        return self._obj

    def __trioserve_json__(self) -> dict[str, Any]:
        return self._rep

    def __getitem__(self, name: str) -> Any:
        if _is_root_member(name):
            return self._rep[name]
        if self._members is None:
            raise KeyError(name)
        return self._members(self._obj, name)

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._rep if _is_root_member(key))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} view of {self._rep.get('fName')!r}>"


_VIEW_CLASSES: dict[str, type[RootView]] = {}


def _view_class(typename: str) -> type[RootView]:
    """The :class:`RootView` subclass for one ROOT class (a handful: TH1D, TH2D, TProfile,
    TProfile2D)."""
    cls = _VIEW_CLASSES.get(typename)
    if cls is None:
        made = type(typename, (RootView,), {"__slots__": (), "__trioserve_typename__": typename})
        cls = cast("type[RootView]", made)
        _VIEW_CLASSES[typename] = cls
    return cls


def registered_view(
    obj: object, name: str, title: str = "", members: Members | None = None
) -> object:
    """What a request renders for ``obj`` registered as ``name`` with ``title``: a
    :class:`RootView` for a histogram ROOT can hold, else ``obj`` itself.

    ``members`` answers names that are not ROOT data members (``hpx/entries``) from the
    object, by the renderers' rules; without it only ROOT's members are reachable.
    """
    rep = root_of(obj, name, title)
    if rep is None:
        return obj
    return _view_class(str(rep["_typename"]))(obj, rep, members)


class _Registration(Protocol):
    """What :func:`view_of_node` reads of a tree node (``trioserve.tree.Node``)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def obj(self) -> Any: ...
    @property
    def fields(self) -> dict[str, str]: ...


def view_of_node(node: _Registration, members: Members | None = None) -> object:
    """:func:`registered_view` of a tree node's object, under the name it was registered
    with (``_realname``, the name before sanitising) and the node's title."""
    name = node.fields.get("_realname") or node.name
    return registered_view(node.obj, name, node.title, members)
