"""What serving costs the program it observes (★): a host loop's rate with and without
clients, in the same process as the server.

    python3 benchmarks/observer.py [--duration 10] [--runs 3] [--clients 20]
                                   [--programs trio,sync]

The host program (this file with ``--program``, one process per measurement, on the server
core) runs a pure-Python loop of the demo's kind of work: each step fills a Hist1D and a
Hist2D with a small batch, updates a dataclass and a small numpy array. Its objects are
registered in a trioserve Server, in one of the two ways a program can run one:

- ``trio``: a Trio program; the loop is a task doing ``await trio.sleep(0)`` between steps,
  the server runs in the same ``trio.run``;
- ``sync``: a plain program; ``start_in_thread(spec, sync="app")`` runs the server in a
  thread and the loop calls ``server.process_requests()`` once per step.

It prints ``ready`` once the server listens, runs ``--warmup`` seconds, then counts steps for
``--duration`` seconds and prints the rate. Meanwhile this script (on the load core) applies
one of three loads:

- none;
- monitoring: ``--clients`` browser-like clients, each on one keep-alive connection fetching
  4 items' ``root.json.gz?compact=23`` (what JSROOT's monitoring asks for) once a second,
  spread over the second;
- heavy: the monitoring load plus one client fetching ``root.json?compact=23`` of a 10^6
  float numpy array every 5 s (the first one 0.5 s into the counted window).
- floor: the monitoring schedule, but every request a 404 (``/no/such/ITEM/root.json``:
  nothing read, nothing rendered). Its loss is what *any* request costs the program whatever
  it asks (the kernel's loopback path, waking the loop, parsing, dispatching, answering),
  and so how much of the monitoring loss rendering could still win back.

The loss is 1 - rate under load / rate with no clients; goals: ≤ 5 % under monitoring,
≤ 15 % with the heavy client, for both programs.
"""

from __future__ import annotations

import argparse
import collections
import math
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import _harness as h
import trio

ITEMS = ["Objects/hists/hpx", "Objects/hists/hpxpy", "Objects/live/status", "Objects/live/wave"]
MONITOR = "/{item}/root.json.gz?compact=23"
#: the floor: the monitoring schedule, but every request a 404 (no object read, nothing
#: rendered): what any request costs the program, whatever it asks
FLOOR = "/no/such/{item}/root.json"
HEAVY = "/Objects/big/array/root.json?compact=23"
HEAVY_PERIOD = 5.0
BATCH = 16
CHECK_EVERY = 64  # steps between clock reads
LOADS = ("none", "monitoring", "heavy", "floor")
GOALS = {"monitoring": 5.0, "heavy": 15.0}


# ------------------------------------------------------------------------- the host program


@dataclass
class Status:
    """The dataclass the loop updates (served as /Objects/live/status)."""

    step: int = 0
    x: float = 0.0
    y: float = 0.0
    energy: float = 0.0
    label: str = "starting"
    recent: list[float] = field(default_factory=list)


class Host:
    """The observed program's state and its unit of work."""

    def __init__(self) -> None:
        import numpy as np

        from trioserve.histograms import Hist1D, Hist2D

        rng = np.random.default_rng(1)
        self.pool = rng.normal(size=(2, 1 << 16))  # drawn once: the loop measures filling
        self.hpx = Hist1D("hpx", "px distribution", 100, -4.0, 4.0)
        self.hpxpy = Hist2D("hpxpy", "py vs px", 40, -4.0, 4.0, 40, -4.0, 4.0)
        self.status = Status()
        self.wave = np.zeros(64)
        self.big = rng.random(1_000_000)

    def register(self, server: Any) -> None:
        server.register("hists", self.hpx)
        server.register("hists", self.hpxpy)
        server.register("live", self.status, name="status")
        server.register("live", self.wave, name="wave")
        server.register("big", self.big, name="array")

    def step(self, i: int) -> None:
        j = (i * BATCH) % (self.pool.shape[1] - BATCH)
        px = self.pool[0, j : j + BATCH]
        py = self.pool[1, j : j + BATCH]
        self.hpx.fill_many(px)
        self.hpxpy.fill_many(px, py)
        s = self.status
        s.step = i
        s.x = math.cos(i / 100.0)
        s.y = math.sin(i / 100.0)
        energy = 0.0
        for k in range(16):  # a little plain-Python arithmetic, as real loops have
            energy += (s.x * k + s.y) ** 2
        s.energy = energy
        s.recent.append(energy)
        if len(s.recent) > 32:
            del s.recent[0]
        s.label = f"step {i}"
        self.wave[i % 64] = s.y


