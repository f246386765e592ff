"""Objects as physicists hold them, end to end over a real socket (issue 15, items 4-7, 9):
every dict key reachable, renamed keys resolving back, arrays drawable by JSROOT, ``.gz`` on
custom requests, ROOT's ``get.xml`` and its picture sizes."""

from __future__ import annotations

import gzip
import struct
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
import trio

from tests.render.jsroot_decode import parse
from trioserve import Call, Response, Server

pytestmark = pytest.mark.trio


@pytest.fixture
async def client(nursery: trio.Nursery) -> AsyncIterator[httpx.AsyncClient]:
    server = Server(top_name="top")
    server.register("data", {1: 10.5, 2: 20.5, "name": "x", "a/b": 3, (4, 5): 6}, name="keys")
    server.register("data", [0, 1, 4, 9], name="squares")
    server.register("data", np.arange(12.0).reshape(3, 4), name="image")
    server.register("data", np.arange(20.0), name="wave")
    server.set_item_field("data/keys", "_monitoring", "1000")

    @server.on_missed_request
    def custom(call: Call) -> Response | None:
        if call.file_name == "status.txt":
            return Response(content_type="text/plain", body=b"all good " * 50)
        return None

    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60) as c:
        yield c


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_every_dict_key_is_listed_and_reachable(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/Objects/data/keys/h.json")).json()["_childs"]
    names = {child["_name"]: child.get("_realname") for child in listed}
    assert names == {"1": None, "2": None, "name": None, "a_b": "a/b", "4,5": None}
    values = {}
    for name in names:
        r = await client.get(f"/Objects/data/keys/{name}/root.json")
        assert r.status_code == 200, name
        values[name] = r.json()
    assert values == {"1": 10.5, "2": 20.5, "name": "x", "a_b": 3, "4,5": 6}
    whole = (await client.get("/Objects/data/keys/root.json")).json()
    assert whole["1"] == 10.5 and whole["a/b"] == 3 and whole["4,5"] == 6


async def test_arrays_have_a_view_jsroot_draws(client: httpx.AsyncClient) -> None:
    data = (await client.get("/Objects/data/h.json")).json()["_childs"]
    kinds = {child["_name"]: (child["_kind"], child.get("_more")) for child in data}
    assert kinds["squares"] == ("ROOT.list", True) and kinds["image"] == ("ROOT.ndarray", True)
    assert kinds["keys"][1] is True
    views = (await client.get("/Objects/data/squares/h.json")).json()["_childs"]
    assert [(v["_name"], v["_kind"]) for v in views] == [("graph", "ROOT.TGraph")]
    views = (await client.get("/Objects/data/image/h.json")).json()["_childs"]
    assert [(v["_name"], v["_kind"]) for v in views] == [("hist", "ROOT.TH2D")]
    # exactly what JSROOT asks for an item of kind ROOT.*
    r = await client.get("/Objects/data/squares/graph/root.json.gz?compact=23")
    graph = parse(r.content.decode())  # httpx undid the gzip
    assert graph["_typename"] == "TGraph" and list(graph["fY"]) == [0, 1, 4, 9]
    hist = parse((await client.get("/Objects/data/image/hist/root.json?compact=23")).text)
    assert hist["_typename"] == "TH2D" and hist["fEntries"] == 12
    # and the plain JSON for scripts, plain at every compact level (no top-level $arr)
    assert (await client.get("/Objects/data/squares/root.json")).json() == [0, 1, 4, 9]
    wave = (await client.get("/Objects/data/wave/root.json?compact=23")).json()
    assert wave == list(range(20))


async def test_pictures_of_lists_and_views_and_roots_sizes(client: httpx.AsyncClient) -> None:
    pytest.importorskip("matplotlib")
    for path in ("squares", "squares/graph", "image/hist", "image"):
        r = await client.get(f"/Objects/data/{path}/root.png")
        assert r.status_code == 200 and png_size(r.content) == (300, 200), path
    small = await client.get("/Objects/data/squares/root.png?w=5&h=3")
    assert small.status_code == 200 and png_size(small.content) == (300, 200)
    sized = await client.get("/Objects/data/squares/root.png?w=400&h=250")
    assert png_size(sized.content) == (400, 250)
    huge = await client.get("/Objects/data/squares/root.png?w=5000")
    assert huge.status_code == 400 and huge.json()["error"] == "bad_argument"
    assert "_noimages" not in (await client.get("/h.json")).json()  # pictures are offered
    nonsense = await client.get("/Objects/data/squares/root.png?w=wide")
    assert nonsense.status_code == 400
    not_drawable = await client.get("/Objects/data/keys/root.png")
    assert not_drawable.status_code == 404 and not_drawable.json()["error"] == "not_drawable"


async def test_gz_on_a_custom_request(client: httpx.AsyncClient) -> None:
    plain = await client.get("/status.txt")
    assert plain.status_code == 200 and plain.content == b"all good " * 50
    async with client.stream("GET", "/status.txt.gz") as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("text/plain")
    assert gzip.decompress(raw) == plain.content and len(raw) < len(plain.content)
    assert (await client.get("/other.txt.gz")).status_code == 404


async def test_get_xml_returns_fields_only(client: httpx.AsyncClient) -> None:
    r = await client.get("/Objects/data/keys/get.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "root" and len(root) == 1
    item = root[0]
    assert item.get("_name") == "keys" and item.get("_monitoring") == "1000"
    assert len(item) == 0  # no children: fields only
    h_xml = ET.fromstring((await client.get("/Objects/data/keys/h.xml")).content)
    assert len(h_xml[0]) == 5  # h.xml lists the members
    top = ET.fromstring((await client.get("/get.xml")).content)[0]
    assert top.get("_name") == "top" and top.get("_kind") == "ROOT.Session" and len(top) == 0
    missing: Any = await client.get("/Objects/nothing/get.xml")
    assert missing.status_code == 404
