"""Renderers: Python objects as ROOT-style JSON, CBOR, XML and images. Sans-IO.

``render_json`` is also public as ``trioserve.render_json`` (ROOT's ``TBufferJSON::ToJSON``).
"""

from __future__ import annotations

from trioserve.render.cbor import render_cbor
from trioserve.render.image import IMAGE_FORMATS, render_image
from trioserve.render.introspect import (
    get_member,
    has_members,
    public_members,
    public_methods,
    typename,
)
from trioserve.render.json import render_json
from trioserve.render.xml import render_xml

__all__ = [
    "IMAGE_FORMATS",
    "get_member",
    "has_members",
    "public_members",
    "public_methods",
    "render_cbor",
    "render_image",
    "render_json",
    "render_xml",
    "typename",
]
