"""``file.root`` over real sockets: whole files, ranges (one and several), validators, ``.gz``,
the policy, and the 501 of a server without uproot (a real server process)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import trio

from trioserve import Server
from trioserve.histograms import Hist1D

uproot = pytest.importorskip("uproot", reason="SKIPPED LOUDLY: the root extra is not installed")

HPX = "/Objects/hists/hpx/file.root"


@dataclass
class Detector:
    """An object with a public histogram member and a private array."""

    hist: Hist1D
    _calibration: Any = field(default_factory=lambda: np.arange(4.0))


DETECTOR = Detector(hist=Hist1D("det", "detector", 4, 0, 4))


@pytest.fixture
async def base(nursery: trio.Nursery) -> str:
    server = Server(top_name="main")
    hpx = Hist1D("hpx", "px distribution", 40, -4, 4, xtitle="px")
    hpx.fill_many(np.random.default_rng(1).normal(size=5000))
    server.register("hists", hpx)
    server.register("hists", {"ok": np.arange(5), "_private": np.arange(3)}, name="bundle")
    server.register("secret", np.arange(10), name="hidden_arr")
    DETECTOR.hist.reset()
    server.register("/", DETECTOR, name="det")
    server.register("/", object(), name="opaque")
    server.restrict("/Objects/secret", "hidden=all")
    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    return f"http://{host}:{port}"


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body."""
    boundary = re.search(r"boundary=(\S+)", content_type)
    assert boundary is not None
    delimiter = b"--" + boundary.group(1).encode()
    assert body.endswith(delimiter + b"--\r\n")
    parts = []
    for chunk in body.split(delimiter)[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        found = re.search(rb"Content-Range: (bytes \S+)", head)
        assert found is not None
        parts.append((found.group(1).decode(), data))
    return parts


async def test_the_whole_file_is_a_root_file_uproot_reads(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        reply = await c.get(HPX)
        json_view = (await c.get("/Objects/hists/hpx/root.json")).json()
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.headers["content-disposition"] == 'attachment; filename="hpx.root"'
    assert re.fullmatch(r'"[0-9a-f]{32}"', reply.headers["etag"])
    assert "no-store" in reply.headers["cache-control"]  # a live object, like root.json
    assert reply.content[:4] == b"root"
    back = uproot.open(io.BytesIO(reply.content))["hpx"]
    assert back.member("fTitle") == json_view["fTitle"] == "px distribution"
    assert back.member("fEntries") == json_view["fEntries"] == 5000
    np.testing.assert_array_equal(back.values(flow=True), json_view["fArray"])


async def test_one_range_and_several_ranges_cut_from_one_image(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        whole = (await c.get(HPX)).content
        size = len(whole)
        one = await c.get(HPX, headers={"Range": "bytes=0-99"})
        assert one.status_code == 206 and one.content == whole[:100]
        assert one.headers["content-range"] == f"bytes 0-99/{size}"
        suffix = await c.get(HPX, headers={"Range": "bytes=-10"})
        assert suffix.status_code == 206 and suffix.content == whole[-10:]
        # what JSROOT sends once it knows where the keys and the streamer infos are
        many = await c.get(HPX, headers={"Range": "bytes=0-9,200-299,1000-1003"})
        assert many.status_code == 206
        assert many.headers["content-type"].startswith("multipart/byteranges; boundary=")
        parts = parse_multipart(many.headers["content-type"], many.content)
        assert parts == [
            (f"bytes 0-9/{size}", whole[:10]),
            (f"bytes 200-299/{size}", whole[200:300]),
            (f"bytes 1000-1003/{size}", whole[1000:1004]),
        ]
        beyond = await c.get(HPX, headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"
        assert beyond.json()["error"] == "range_not_satisfiable"
        overlapping = await c.get(HPX, headers={"Range": "bytes=0-50,10-20"})
        assert overlapping.status_code == 200 and overlapping.content == whole
        head = await c.head(HPX)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == size


async def test_validators_304_412_and_if_range(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        first = await c.get(HPX)
        etag = first.headers["etag"]
        same = await c.get(HPX, headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        assert same.headers["etag"] == etag
        other = await c.get(HPX, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content
        refused = await c.get(HPX, headers={"If-Match": '"something-else"'})
        assert refused.status_code == 412 and refused.json()["error"] == "precondition_failed"
        kept = await c.get(HPX, headers={"Range": "bytes=4-7", "If-Range": etag})
        assert kept.status_code == 206 and kept.content == first.content[4:8]
        changed = await c.get(HPX, headers={"Range": "bytes=4-7", "If-Range": '"old"'})
        assert changed.status_code == 200 and changed.content == first.content
        # no Last-Modified for a live object: date conditions are ignored, never a 304
        dated = await c.get(HPX, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert dated.status_code == 200 and "last-modified" not in dated.headers


async def test_a_changed_object_is_a_new_image_with_the_same_layout(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        before = await c.get("/det/hist/file.root")
        assert before.status_code == 200
        assert uproot.open(io.BytesIO(before.content))["hist"].member("fEntries") == 0
        DETECTOR.hist.fill_many([0.5, 1.5, 1.5])  # the program fills between two requests
        after = await c.get(
            "/det/hist/file.root", headers={"If-None-Match": before.headers["etag"]}
        )
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    back = uproot.open(io.BytesIO(after.content))["hist"]
    assert back.member("fEntries") == 3 and back.values().tolist() == [1, 2, 0, 0]
    # same size, same offsets: a reader part-way through the old image reads whole records
    assert len(after.content) == len(before.content)


async def test_gz_is_the_whole_file_gzipped_and_never_ranged(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        plain = await c.get(HPX)
        packed = await c.get(
            HPX + ".gz", headers={"Range": "bytes=0-9", "Accept-Encoding": "identity"}
        )
    assert packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx undid the gzip the header announced
    assert "accept-ranges" not in packed.headers
    assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'


async def test_hidden_private_and_unwritable_items(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        hidden = await c.get("/Objects/secret/hidden_arr/file.root")
        missing = await c.get("/Objects/secret/no_such_item/file.root")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.content == missing.content  # hidden looks exactly like missing
        private = await c.get("/det/_calibration/file.root")
        assert private.status_code == 404
        bundle = await c.get("/Objects/hists/bundle/file.root")
        assert bundle.status_code == 200 and b"_private" not in bundle.content
        keys = uproot.open(io.BytesIO(bundle.content)).keys(cycle=False)
        assert keys == ["ok"]
        folder = await c.get("/Objects/hists/file.root")
        assert folder.status_code == 404 and folder.json()["error"] == "not_an_object"
        opaque = await c.get("/opaque/file.root")
        assert opaque.status_code == 404
        assert opaque.json()["error"] == "not_root_writable"
        assert "histograms" in opaque.json()["message"]


SERVER_WITHOUT_UPROOT = textwrap.dedent(
    """
    import sys
    sys.modules["uproot"] = None  # as if the root extra were not installed
    import numpy as np
    import trio
    from trioserve import Server

    async def main():
        server = Server()
        server.register("a", np.arange(3), name="arr")
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, "http:127.0.0.1:0")
            host, port = server.addresses[0][:2]
            print(f"http://{host}:{port}", flush=True)

    trio.run(main)
    """
)


def test_without_uproot_the_server_answers_501_naming_the_extra() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_WITHOUT_UPROOT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        reply = httpx.get(url + "/Objects/a/arr/file.root", timeout=30)
        assert reply.status_code == 501
        body = reply.json()
        assert body["error"] == "root_extra_missing"
        assert "pip install 'trioserve[root]'" in body["message"]
        # everything else still works
        assert httpx.get(url + "/Objects/a/arr/root.json", timeout=30).json() == [0, 1, 2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
