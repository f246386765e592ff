"""Renderers: Python objects as ROOT-style JSON, CBOR, XML and images. Sans-IO.

``render_json`` is also public as ``trioserve.render_json`` (ROOT's ``TBufferJSON::ToJSON``).
"""

from __future__ import annotations

from trioserve.render.introspect import (
    get_member,
    has_members,
    public_members,
    public_methods,
    typename,
)
from trioserve.render.json import render_json

__all__ = [
    "get_member",
    "has_members",
    "public_members",
    "public_methods",
    "render_json",
    "typename",
]