def _report(steps: int, wall: float, cpu: float, in_steps: float) -> None:
    """Steps per wall second (what the program gets), and steps per CPU second of the whole
    process (the same when the core is ours alone; when something else shares the core,
    only the second still compares the loads); then the loop thread's CPU time per step
    spent inside the program's own work (``in_steps``, seconds in all).

    The last splits the loss in two (see :func:`_split`): steps made slower (the caches full
    of the server's data when the program comes back) and time taken from the program
    between and during its steps (serving, scheduling)."""
    print(f"rate {steps / wall} {steps / cpu} {cpu / wall} {in_steps / steps}", flush=True)


async def trio_program(port: int, warmup: float, window: float) -> None:
    from trioserve import Server

    host = Host()
    server = Server()
    host.register(server)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"http:127.0.0.1:{port}")
        print("ready", flush=True)
        i = 0
        clock, own = time.perf_counter, time.thread_time
        for seconds in (warmup, window):
            start, cpu = clock(), time.process_time()
            end = start + seconds
            count = 0
            in_steps = 0.0
            while True:
                for _ in range(CHECK_EVERY):
                    before = own()
                    host.step(i)
                    in_steps += own() - before
                    i += 1
                    await trio.sleep(0)
                count += CHECK_EVERY
                now = clock()
                if now >= end:
                    break
        _report(count, now - start, time.process_time() - cpu, in_steps)
        # keep answering until the load stops (stdin closes), so no request is cut off
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()


def sync_program(port: int, warmup: float, window: float) -> None:
    from trioserve import start_in_thread

    host = Host()
    server = start_in_thread(f"http:127.0.0.1:{port}", sync="app")
    host.register(server)
    print("ready", flush=True)
    i = 0
    clock, own = time.perf_counter, time.thread_time
    try:
        for seconds in (warmup, window):
            start, cpu = clock(), time.process_time()
            end = start + seconds
            count = 0
            in_steps = 0.0
            while True:
                for _ in range(CHECK_EVERY):
                    before = own()
                    host.step(i)
                    in_steps += own() - before
                    server.process_requests()
                    i += 1
                count += CHECK_EVERY
                now = clock()
                if now >= end:
                    break
        _report(count, now - start, time.process_time() - cpu, in_steps)
        # keep answering until the load stops (stdin closes), so no request times out
        closed = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
        while not closed.is_set():
            server.process_requests()
            time.sleep(0.001)
    finally:
        server.stop()


# ------------------------------------------------------------------------- the load


@dataclass
class LoadStats:
    latencies: list[float] = field(default_factory=list)  # monitoring requests, seconds
    errors: int = 0
    heavy: list[float] = field(default_factory=list)  # seconds per heavy request
    heavy_bytes: int = 0
    why: collections.Counter[str] = field(default_factory=collections.Counter)  # errors

    def error(self, why: str) -> None:
        self.errors += 1
        self.why[why] += 1


async def apply_load(
    port: int, load: str, clients: int, warmup: float, seconds: float
) -> LoadStats:
    from _client import Client

    stats = LoadStats()
    stop_at = trio.current_time() + seconds
    url, expected = (FLOOR, 404) if load == "floor" else (MONITOR, 200)

    async def monitor(phase: float) -> None:
        client = Client(port)
        await trio.sleep(phase)
        due = trio.current_time()
        while due < stop_at:
            for item in ITEMS:
                try:
                    with trio.fail_after(30):
                        reply = await client.get(url.format(item=item))
                    if reply.status != expected:
                        stats.error(f"status {reply.status}")
                    stats.latencies.append(reply.total)
                except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
                    stats.error(type(exc).__name__)
                    await client.aclose()
            due += 1.0
            await trio.sleep_until(due)
        await client.aclose()

    async def heavy() -> None:
        client = Client(port)
        due = trio.current_time() + warmup + 0.5
        while due < stop_at:
            await trio.sleep_until(due)
            try:
                with trio.fail_after(60):
                    reply = await client.get(HEAVY)
                if reply.status == 200:
                    stats.heavy.append(reply.total)
                    stats.heavy_bytes = reply.size
                else:
                    stats.error(f"heavy status {reply.status}")
            except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
                stats.error(f"heavy {type(exc).__name__}")
                await client.aclose()
            due += HEAVY_PERIOD
        await client.aclose()

    if load == "none":
        await trio.sleep(seconds)
        return stats
    async with trio.open_nursery() as nursery:
        for n in range(clients):
            nursery.start_soon(monitor, n / clients)
        if load == "heavy":
            nursery.start_soon(heavy)
    return stats


