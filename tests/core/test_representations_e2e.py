"""root.bin, root.xml and the images through a real server, per-engine top names, and the
`trioserve htdigest` command."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cbor2
import httpx
import numpy as np
import pytest
import trio

from tests.conftest import Sample
from trioserve import Server
from trioserve.auth.credentials import ha1
from trioserve.histograms import Hist1D


@pytest.fixture
async def base(nursery: trio.Nursery) -> str:
    server = Server(top_name="main")
    hist = Hist1D("hpx", "px", 20, -2, 2)
    hist.fill_many(np.linspace(-1.5, 1.5, 300))
    server.register("h", hist)
    server.register("a", np.arange(12, dtype=np.int32).reshape(3, 4), name="grid")
    server.register("/", Sample())
    await nursery.start(server.serve, "http:0;http:0?top=second")
    (h1, p1), (h2, p2) = (a[:2] for a in server.addresses)
    assert h1 == h2
    return f"http://{h1}:{p1}|http://{h2}:{p2}"


async def test_images(base: str) -> None:
    url = base.split("|")[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        png = await c.get("/Objects/h/hpx/root.png?w=400&h=300")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = (int.from_bytes(png.content[16:20]), int.from_bytes(png.content[20:24]))
        assert (width, height) == (400, 300)
        gif = await c.get("/Objects/a/grid/root.gif")
        assert gif.status_code == 200 and gif.content[:4] == b"GIF8"
        jpeg = await c.get("/Objects/h/hpx/root.jpeg")
        assert jpeg.status_code == 200 and jpeg.content[:3] == b"\xff\xd8\xff"
        not_drawable = await c.get("/sample/root.png")
        assert not_drawable.status_code == 404
        assert not_drawable.json()["error"] == "not_drawable"
        bad = await c.get("/Objects/h/hpx/root.png?w=huge")
        assert bad.status_code == 400 and bad.json()["error"] == "bad_argument"


async def test_cbor_and_xml(base: str) -> None:
    url = base.split("|")[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        binary = await c.get("/sample/root.bin")
        assert binary.headers["content-type"] == "application/cbor"
        assert binary.headers["rootclassname"] == "Sample"
        decoded = cbor2.loads(binary.content)
        assert decoded["count"] == 7 and decoded["inner"]["value"] == 3
        assert "_private" not in decoded
        grid = cbor2.loads((await c.get("/Objects/a/grid/root.bin")).content)
        # RFC 8746: tag 40 (row-major N-D array) around tag 78 (int32, little endian)
        assert grid.tag == 40 and list(grid.value[0]) == [3, 4]
        typed = grid.value[1]
        assert typed.tag == 78
        assert typed.value == np.arange(12, dtype="<i4").tobytes()
        xml = await c.get("/sample/root.xml")
        assert xml.headers["content-type"].startswith("text/xml")
        assert "never shown" not in xml.text
        ET.fromstring(xml.content)  # well-formed


async def test_top_name_per_engine(base: str) -> None:
    first, second = base.split("|")
    async with httpx.AsyncClient(timeout=10) as c:
        assert (await c.get(first + "/h.json")).json()["_name"] == "main"
        assert (await c.get(second + "/h.json")).json()["_name"] == "second"


def test_htdigest_command_writes_a_file_the_server_reads(tmp_path: Path) -> None:
    path = tmp_path / "users.htdigest"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trioserve.cli",
            "htdigest",
            "-c",
            "--password-stdin",
            str(path),
            "root",
            "alice",
        ],
        input="s3cret\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert f"alice:root:{ha1('MD5', 'alice', 'root', 's3cret')}" in text  # Apache's MD5 line
    assert "s3cret" not in text and "s3cret" not in result.stdout + result.stderr
