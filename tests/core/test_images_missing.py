"""Without the ``images`` extra (issue 14, item 8): a drawable object's picture answers 501
naming the extra, a non-drawable one still 404, and ``h.json`` says ``_noimages`` so the UI
offers no picture. The server runs in a subprocess where matplotlib cannot be imported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVER = """
import sys
sys.modules["matplotlib"] = None  # what a machine without the images extra looks like
import trio
from trioserve import Server, Text
from trioserve.histograms import Hist1D

async def main():
    server = Server(top_name="nomatplotlib")
    h = Hist1D("hpx", "px", 10, 0, 1)
    h.fill_many([0.1, 0.5, 0.5])
    server.register("hists", h)
    server.register("data", [0, 1, 4, 9], name="squares")
    server.register("/", Text("hello"), name="status")
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "http:127.0.0.1:0")
        print(server.addresses[0][1], flush=True)

trio.run(main)
"""


@pytest.fixture
def base_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the port, once the engine listens (or EOF if it died)
        if not line.strip():
            proc.kill()
            pytest.fail(f"the server did not start: {proc.communicate()[1]}")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        proc.kill()
        proc.communicate()


def test_a_drawable_object_says_the_images_extra_is_missing(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for path in ("/Objects/hists/hpx/root.png", "/Objects/data/squares/root.gif"):
            r = client.get(path)
            assert r.status_code == 501, path
            body = r.json()
            assert body["error"] == "images_extra_missing"
            assert "pip install 'trioserve[images]'" in body["message"]
        # not drawable at all: still ROOT's 404
        r = client.get("/status/root.png")
        assert r.status_code == 404 and r.json()["error"] == "not_drawable"
        # the data itself is served as always
        assert client.get("/Objects/hists/hpx/root.json").json()["fEntries"] == 3


def test_h_json_tells_the_ui_not_to_offer_pictures(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        top = client.get("/h.json").json()
        assert top["_noimages"] is True
        assert client.get("/Objects/hists/h.json").json()["_noimages"] is True
