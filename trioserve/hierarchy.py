"""The hierarchy documents: ``h.json``, ``h.xml``, ``item.json``, ``item.xml``.

Sans-IO: builds nested :class:`HNode` records from the tree for one user (hidden items are
simply absent, with their subtrees) and writes them in ROOT's exact text layout, which JSROOT
reads. Item fields set by users are always JSON strings; a few internal values (``_more``)
are raw JSON. Strings are valid UTF-8 JSON with ``/`` escaped, so ``</script>`` can never
appear when a page embeds the document.

Members are listed under their item names (:func:`~trioserve.render.introspect.named_members`:
a dict's ``1`` key, an ``"a/b"`` key made ``a_b``), with ``_realname`` when that differs from
the original, so that every listed name resolves back. A drawable array or list of numbers
(:mod:`trioserve.render.arrays`) is ``_more`` and lists one child, its view (``graph`` or
``hist``), which JSROOT draws. The document's top node carries
``_noimages: true`` when the server cannot draw pictures (matplotlib, the ``images`` extra, is
not importable): the UI then offers no PNG view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from trioserve.histograms import is_boost_histogram
from trioserve.items import Text
from trioserve.render.arrays import array_view, is_drawable
from trioserve.render.image import images_available
from trioserve.render.introspect import has_members, named_members, typename
from trioserve.tree import Node

__all__ = ["HNode", "build_hierarchy", "build_item", "dump_json", "dump_xml", "member_node"]

#: asked with an item's full path; ``None`` where no restriction exists (everything visible),
#: which spares a whole-tree listing one path string and one policy walk per item
Visible = Callable[[str], bool] | None


@dataclass(slots=True)
class HNode:
    """One node of a hierarchy document: ordered fields (raw JSON values) and children."""

    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    children: list[HNode] | None = None

    def add(self, key: str, value: Any) -> None:
        """Add a field; ``str`` values become JSON strings, others raw JSON."""
        if isinstance(value, str):
            self.fields.append((key, quote(value)))
        else:
            self.fields.append((key, "true" if value is True else json.dumps(value)))


def quote(text: str) -> str:
    # the C encoder json.dumps(text, ensure_ascii=False) ends in, without dumps' per-call setup
    # (a listing quotes three strings per item)
    return encode_basestring(text).replace("/", "\\/")


def _kind_of(value: Any) -> str:
    if isinstance(value, Text):
        return "Text"
    return "ROOT." + typename(value)


def _kind_field(value: Any) -> tuple[str, str]:
    """The ``_kind`` field (raw JSON), remembered per type where the type decides it (a
    listing asks for every item); a boost histogram's kind depends on its dimension, so it
    is not. The pair itself is kept: a listing of 10,000 items then allocates 10,000 fewer
    containers, and with them fewer of the garbage collections that walk the program's
    whole heap."""
    cls = type(value)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = ("_kind", quote(_kind_of(value)))
        if len(_KINDS) < 4096 and not is_boost_histogram(value):
            _KINDS[cls] = kind
    return kind


_KINDS: dict[type, tuple[str, str]] = {}
_COMMAND_KIND = ("_kind", '"Command"')
_FOLDER_KIND = ("_kind", '"ROOT.TFolder"')
_MORE = ("_more", "true")


def node_fields(node: Node, hnode: HNode, *, all_fields: bool) -> None:
    """Fields in ROOT's order: own fields, then ``_kind`` and ``_title`` unless set."""
    own = node.fields
    fields = hnode.fields
    for key, value in own.items():
        if all_fields or key.startswith("_"):
            hnode.add(key, value)
    obj = node.obj
    if "_kind" not in own:
        if node.is_command:
            fields.append(_COMMAND_KIND)
        elif node.is_folder:
            fields.append(_FOLDER_KIND)
        else:
            fields.append(_kind_field(obj))
    if "_title" not in own:
        fields.append(("_title", quote(node.title)))
    if obj is not None and not isinstance(obj, Text) and _expandable(obj):
        fields.append(_MORE)
    if all_fields and isinstance(obj, Text):
        hnode.add("value", obj.value)
        if obj.mathjax:
            hnode.add("mathjax", "true")


def member_node(name: str, value: Any, realname: str | None = None) -> HNode:
    hnode = HNode(name=name)
    if realname is not None:
        hnode.add("_realname", realname)
    hnode.add("_kind", _kind_of(value))
    hnode.add("_title", "")
    if _expandable(value):
        hnode.add("_more", True)
    return hnode


def _expandable(value: Any) -> bool:
    """``_more``: members to list, or a drawable array's view."""
    return has_members(value) or is_drawable(value)


def _children(node: Node, visible: Visible, depth: int | None, path: str = "") -> list[HNode]:
    """``path`` is ``node``'s own path (``""`` for the top), built on the way down rather than
    walked up again for every child."""
    result = []
    for child in list(node.children.values()):
        child_path = path + "/" + child.name
        if visible is not None and not visible(child_path):
            continue
        hchild = HNode(name=child.name)
        node_fields(child, hchild, all_fields=False)
        if child.is_folder and (depth is None or depth > 0):
            hchild.children = _children(
                child, visible, None if depth is None else depth - 1, child_path
            )
        result.append(hchild)
    return result


