"""``sync="app"``: every request is answered in ONE ``process_requests()`` pass, as in ROOT
(issue 10, item 13).

A real synchronous program loop counts its passes and changes its state between them; real
HTTP requests of every kind (``exe.json`` with and without ``_ret_object_``, ``cmd.json``,
``root.png``, a ``multi.json`` of many lines) must each be answered by exactly one pass that did
work, and see one program state throughout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

import trioserve
from trioserve.histograms import Hist1D

LOOP_PERIOD = 0.1


@dataclass
class Program:
    """The program's state: ``passes`` changes between two ``process_requests()`` calls."""

    passes: int = 0
    touched: int = -1

    def touch(self) -> int:
        self.touched = self.passes
        return self.passes


class Loop:
    """The program's own loop: change state, answer requests, sleep; note the passes that
    answered something."""

    def __init__(self, server: trioserve.ThreadedServer, program: Program) -> None:
        self.server = server
        self.program = program
        self.busy: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.program.passes += 1
            if self.server.process_requests():
                self.busy.append(self.program.passes)
            self.stop.wait(LOOP_PERIOD)

    def settled(self) -> int:
        """The number of busy passes once the pass that answered the last reply has ended."""
        seen = self.program.passes
        deadline = time.monotonic() + 5
        while self.program.passes < seen + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.busy)


@pytest.fixture
def world() -> Iterator[tuple[str, Program, Loop]]:
    program = Program()
    with trioserve.start_in_thread(
        "http:127.0.0.1:0", sync="app", app_timeout=10, readonly=False
    ) as server:
        server.register("/", program, name="program")
        hist = Hist1D("hist", "a histogram", 20, -3, 3)
        hist.fill_many([0.1, 0.2, -1.0])
        server.register("/", hist)
        server.register_command("/where", lambda: program.passes)
        loop = Loop(server, program)
        loop.thread.start()
        host, port = server.addresses[0][:2]
        try:
            yield f"http://{host}:{port}", program, loop
        finally:
            loop.stop.set()
            loop.thread.join(5)


def _one_pass(loop: Loop, fetch: object) -> httpx.Response:
    before = loop.settled()
    assert callable(fetch)
    reply = fetch()
    assert isinstance(reply, httpx.Response) and reply.status_code == 200, reply
    assert loop.settled() - before == 1, f"answered over {loop.settled() - before} passes"
    return reply


def test_exe_and_ret_object_in_one_pass(world: tuple[str, Program, Loop]) -> None:
    base, program, loop = world
    with httpx.Client(base_url=base, timeout=10) as c:
        reply = _one_pass(loop, lambda: c.get("/program/exe.json?method=touch"))
        assert reply.json() == program.touched
        # the call and the returned object's rendering happen in the same pass
        reply = _one_pass(
            loop, lambda: c.get("/program/exe.json?method=touch&_ret_object_=program")
        )
        state = reply.json()
        assert state["touched"] == state["passes"]
        assert _one_pass(loop, lambda: c.get("/program/exe.txt?method=touch")).text
        assert _one_pass(loop, lambda: c.get("/program/exe.bin?method=touch")).content


def test_cmd_in_one_pass(world: tuple[str, Program, Loop]) -> None:
    base, _, loop = world
    with httpx.Client(base_url=base, timeout=10) as c:
        assert isinstance(_one_pass(loop, lambda: c.get("/where/cmd.json")).json(), int)
        assert "Result" in _one_pass(loop, lambda: c.get("/where/cmd.txt")).text


def test_objects_and_image_in_one_pass(world: tuple[str, Program, Loop]) -> None:
    pytest.importorskip("matplotlib")
    base, _, loop = world
    with httpx.Client(base_url=base, timeout=10) as c:
        assert _one_pass(loop, lambda: c.get("/hist/root.json")).json()["_typename"] == "TH1D"
        png = _one_pass(loop, lambda: c.get("/hist/root.png"))
        assert png.content.startswith(b"\x89PNG")


def test_multi_lines_see_one_program_state(world: tuple[str, Program, Loop]) -> None:
    base, _, loop = world
    lines = ["program/passes/root.json"] * 10 + ["program/exe.json?method=touch"] * 10
    body = "".join(line + "\n" for line in lines).encode()
    with httpx.Client(base_url=base, timeout=30) as c:
        reply = _one_pass(loop, lambda: c.post("/multi.json?number=20", content=body))
        values = reply.json()
        assert len(values) == 20 and None not in values
        assert len(set(values)) == 1, f"lines saw {len(set(values))} program states: {values}"
