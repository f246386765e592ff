"""Python analog of ROOT's tutorials/http/httpserver.C.

A job fills histograms in its own loop; a server task in the same Trio program serves them.
Run it, then open http://127.0.0.1:8080/ or
``curl http://127.0.0.1:8080/Objects/hists/hpx/root.json?compact=23``.

    python examples/httpserver.py --port 8080 --job Job1
"""

from __future__ import annotations

import argparse

import numpy as np
import trio

import trioserve
from trioserve.histograms import Hist1D, Hist2D


async def main(port: int, job: str, iterations: int | None) -> None:
    server = trioserve.Server(top_name=job)  # ROOT: "http:8080?top=Job1"
    hpx = Hist1D("hpx", "This is the px distribution", 100, -4, 4)
    hpxpy = Hist2D("hpxpy", "py vs px", 40, -4, 4, 40, -4, 4)
    server.register("hists", hpx)
    server.register("hists", hpxpy)
    server.set_item_field("/", "_monitoring", "2000")
    server.set_item_field("/", "_drawitem", "[Objects/hists/hpx,Objects/hists/hpxpy]")
    rng = np.random.default_rng()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"http:{port}")
        print(f"serving http://127.0.0.1:{server.addresses[0][1]}/", flush=True)
        n = 0
        while iterations is None or n < iterations:
            px, py = rng.normal(size=1000), rng.normal(size=1000)
            hpx.fill_many(px)  # the job's own work; the server never blocks it
            hpxpy.fill_many(px, py)
            n += 1
            await trio.sleep(0.1)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--job", default="Job1")
    parser.add_argument("--iterations", type=int, default=None)
    args = parser.parse_args()
    trio.run(main, args.port, args.job, args.iterations)
