"""``root.xml``: the object model (same as ``root.json``, see ``_tree``) as XML.

Element shape (UTF-8, parseable by any XML 1.0 parser, every text and attribute escaped;
characters XML 1.0 forbids, such as NUL or lone surrogates, become U+FFFD)::

    <?xml version="1.0" encoding="UTF-8"?>
    <object typename="TH1D">                 an object; its members in order:
      <member name="fName"><str>hpx</str></member>
      <member name="fEntries"><float>1000</float></member>
      <member name="fArray"><array type="Float64" shape="12">0 2 9 ...</array></member>
      <member name="fXaxis"><object typename="TAxis">...</object></member>
      <member name="again"><ref id="1"/></member>   a repeated object / cycle ($ref)
    </object>

Values: ``<null/>``, ``<bool>true|false</bool>``, ``<int>``, ``<float>`` (``nan``, ``inf``,
``-inf`` allowed), ``<str>``, ``<bytes encoding="base64">``, ``<list>`` of values, ``<array
type="<$arr type>" shape="d1 d2 ...">`` with space-separated numbers in row-major order.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from trioserve.render import _numbers
from trioserve.render._tree import to_tree

__all__ = ["render_xml"]

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _BAD_XML.sub("\ufffd", text)


def _fmt_float(x: float) -> str:
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return _numbers.fmt_float(x)


def _array_text(arr: np.ndarray) -> str:
    flat = arr.ravel()
    if arr.dtype.kind == "b":
        return " ".join("true" if v else "false" for v in flat.tolist())
    if arr.dtype.kind == "f":
        values = flat.astype(str).astype(np.float64) if arr.dtype.itemsize < 8 else flat
        return " ".join(map(_fmt_float, values.tolist()))
    return " ".join(map(str, flat.tolist()))


def _value(node: Any) -> ET.Element:
    if node is None:
        return ET.Element("null")
    if isinstance(node, bool):
        el = ET.Element("bool")
        el.text = "true" if node else "false"
        return el
    if isinstance(node, int):
        el = ET.Element("int")
        el.text = str(node)
        return el
    if isinstance(node, float):
        el = ET.Element("float")
        el.text = _fmt_float(node)
        return el
    if isinstance(node, str):
        el = ET.Element("str")
        el.text = _clean(node)
        return el
    if isinstance(node, bytes):
        el = ET.Element("bytes", encoding="base64")
        el.text = base64.b64encode(node).decode("ascii")
        return el
    if isinstance(node, np.ndarray):
        view = _numbers.numeric_view(node)
        arr_type = view[1] if view else "Float64"
        el = ET.Element("array", type=arr_type, shape=" ".join(map(str, node.shape)))
        el.text = _array_text(node)
        return el
    if isinstance(node, list):
        el = ET.Element("list")
        el.extend(_value(v) for v in node)
        return el
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return ET.Element("ref", id=str(node["$ref"]))
        el = ET.Element("object", typename=_clean(str(node.get("_typename", ""))))
        for key, value in node.items():
            if key == "_typename":
                continue
            member = ET.SubElement(el, "member", name=_clean(key))
            member.append(_value(value))
        return el
    el = ET.Element("str")
    el.text = _clean(str(node))
    return el


def render_xml(obj: object) -> str:
    """``obj`` as an XML document (see the module docstring for the element shape)."""
    root = _value(to_tree(obj))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
