"""What serving costs the program it observes (★): a host loop's rate with and without
clients, in the same process as the server.

    python3 benchmarks/observer.py [--duration 5] [--runs 3] [--cycles 2] [--clients 20]
                                   [--programs trio,sync,crossing,server,thread]

The host program (this file with ``--program``, one process per run, on the server core)
runs a pure-Python loop of the demo's kind of work: each step fills a Hist1D and a Hist2D
with a small batch, updates a dataclass and a small numpy array. Its objects are registered
in a trioserve Server, in one of the two ways a program can run one:

- ``trio``: a Trio program; the loop is a task doing ``await trio.sleep(0)`` between steps,
  the server runs in the same ``trio.run``;
- ``sync``: a plain program; ``start_in_thread(spec, sync="app")`` runs the server in a
  thread and the loop calls ``server.process_requests()`` once per step;
- ``crossing`` (not run unless named in ``--programs``): the same with ``parking=False``:
  every request crosses from the server's thread to the program's and back, as all did
  before a program's own thread answered its keep-alive connections (``trioserve.parking``);
- ``server`` (not run unless named in ``--programs``): the same with ``sync="server"``,
  objects read from the server's thread, without the crossing to the program's thread;
- ``thread`` (a control, not run unless named): the sync loop beside a bare Trio thread that
  answers every request head with fixed bytes, no trioserve at all: what a server thread
  waking on the program's core costs it on this machine, whoever wrote the server. A sync
  program's loss minus this one is ours.

It prints ``ready`` once the server listens, then runs its loop until stdin closes, keeping
its step count every 0.1 s, and prints those samples. Meanwhile this script (on the load
core) applies phases of ``--duration`` seconds, each load between two phases without
clients (``none``), in the order none, monitoring, none, heavy, none, floor, none, rig,
none (``--cycles`` times the loads):

- monitoring: ``--clients`` browser-like clients, each on one keep-alive connection fetching
  4 items' ``root.json.gz?compact=23`` (what JSROOT's monitoring asks for) once a second,
  spread over the second;
- heavy: the monitoring load plus one client fetching ``root.json?compact=23`` of a 10^6
  float numpy array every 5 s (1 s into the phase);
- floor: the monitoring schedule, but every request a 404 (``/no/such/ITEM/root.json``:
  nothing read, nothing rendered): what *any* request costs the program whatever it asks
  (the kernel's loopback path, waking the loop, parsing, dispatching, answering);
- rig: the monitoring schedule answered by a responder inside this script: nothing reaches
  the program, so its loss is what the load generator's own work on the other core costs
  (shared caches, the hypervisor), which remote clients would not cost.

A phase's rate counts its samples after the first 0.5 s. Its loss is 1 - its rate / the
mean rate of the no-client phases on either side: in one process, so the machine's drift
(the loop's rate alone wanders by a few percent over tens of seconds here) and the process's
memory layout are the same on both sides. Goals: ≤ 5 % under monitoring, ≤ 15 % with the
heavy client, for both programs.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import select
import statistics
import sys
import time
from collections.abc import Callable
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
SAMPLE = 0.1  # seconds between the program's kept samples
SETTLE = 0.5  # seconds at the start of each phase not counted (connecting, first requests)
LOADS = ("none", "monitoring", "heavy", "floor", "rig")
#: what the ``rig`` phase's responder answers: our 404's size, without our work
RIG_REPLY = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 64\r\n"
    b"cache-control: no-cache\r\ndate: Fri, 27 Nov 2026 18:00:00 GMT\r\n\r\n" + b" " * 64
)
GOALS = {"monitoring": 5.0, "heavy": 15.0}
PROGRAMS = ("trio", "sync", "crossing", "server", "thread")


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


class Samples:
    """The loop's counters, read every ``CHECK_EVERY`` steps and kept every ``SAMPLE``
    seconds: (clock, steps, the loop thread's CPU inside the steps, the process's CPU). The
    load generator cuts them into its phases afterwards, by the same clock
    (``time.perf_counter`` is CLOCK_MONOTONIC, one clock for every process).

    The load generator says "stop" by closing stdin; that is polled here with each kept
    sample rather than read by a thread, because an idle extra thread alone slowed this loop
    by ~1% here."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, int, float, float]] = []
        self.next = 0.0
        self.stopped = False

    def take(self, now: float, steps: int, in_steps: float) -> None:
        if now >= self.next:
            self.rows.append((now, steps, in_steps, time.process_time()))
            self.next = now + SAMPLE
            self.stopped = bool(select.select([sys.stdin], [], [], 0)[0])

    def print(self) -> None:
        print("samples " + json.dumps(self.rows), flush=True)