def _members(value: Any, base: str, visible: Visible) -> list[HNode]:
    if is_drawable(value):  # its view only: not thousands of numbers (they stay reachable)
        view = array_view(value)
        listed: list[tuple[str, str | None, Any]] = []
        if view is not None:
            listed.append((view[0], None, view[1]))
    else:
        listed = named_members(value)
    return [
        member_node(name, member, realname)
        for name, realname, member in listed
        if visible is None or visible(base.rstrip("/") + "/" + name)
    ]


def build_hierarchy(
    node: Node,
    *,
    members: tuple[str, ...] = (),
    value: Any = None,
    top_name: str,
    top_title: str,
    user: str | None,
    visible: Visible,
) -> HNode:
    """``h.json`` of ``node`` (the top for a full scan): folders recursively; an object (or a
    member) is expanded one level into its public members."""
    if node.parent is None:
        top = HNode(name=top_name)
        top.add("_kind", "ROOT.Session")
        if user is not None:
            top.add("_username", user)
        top.add("_title", top_title)
        for key, field_value in node.fields.items():
            if key.startswith("_"):
                top.add(key, field_value)
        if not images_available():
            top.add("_noimages", True)
        top.children = _children(node, visible, None)
        return top
    path = node.path() + ("/" + "/".join(members) if members else "")
    if members:
        hnode = member_node(members[-1], value)
    else:
        hnode = HNode(name=node.name)
        node_fields(node, hnode, all_fields=False)
    if not images_available():
        hnode.add("_noimages", True)
    if node.is_folder:
        hnode.children = _children(node, visible, None, node.path())
    elif value is not None and not isinstance(value, Text) and _expandable(value):
        hnode.children = _members(value, path, visible)
    return hnode


def build_item(
    node: Node,
    *,
    members: tuple[str, ...] = (),
    value: Any = None,
    top_name: str,
    user: str | None,
    top_label: str = "top",
) -> HNode:
    """``item.json`` (and ROOT's ``get.xml``): the node with *all* its fields and no
    children. ROOT names the top node ``top`` in ``item.json`` and by the top name in
    ``get.xml`` (``top_label``)."""
    if node.parent is None:
        top = HNode(name=top_label)
        top.add("_kind", "ROOT.Session")
        if user is not None:
            top.add("_username", user)
        top.add("_title", top_name)
        for key, field_value in node.fields.items():
            top.add(key, field_value)
        return top
    if members:
        return member_node(members[-1], value)
    hnode = HNode(name=node.name)
    node_fields(node, hnode, all_fields=True)
    return hnode


def dump_json(hnode: HNode, *, compact: bool) -> str:
    """ROOT's layout: node ``{`` at 4*level, fields at 4*level+2, ``"key" : value``."""
    parts: list[str] = []
    _write_json(hnode, 0, compact, parts)
    return "".join(parts)


def _write_json(hnode: HNode, level: int, compact: bool, out: list[str]) -> None:
    # written field by field, without a list or a generator per node: a listing of 10,000
    # items allocates no container per item here (see _kind_field on why that matters)
    name = quote(hnode.name)
    if compact:
        out.append('{"_name":' + name)
        for key, value in hnode.fields:
            out.append(f',"{key}":{value}')
        if hnode.children is not None:
            out.append(',"_childs":[')
            for i, child in enumerate(hnode.children):
                if i:
                    out.append(",")
                _write_json(child, level + 1, compact, out)
            out.append("]")
        out.append("}")
        return
    pad = " " * (4 * level)
    fpad = pad + "  "
    out.append(f'{pad}{{\n{fpad}"_name" : {name}')
    for key, value in hnode.fields:
        out.append(f',\n{fpad}"{key}" : {value}')
    if hnode.children is not None:
        out.append(f',\n{fpad}"_childs" : [\n')
        for i, child in enumerate(hnode.children):
            if i:
                out.append(",\n")
            _write_json(child, level + 1, compact, out)
        out.append(f"\n{fpad}]")
    out.append("\n" + pad + "}")


def dump_xml(hnode: HNode, *, compact: bool, wrap: bool = True) -> str:
    parts: list[str] = []
    if wrap:
        parts.append('<?xml version="1.0" encoding="UTF-8"?>' + ("" if compact else "\n"))
        parts.append("<root>" + ("" if compact else "\n"))
    _write_xml(hnode, 0, compact, parts)
    if wrap:
        parts.append("</root>" + ("" if compact else "\n"))
    return "".join(parts)


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (``xml.sax.saxutils`` would drag in
    ``urllib.request`` and with it the socket module, which a sans-IO core must not)."""
    escaped = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )
    return f'"{escaped}"'


def _xml_value(raw_json: str) -> str:
    value = json.loads(raw_json)
    return value if isinstance(value, str) else json.dumps(value)


def _write_xml(hnode: HNode, level: int, compact: bool, out: list[str]) -> None:
    pad = "" if compact else " " * (2 * (level + 1))
    nl = "" if compact else "\n"
    attrs = " ".join(
        f"{k}={quoteattr(_xml_value(v))}" for k, v in [("_name", quote(hnode.name)), *hnode.fields]
    )
    if not hnode.children:
        out.append(f"{pad}<item {attrs}/>{nl}")
        return
    out.append(f"{pad}<item {attrs}>{nl}")
    for child in hnode.children:
        _write_xml(child, level + 1, compact, out)
    out.append(f"{pad}</item>{nl}")
