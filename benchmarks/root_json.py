"""root.json of a small object under wrk (P1, P2) and memory per idle keep-alive connection
(P4): trioserve against its peers, all in the same invocation.

    python3 benchmarks/root_json.py [--duration 10] [--runs 3] [--idle 2000] [--only P1,P2,P4]

P1: keep-alive, c=1 and c=50; P2: c=500 (wrk -t1 each, server on core 0, wrk on core 1).
Peers, each serving the exact bytes trioserve renders for /Objects/obj/root.json:
- minimal: the least a Trio+h11 server can do (benchmarks/_servers.py), fixed body;
- uvicorn --http h11 and --http httptools, and hypercorn --worker-class trio, each serving
  the same bytes from a tiny ASGI app (``_servers:app``).
A peer that is not installed is reported as missing in the table, not skipped.

P4: each server is started afresh, warmed with a few requests, then N keep-alive connections
are opened, each makes one request and stays idle; RSS (/proc/PID/status) after minus
before, divided by N. trioserve runs with max_connections raised above N (its default cap
of 1000 would close the idle ones).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import _harness as h
import trio
from _client import Client
from _servers import rendered

PATH = "/Objects/obj/root.json"
LOADS = {  # name -> (connections, goal)
    "P1 c=1": (1, "trioserve ÷ minimal ≥ 1.0"),
    "P1 c=50": (50, "trioserve ÷ minimal ≥ 1.0, p99 ≤ 2x the minimal's"),
    "P2 c=500": (500, "0 errors and 0 timeouts"),
}


@dataclass
class Peer:
    name: str
    argv: Callable[[int], list[str]]
    module: str = "trio"  # must import for the peer to run
    ready_line: bool = True


def _servers(kind: str, options: str = "") -> Callable[[int], list[str]]:
    extra = [options] if options else []
    return lambda port: [h.PYTHON, str(h.HERE / "_servers.py"), kind, str(port), *extra]


def _uvicorn(http: str) -> Callable[[int], list[str]]:
    return lambda port: [
        h.PYTHON, "-m", "uvicorn", "_servers:app", "--app-dir", str(h.HERE),
        "--host", "127.0.0.1", "--port", str(port), "--http", http,
        "--no-access-log", "--log-level", "warning", "--lifespan", "on",
    ]  # fmt: skip


def _hypercorn(port: int) -> list[str]:
    return [
        h.PYTHON, "-m", "hypercorn", "--worker-class", "trio", "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "_servers:app",
    ]  # fmt: skip


PEERS = [
    Peer("trioserve", _servers("trioserve")),
    Peer("minimal", _servers("minimal")),
    Peer("uvicorn-h11", _uvicorn("h11"), "uvicorn", ready_line=False),
    Peer("uvicorn-httptools", _uvicorn("httptools"), "httptools", ready_line=False),
    Peer("hypercorn-trio", _hypercorn, "hypercorn", ready_line=False),
]


def start_peer(peer: Peer, port: int) -> h.Process:
    return h.start(
        peer.name,
        peer.argv(port),
        port=port,
        ready_line=peer.ready_line,
        env={"PYTHONPATH": str(h.HERE)},  # hypercorn finds _servers:app here
        cwd=h.HERE,
    )


def throughput(args: argparse.Namespace, loads: list[str]) -> None:
    expected = rendered()
    rows = {peer.name: h.Row(peer.name) for peer in PEERS}
    procs: dict[str, h.Process] = {}
    ports: dict[str, int] = {}
    with h.running([]) as started:
        for peer in PEERS:
            row = rows[peer.name]
            row.missing = h.missing_module(peer.module)
            if row.missing:
                continue
            ports[peer.name] = h.free_port()
            try:
                proc = start_peer(peer, ports[peer.name])
            except RuntimeError as exc:
                row.missing = f"did not start: {exc}".splitlines()[0]
                continue
            started.append(proc)
            procs[peer.name] = proc
            row.command = proc.command
            body = h.get(f"http://127.0.0.1:{ports[peer.name]}{PATH}")
            if body != expected:
                row.missing = f"serves other bytes ({len(body)} B, expected {len(expected)} B)"
        print(f"GET {PATH}: {len(expected)} bytes, the same from every server\n")
        for load in loads:
            # a fresh row per load, the same processes
            table = [h.Row(r.name, r.command, missing=r.missing) for r in rows.values()]
            measure_load(args, load, table, procs, ports)


def measure_load(
    args: argparse.Namespace,
    load: str,
    table: list[h.Row],
    procs: dict[str, h.Process],
    ports: dict[str, int],
) -> None:
    connections, goal = LOADS[load]

    def argv(row: h.Row, seconds: float) -> list[str]:
        return h.wrk_argv(f"http://127.0.0.1:{ports[row.name]}{PATH}", seconds, connections)

    h.measure_wrk(table, args, argv, lambda row: [procs[row.name]])
    h.print_table(
        f"{load}: root.json of a small object, keep-alive, wrk -t1 -c{connections}",
        table,
        subject="trioserve",
        versus="minimal",
        goal=goal,
    )


# ------------------------------------------------------------------------- P4


async def _open_idle(port: int, count: int) -> list[Client]:
    """``count`` connections, each after one complete request, left open and idle."""
    clients = [Client(port) for _ in range(count)]
    limit = trio.CapacityLimiter(64)

    async def one(client: Client) -> None:
        async with limit:
            reply = await client.get(PATH)
            if reply.status != 200:
                raise RuntimeError(f"status {reply.status}")

    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(one, client)
    return clients


def idle_memory(proc: h.Process, port: int, count: int) -> float:
    """KiB of server RSS per idle keep-alive connection."""

    async def main() -> float:
        for client in await _open_idle(port, 20):  # code paths and buffers warmed up
            await client.aclose()
        await trio.sleep(0.5)
        before = proc.rss_kib()
        clients = await _open_idle(port, count)
        await trio.sleep(1.0)
        after = proc.rss_kib()
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} died")
        for client in clients:
            await client.aclose()
        return (after - before) / count

    return trio.run(main)


def memory(args: argparse.Namespace) -> None:
    peers = [
        Peer("trioserve", _servers("trioserve", f"max_connections={args.idle + 1000}")),
        Peer("minimal", _servers("minimal")),
    ]
    results: dict[str, list[float]] = {p.name: [] for p in peers}
    commands: dict[str, str] = {}
    for _ in range(args.runs):
        for peer in peers:
            port = h.free_port()
            with h.running([start_peer(peer, port)]) as ps:
                commands[peer.name] = ps[0].command
                results[peer.name].append(idle_memory(ps[0], port, args.idle))
    minimal = statistics.median(results["minimal"])
    print(
        f"## P4: memory per idle keep-alive connection ({args.idle} connections, one request each)"
    )
    print("| server | KiB per connection | spread | this ÷ minimal |")
    print("|---|---|---|---|")
    for name, values in results.items():
        mid = statistics.median(values)
        spread = (max(values) - min(values)) / 2
        print(f"| {name} | {mid:.1f} | ±{spread:.1f} | {mid / minimal:.2f} |")
    print("\ngoal: trioserve ≤ 1.0x the minimal's\n\ncommands:")
    for name, command in commands.items():
        print(f"  {name}: {command}")
    print("    load: this script (trio+h11 client, 64 connections opened at a time)\n")


def main() -> int:
    parser = h.arguments(__doc__)
    parser.add_argument("--idle", type=int, default=2000, help="idle connections for P4")
    parser.add_argument("--only", default="P1,P2,P4", help="which parts (P1, P2, P4)")
    args = parser.parse_args()
    missing = h.require("wrk")
    if missing:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    h.begin("root.json of a small object: trioserve and its peers", args)
    parts = {p.strip().upper() for p in args.only.split(",")}
    loads = [name for name in LOADS if name.split()[0] in parts]
    if loads:
        throughput(args, loads)
    if "P4" in parts:
        started = time.monotonic()
        memory(args)
        print(f"(P4 took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