async def trio_program(port: int) -> None:
    from trioserve import Server

    host = Host()
    server = Server()
    host.register(server)
    samples = Samples()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"http:127.0.0.1:{port}")
        print("ready", flush=True)
        i = 0
        in_steps = 0.0
        clock, own = time.perf_counter, time.thread_time
        while not samples.stopped:
            for _ in range(CHECK_EVERY):
                before = own()
                host.step(i)
                in_steps += own() - before
                i += 1
                await trio.sleep(0)
            samples.take(clock(), i, in_steps)
        samples.print()
        nursery.cancel_scope.cancel()


def sync_program(port: int, sync: str = "app", parking: bool = True) -> None:
    from trioserve import start_in_thread

    host = Host()
    server = start_in_thread(f"http:127.0.0.1:{port}", sync=sync, parking=parking)
    host.register(server)
    try:
        _sync_loop(host, server.process_requests)
    finally:
        server.stop()


def thread_program(port: int) -> None:
    """The sync loop beside a bare Trio thread that answers every request head with the
    rig's fixed reply: nothing parsed, dispatched or rendered, no object read. What any
    server thread waking on the program's core costs it here, whoever wrote the server."""
    import threading

    host = Host()
    listening = threading.Event()

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(_rig_responder, port)
            listening.set()

    threading.Thread(target=trio.run, args=(serve,), name="bare responder", daemon=True).start()
    if not listening.wait(10):
        raise RuntimeError("the bare responder did not start")
    _sync_loop(host, lambda: None)


def _sync_loop(host: Host, between: Callable[[], object]) -> None:
    """The loop of both sync programs: a step, then ``between()`` (the program's
    ``process_requests``), until stdin closes."""
    samples = Samples()
    print("ready", flush=True)
    i = 0
    in_steps = 0.0
    clock, own = time.perf_counter, time.thread_time
    while not samples.stopped:
        for _ in range(CHECK_EVERY):
            before = own()
            host.step(i)
            in_steps += own() - before
            between()
            i += 1
        samples.take(clock(), i, in_steps)
    samples.print()


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


async def _rig_responder(
    port: int = 0, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """The ``rig`` phase's server, on the load core: a fixed 404 for every request head, so
    the clients do all their usual work and nothing reaches the program. (Also the whole
    server of the ``thread`` control program.)"""

    async def answer(stream: trio.SocketStream) -> None:
        pending = b""
        try:
            while data := await stream.receive_some(65536):
                pending += data
                while b"\r\n\r\n" in pending:
                    pending = pending.partition(b"\r\n\r\n")[2]
                    await stream.send_all(RIG_REPLY)
        except trio.BrokenResourceError:
            pass

    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(answer, listeners)


async def apply_load(
    port: int, rig_port: int, load: str, clients: int, seconds: float
) -> LoadStats:
    """One phase: ``load`` for ``seconds``, every connection closed at its end."""
    from _client import Client

    stats = LoadStats()
    stop_at = trio.current_time() + seconds
    url, expected = (FLOOR, 404) if load in ("floor", "rig") else (MONITOR, 200)
    target_port = rig_port if load == "rig" else port

    async def monitor(phase: float) -> None:
        client = Client(target_port)
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
        due = trio.current_time() + SETTLE + 0.5
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


@dataclass
class Phase:
    load: str
    start: float  # time.perf_counter() of this process, the program's clock too
    end: float
    stats: LoadStats


def schedule(cycles: int) -> list[str]:
    """Every load between two phases without clients, whose mean is its baseline: the
    machine's slow drift and this process's memory layout are then the same on both sides
    of each comparison."""
    order = ["none"]
    for _ in range(cycles):
        for load in LOADS[1:]:
            order += [load, "none"]
    return order


async def run_phases(port: int, args: argparse.Namespace) -> list[Phase]:
    phases: list[Phase] = []
    async with trio.open_nursery() as nursery:
        rig_port = await nursery.start(_rig_responder)
        await trio.sleep(args.warmup)
        for load in schedule(args.cycles):
            start = time.perf_counter()
            stats = await apply_load(port, rig_port, load, args.clients, args.duration)
            phases.append(Phase(load, start, time.perf_counter(), stats))
        nursery.cancel_scope.cancel()
    return phases


# ------------------------------------------------------------------------- orchestration


@dataclass
class Figures:
    """A phase's figures, from the program's samples after its first ``SETTLE`` seconds."""

    rate: float  # steps per wall second
    share: float  # process CPU / wall
    step_cpu: float  # the loop thread's CPU per step, inside the steps (s)


def figures(rows: list[list[float]], phase: Phase) -> Figures:
    inside = [r for r in rows if phase.start + SETTLE <= r[0] <= phase.end]
    if len(inside) < 2:
        raise RuntimeError(f"no samples inside the {phase.load} phase: is --duration too short?")
    (t0, i0, own0, cpu0), (t1, i1, own1, cpu1) = inside[0], inside[-1]
    steps = i1 - i0
    return Figures(steps / (t1 - t0), (cpu1 - cpu0) / (t1 - t0), (own1 - own0) / steps)


@dataclass
class Comparison:
    """One loaded phase against the mean of the no-client phases just before and after it,
    in the same process: the machine's slow drift (the loop's rate wanders by a few percent
    over tens of seconds here) and the process's memory layout are then the same on both
    sides. Separate processes per load, as this script first ran, compared those too."""

    load: str
    base: Figures
    loaded: Figures
    stats: LoadStats

    @property
    def loss(self) -> float:
        return 1 - self.loaded.rate / self.base.rate

    def split(self) -> tuple[float, float]:
        """The loss as two shares of the loaded phase's wall time: (steps made slower,
        time taken outside them). Per step, wall = the step's own CPU + everything else;
        the change of the first against the phases without clients is the steps slowed down
        (the caches refilled after the server ran), the change of the second is time the
        server took (in a ``sync`` program its thread runs during steps too; that is counted
        here, not as slower steps)."""
        rate0, rate = self.base.rate, self.loaded.rate
        cpu0, cpu = self.base.step_cpu, self.loaded.step_cpu
        return rate * (cpu - cpu0), rate * ((1 / rate - cpu) - (1 / rate0 - cpu0))


def _mean(a: Figures, b: Figures) -> Figures:
    pairs = zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True)
    return Figures(*((x + y) / 2 for x, y in pairs))


