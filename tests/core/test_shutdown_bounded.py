"""Shutdown is bounded: ``grace`` seconds after the stop, whatever still runs in a thread is
abandoned (and logged), never waited for (issue 10, item 4).

Real processes receive real SIGTERM / SIGINT while a ``@blocking`` command hangs in a worker
thread; the clock measures how long each takes to exit. A synchronous program that hangs inside
a command it runs for a request must not keep the server's thread alive either.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import trioserve
from tests.conftest import reap

GRACE = 1.0
#: what "promptly" means after the grace: process start-up and teardown on a loaded machine
MARGIN = 4.0

#: a Trio program with a @blocking command that never returns. SIGTERM goes through a signal
#: receiver that cancels the nursery (what the ``trioserve`` command does); SIGINT through
#: Trio's own KeyboardInterrupt, what a program that does nothing about signals gets.
PROGRAM = """
import logging, signal, sys, threading
import trio
import trioserve
from trioserve.commands import blocking

logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
never = threading.Event()

@blocking
def hang() -> bool:
    print("hanging", flush=True)
    never.wait()
    return True

async def main() -> None:
    server = trioserve.Server()
    server.register_command("/hang", hang)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "http:127.0.0.1:0?grace=GRACE")
        print("port", server.addresses[0][1], flush=True)
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break

try:
    trio.run(main)
except BaseException as exc:  # Ctrl-C: KeyboardInterrupt, maybe inside a group
    print("stopped by", type(exc).__name__, flush=True)
    sys.exit(130)
print("stopped", flush=True)
"""


def _ctrl_c_as_in_a_terminal() -> None:
    """The program gets Ctrl-C as from a terminal even when the suite itself runs in the
    background (``cmd &`` in a script starts it with SIGINT ignored, children inherit that,
    and Python then installs no KeyboardInterrupt handler, nor does Trio)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _request(port: int, results: list[object]) -> None:
    try:
        results.append(httpx.get(f"http://127.0.0.1:{port}/hang/cmd.json", timeout=60))
    except httpx.HTTPError as exc:  # the server closes the connection when it gives up
        results.append(exc)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_hung_blocking_command_does_not_hold_the_process(
    signum: signal.Signals, tmp_path: Path
) -> None:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM.replace("GRACE", str(GRACE)))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        assert line.startswith("port "), line + proc.stderr.read()
        port = int(line.split()[1])
        results: list[object] = []
        client = threading.Thread(target=_request, args=(port, results), daemon=True)
        client.start()
        assert proc.stdout.readline().strip() == "hanging"  # the command runs in its worker
        proc.send_signal(signum)
        started = time.monotonic()
        try:
            proc.wait(timeout=GRACE + MARGIN + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{signum.name}: still running {GRACE + MARGIN + 10:.0f} s later")
        elapsed = time.monotonic() - started
        assert elapsed < GRACE + MARGIN, f"{signum.name}: exited {elapsed:.1f} s later"
        assert elapsed >= GRACE * 0.9  # the request did get its grace period
        errors = proc.stderr.read()
        # one warning names what was abandoned
        assert "abandoned" in errors and "hang" in errors, errors
        client.join(10)
        assert results and not isinstance(results[0], httpx.Response)
    finally:
        reap(proc)


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "trioserve"]


def test_threaded_server_stops_while_the_program_hangs_in_a_command() -> None:
    """``sync="app"``: the program's own thread hangs inside a command it runs for a request
    (for longer than ``app_timeout``: a started call is waited for past it); ``stop()`` still
    ends the server thread once the grace has passed."""
    release = threading.Event()
    running = threading.Event()

    def hang() -> bool:
        running.set()
        release.wait()
        return True

    before = set(_server_threads())
    server = trioserve.start_in_thread(
        f"http:127.0.0.1:0?grace={GRACE}", sync="app", app_timeout=0.3
    )
    (server_thread,) = set(_server_threads()) - before
    server.register_command("/hang", hang)
    port = server.addresses[0][1]

    def program() -> None:
        while not release.is_set():
            server.process_requests()
            time.sleep(0.01)

    loop = threading.Thread(target=program, daemon=True)
    loop.start()
    results: list[object] = []
    client = threading.Thread(target=_request, args=(port, results), daemon=True)
    client.start()
    try:
        assert running.wait(10)
        time.sleep(0.6)  # past app_timeout: the request now waits for the started call
        started = time.monotonic()
        server.stop(timeout=GRACE + MARGIN + 10)
        server_thread.join(0.5)
        elapsed = time.monotonic() - started
        assert not server_thread.is_alive(), "the server thread waits for the hung command"
        assert elapsed < GRACE + MARGIN
    finally:
        release.set()
        loop.join(10)
        client.join(10)
