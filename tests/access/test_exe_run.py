"""Where methods and commands run (event loop, worker, program thread) and POST objects."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import httpx
import pytest
import trio

from trioserve import Server
from trioserve.appthread import AppThreadAccess
from trioserve.commands import blocking

pytestmark = pytest.mark.trio


@dataclass
class Worker:
    name: str = "worker"
    threads: list[int] = field(default_factory=list)
    total: int = 0

    def where(self) -> bool:
        self.threads.append(threading.get_ident())
        return True

    @blocking
    def slow(self, seconds: float) -> bool:
        import time

        time.sleep(seconds)
        self.threads.append(threading.get_ident())
        return True

    async def later(self, value: int) -> int:
        await trio.sleep(0)
        self.threads.append(threading.get_ident())
        return value * 2

    def add_all(self, data: dict) -> int:  # type: ignore[type-arg]
        self.total = sum(data["values"])
        return self.total


async def _client(server: Server, nursery: trio.Nursery) -> httpx.AsyncClient:
    await nursery.start(server.serve, "http:0;rw")
    host, port = server.addresses[0][:2]
    return httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10)


async def test_inline_blocking_and_async(nursery: trio.Nursery) -> None:
    server = Server()
    worker = Worker()
    server.register("w", worker)
    main = threading.get_ident()
    async with await _client(server, nursery) as c:
        assert (await c.get("/Objects/w/worker/exe.json?method=where")).text == "true"
        assert worker.threads[-1] == main
        # a blocking method runs in the worker pool; the server keeps answering meanwhile
        async with trio.open_nursery() as inner:
            inner.start_soon(c.get, "/Objects/w/worker/exe.json?method=slow&seconds=0.3")
            await trio.sleep(0.05)
            with trio.fail_after(0.25):
                assert (await c.get("/Objects/w/worker/count/root.json")).status_code == 404
                assert (await c.get("/Objects/w/worker/total/root.json")).text == "0"
        assert worker.threads[-1] != main
        assert (await c.get("/Objects/w/worker/exe.json?method=later&value=4")).text == "8"
        assert worker.threads[-1] == main
        txt = (await c.get("/Objects/w/worker/exe.txt?method=slow&seconds=0")).text
        assert "in a worker" in txt and "Result = true" in txt


async def test_app_thread_mode_runs_in_the_program_thread(nursery: trio.Nursery) -> None:
    server = Server(access=AppThreadAccess(timeout=5))
    worker = Worker()
    server.register("w", worker)
    server.register_command("/Do", lambda: worker.where())
    stop = threading.Event()
    program: list[int] = []

    def program_loop() -> None:
        program.append(threading.get_ident())
        while not stop.is_set():
            server.process_requests()
            stop.wait(0.005)

    async with await _client(server, nursery) as c:
        nursery.start_soon(trio.to_thread.run_sync, program_loop)
        try:
            with trio.fail_after(5):
                assert (await c.get("/Objects/w/worker/exe.json?method=where")).text == "true"
                assert (await c.get("/Objects/w/worker/exe.json?method=slow&seconds=0")).text == (
                    "true"
                )
                assert (await c.get("/Do/cmd.json")).text == "true"
        finally:
            stop.set()
    assert worker.threads == [program[0]] * 3


async def test_post_objects_off_by_default(nursery: trio.Nursery) -> None:
    server = Server()
    worker = Worker()
    server.register("w", worker)
    body = json.dumps({"values": [1, 2, 3]}).encode()
    url = "/Objects/w/worker/exe.json?method=add_all&data=_post_object_json_"
    async with await _client(server, nursery) as c:
        r = await c.post(url, content=body)
        assert r.status_code == 403 and r.json()["error"] == "post_objects_disabled"
        assert worker.total == 0
        server.set_allow_post_objects(True)
        assert (await c.post(url, content=body)).text == "6"
        assert (await c.post(url, content=b"{nope")).status_code == 400
        server.set_readonly(True)
        # the switch does not open a method the policy refuses
        assert (await c.post(url, content=body)).status_code == 403


async def test_ret_object_and_compact(nursery: trio.Nursery) -> None:
    server = Server()
    worker = Worker()
    server.register("w", worker)
    server.register("w", {"a": [1, 2]}, name="result")
    async with await _client(server, nursery) as c:
        r = await c.get("/Objects/w/worker/exe.json?method=where&_ret_object_=result&compact=3")
        assert r.text == '{"_typename":"dict","a":[1,2]}'
        r = await c.get("/Objects/w/worker/exe.json?method=where&_ret_object_=nothing")
        assert r.text == "null"
        r = await c.get("/Objects/w/worker/exe.bin?method=later&value=2")
        import cbor2

        assert cbor2.loads(r.content) == 4 and r.headers["content-type"] == "application/cbor"


async def test_async_and_failing_commands(nursery: trio.Nursery) -> None:
    server = Server()
    calls: list[str] = []

    async def start(label: str) -> str:
        await trio.sleep(0)
        calls.append(label)
        return label.upper()

    def broken() -> None:
        raise ValueError("boom")

    server.register_command("/Start", start, button=True)
    server.register_command("/Broken", broken)
    async with await _client(server, nursery) as c:
        assert (await c.get("/Start/cmd.json?arg1=go")).text == '"GO"'
        assert (await c.get("/Start/cmd.json?label=%22x%22")).text == '"X"'
        assert calls == ["go", "x"]
        assert (await c.get("/Broken/cmd.json")).text == "false"
        explained = (await c.get("/Broken/cmd.json?explain")).text
        assert "ValueError" in explained and "boom" not in explained
        assert "Failed" in (await c.get("/Broken/cmd.txt")).text
        assert (await c.get("/Nothing/cmd.json")).status_code == 404
