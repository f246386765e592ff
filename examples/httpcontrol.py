"""Python analog of ROOT's tutorials/http/httpcontrol.C: a control panel for a running job.

The job fills two histograms in its own loop while the page shows them side by side (grid
layout, monitoring). Two commands shown as toolbar buttons start and stop the filling, a third
resets ``hpx``, and a text item reports the job's state every loop.

    python examples/httpcontrol.py --port 8080
    curl http://127.0.0.1:8080/Stop/cmd.json        # -> true
    curl http://127.0.0.1:8080/ResetHPX/cmd.json    # -> null (done)

Commands are plain Python functions: nothing a user sends is ever evaluated as code. The server
is read-only (the default), so no method of the histograms can be called remotely; commands are
the control channel (restrict them with ``server.restrict(path, "allow=admin")`` and
authentication when the port is reachable by others, see examples/httpaccess.py).
"""

from __future__ import annotations

import argparse

import numpy as np
import trio

import trioserve
from trioserve.histograms import Hist1D, Hist2D


class Job:
    """The program's own state; the commands below are the only remote handles on it."""

    def __init__(self) -> None:
        self.running = True
        self.hpx = Hist1D("hpx", "This is the px distribution", 100, -4, 4)
        self.hpxpy = Hist2D("hpxpy", "py vs px", 40, -4, 4, 40, -4, 4)
        self.status = trioserve.Text("<h3>starting</h3>")

    def start(self) -> bool:
        self.running = True
        return True

    def stop(self) -> bool:
        self.running = False
        return True

    def reset_hpx(self) -> None:
        self.hpx.reset()


def build(job: Job) -> trioserve.Server:
    server = trioserve.Server(top_name="httpcontrol")
    server.register("/", job.hpx)
    server.register("/", job.hpxpy)
    server.register("/", job.status, name="Debug")
    # ROOT: RegisterCommand("/Start", "bFillHist=kTRUE;", "button;rootsys/icons/ed_execute.png")
    server.register_command("/Start", job.start, button=True, title="Start filling")
    server.register_command("/Stop", job.stop, button=True, title="Stop filling")
    server.register_command("/ResetHPX", job.reset_hpx, title="Reset hpx", update_item="hpx")
    server.hide("/Start")  # buttons in the toolbar only, as in the tutorial
    server.hide("/Stop")
    server.set_item_field("/", "_monitoring", "1000")
    server.set_item_field("/", "_layout", "grid2x2")
    server.set_item_field("/", "_drawitem", "[hpxpy,hpx,Debug]")
    server.set_item_field("/", "_drawopt", "col")
    return server


async def main(port: int, seconds: float | None) -> None:
    job = Job()
    server = build(job)
    rng = np.random.default_rng()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"http:{port}")
        print(f"serving http://127.0.0.1:{server.addresses[0][1]}/", flush=True)
        with trio.move_on_after(seconds if seconds is not None else float("inf")):
            loop = 0
            while True:
                if job.running:
                    px, py = rng.normal(size=500), rng.normal(size=500)
                    job.hpx.fill_many(px)
                    job.hpxpy.fill_many(px, py)
                loop += 1
                state = "running" if job.running else "stopped"
                job.status.value = f"<h3>loop {loop}: {state}, hpx entries {job.hpx.entries}</h3>"
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    trio.run(main, args.port, args.seconds)
