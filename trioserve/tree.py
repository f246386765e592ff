"""The object tree (ROOT's sniffer): folders, registered objects, commands and item fields.

Pure data structure, no I/O. Paths given to the API follow ROOT: a leading ``/`` means "from
the top", anything else is relative to the ``Objects`` folder, so ``register("hists", h)`` puts
``h`` at ``/Objects/hists/<name>``. Request paths are resolved by :meth:`Tree.resolve`, which
walks folders by item name and then, inside an object, its *public* members only (the one
rule for what is public lives in :mod:`trioserve.render.introspect`).

Item names are sanitised at registration (ROOT does it at scan time): characters that would
break URLs or JSON are replaced by ``_`` and a clash among siblings gets ``_0``, ``_1``... The
original name is kept as the ``_realname`` field. Unlike ROOT, unregistering an object also
removes its fields, and a duplicate registration of the same object in one folder is refused.

Names that no URL can reach are refused at registration with a :class:`RegistrationError`
rather than accepted into an item nobody can open: ``.`` and ``..`` (as a name or as a folder
segment: every HTTP client and front-end folds them away before we see the path) and a name
with ``/`` (which would read as folders; the folders belong in the path argument).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from trioserve.errors import RegistrationError

__all__ = [
    "OBJECTS_FOLDER",
    "Node",
    "Resolved",
    "Tree",
    "check_name",
    "normalize_api_path",
    "sanitize_name",
]

OBJECTS_FOLDER = "Objects"
_BAD_CHARS = re.compile(r"[-\s\[\]<>#:&?/'\"\\%]")


def sanitize_name(name: str) -> str:
    """ROOT's item-name rule, plus ``%`` and all whitespace (they only cause grief in URLs)."""
    return _BAD_CHARS.sub("_", name)


def check_name(name: str, what: str = "item name") -> None:
    """Refuse a name no request path can reach (see the module docstring)."""
    if name in (".", ".."):
        raise RegistrationError(
            f"{what} {name!r} cannot be reached by any URL (clients fold '.' and '..' away)"
        )
    if "/" in name:
        raise RegistrationError(
            f"{what} {name!r} contains '/': put the folders in the path, as in "
            "register('hists/sub', obj, name='h')"
        )


def normalize_api_path(path: str) -> list[str]:
    """API path -> folder segments from the top; relative paths live under ``Objects``."""
    absolute = path.startswith("/")
    segments = [s for s in path.split("/") if s]
    return segments if absolute else [OBJECTS_FOLDER, *segments]