def measure(args: argparse.Namespace, program: str) -> tuple[list[Comparison], str]:
    """One program process through the whole schedule."""
    port = h.free_port()
    argv = [h.PYTHON, __file__, "--program", program, "--port", str(port)]
    with h.running([h.start(f"{program} program", argv, ready_line=True, cwd=h.HERE)]) as ps:
        proc = ps[0].proc
        phases = trio.run(run_phases, port, args)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # the program prints its samples and stops
        line = proc.stdout.readline().decode()
        if not line.startswith("samples "):
            raise RuntimeError(f"the {program} program did not report its samples ({line!r})")
        rows = json.loads(line.split(" ", 1)[1])
        command = ps[0].command
    out = []
    for k in range(1, len(phases) - 1, 2):
        before, loaded, after = phases[k - 1], phases[k], phases[k + 1]
        base = _mean(figures(rows, before), figures(rows, after))
        out.append(Comparison(loaded.load, base, figures(rows, loaded), loaded.stats))
    return out, command


def _pct(values: list[float]) -> str:
    return f"{statistics.median(values) * 100:.1f}%"


def _loss_table(comps: dict[str, list[Comparison]]) -> None:
    print(
        "| program | no clients | monitoring | loss | + heavy | loss | goal met "
        "| 404s instead | loss | rig only | loss | core share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for program, cs in comps.items():
        line = f"| {program} | {statistics.median(c.base.rate for c in cs):,.0f} |"
        met = True
        for load in LOADS[1:]:
            mine = [c for c in cs if c.load == load]
            losses = [c.loss for c in mine]
            line += f" {statistics.median(c.loaded.rate for c in mine):,.0f} | {_pct(losses)} |"
            if load in GOALS:
                met = met and statistics.median(losses) * 100 <= GOALS[load]
            if load == "heavy":
                line += f" {'yes' if met else 'no'} |"
        share = min(c.loaded.share for c in cs)
        print(line + f" {share * 100:.0f}% |")


def _split_table(comps: dict[str, list[Comparison]], clients: int) -> None:
    print(
        "| program | load | loss | steps slower | time taken | per request: slower steps "
        "| time taken |"
    )
    print("|---|---|---|---|---|---|---|")
    per_second = clients * len(ITEMS)
    for program, cs in comps.items():
        for load in LOADS[1:]:
            mine = [c for c in cs if c.load == load]
            slower = statistics.median(c.split()[0] for c in mine)
            taken = statistics.median(c.split()[1] for c in mine)
            print(
                f"| {program} | {load} | {_pct([c.loss for c in mine])} | {slower * 100:.1f}% "
                f"| {taken * 100:.1f}% | {slower / per_second * 1e6:,.0f} µs "
                f"| {taken / per_second * 1e6:,.0f} µs |"
            )


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3:,.1f}"


