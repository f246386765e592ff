"""Images are drawn from a snapshot taken where ``root.json`` reads its object, never from
the live object in a worker thread (issue 10, item 14).

A Trio program refills a histogram with ``h.reset(); h.fill_many(data)`` and no ``await``
between: every state a request can observe on the event loop is the full histogram. Real
``root.png`` requests must all show it, never the empty histogram that exists only in the
middle of the program's update.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import trio

from trioserve import Server
from trioserve.histograms import Hist1D
from trioserve.render.image import render_image

pytestmark = pytest.mark.trio

REQUESTS = 12


def _filled(data: np.ndarray) -> Hist1D:
    hist = Hist1D("h", "refilled", 40, -4, 4)
    hist.fill_many(data)
    return hist


async def test_png_never_shows_a_half_updated_histogram(nursery: trio.Nursery) -> None:
    pytest.importorskip("matplotlib")
    data = np.random.default_rng(7).normal(size=400_000)
    hist = _filled(data)
    full = render_image(_filled(data), "png")
    empty = render_image(Hist1D("h", "refilled", 40, -4, 4), "png")
    assert full is not None and empty is not None and full != empty

    server = Server()
    server.register("/", hist)

    async def refill() -> None:
        while True:
            hist.reset()
            hist.fill_many(data)  # no await in between: the loop never sees it empty
            await trio.sleep(0)

    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as client:
        nursery.start_soon(refill)
        images = [(await client.get("/h/root.png")).content for _ in range(REQUESTS)]
        states = [(await client.get("/h/root.json")).json()["fEntries"] for _ in range(5)]
        nursery.cancel_scope.cancel()
    assert states == [data.size] * 5
    torn = sum(image != full for image in images)
    assert torn == 0, f"{torn} of {REQUESTS} images drew a half-updated histogram"