# ------------------------------------------------------------------------- orchestration


@dataclass
class Cell:
    rates: list[float] = field(default_factory=list)  # steps per wall second
    cpu_rates: list[float] = field(default_factory=list)  # steps per process CPU second
    shares: list[float] = field(default_factory=list)  # process CPU / wall
    step_cpu: list[float] = field(default_factory=list)  # loop thread CPU s per step
    stats: list[LoadStats] = field(default_factory=list)


def measure(
    args: argparse.Namespace, program: str, load: str
) -> tuple[list[float], LoadStats, str]:
    port = h.free_port()
    argv = [
        h.PYTHON, __file__, "--program", program, "--port", str(port),
        "--warmup", str(args.warmup), "--duration", str(args.duration),
    ]  # fmt: skip
    with h.running([h.start(f"{program} program", argv, ready_line=True, cwd=h.HERE)]) as ps:
        proc = ps[0]
        stats = trio.run(
            apply_load, port, load, args.clients, args.warmup, args.warmup + args.duration + 0.5
        )
        assert proc.proc.stdout is not None
        line = proc.proc.stdout.readline().decode().split()
        if not line or line[0] != "rate":
            raise RuntimeError(f"the {program} program did not report its rate ({line})")
        return [float(x) for x in line[1:5]], stats, proc.command


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3:,.1f}"