def _clients_table(comps: dict[str, list[Comparison]]) -> None:
    print("| program | load | requests | p50 ms | p99 ms | max ms | errors | heavy replies |")
    print("|---|---|---|---|---|---|---|---|")
    for program, cs in comps.items():
        for load in LOADS[1:]:
            runs = [c.stats for c in cs if c.load == load]
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
                f"| {_ms(latencies, 0.99)} | {worst} | {errors_text} | {heavy_text} |"
            )


def report(args: argparse.Namespace, comps: dict[str, list[Comparison]], commands: dict) -> None:
    print(f"## host loop: steps per second and the loss, {args.clients} monitoring clients")
    _loss_table(comps)
    print("\ngoal: loss ≤ 5% under monitoring, ≤ 15% with the heavy client, for both programs")
    print(
        "each loss: the median over the loaded phases of 1 - rate / the mean rate of the "
        "no-client phases just before and after it, in the same process"
    )
    print(
        "404s instead: the monitoring schedule with every request a 404 (nothing read or "
        "rendered): the part of the loss any request costs, whatever it asks"
    )
    print(
        "rig only: the same clients and schedule answered by a responder on the load core: "
        "nothing reaches the program, so this is what the load generator's own activity on the "
        "other core costs it (shared caches, the hypervisor); it is in every loss above and "
        "would not be there with remote clients"
    )
    if "thread" in comps:
        print(
            "thread (a control): a bare Trio thread answering every request with the rig's "
            "fixed 404, no trioserve: what a server thread waking on the program's core costs "
            "here, whoever wrote it; its replies are all 404s, so its clients count them as "
            "errors"
        )
    spreads = []
    for program, cs in comps.items():
        for load in LOADS[1:]:
            losses = [c.loss * 100 for c in cs if c.load == load]
            spreads.append(f"{program}/{load} {min(losses):.1f}..{max(losses):.1f}")
    print("losses of the single phases (%): " + ", ".join(spreads))
    print(
        "core share: the program's CPU time / wall time, lowest over the phases; below ~95% "
        "something else ran on its core"
    )
    print("\n## where the loss goes (shares of the wall time; per request: ÷ requests/s)")
    _split_table(comps, args.clients)
    print(
        "steps slower: the loop thread's own CPU per step grew (the server's work left the "
        "caches cold); time taken: the rest of the wall time grew (the server ran, in its turn "
        "or, in a sync program, from its own thread). Per request divides by the monitoring "
        "schedule's requests per second (the heavy client's are few and large)."
    )
    print("\n## what the clients saw")
    _clients_table(comps)
    print("\ncommands (PORT differs per run):")
    for program, command in commands.items():
        print(f"  {program}: {command}")
    print(
        f"    load: {h.HERE_LOAD}, phases of {args.duration:g} s (the first {SETTLE:g} s of "
        f"each not counted) in the order {' '.join(schedule(args.cycles))}: "
        f"{args.clients} clients x {len(ITEMS)} items {MONITOR.format(item='ITEM')} once a "
        f"second; heavy: + GET {HEAVY} every {HEAVY_PERIOD:g} s"
    )
    print()


def main() -> int:
    parser = h.arguments(__doc__, duration=5.0)
    parser.set_defaults(warmup=2.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=2, help="load phases of each kind per run")
    parser.add_argument("--programs", default="trio,sync")
    parser.add_argument("--program", choices=PROGRAMS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.program == "trio":
        trio.run(trio_program, args.port)
        return 0
    if args.program in ("sync", "crossing", "server"):
        sync_program(
            args.port, "server" if args.program == "server" else "app", args.program == "sync"
        )
        return 0
    if args.program == "thread":
        thread_program(args.port)
        return 0
    if args.duration < SETTLE + 2 * SAMPLE + 1:
        parser.error(f"--duration must be at least {SETTLE + 2 * SAMPLE + 1:g} s")
    programs = [p.strip() for p in args.programs.split(",") if p.strip()]
    unknown = set(programs) - set(PROGRAMS)
    if unknown:
        parser.error(f"--programs: unknown {', '.join(sorted(unknown))} ({', '.join(PROGRAMS)})")
    h.begin(
        "the observer's cost: a host loop beside the server, in one process",
        args,
        f"median of {args.runs} run(s) x {args.cycles} cycle(s); each run is one program "
        f"process going through phases of {args.duration:g} s, each load between two phases "
        "without clients",
    )
    comps: dict[str, list[Comparison]] = {p: [] for p in programs}
    commands: dict[str, str] = {}
    for run in range(args.runs):
        for program in programs:
            mine, commands[program] = measure(args, program)
            comps[program] += mine
            text = ", ".join(f"{c.load} {c.loss * 100:.1f}%" for c in mine)
            print(f"  run {run + 1}: {program:<4} losses: {text}", flush=True)
    print()
    report(args, comps, commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