@dataclass(eq=False)
class Node:
    """One item in the tree. ``obj`` is ``None`` for folders; commands carry ``command``."""

    name: str
    obj: Any = None
    title: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    children: dict[str, Node] = field(default_factory=dict)
    command: Callable[..., Any] | None = None
    parent: Node | None = field(default=None, repr=False)

    @property
    def is_folder(self) -> bool:
        return self.obj is None and self.command is None

    @property
    def is_command(self) -> bool:
        return self.command is not None

    def path(self) -> str:
        """The item's full name as restrictions see it: ``/Objects/sub/obj``, ``/`` for top."""
        names: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(names))


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved request path: the tree node, and the member chain inside its object."""

    node: Node
    members: tuple[str, ...] = ()
    value: Any = None

    @property
    def is_member(self) -> bool:
        return bool(self.members)

    def path(self) -> str:
        base = self.node.path()
        if not self.members:
            return base
        return base.rstrip("/") + "/" + "/".join(self.members)


class Tree:
    """The registry. Mutations take a lock so a synchronous program may register objects from
    its own thread while the server thread resolves requests."""

    def __init__(self, title: str = "trioserve") -> None:
        self.top = Node(name="", title=title)
        self._lock = threading.RLock()

    # -- registration -----------------------------------------------------------------
    def _folder(self, segments: list[str], create: bool) -> Node | None:
        if create:  # all checked first: a refused path leaves no folder half-made
            for seg in segments:
                check_name(seg, "folder name")
        node = self.top
        for seg in segments:
            name = sanitize_name(seg)
            child = node.children.get(name)
            if child is None:
                if not create:
                    return None
                child = Node(name=name, title="sub-folder", parent=node)
                node.children[name] = child
            elif not child.is_folder:
                if not create:
                    return child
                raise RegistrationError(f"{child.path()} is an item, not a folder")
            node = child
        return node

    def _unique_name(self, folder: Node, name: str) -> str:
        if name not in folder.children:
            return name
        i = 0
        while f"{name}_{i}" in folder.children:
            i += 1
        return f"{name}_{i}"

    def register(
        self, folder: str, obj: Any, name: str | None = None, title: str | None = None
    ) -> Node:
        """Put ``obj`` in ``folder`` (created as needed) and return its node."""
        if name is None:
            name = _object_name(obj)
        if not name:
            raise RegistrationError("register() needs a name for an object without one")
        check_name(name)
        with self._lock:
            parent = self._folder(normalize_api_path(folder), create=True)
            assert parent is not None
            for child in parent.children.values():
                if child.obj is obj:
                    raise RegistrationError(f"{child.path()} already holds this object")
            item_name = self._unique_name(parent, sanitize_name(name))
            node = Node(
                name=item_name,
                obj=obj,
                parent=parent,
                title=title if title is not None else _object_title(obj),
            )
            if item_name != name:
                node.fields["_realname"] = name
            parent.children[item_name] = node
            return node

    def register_command(
        self,
        path: str,
        command: Callable[..., Any],
        *,
        fields: dict[str, str] | None = None,
        title: str = "",
    ) -> Node:
        segments = normalize_api_path(path)
        if not segments:
            raise RegistrationError("a command needs a name")
        check_name(segments[-1], "command name")
        with self._lock:
            parent = self._folder(segments[:-1], create=True)
            assert parent is not None
            name = sanitize_name(segments[-1])
            if name in parent.children:
                raise RegistrationError(f"{parent.children[name].path()} already exists")
            node = Node(
                name=name, command=command, parent=parent, title=title, fields=dict(fields or {})
            )
            parent.children[name] = node
            return node

    def unregister(self, obj: Any) -> int:
        """Remove ``obj`` (compared by identity) from every folder, fields included."""
        removed = 0
        with self._lock:
            for node in list(self.walk()):
                if node.obj is obj and node.parent is not None:
                    node.parent.children.pop(node.name, None)
                    removed += 1
        return removed

    def remove(self, path: str) -> bool:
        with self._lock:
            node = self.find(path)
            if node is None or node.parent is None:
                return False
            node.parent.children.pop(node.name, None)
            return True

    def create_folder(self, path: str, title: str | None = None) -> Node:
        with self._lock:
            node = self._folder(normalize_api_path(path), create=True)
            assert node is not None
            if title is not None:
                node.title = title
            return node

    def find(self, path: str) -> Node | None:
        """Find a node by API path (relative = under ``Objects``)."""
        segments = normalize_api_path(path)
        node = self.top
        for seg in segments:
            child = node.children.get(sanitize_name(seg)) or node.children.get(seg)
            if child is None:
                return None
            node = child
        return node

    def set_field(self, path: str, name: str, value: str | None) -> None:
        node = self.find(path)
        if node is None:
            raise RegistrationError(f"no item at {path!r}")
        with self._lock:
            if name == "_title" and value is not None:
                node.title = value
            elif value is None:
                node.fields.pop(name, None)
            else:
                node.fields[name] = str(value)

    def get_field(self, path: str, name: str) -> str | None:
        node = self.find(path)
        if node is None:
            return None
        if name == "_title":
            return node.title
        return node.fields.get(name)

    def walk(self, node: Node | None = None) -> Iterator[Node]:
        node = node or self.top
        for child in list(node.children.values()):
            yield child
            yield from self.walk(child)

    # -- request-path resolution ------------------------------------------------------
    def reach(self, item_path: str) -> tuple[Node, tuple[str, ...]] | None:
        """The node a request item path reaches and the segments left inside its object; None
        for a path that can name nothing (a missing segment, ``.`` or ``..`` anywhere).

        Reads only the tree, never an object, so the server's thread may call it while the
        program owns its objects (:meth:`resolve` then walks the members).
        """
        segments = [s for s in item_path.split("/") if s]
        node = self.top
        i = 0
        while i < len(segments):
            seg = segments[i]
            if seg in (".", ".."):
                return None
            if node.obj is not None and not node.children:
                break
            child = node.children.get(seg)
            if child is None:
                return None
            node = child
            i += 1
        rest = tuple(segments[i:])
        if "." in rest or ".." in rest:
            return None
        return node, rest

    def resolve(
        self,
        item_path: str,
        *,
        members: bool = True,
        get_member: Callable[[Any, str], Any] | None = None,
    ) -> Resolved | None:
        """Resolve a request item path (``Objects/hpx``, ``Objects/cfg/nested/x``).

        Empty segments (doubled slashes) are skipped, as ROOT does. Inside an object the walk
        continues through ``get_member``, which must refuse anything non-public by raising
        ``KeyError``/``AttributeError``. ``.`` and ``..`` segments never resolve.
        """
        walked = self.reach(item_path)
        if walked is None:
            return None
        node, rest = walked
        if not rest:
            return Resolved(node=node, value=node.obj)
        if not members or node.obj is None or get_member is None:
            return None
        # a registered histogram's members are ROOT's (fTitle, fXaxis...), then its own
        from trioserve.histograms import view_of_node

        value = view_of_node(node, get_member)
        for seg in rest:
            try:
                value = get_member(value, seg)
            except (KeyError, AttributeError, IndexError, TypeError, ValueError):
                return None
        return Resolved(node=node, members=rest, value=value)


def _object_name(obj: Any) -> str | None:
    for attr in ("name", "fName", "__name__"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _object_title(obj: Any) -> str:
    for attr in ("title", "fTitle"):
        value = getattr(obj, attr, None)
        if isinstance(value, str):
            return value
    return ""
