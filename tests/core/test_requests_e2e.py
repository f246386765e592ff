"""Every request kind of the core issue, end to end over real TCP and unix sockets."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.conftest import Sample
from trioserve import Response, Server, Text

pytestmark = pytest.mark.trio


@pytest.fixture(params=["tcp", "unix"])
async def client(
    request: pytest.FixtureRequest, nursery: trio.Nursery, short_tmp: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Server]]:
    server = Server(top_name="test", cors="*")
    sample = Sample()
    server.register("sub", sample)
    server.register("/", Text("hello <world>"), name="status")
    server.register("sub", [1, 2, 3], name="numbers")
    server.set_item_field("sub/sample", "_monitoring", "500")
    sock = short_tmp / "s.sock"
    await nursery.start(server.serve, f"http:0;socket:{sock}")
    if request.param == "tcp":
        host, port = server.addresses[0][:2]
        transport = httpx.AsyncHTTPTransport()
        base = f"http://{host}:{port}"
    else:
        transport = httpx.AsyncHTTPTransport(uds=str(sock))
        base = "http://localhost"
    async with httpx.AsyncClient(transport=transport, base_url=base) as c:
        yield c, server


async def test_whole_hierarchy(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get("/h.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    top = r.json()
    assert top["_name"] == "test" and top["_kind"] == "ROOT.Session"
    names = [child["_name"] for child in top["_childs"]]
    assert names == ["Objects", "status"]
    sub = top["_childs"][0]["_childs"][0]
    assert sub["_name"] == "sub" and sub["_kind"] == "ROOT.TFolder"
    sample = sub["_childs"][0]
    assert sample == {
        "_name": "sample",
        "_monitoring": "500",
        "_kind": sample["_kind"],
        "_title": "a sample object",
        "_more": True,
    }
    assert top["_childs"][1]["_kind"] == "Text"
    compact = (await c.get("/h.json?compact")).text
    assert "\n" not in compact and '"_childs":[' in compact
    assert json.loads(compact) == top
    assert r.text.startswith('{\n  "_name" : "test",\n  "_kind" : "ROOT.Session",')


async def test_hierarchy_of_a_path_and_of_an_object(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    folder = (await c.get("/Objects/sub/h.json")).json()
    assert folder["_name"] == "sub"
    assert [x["_name"] for x in folder["_childs"]] == ["sample", "numbers"]
    obj = (await c.get("/Objects/sub/sample/h.json")).json()
    members = {x["_name"]: x for x in obj["_childs"]}
    assert set(members) == {"name", "title", "count", "label", "values", "inner"}
    assert members["inner"]["_more"] is True
    r = await c.get("/Objects/nothing/h.json")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_h_xml(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get("/h.xml")
    assert r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "root"
    top = root[0]
    assert top.get("_name") == "test"
    assert [x.get("_name") for x in top] == ["Objects", "status"]


async def test_item_json(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    item = (await c.get("/Objects/sub/sample/item.json")).json()
    assert item["_name"] == "sample" and item["_monitoring"] == "500"
    assert "_childs" not in item
    text = (await c.get("/status/item.json")).json()
    assert text["_kind"] == "Text" and text["value"] == "hello <world>"
    assert (await c.get("/missing/item.json")).status_code == 404


async def test_root_json_object_and_members(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get("/Objects/sub/sample/root.json")
    assert r.status_code == 200
    obj = r.json()
    assert obj["count"] == 7 and obj["label"] == "été <b>&</b>"
    assert "_private" not in obj and "_typename" in obj
    assert r.text.startswith('{\n  "_typename" : ')
    assert (await c.get("/Objects/sub/sample/count/root.json")).json() == 7
    assert (await c.get("/Objects/sub/sample/inner/value/root.json")).json() == 3
    assert (await c.get("/Objects/sub/numbers/root.json")).json() == [1, 2, 3]
    compact3 = (await c.get("/Objects/sub/sample/root.json?compact=3")).text
    assert " " not in compact3.replace("a sample object", "").replace("été <b>&<\\/b>", "")
    assert json.loads(compact3) == obj


@pytest.mark.parametrize(
    "path",
    [
        "/Objects/sub/sample/_private/root.json",
        "/Objects/sub/sample/__class__/root.json",
        "/Objects/sub/sample/__dict__/root.json",
        "/Objects/sub/sample/describe/root.json",
        "/Objects/sub/sample/inner/_secret/root.json",
        "/Objects/sub/sample/__init__/__globals__/root.json",
        "/Objects/sub/sample/inner/%5F%5Fclass%5F%5F/root.json",
    ],
)
async def test_no_python_introspection_from_urls(client, path: str) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get(path)
    assert r.status_code == 404
    assert "never shown" not in r.text and "hidden" not in r.text


async def test_gz_variants(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    for name, ctype in [
        ("root.json", "application/json"),
        ("h.xml", "text/xml"),
        ("h.json", "application/json"),
    ]:
        async with c.stream(
            "GET", f"/Objects/sub/sample/{name}.gz", headers={"accept-encoding": "identity"}
        ) as r:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
        assert r.status_code == 200, name
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"].startswith(ctype)
        assert raw[:2] == b"\x1f\x8b"  # compressed although the client did not ask
        plain = await c.get(f"/Objects/sub/sample/{name}")
        assert gzip.decompress(raw) == plain.content


async def test_index_page_embeds_hierarchy(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "$$$h.json$$$" not in r.text and '"_name":"test"' in r.text
    # the embedded JSON cannot close a script element early
    assert r.text.count("</script>") == r.text.count("<script")
    # a page of a missing path is a 404 (a browser sees the error page), not an empty UI
    missing = await c.get("/Objects/missing/")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_headers_on_dynamic_replies(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.get("/Objects/sub/sample/root.json")
    assert "no-cache" in r.headers["cache-control"] and "no-store" in r.headers["cache-control"]
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["date"] and r.headers["server"].startswith("trioserve")
    assert int(r.headers["content-length"]) == len(r.content)


async def test_preflight_and_methods(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = await c.options(
        "/h.json", headers={"origin": "https://x.org", "access-control-request-method": "GET"}
    )
    assert r.status_code in (200, 204)
    assert r.headers["access-control-allow-origin"] in ("*", "https://x.org")
    r = await c.request("PUT", "/h.json", content=b"x")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert "GET" in r.headers["allow"]


async def test_unknown_names_404_and_missed_request_hook(client) -> None:  # type: ignore[no-untyped-def]
    c, server = client
    assert (await c.get("/Objects/sub/sample/what.json")).status_code == 404
    assert (await c.get("/hpx")).status_code == 404

    def hook(call):  # type: ignore[no-untyped-def]
        if call.file_name == "custom.txt":
            return Response(content_type="text/plain", body=f"custom {call.item_path}".encode())
        return None

    server.on_missed_request(hook)
    r = await c.get("/Objects/custom.txt")
    assert r.status_code == 200 and r.text == "custom Objects"
    assert (await c.get("/Objects/other.txt")).status_code == 404
