"""What every benchmark shares, so that each number it prints can be trusted the same way.

* Pinning: the server (with its FastCGI front-end) runs on core 0, the load generator on
  core 1 (``taskset``), so they never steal each other's CPU; this script itself moves to the
  load core at start. With fewer than two cores nothing is pinned and every table says so.
* Peers in the same invocation, measured interleaved (run 1 of every server, then run 2...),
  so a slow phase of the machine hits all of them alike; each figure is the median of
  ``--runs`` runs, printed with its spread.
* wrk with ``--latency``: req/s, p50, p99, socket errors and timeouts, non-2xx replies.
* The server's own CPU time over the run (from /proc): a server below ~100 % was not the
  bottleneck, and µs of CPU per request compares servers even when the load generator is.
* Every table ends with the exact command lines, and every load is loopback, bounded in time
  and count, and stops by itself. Processes are stopped by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
SERVER_CORE = 0
LOAD_CORE = 1
#: both cores exist, are ours, and taskset is there
PINNED = (
    (os.cpu_count() or 1) >= 2
    and {SERVER_CORE, LOAD_CORE} <= os.sched_getaffinity(0)
    and shutil.which("taskset") is not None
)
#: how the command lines name where the Python load generators and the front-ends run
HERE_LOAD = f"this script on core {LOAD_CORE}" if PINNED else "this script (unpinned)"
FRONT_PINNING = f"core {SERVER_CORE}, inherited" if PINNED else "unpinned"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_UNPINNED = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! NOT PINNED: fewer than 2 usable cores, or no taskset. Server and load    !!
!! generator share the CPU: these ratios are NOT comparable to pinned runs. !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


# ------------------------------------------------------------------------- set-up


def arguments(
    doc: str | None, duration: float = 10.0, timed: bool = True
) -> argparse.ArgumentParser:
    """A parser with the options every benchmark has (``--runs``, and with ``timed``
    ``--duration`` and ``--warmup``); add your own, then ``parse_args``."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    if timed:
        parser.add_argument("--duration", type=float, default=duration, help="seconds per run")
        parser.add_argument(
            "--warmup", type=float, default=1.0, help="seconds of load before the runs (0: none)"
        )
    return parser


def begin(title: str, args: argparse.Namespace, how: str = "") -> None:
    """Move this process to the load core, raise the open-files limit (children inherit
    it), and say how everything runs (``how``: how the figures are taken)."""
    how = how or f"median of {args.runs} run(s) x {args.duration:g} s, interleaved"
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"# {title}")
    if PINNED:
        os.sched_setaffinity(0, {LOAD_CORE})
        print(
            f"server (and front-end) on core {SERVER_CORE}, load generator on core {LOAD_CORE}; "
            + how
        )
    else:
        print(_UNPINNED, file=sys.stderr)
        print(f"UNPINNED; {how}")
    print()


def require(*tools: str) -> list[str]:
    """The tools of ``tools`` that are missing (binaries on PATH or in /usr/sbin)."""
    return [t for t in tools if not (shutil.which(t) or Path("/usr/sbin", t).exists())]


