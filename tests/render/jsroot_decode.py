"""A Python port of JSROOT 7.11 ``parse`` (core.mjs): $ref resolution and $arr decoding.

Used as an independent decoder in tests: it numbers objects the way JSROOT does (every JSON
object except $ref/$arr/$pair, depth-first in key order, top = 0).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

_NP = {
    "Int8": np.int8,
    "Uint8": np.uint8,
    "Int16": np.int16,
    "Uint16": np.uint16,
    "Int32": np.int32,
    "Uint32": np.uint32,
    "Int64": np.float64,
    "Uint64": np.float64,
    "Float32": np.float32,
    "Float64": np.float64,
    "Bool": np.bool_,
}


def _decode_arr(value: dict[str, Any]) -> np.ndarray:
    arr = np.zeros(value["len"], dtype=_NP[value["$arr"]])
    ks = list(value)
    if "b" in value:
        raw = base64.b64decode(value["b"])
        buf = bytearray(arr.tobytes())
        o = value.get("o", 0)
        buf[o : o + len(raw)] = raw
        return np.frombuffer(bytes(buf), dtype=arr.dtype).copy()
    nkey, p = 2, 0
    while nkey < len(ks):
        if ks[nkey][0] == "p":
            p = value[ks[nkey]]
            nkey += 1
        assert ks[nkey][0] == "v", ks
        v = value[ks[nkey]]
        nkey += 1
        if isinstance(v, list):
            arr[p : p + len(v)] = v
            p += len(v)
        else:
            cnt = 1
            if nkey < len(ks) and ks[nkey][0] == "n":
                cnt = value[ks[nkey]]
                nkey += 1
            arr[p : p + cnt] = v
            p += cnt
    return arr


def parse(text: str) -> Any:
    obj = json.loads(text)
    objmap: list[Any] = []

    def unref(value: Any) -> Any:
        if isinstance(value, list):
            for i, v in enumerate(value):
                res = unref(v)
                if res is not None:
                    value[i] = res
            return None
        if not isinstance(value, dict):
            return None
        ks = list(value)
        if ks == ["$ref"]:
            return objmap[value["$ref"]]
        if len(ks) > 1 and ks[0] == "$arr" and ks[1] == "len":
            return _decode_arr(value)
        if any(v is value for v in objmap):
            return None
        objmap.append(value)
        for k in ks:
            res = unref(value[k])
            if res is not None:
                value[k] = res
        return None

    res = unref(obj)
    return obj if res is None else res
