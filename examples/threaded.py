"""A synchronous program (no Trio of its own) serving its objects: ROOT's usual model.

The server runs in a background thread; objects are only touched inside the program's own
``server.process_requests()`` calls, so a request never sees a half-updated object.

    python examples/threaded.py --port 8080
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import trioserve
from trioserve.histograms import Hist1D


def main(port: int, seconds: float) -> None:
    hist = Hist1D("hist", "filled by a plain loop", 50, -3, 3)
    state = {"iteration": 0, "last_value": 0.0}
    with trioserve.start_in_thread(f"http:{port}", sync="app", top_name="threaded") as server:
        server.register("/", hist)
        server.register("/", state, name="state")
        print(f"serving http://127.0.0.1:{server.addresses[0][1]}/", flush=True)
        rng = np.random.default_rng()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            values = rng.normal(size=100)  # the program's own work...
            hist.fill_many(values)
            state["iteration"] += 1
            state["last_value"] = float(values[-1])
            server.process_requests()  # ...then answer whatever is waiting
            time.sleep(0.02)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args()
    main(args.port, args.seconds)