def tool(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def missing_module(module: str) -> str | None:
    """None if ``module`` imports in the interpreter the servers run with, else why not."""
    probe = subprocess.run(
        [PYTHON, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode == 0:
        return None
    return f"not installed (python3 -m pip install -e '.[bench]'): {module}"


def pinned(argv: Sequence[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if PINNED else list(argv)


@contextlib.contextmanager
def on_server_core() -> Iterator[None]:
    """Processes forked inside this block (front-ends started by other code, and all the
    children they fork later) inherit the server core."""
    if not PINNED:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {SERVER_CORE})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def get(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return bytes(reply.read())


# ------------------------------------------------------------------------- processes


def _descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (from /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in children.read_text().split())
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def _core_busy(core: int) -> tuple[float, float]:
    """(busy, total) seconds of one core since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, line.split()[1:9])
            busy = user + nice + system + irq + softirq + steal
            return busy / _CLOCK_TICKS, (busy + idle + iowait) / _CLOCK_TICKS
    return 0.0, 0.0


class Meter:
    """``with Meter(servers) as meter: ...`` then ``meter.cpu``: the servers' CPU time over
    the block as a share of its wall time (1.0 = one core busy), and ``meter.others``: the
    share of the server core that *other* processes took meanwhile (a busy machine)."""

    def __init__(self, servers: Sequence[Process]) -> None:
        self.servers = servers
        self.cpu = self.others = float("nan")

    def _cpu(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def __enter__(self) -> Meter:
        self._start = (time.monotonic(), self._cpu(), *_core_busy(SERVER_CORE))
        return self

    def __exit__(self, *exc: object) -> None:
        t0, cpu0, busy0, total0 = self._start
        wall = time.monotonic() - t0
        busy, total = _core_busy(SERVER_CORE)
        self.cpu = (self._cpu() - cpu0) / wall
        if PINNED and total > total0:
            self.others = max(0.0, (busy - busy0) / (total - total0) - self.cpu)


@dataclass
class Process:
    """A server (or front-end) process on the server core, stopped by PID."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log: Path | None = None
    port: int = 0  # where it listens, when known

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and every process below it (hypercorn's worker,
        Apache's children), all threads."""
        return sum(_cpu_seconds(pid) for pid in _descendants(self.pid))

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.name}")

    def stop(self) -> None:
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # flup's threads may ignore SIGTERM
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def log_tail(self, limit: int = 3000) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-limit:]


def start(
    name: str,
    argv: Sequence[str],
    *,
    port: int | None = None,
    ready_line: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    log: Path | None = None,
) -> Process:
    """Start ``argv`` on the server core and wait until it prints ``ready`` (``ready_line``)
    or ``port`` accepts connections. stderr goes to ``log`` (or is inherited)."""
    full = pinned(argv, SERVER_CORE)
    sink = log.open("wb") if log is not None else None
    try:
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if ready_line else subprocess.DEVNULL,
            stderr=sink,
        )
    finally:
        if sink is not None:
            sink.close()
    process = Process(name, full, proc, log, port or 0)
    try:
        if ready_line:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode(errors="replace").strip()
            if line != "ready":
                raise RuntimeError(f"{name} did not start (said {line!r})\n{process.log_tail()}")
        if port is not None:
            wait_port(port, proc)
    except BaseException:
        process.stop()
        raise
    return process


@contextlib.contextmanager
def running(processes: list[Process]) -> Iterator[list[Process]]:
    """Stop every process of the list (in reverse order) however the block ends."""
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()


# ------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass(frozen=True)
class Result:
    """One run (or the median of several): rates per second, latencies in ms."""

    rate: float
    p50: float = float("nan")
    p99: float = float("nan")
    errors: int = 0  # connect/read/write socket errors + non-2xx/3xx replies
    timeouts: int = 0
    non2xx: int = 0  # of the errors, the replies with another status
    cpu: float = float("nan")  # server CPU seconds / wall seconds
    others: float = float("nan")  # share of the server core other processes took
    spread: float = 0.0  # (max - min) / median of the rates, for medians


def wrk_argv(url: str, duration: float, connections: int, threads: int = 1) -> list[str]:
    threads = max(1, min(threads, connections))
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        url,
    ]


def parse_wrk(out: str) -> Result:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")

    def percentile(p: int) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.MULTILINE)
        return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")

    errors = timeouts = 0
    sockets = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sockets:
        errors += sum(int(sockets.group(i)) for i in (1, 2, 3))
        timeouts = int(sockets.group(4))
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(found.group(1)) if found else 0
    return Result(
        float(rate.group(1)), percentile(50), percentile(99), errors + non2xx, timeouts, non2xx
    )


def wrk(argv: Sequence[str], servers: Sequence[Process] = (), duration: float = 10.0) -> Result:
    """Run wrk (``argv`` from :func:`wrk_argv`) on the load core; with ``servers``, also
    their CPU time over the run, as a share of the wall time (1.0 = one core busy)."""

    with Meter(servers) as meter:
        done = subprocess.run(
            pinned(argv, LOAD_CORE), capture_output=True, text=True, timeout=duration + 60
        )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    result = parse_wrk(done.stdout)
    if servers:
        result = dataclasses.replace(result, cpu=meter.cpu, others=meter.others)
    return result


def median(results: Sequence[Result]) -> Result:
    rates = [r.rate for r in results]
    mid = statistics.median(rates)
    return Result(
        rate=mid,
        p50=statistics.median(r.p50 for r in results),
        p99=statistics.median(r.p99 for r in results),
        errors=round(statistics.median(r.errors for r in results)),
        timeouts=round(statistics.median(r.timeouts for r in results)),
        non2xx=round(statistics.median(r.non2xx for r in results)),
        cpu=statistics.median(r.cpu for r in results),
        others=statistics.median(r.others for r in results),
        spread=(max(rates) - min(rates)) / mid if mid else 0.0,
    )


# ------------------------------------------------------------------------- tables


@dataclass
class Row:
    """One line of a table: a server under one load, or why it could not run."""

    name: str
    command: str = ""  # the server's (or front-end's) command line
    load: str = ""  # the load generator's command line
    runs: list[Result] = field(default_factory=list)
    missing: str | None = None

    @property
    def result(self) -> Result | None:
        return median(self.runs) if self.runs else None


def measure_interleaved(
    rows: Sequence[Row], runs: int, one: Callable[[Row], Result], warmup: Callable[[Row], None]
) -> None:
    """Warm every row up once, then run 1 of every row, run 2 of every row, ..."""
    for row in rows:
        if row.missing is None:
            warmup(row)
    for _ in range(runs):
        for row in rows:
            if row.missing is not None:
                continue
            try:
                row.runs.append(one(row))
            except Exception as exc:  # one broken peer must not hide the others' figures
                row.missing = f"failed: {exc}".splitlines()[0]
                row.runs.clear()
                print(f"  {row.name}: {exc}", file=sys.stderr)


def measure_wrk(
    rows: Sequence[Row],
    args: argparse.Namespace,
    argv: Callable[[Row, float], list[str]],
    servers: Callable[[Row], Sequence[Process]],
) -> None:
    """:func:`measure_interleaved` with wrk: ``argv(row, seconds)`` is the wrk command for a
    row (pinned to the load core here), ``servers(row)`` the processes whose CPU it costs;
    ``args`` brings ``duration``, ``warmup`` and ``runs``."""

    def one(row: Row) -> Result:
        row.load = shlex.join(pinned(argv(row, args.duration), LOAD_CORE))
        return wrk(argv(row, args.duration), servers(row), args.duration)

    def warm(row: Row) -> None:
        if args.warmup > 0:
            wrk(argv(row, args.warmup), (), args.warmup)

    measure_interleaved(rows, args.runs, one, warm)


def _ratio(top: float, bottom: float) -> str:
    """``top / bottom`` to two decimals, or a dash when it means nothing (0 or NaN)."""
    if not bottom or bottom != bottom or top != top:
        return "—"
    return f"{top / bottom:.2f}"


def _num(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "—"
    return f"{value:,.{digits}f}"


def print_table(
    title: str,
    rows: Sequence[Row],
    *,
    subject: str,
    versus: str = "",
    unit: str = "req/s",
    goal: str = "",
    notes: Sequence[str] = (),
) -> None:
    """A markdown table: rate, p50/p99, errors, the server's CPU and µs of CPU per
    request, and ``subject``'s rate divided by each other row's; then ``subject`` against
    the named peer ``versus``, the goal, and the command lines."""
    print(f"## {title}")
    head = (
        f"| server | {unit} | spread | p50 ms | p99 ms | errors | timeouts | server CPU "
        f"| µs CPU/req | others on its core | {subject} ÷ this |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    mine = next((r.result for r in rows if r.name == subject), None)
    for row in rows:
        res = row.result
        if res is None:
            print(f"| {row.name} | {row.missing or 'no result'} |" + " |" * 9)
            continue
        ratio = "—" if row.name == subject or mine is None else _ratio(mine.rate, res.rate)
        per = res.cpu * 1e6 / res.rate if res.rate else float("nan")
        errors = f"{res.errors} ({res.non2xx} non-2xx)" if res.non2xx else str(res.errors)
        print(
            f"| {row.name} | {_num(res.rate)} | ±{res.spread * 50:.0f}% | {_num(res.p50, 2)} "
            f"| {_num(res.p99, 2)} | {errors} | {res.timeouts} | {_num(res.cpu * 100)}% "
            f"| {_num(per)} | {_num(res.others * 100)}% | {ratio} |"
        )
    peer = next((r.result for r in rows if r.name == versus), None)
    if mine is not None and peer is not None:
        print(
            f"\n{subject} vs {versus}: {unit} ratio {_ratio(mine.rate, peer.rate)}, "
            f"CPU-per-request ratio {_ratio(peer.cpu * mine.rate, mine.cpu * peer.rate)} "
            f"({versus}'s µs ÷ {subject}'s), p99 ratio {_ratio(mine.p99, peer.p99)}, "
            f"{subject} errors {mine.errors} timeouts {mine.timeouts}"
        )
        idle = [r.name for r in rows if r.result is not None and r.result.cpu < 0.9]
        if idle:
            print(
                f"note: {', '.join(idle)} stayed below 90% CPU: the load generator, the "
                "round-trip latency or other processes on its core (see 'others') set its "
                "rate, not its own cost: compare µs CPU/req"
            )
    if goal:
        print(f"goal: {goal}")
    print("\ncommands:")
    for row in rows:
        if row.command:
            print(f"  {row.name}: {row.command}")
        if row.load:
            print(f"    load: {row.load}")
    for note in notes:
        print(f"  {note}")
    print()
