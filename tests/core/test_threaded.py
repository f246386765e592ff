"""start_in_thread(): a synchronous program serving objects, ROOT's process_requests model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

import trioserve
from tests.conftest import Sample
from trioserve.errors import SpecError


def _base(server: trioserve.ThreadedServer) -> str:
    host, port = server.addresses[0][:2]
    return f"http://{host}:{port}"


def test_app_mode_answers_only_inside_process_requests() -> None:
    state = {"value": 1}
    with trioserve.start_in_thread("http:0", sync="app", app_timeout=5.0) as server:
        server.register("/", state, name="state")
        result: dict[str, object] = {}

        def fetch() -> None:
            result["reply"] = httpx.get(_base(server) + "/state/value/root.json", timeout=10)

        thread = threading.Thread(target=fetch)
        thread.start()
        time.sleep(0.3)
        assert "reply" not in result  # the request waits for the program
        state["value"] = 2  # the program updates between its calls...
        processed = 0
        deadline = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < deadline:
            processed += server.process_requests()
            time.sleep(0.01)
        thread.join(5)
        assert processed >= 1
        reply = result["reply"]
        assert isinstance(reply, httpx.Response)
        assert reply.status_code == 200 and reply.json() == 2


def test_app_mode_without_process_requests_gives_503_not_a_hang() -> None:
    with trioserve.start_in_thread("http:0", sync="app", app_timeout=0.3) as server:
        server.register("/", {"a": 1}, name="d")
        started = time.monotonic()
        reply = httpx.get(_base(server) + "/d/root.json", timeout=10)
        assert reply.status_code == 503
        assert reply.json()["error"] == "app_not_processing"
        assert time.monotonic() - started < 5
        assert server.process_requests() == 0  # the timed-out call never runs later


def test_app_mode_answers_missing_and_hidden_items_without_the_program() -> None:
    # the program never calls process_requests, and app_timeout is far beyond the client's
    # timeout: a request that waited for the program fails this test, it cannot pass slowly
    with (
        trioserve.start_in_thread("http:0", sync="app", app_timeout=60.0) as app,
        trioserve.start_in_thread("http:0", sync="server") as direct,
    ):
        for server in (app, direct):
            server.register("/", {"a": 1}, name="d")
            server.register("/secret", {"k": 1}, name="s")
            server.restrict("/secret", "hidden=all")
        missing = httpx.get(_base(app) + "/nope/root.json", timeout=10)
        for path in (
            "/nope/root.json",
            "/secret/s/root.json",
            "/secret/s/k/root.json",
            "/nope/root.bin",
            "/secret/s/root.xml",
            "/nope/root.png",
            "/secret/s/h.json",
            "/nope/h.xml",
            "/secret/s/item.json",
            "/nope/item.xml",
            "/secret/s/get.xml",
            "/nope/file.root",
            "/secret/s/index.htm",
        ):
            early = httpx.get(_base(app) + path, timeout=10)
            late = httpx.get(_base(direct) + path, timeout=10)  # found missing by the objects
            assert early.status_code == 404, path
            assert early.content == late.content == missing.content, path
        assert missing.json()["error"] == "not_found"
        assert app.process_requests() == 0  # nothing was left queued for the program


def test_app_mode_a_member_path_still_waits_for_the_program() -> None:
    # whether {"a": 1} has a member "zz" only the object can say, in the program's thread
    with trioserve.start_in_thread("http:0", sync="app", app_timeout=0.3) as server:
        server.register("/", {"a": 1}, name="d")
        reply = httpx.get(_base(server) + "/d/zz/root.json", timeout=10)
        assert reply.status_code == 503
        assert reply.json()["error"] == "app_not_processing"


def test_server_mode_reads_directly() -> None:
    with trioserve.start_in_thread("http:0", sync="server") as server:
        server.register("/", {"a": 1}, name="d")
        assert httpx.get(_base(server) + "/d/a/root.json", timeout=10).json() == 1


def test_bad_spec_raises_in_the_callers_thread() -> None:
    with pytest.raises(SpecError):
        trioserve.start_in_thread("http:0?nonsense")


def test_bind_failure_raises_in_the_callers_thread() -> None:
    with trioserve.start_in_thread("http:0", sync="server") as first:
        port = first.addresses[0][1]
        with pytest.raises(OSError):
            trioserve.start_in_thread(f"http:{port}")


def test_threaded_server_can_add_engines(short_tmp: Path) -> None:
    with trioserve.start_in_thread("http:0", sync="server") as server:
        server.register("/", Sample())
        sock = short_tmp / "t.sock"
        assert server.create_engine(f"socket:{sock}") == str(sock)
        transport = httpx.HTTPTransport(uds=str(sock))
        with httpx.Client(transport=transport, base_url="http://x") as client:
            assert client.get("/sample/count/root.json").json() == 7
    assert not sock.exists()
