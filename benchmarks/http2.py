"""HTTP/2: many small requests as streams multiplexed on one connection (h2load), against the
same over HTTP/1.1 keep-alive, and against hypercorn's HTTP/2 serving the same bytes.

    python3 benchmarks/http2.py [--duration 10] [--runs 3] [--streams 32] [--clients 1]

Every server answers ``GET /Objects/obj/root.json`` with the exact bytes trioserve renders for
it (``_servers.py``: trioserve itself; ``_servers:app`` under hypercorn --worker-class trio).
Rows, each ``h2load -c CLIENTS -D DURATION`` on the load core, the server on the server core:

- ``trioserve h2``: h2c with prior knowledge, ``-m STREAMS`` streams in flight per connection
  (what a monitoring page's many small requests become over HTTP/2);
- ``trioserve h1.1``: ``--h1 -m 1``, keep-alive, one request at a time per connection (what
  the browser does over each HTTP/1.1 connection);
- ``hypercorn h2`` and ``hypercorn h1.1``: the same two loads on hypercorn (the python-hyper
  ``h2`` and ``h11`` we build on too), the peer in the same run.

h2load reports no latency percentiles: the p50/p99 columns stay empty; the rate, failures,
the server's CPU and the µs of CPU per request are what compare. Medians of ``--runs`` runs,
interleaved (harness: ``_harness.py``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import _harness as h
from _servers import rendered

PATH = "/Objects/obj/root.json"


@dataclass
class Peer:
    name: str
    argv: Callable[[int], list[str]]
    module: str
    ready_line: bool
    http2: bool


def _trioserve(port: int) -> list[str]:
    return [h.PYTHON, str(h.HERE / "_servers.py"), "trioserve", str(port)]


def _hypercorn(port: int) -> list[str]:
    return [
        h.PYTHON, "-m", "hypercorn", "--worker-class", "trio", "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "_servers:app",
    ]  # fmt: skip


SERVERS = {  # name -> (argv, module that must import, prints "ready")
    "trioserve": (_trioserve, "trio", True),
    "hypercorn": (_hypercorn, "hypercorn", False),
}
ROWS = [  # (row name, server, HTTP/2?)
    ("trioserve h2", "trioserve", True),
    ("trioserve h1.1", "trioserve", False),
    ("hypercorn h2", "hypercorn", True),
    ("hypercorn h1.1", "hypercorn", False),
]


def h2load_argv(url: str, seconds: float, clients: int, streams: int, http2: bool) -> list[str]:
    argv = ["h2load", f"-c{clients}", f"-D{max(1, round(seconds))}"]
    argv += [f"-m{streams}"] if http2 else ["--h1", "-m1"]
    return [*argv, url]


def parse_h2load(out: str) -> h.Result:
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    counts = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (rate and counts and codes):
        raise RuntimeError(f"h2load said:\n{out}")
    non2xx = sum(int(codes.group(i)) for i in (2, 3, 4))
    failed = int(counts.group(2)) + int(counts.group(3))
    return h.Result(
        float(rate.group(1)), errors=failed + non2xx, timeouts=int(counts.group(4)), non2xx=non2xx
    )


def run_h2load(argv: list[str], servers: list[h.Process], seconds: float) -> h.Result:
    with h.Meter(servers) as meter:
        done = subprocess.run(
            h.pinned(argv, h.LOAD_CORE), capture_output=True, text=True, timeout=seconds + 60
        )
    if done.returncode != 0:
        raise RuntimeError(f"h2load failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    result = parse_h2load(done.stdout)
    protocol = "http/1.1" if "--h1" in argv else "h2c"
    if f"Application protocol: {protocol}" not in done.stdout:
        raise RuntimeError(f"h2load did not speak {protocol}:\n{done.stdout[-500:]}")
    return h.Result(
        result.rate,
        errors=result.errors,
        timeouts=result.timeouts,
        non2xx=result.non2xx,
        cpu=meter.cpu,
        others=meter.others,
    )


def main() -> None:
    parser = h.arguments(__doc__)
    parser.add_argument("--streams", type=int, default=32, help="h2load -m for the h2 rows")
    parser.add_argument("--clients", type=int, default=1, help="h2load -c (connections)")
    args = parser.parse_args()
    h.begin("HTTP/2: multiplexed streams against HTTP/1.1 keep-alive, and against hypercorn", args)
    expected = rendered()
    missing_tools = h.require("h2load", "taskset") if h.PINNED else h.require("h2load")
    with h.running([]) as started:
        procs: dict[str, h.Process] = {}
        problems: dict[str, str] = {}
        for name, (argv, module, ready_line) in SERVERS.items():
            why = f"missing: {', '.join(missing_tools)}" if missing_tools else None
            why = why or h.missing_module(module)
            if why:
                problems[name] = why
                continue
            port = h.free_port()
            try:
                proc = h.start(
                    name,
                    argv(port),
                    port=port,
                    ready_line=ready_line,
                    env={"PYTHONPATH": str(h.HERE)},
                    cwd=h.HERE,
                )
            except RuntimeError as exc:
                problems[name] = f"did not start: {exc}".splitlines()[0]
                continue
            started.append(proc)
            procs[name] = proc
            body = h.get(f"http://127.0.0.1:{port}{PATH}")
            if body != expected:
                problems[name] = f"serves other bytes ({len(body)} B, expected {len(expected)} B)"
        rows = []
        for row_name, server, http2 in ROWS:
            row = h.Row(row_name, missing=problems.get(server))
            if server in procs:
                row.command = procs[server].command
            rows.append((row, server, http2))
        print(f"GET {PATH}: {len(expected)} bytes, the same from every server\n")

        def argv_of(row: h.Row, seconds: float) -> list[str]:
            _, server, http2 = next(entry for entry in rows if entry[0] is row)
            url = f"http://127.0.0.1:{procs[server].port}{PATH}"
            return h2load_argv(url, seconds, args.clients, args.streams, http2)

        def one(row: h.Row) -> h.Result:
            argv = argv_of(row, args.duration)
            row.load = " ".join(h.pinned(argv, h.LOAD_CORE))
            server = next(entry[1] for entry in rows if entry[0] is row)
            return run_h2load(argv, [procs[server]], args.duration)

        def warmup(row: h.Row) -> None:
            if args.warmup > 0:
                run_h2load(argv_of(row, args.warmup), [], args.warmup)

        table = [row for row, _, _ in rows]
        h.measure_interleaved(table, args.runs, one, warmup)
        h.print_table(
            f"small root.json, h2load -c{args.clients}: -m{args.streams} streams (h2) "
            "or keep-alive -m1 (h1.1)",
            table,
            subject="trioserve h2",
            versus="hypercorn h2",
            goal="trioserve h2 ÷ hypercorn h2 ≥ 1.0; 0 errors",
            notes=["h2load gives no latency percentiles: p50/p99 are not measured here"],
        )


if __name__ == "__main__":
    main()