def _loss_table(cells: dict[tuple[str, str], Cell], programs: list[str], attr: str) -> None:
    print(
        "| program | no clients | monitoring | loss | + heavy | loss | goal met "
        "| 404s instead | loss | core share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for program in programs:
        base = statistics.median(getattr(cells[program, "none"], attr))
        line = f"| {program} | {base:,.0f} |"
        met = True
        for load in ("monitoring", "heavy"):
            rate = statistics.median(getattr(cells[program, load], attr))
            loss = (1 - rate / base) * 100
            met = met and loss <= GOALS[load]
            line += f" {rate:,.0f} | {loss:.1f}% |"
        line += f" {'yes' if met else 'no'} |"
        rate = statistics.median(getattr(cells[program, "floor"], attr))
        line += f" {rate:,.0f} | {(1 - rate / base) * 100:.1f}% |"
        share = min(statistics.median(cells[program, load].shares) for load in LOADS)
        print(line + f" {share * 100:.0f}% |")


def _split(base: Cell, loaded: Cell) -> tuple[float, float]:
    """The loss as two shares of the loaded run's wall time: (steps made slower, time taken
    outside them). Per step, wall = the step's own CPU + everything else; the change of the
    first against the run without clients is the steps slowed down (the caches refilled
    after the server ran), the change of the second is time the server took (in a ``sync``
    program its thread runs during steps too; that is counted here, not as slower steps)."""
    rate0, rate = statistics.median(base.rates), statistics.median(loaded.rates)
    cpu0, cpu = statistics.median(base.step_cpu), statistics.median(loaded.step_cpu)
    slower = rate * (cpu - cpu0)
    return slower, rate * ((1 / rate - cpu) - (1 / rate0 - cpu0))


def _split_table(cells: dict[tuple[str, str], Cell], programs: list[str], clients: int) -> None:
    print(
        "| program | load | loss | steps slower | time taken | per request: slower steps "
        "| time taken |"
    )
    print("|---|---|---|---|---|---|---|")
    per_second = clients * len(ITEMS)
    for program in programs:
        base = cells[program, "none"]
        for load in ("monitoring", "heavy", "floor"):
            cell = cells[program, load]
            loss = 1 - statistics.median(cell.rates) / statistics.median(base.rates)
            slower, taken = _split(base, cell)
            print(
                f"| {program} | {load} | {loss * 100:.1f}% | {slower * 100:.1f}% "
                f"| {taken * 100:.1f}% | {slower / per_second * 1e6:,.0f} µs "
                f"| {taken / per_second * 1e6:,.0f} µs |"
            )


def report(args: argparse.Namespace, cells: dict[tuple[str, str], Cell], commands: dict) -> None:
    programs = sorted({p for p, _ in cells}, key=["trio", "sync"].index)
    print(f"## host loop: steps per second and the loss, {args.clients} monitoring clients")
    _loss_table(cells, programs, "rates")
    print("\ngoal: loss ≤ 5% under monitoring, ≤ 15% with the heavy client, for both programs")
    print(
        "404s instead: the monitoring schedule with every request a 404 (nothing read or "
        "rendered): the part of the loss any request costs, whatever it asks"
    )
    spreads = [
        f"{p}/{load} ±{(max(c.rates) - min(c.rates)) / 2 / statistics.median(c.rates) * 100:.0f}%"
        for (p, load), c in cells.items()
    ]
    print("spread of the rates over the runs: " + ", ".join(spreads))
    print(
        "core share: the program's CPU time / wall time, lowest over the loads; below ~95% "
        "something else ran on its core, and only the table below still compares the loads"
    )
    print("\n## the same per CPU second of the program's process (steps / process CPU time)")
    _loss_table(cells, programs, "cpu_rates")
    print("\n## where the loss goes (shares of the wall time; per request: ÷ requests/s)")
    _split_table(cells, programs, args.clients)
    print(
        "steps slower: the loop thread's own CPU per step grew (the server's work left the "
        "caches cold); time taken: the rest of the wall time grew (the server ran, in its turn "
        "or, in a sync program, from its own thread). Per request divides by the monitoring "
        "schedule's requests per second (the heavy client's are few and large)."
    )
    print("\n## what the clients saw")
    print("| program | load | requests | p50 ms | p99 ms | max ms | errors | heavy replies |")
    print("|---|---|---|---|---|---|---|---|")
    for program in programs:
        for load in ("monitoring", "heavy", "floor"):
            runs = cells[program, load].stats
            latencies = [x for s in runs for x in s.latencies]
            heavy = [x for s in runs for x in s.heavy]
            size = max((s.heavy_bytes for s in runs), default=0)
            heavy_text = (
                f"{len(heavy)}, median {statistics.median(heavy):.2f} s, {size / 1e6:.1f} MB"
                if heavy
                else "—"
            )
            worst = f"{max(latencies) * 1e3:,.1f}" if latencies else "—"
            why: collections.Counter[str] = sum((s.why for s in runs), collections.Counter())
            errors = sum(s.errors for s in runs)
            if why:
                errors_text = f"{errors} ({', '.join(f'{k}: {n}' for k, n in why.items())})"
            else:
                errors_text = str(errors)
            print(
                f"| {program} | {load} | {len(latencies)} | {_ms(latencies, 0.5)} "
                f"| {_ms(latencies, 0.99)} | {worst} | {errors_text} "
                f"| {heavy_text} |"
            )
    print("\ncommands (PORT differs per run):")
    for program, command in commands.items():
        print(f"  {program}: {command}")
    print(
        f"    load: {h.HERE_LOAD}: {args.clients} clients x "
        f"{len(ITEMS)} items {MONITOR.format(item='ITEM')} once a second"
        f"; heavy: + GET {HEAVY} every {HEAVY_PERIOD:g} s"
    )
    print()


def main() -> int:
    parser = h.arguments(__doc__)
    parser.set_defaults(warmup=2.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--programs", default="trio,sync")
    parser.add_argument("--program", choices=["trio", "sync"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.program == "trio":
        trio.run(trio_program, args.port, args.warmup, args.duration)
        return 0
    if args.program == "sync":
        sync_program(args.port, args.warmup, args.duration)
        return 0
    programs = [p.strip() for p in args.programs.split(",") if p.strip()]
    h.begin(
        "the observer's cost: a host loop beside the server, in one process",
        args,
        f"median of {args.runs} run(s); each counts {args.duration:g} s of the loop after "
        f"{args.warmup:g} s of warm-up, a fresh process per program and load",
    )
    cells = {(p, load): Cell() for p in programs for load in LOADS}
    commands: dict[str, str] = {}
    for run in range(args.runs):
        for program in programs:
            for load in LOADS:
                (rate, cpu_rate, share, step_cpu), stats, command = measure(args, program, load)
                commands[program] = command
                cells[program, load].rates.append(rate)
                cells[program, load].cpu_rates.append(cpu_rate)
                cells[program, load].shares.append(share)
                cells[program, load].step_cpu.append(step_cpu)
                cells[program, load].stats.append(stats)
                print(
                    f"  run {run + 1}: {program:<4} {load:<10} {rate:10,.0f} steps/s, "
                    f"{cpu_rate:10,.0f} per CPU s, core share {share * 100:3.0f}%",
                    flush=True,
                )
    print()
    report(args, cells, commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
