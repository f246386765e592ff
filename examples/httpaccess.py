"""Python analog of ROOT's tutorials/http/httpaccess.C: users, digest login and access rules.

Every request must log in (digest authentication, realm ``root``) with an account of
``config/example.htdigest``: ``guest`` with the EMPTY password, or ``admin`` with the password
``admin`` (never use that file for a real server; make your own with
``trioserve htdigest FILE REALM USER``).

    python examples/httpaccess.py --port 8080
    curl --digest -u guest: http://127.0.0.1:8080/h.json          # no hpxpy, no commands
    curl --digest -u admin:admin http://127.0.0.1:8080/h.json     # everything
    curl --digest -u admin:admin 'http://127.0.0.1:8080/Rate/cmd.json?arg1=100'

The rules (compare with the C++ tutorial; here they really do what its comments say):

* ``hpxpy`` and the ``Start``/``Stop``/``ResetHPX`` commands: visible to admin only. A guest
  does not see them in the tree, and a request for them answers 404 as for a missing item
  (ROOT listed them as hidden but still ran the commands).
* ``Rate``: everybody sees it, only admin may run it (guest gets ``false``).
* ``hpx``: read-only for everyone, but its ``fill`` method may be called through ``exe.json``
  (``allow_method``), e.g. ``/hpx/exe.json?method=fill&x=0.5``; ``reset`` may not (403).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import trio

import trioserve
from trioserve.histograms import Hist1D, Hist2D

HTDIGEST = Path(__file__).resolve().parent.parent / "config" / "example.htdigest"


def build() -> tuple[trioserve.Server, Hist1D, Hist2D, dict[str, int]]:
    server = trioserve.Server(top_name="httpaccess")
    hpx = Hist1D("hpx", "This is the px distribution", 100, -4, 4)
    hpxpy = Hist2D("hpxpy", "py vs px", 40, -4, 4, 40, -4, 4)
    state = {"running": True, "rate": 500}
    server.register("/", hpx)
    server.register("/", hpxpy)

    def start() -> bool:
        state["running"] = True
        return True

    def stop() -> bool:
        state["running"] = False
        return True

    def rate(n: int) -> bool:
        """Entries filled per loop: a typed argument, so anything but an integer is refused
        before this runs, and the range check is ours."""
        if not 0 <= n <= 10000:
            return False
        state["rate"] = n
        return True

    server.register_command("/Start", start, button=True)
    server.register_command("/Stop", stop, button=True)
    server.register_command("/ResetHPX", hpx.reset, update_item="hpx")
    server.register_command("/Rate", rate)
    for path in ("/hpxpy", "/Start", "/Stop", "/ResetHPX"):
        server.restrict(path, "visible=admin")
    server.restrict("/Rate", "allow=admin")
    server.restrict("/hpx", "allow_method=fill")
    return server, hpx, hpxpy, state


async def main(port: int, seconds: float | None, auth_file: Path) -> None:
    server, hpx, hpxpy, state = build()
    rng = np.random.default_rng()
    spec = f"http:{port}?auth_file={auth_file}&auth_domain=root"
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, spec)
        print(
            f"serving http://127.0.0.1:{server.addresses[0][1]}/ (login guest: or admin:admin)",
            flush=True,
        )
        with trio.move_on_after(seconds if seconds is not None else float("inf")):
            while True:
                if state["running"]:
                    px, py = rng.normal(size=state["rate"]), rng.normal(size=state["rate"])
                    hpx.fill_many(px)
                    hpxpy.fill_many(px, py)
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--auth-file", type=Path, default=HTDIGEST)
    args = parser.parse_args()
    trio.run(main, args.port, args.seconds, args.auth_file)
