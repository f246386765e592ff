from __future__ import annotations

import dataclasses
import importlib.util
import math
import struct
import xml.etree.ElementTree as ET

import cbor2
import numpy as np
import pytest

from trioserve.histograms import Hist1D, Hist2D, as_graph
from trioserve.render import render_cbor, render_image, render_xml


@dataclasses.dataclass
class Obj:
    name: str
    data: np.ndarray
    _secret: str = "pw"


@pytest.mark.parametrize(
    ("dtype", "tag"),
    [
        (np.uint8, 64),
        (np.int8, 72),
        (np.uint16, 69),
        (np.int16, 77),
        (np.uint32, 70),
        (np.int32, 78),
        (np.uint64, 71),
        (np.int64, 79),
        (np.float32, 85),
        (np.float64, 86),
    ],
)
def test_cbor_typed_arrays(dtype: type, tag: int) -> None:
    arr = np.arange(7).astype(dtype)
    out = cbor2.loads(render_cbor({"a": arr}))["a"]
    assert isinstance(out, cbor2.CBORTag) and out.tag == tag
    assert np.array_equal(np.frombuffer(out.value, dtype=np.dtype(dtype).newbyteorder("<")), arr)


def test_cbor_object_model() -> None:
    shared = {"k": 1}
    o = Obj("x", np.ones((2, 3)))
    out = cbor2.loads(render_cbor({"o": o, "s": shared, "t": shared, "f": math.nan, "b": b"\x01"}))
    assert list(out) == ["_typename", "o", "s", "t", "f", "b"]
    assert out["o"]["_typename"] == "Obj" and "_secret" not in out["o"]
    nd = out["o"]["data"]
    assert nd.tag == 40 and list(nd.value[0]) == [2, 3] and nd.value[1].tag == 86
    assert out["t"] == {"$ref": 2}
    assert math.isnan(out["f"]) and out["b"] == b"\x01"
    h = cbor2.loads(render_cbor(Hist1D("h", "t", 3, 0, 3)))
    assert h["_typename"] == "TH1D" and h["fArray"].tag == 86 and len(h["fArray"].value) == 40
    assert struct.unpack("<5d", h["fArray"].value[:40]) == (0, 0, 0, 0, 0)


def test_cbor_cycle() -> None:
    class Node:
        pass

    n = Node()
    n.me = n
    assert cbor2.loads(render_cbor(n)) == {"_typename": "Node", "me": {"$ref": 0}}


def test_xml_parses_and_escapes() -> None:
    text = render_xml(
        {
            "s": "<a & 'b'> \x00 é",
            "arr": np.array([1.5, np.nan]),
            "o": Obj("n", np.arange(3)),
            "l": [1, None, True],
        }
    )
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "object" and root.get("typename") == "dict"
    members = {m.get("name"): m[0] for m in root.findall("member")}
    assert members["s"].tag == "str" and members["s"].text == "<a & 'b'> \ufffd é"
    assert members["arr"].get("type") == "Float64" and members["arr"].text == "1.5 nan"
    assert [e.tag for e in members["l"]] == ["int", "null", "bool"]
    obj = members["o"]
    assert obj.get("typename") == "Obj"
    assert [m.get("name") for m in obj.findall("member")] == ["name", "data"]
    assert "pw" not in text


def test_xml_refs() -> None:
    shared = {"v": 1}
    root = ET.fromstring(render_xml([shared, shared]).encode())
    assert root.tag == "list" and root[1].tag == "ref" and root[1].get("id") == "0"


needs_mpl = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib missing: images NOT TESTED"
)

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF8", "jpeg": b"\xff\xd8\xff"}


@needs_mpl
@pytest.mark.parametrize("fmt", ["png", "gif", "jpeg"])
def test_images_of_histograms_and_arrays(fmt: str) -> None:
    h = Hist1D("h", "t", 10, 0, 1)
    h.fill_many(np.linspace(0, 1, 100))
    h2 = Hist2D("h2", "t", 4, 0, 1, 4, 0, 1)
    for obj in (h, h2, np.arange(10.0), np.eye(4), as_graph([1, 2], [3, 4])):
        out = render_image(obj, fmt, width=200, height=150)
        assert out is not None and out.startswith(MAGIC[fmt])


@needs_mpl
def test_image_size_and_figure() -> None:
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    out = render_image(np.arange(5.0), "png", width=320, height=240)
    assert Image.open(io.BytesIO(out)).size == (320, 240)
    default = render_image(np.arange(5.0), "png", width=5)
    assert Image.open(io.BytesIO(default)).size == (300, 200)
    fig = Figure(figsize=(2, 1), dpi=100)
    fig.add_subplot().plot([1, 2])
    assert Image.open(io.BytesIO(render_image(fig, "png", 400, 100))).size == (400, 100)
    assert tuple(fig.get_size_inches()) == (2, 1)


def test_image_not_drawable_and_repr_png() -> None:
    class Pic:
        def _repr_png_(self) -> bytes:
            return MAGIC["png"] + b"rest"

    class Svg:
        def _repr_svg_(self) -> str:
            return "<svg/>"

    assert render_image(Pic(), "png") == MAGIC["png"] + b"rest"
    assert render_image(object(), "png") is None
    assert render_image({"a": 1}, "png") is None
    assert render_image(Svg(), "png") is None
    with pytest.raises(ValueError):
        render_image(np.arange(3), "bmp")
