"""``root.bin``: the object model as CBOR (RFC 8949), numpy data as RFC 8746 typed arrays.

Why CBOR: ROOT's ``root.bin`` is a TBufferFile that only ROOT can read; a Python port has no
such format. CBOR is a standard binary form with decoders in every language, keeps the JSON
object model (so one mental model serves ``root.json`` and ``root.bin``), and carries numeric
arrays as raw little-endian bytes without text formatting.

Shape (identical to :func:`trioserve.render.render_json` at ``compact=0``, see ``_tree``):

* objects are maps with ``"_typename"`` first, then the public members;
* repeats and cycles are ``{"$ref": N}`` with JSROOT's numbering (every map that is an object
  counts, depth-first, top object 0);
* 1-D numeric numpy arrays (and numeric lists of at least 6 elements) are RFC 8746 typed arrays:
  tag 64 + (float<<4) + (signed<<3) + (little-endian<<2) + log2(element size), always
  little-endian (uint8 64, int8 72, int16 77, uint16 69, int32 78, uint32 70, int64 79,
  uint64 71, float16 84, float32 85, float64 86) around a byte string; bool arrays are arrays
  of booleans (RFC 8746 has no bool type);
* N-D arrays are RFC 8746 tag 40 (row-major multi-dimensional array): ``[dims, typed array]``;
* ``bytes`` are CBOR byte strings; NaN and infinities are CBOR floats (no JSON workarounds);
  dates are ISO 8601 strings, as in JSON.
"""

from __future__ import annotations

from typing import Any

import cbor2
import numpy as np

from trioserve.render._numbers import numeric_list
from trioserve.render._tree import to_tree

__all__ = ["TYPED_ARRAY_TAGS", "render_cbor"]

TYPED_ARRAY_TAGS: dict[str, int] = {
    "u1": 64,
    "i1": 72,
    "u2": 69,
    "u4": 70,
    "u8": 71,
    "i2": 77,
    "i4": 78,
    "i8": 79,
    "f2": 84,
    "f4": 85,
    "f8": 86,
}


def _typed(arr: np.ndarray) -> Any:
    if arr.dtype.kind == "b":
        return arr.tolist() if arr.ndim == 1 else [arr.shape, arr.ravel().tolist()]
    key = f"{arr.dtype.kind}{arr.dtype.itemsize}"
    tag = TYPED_ARRAY_TAGS[key]
    raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    typed = cbor2.CBORTag(tag, raw)
    if arr.ndim == 1:
        return typed
    return cbor2.CBORTag(40, [list(arr.shape), typed])


def _prepare(node: Any) -> Any:
    if isinstance(node, np.ndarray):
        return _typed(node)
    if isinstance(node, dict):
        return {k: _prepare(v) for k, v in node.items()}
    if isinstance(node, list):
        if len(node) >= 6:
            arr = numeric_list(node)
            if arr is not None:
                return _typed(arr)
        return [_prepare(v) for v in node]
    return node


def render_cbor(obj: object) -> bytes:
    """``obj`` as CBOR bytes (see the module docstring for the shape)."""
    return cbor2.dumps(_prepare(to_tree(obj)))
