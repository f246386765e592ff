"""HTTP/2 over real sockets: every request kind, real clients (httpx, curl), and the attacks.

A whole :class:`~trioserve.Server` serves the request kinds to httpx speaking HTTP/2 with
prior knowledge (TCP and unix socket) and to curl (prior knowledge and the h2c upgrade); the
attacks run against the bare engine with a counting handler, through :class:`RawH2`, which
writes frames by hand and reads the server's answers frame by frame. No test sleeps: each
waits for the frame, the end of connection or the event that matters, under a bound.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
from h2.errors import ErrorCodes
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from tests.conftest import Sample, require_tool
from tests.ws.conftest import Recorder
from trioserve import Server
from trioserve.call import Call, Response
from trioserve.engines.base import EngineContext
from trioserve.engines.http import serve_http
from trioserve.spec import EngineSpec

from .h2support import RawH2, continuation, request_headers, rst
from .test_http_support import RawClient, close_clients, echo, running

HTDIGEST = Path(__file__).resolve().parents[2] / "config" / "example.htdigest"
TIMEOUT = 10
CONTENT = b"0123456789abcdefghijklmnopqrstuvwxyz\n" * 10


# -- a whole server, real clients -------------------------------------------------------------


class World:
    def __init__(self, server: Server, sock: str, handler: Recorder, bumps: list[int]) -> None:
        self.server = server
        self.sock = sock
        self.handler = handler
        self.bumps = bumps

    def base(self, index: int = 0) -> str:
        host, port = self.server.addresses[index][:2]
        return f"http://{host}:{port}"

    def client(self, transport: str = "tcp", **kw: object) -> httpx.AsyncClient:
        if transport == "unix":
            pool = httpx.AsyncHTTPTransport(uds=self.sock, http1=False, http2=True)
            return httpx.AsyncClient(transport=pool, base_url="http://localhost", **kw)  # type: ignore[arg-type]
        return httpx.AsyncClient(
            http1=False,
            http2=True,
            base_url=self.base(),
            timeout=TIMEOUT,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
async def world(nursery: trio.Nursery, short_tmp: Path) -> AsyncIterator[World]:
    server = Server(top_name="test", cors="*")
    server.register("sub", Sample())
    server.register("sub", [1, 2, 3], name="numbers")
    handler = Recorder("rec")
    server.register("/", handler)
    bumps: list[int] = []

    def bump(n: int) -> int:
        bumps.append(n)
        return len(bumps)

    server.register_command("/commands/bump", bump)
    served = short_tmp / "served"
    served.mkdir()
    (served / "notes.txt").write_bytes(CONTENT)
    server.add_location("data/", served)
    sock = str(short_tmp / "h2.sock")
    auth = f"auth_file={HTDIGEST}&auth_domain=root"
    await nursery.start(server.serve, f"http:0;socket:{sock};http:0?{auth};rw")
    yield World(server, sock, handler, bumps)
    await close_clients()  # the raw sockets some tests open


@pytest.mark.parametrize("transport", ["tcp", "unix"])
async def test_every_request_kind_over_prior_knowledge(world: World, transport: str) -> None:
    async with world.client(transport) as c:
        top = await c.get("/h.json")
        assert top.http_version == "HTTP/2" and top.status_code == 200
        assert top.json()["_name"] == "test"
        assert (await c.get("/Objects/sub/sample/root.json")).json()["count"] == 7
        packed = await c.get("/Objects/sub/numbers/root.json.gz")
        assert packed.headers["content-encoding"] == "gzip"  # httpx inflated it
        assert packed.json() == [1, 2, 3]
        assert (await c.get("/Objects/sub/sample/count/root.json?compact=3")).json() == 7
        multi = await c.post(
            "/multi.json?number=2",
            content=b"Objects/sub/numbers/root.json\nObjects/sub/sample/count/root.json\n",
        )
        assert multi.status_code == 200 and multi.json() == [[1, 2, 3], 7]
        ran = await c.get("/commands/bump/cmd.json?arg1=5")
        assert ran.status_code == 200 and world.bumps == [5]
        exe = await c.get("/Objects/sub/sample/exe.json?method=describe")
        assert exe.status_code == 200 and exe.json() == "sample:7"
        missing = await c.get("/Objects/nothing/h.json")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        escape = await c.get("/data/%2e%2e/%2e%2e/etc/passwd")
        assert escape.status_code == 404
        private = await c.get("/Objects/sub/sample/_private/root.json")
        assert private.status_code == 404 and b"hidden" not in private.content


async def test_files_with_ranges_and_validators(world: World) -> None:
    async with world.client() as c:
        full = await c.get("/data/notes.txt")
        assert full.status_code == 200 and full.content == CONTENT
        again = await c.get("/data/notes.txt", headers={"if-none-match": full.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        part = await c.get("/data/notes.txt", headers={"range": "bytes=5-11"})
        assert part.status_code == 206 and part.content == CONTENT[5:12]
        assert (await c.get("/data/notes.txt", headers={"range": "bytes=9999-"})).status_code == 416
        head = await c.head("/data/notes.txt", headers={"accept-encoding": "identity"})
        assert head.content == b"", head.status_code
        assert head.headers["content-length"] == str(len(CONTENT)), (head.status_code, head.headers)


async def test_cors_replies_and_preflight(world: World) -> None:
    async with world.client() as c:
        reply = await c.get("/h.json", headers={"origin": "http://elsewhere"})
        assert reply.headers["access-control-allow-origin"] == "*"
        preflight = await c.request(
            "OPTIONS",
            "/h.json",
            headers={"origin": "http://elsewhere", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 204
        assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_many_streams_at_once_on_one_connection(world: World) -> None:
    async with world.client() as c:
        results: list[int] = []

        async def one(n: int) -> None:
            reply = await c.get(f"/Objects/sub/sample/count/root.json?n={n}")
            results.append(reply.json())

        async with trio.open_nursery() as nursery:
            for n in range(60):
                nursery.start_soon(one, n)
        assert results == [7] * 60


async def test_long_poll_over_h2(world: World) -> None:
    async with world.client() as c:
        connect = await c.get("/rec/root.longpoll?txt_connect&key=k")
        conn_id = int(connect.text)
        sent = await c.post(f"/rec/root.longpoll?connection={conn_id}", content=b"hello")
        assert sent.status_code == 200
        echoed = await c.get(f"/rec/root.longpoll?connection={conn_id}&dummy")
        assert echoed.text == "hello"  # the handler echoes what it gets
        (conn,) = world.handler.connections.values()
        poll_result: list[bytes] = []

        async def poll() -> None:
            reply = await c.get(f"/rec/root.longpoll?connection={conn_id}&dummy")
            poll_result.append(reply.content)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)  # parks until the handler sends
            await conn.send(b"\x00\x01binary")
        assert poll_result == [b"\x00\x01binary"]
        assert world.handler.data == [(conn_id, "hello")]


async def test_digest_auth_over_h2(world: World) -> None:
    base = world.base(2)
    async with httpx.AsyncClient(http1=False, http2=True, base_url=base, timeout=TIMEOUT) as c:
        refused = await c.get("/h.json")
        assert refused.http_version == "HTTP/2" and refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Digest ")
        ok = await c.get("/h.json?x=1", auth=httpx.DigestAuth("admin", "admin"))
        assert ok.status_code == 200 and ok.json()["_name"] == "test"
        wrong = await c.get("/h.json", auth=httpx.DigestAuth("admin", "nope"))
        assert wrong.status_code == 401


async def test_http11_clients_on_the_same_port(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.base(), timeout=TIMEOUT) as c:
        reply = await c.get("/h.json")
        assert reply.http_version == "HTTP/1.1" and reply.json()["_name"] == "test"


async def test_websocket_request_over_h2_is_sent_to_http11(world: World) -> None:
    host, port = world.server.addresses[0][:2]
    raw = await RawH2.open((host, port))
    await raw.send(raw.client.request(1, "/rec/root.websocket"))
    with trio.fail_after(TIMEOUT):
        frames = await raw.until(lambda f: isinstance(f, RstStreamFrame))
    assert frames[-1].error_code == ErrorCodes.HTTP_1_1_REQUIRED


async def _curl(*args: str) -> tuple[str, str]:
    curl = require_tool("curl")
    result = await trio.run_process(
        [curl, "-s", "-S", "-w", "\n%{http_version}", *args], capture_stdout=True, check=True
    )
    body, _, version = result.stdout.decode().rpartition("\n")
    return body, version


async def test_curl_prior_knowledge_and_upgrade(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        body, version = await _curl("--http2-prior-knowledge", world.base() + "/h.json")
        assert version == "2" and json.loads(body)["_name"] == "test"
        body, version = await _curl("--http2", world.base() + "/Objects/sub/numbers/root.json")
        assert version == "2" and json.loads(body) == [1, 2, 3]
        posted, version = await _curl(
            "--http2", "--data-binary", "Objects/sub/numbers/root.json\n",
            world.base() + "/multi.json?number=1",
        )  # fmt: skip
        assert version == "1.1" and json.loads(posted) == [[1, 2, 3]]  # bodies stay on 1.1


async def test_http2_off(nursery: trio.Nursery) -> None:
    async with running({"http2": "0"}) as address:
        client = await RawClient.open(address)
        await client.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        with trio.fail_after(TIMEOUT):
            reply = await client.response()
        assert reply.status == 505
        host, port = address  # type: ignore[misc]
        body, version = await _curl("--http2", f"http://{host}:{port}/x")
        assert version == "1.1" and json.loads(body)["path"] == "/x"


# -- attacks against a real engine -------------------------------------------------------------


class Counting:
    """The test handler, counting dispatches; ``/hold`` waits for :attr:`release`."""

    def __init__(self) -> None:
        self.dispatched = 0
        self.holding = 0
        self.release = trio.Event()
        self.held = trio.Event()

    async def __call__(self, call: Call) -> Response:
        self.dispatched += 1
        if call.path == "/hold":
            self.holding += 1
            self.held.set()
            await self.release.wait()
        return await echo(call)


async def _goaway(raw: RawH2) -> GoAwayFrame:
    with trio.fail_after(TIMEOUT):
        frames = await raw.until(lambda f: isinstance(f, GoAwayFrame))
    assert frames and isinstance(frames[-1], GoAwayFrame), frames[-3:]
    return frames[-1]


async def _closed(raw: RawH2) -> None:
    with trio.fail_after(TIMEOUT):
        while await raw.next_frame() is not None:
            pass


async def test_rapid_reset_flood_is_closed_and_costs_no_more_than_http11() -> None:
    handler = Counting()
    async with running(handle=handler) as address:
        raw = await RawH2.open(address)
        sent = 0
        # opened and reset in the same write: nothing is dispatched at all
        await raw.send(b"".join(raw.client.request(n) + rst(n) for n in range(1, 200, 2)))
        sent += 100
        # opened in one write, reset in the next: at most one dispatch each
        for batch in range(10):
            first = 201 + batch * 100
            ids = range(first, first + 100, 2)
            try:
                await raw.send(b"".join(raw.client.request(n) for n in ids))
                await raw.send(b"".join(rst(n) for n in ids))
            except trio.BrokenResourceError:
                break  # closed already
            sent += len(ids)
        goaway = await _goaway(raw)
        await _closed(raw)
    assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    # HTTP/1.1 would have dispatched every request it read; here at most the streams that were
    # live when the reset budget (200) ran out, and never more than were sent
    assert handler.dispatched <= min(sent - 100, 200 + 100)  # the first 100: never


async def test_continuation_flood_is_cut() -> None:
    handler = Counting()
    async with running(handle=handler) as address:
        raw = await RawH2.open(address)
        block = raw.client.block(request_headers())
        wire = HeadersFrame(1, data=block[:3]).serialize()
        wire += continuation(1, b"\x00") * 200
        try:
            await raw.send(wire)
        except trio.BrokenResourceError:
            pass
        goaway = await _goaway(raw)
        await _closed(raw)
    assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert handler.dispatched == 0


async def test_header_list_too_large_is_refused() -> None:
    handler = Counting()
    limits = {"max_header_bytes": "4000", "max_url_length": "1000"}
    async with running(limits, handle=handler) as address:
        raw = await RawH2.open(address)
        block = raw.client.block([*request_headers(), ("x-big", "v" * 9000)])
        wire = HeadersFrame(1, data=block[:4000], flags={"END_STREAM"}).serialize()
        wire += continuation(1, block[4000:8000]) + continuation(1, block[8000:], end=True)
        try:
            await raw.send(wire)
        except trio.BrokenResourceError:
            pass
        goaway = await _goaway(raw)
    assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert handler.dispatched == 0


@pytest.mark.parametrize(
    "frame",
    [PingFrame(0, opaque_data=b"12345678").serialize(), SettingsFrame(0).serialize()],
    ids=["ping", "settings"],
)
async def test_control_frame_flood_is_closed(frame: bytes) -> None:
    async with running() as address:
        raw = await RawH2.open(address)
        try:
            await raw.send(frame * 500)
        except trio.BrokenResourceError:
            pass
        goaway = await _goaway(raw)
        await _closed(raw)
    assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


async def test_stalled_window_holds_only_its_stream() -> None:
    async with running({"write_timeout": "1"}) as address:
        # the client's streams start with no window: each must be opened explicitly
        raw = await RawH2.open(address, {SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        await raw.send(
            WindowUpdateFrame(0, window_increment=1 << 30).serialize()
            + raw.client.request(1, "/big")  # 5 MiB whose window never opens
            + raw.client.request(3, "/small")
            + WindowUpdateFrame(3, window_increment=1 << 20).serialize()
        )
        with trio.fail_after(TIMEOUT):
            status, body, frames = await raw.response(3)
        assert status == 200 and json.loads(body)["path"] == "/small"
        assert not any(isinstance(f, DataFrame) and f.stream_id == 1 for f in frames)
        # after write_timeout without a window, that stream alone is reset
        with trio.fail_after(TIMEOUT):
            frames = await raw.until(lambda f: isinstance(f, RstStreamFrame | GoAwayFrame))
        assert isinstance(frames[-1], RstStreamFrame) and frames[-1].stream_id == 1
        assert frames[-1].error_code == ErrorCodes.CANCEL
        # the connection still serves
        opened = WindowUpdateFrame(5, window_increment=1 << 20).serialize()
        await raw.send(raw.client.request(5, "/after") + opened)
        with trio.fail_after(TIMEOUT):
            status, body, _ = await raw.response(5)
        assert status == 200 and json.loads(body)["path"] == "/after"


async def test_streams_beyond_the_limit_are_refused() -> None:
    handler = Counting()
    async with running(handle=handler) as address:
        raw = await RawH2.open(address)
        ids = list(range(1, 2 * 103, 2))  # 103 streams; the limit is 100
        await raw.send(b"".join(raw.client.request(n, "/hold") for n in ids))
        with trio.fail_after(TIMEOUT):
            frames = await raw.until(
                lambda f: isinstance(f, RstStreamFrame) and f.stream_id == ids[-1]
            )
        refused = {f.stream_id for f in frames if isinstance(f, RstStreamFrame)}
        assert refused == set(ids[100:])
        codes = {f.error_code for f in frames if isinstance(f, RstStreamFrame)}
        assert codes == {ErrorCodes.REFUSED_STREAM}
        with trio.fail_after(TIMEOUT):
            while handler.holding < 100:
                handler.held = trio.Event()
                await handler.held.wait()
        handler.release.set()
        with trio.fail_after(TIMEOUT):
            status, _, _ = await raw.response(ids[99])
        assert status == 200 and handler.dispatched == 100


async def test_idle_connection_gets_goaway_and_closes() -> None:
    async with running({"keepalive_timeout": "0.5"}) as address:
        raw = await RawH2.open(address)
        await raw.send(raw.client.request(1, "/one"))
        with trio.fail_after(TIMEOUT):
            status, _, _ = await raw.response(1)
        assert status == 200
        goaway = await _goaway(raw)
        assert (goaway.error_code, goaway.last_stream_id) == (ErrorCodes.NO_ERROR, 1)
        await _closed(raw)


async def test_request_body_over_max_body_gets_413() -> None:
    handler = Counting()
    async with running({"max_body": "100"}, handle=handler) as address:
        raw = await RawH2.open(address)
        head = request_headers("/up", "POST")
        await raw.send(raw.client.headers(1, head, end=False))
        await raw.send(DataFrame(1, data=b"x" * 101).serialize())
        with trio.fail_after(TIMEOUT):
            status, body, _ = await raw.response(1)
        assert status == 413 and json.loads(body)["error"] == "body_too_large"
        # the connection goes on
        await raw.send(raw.client.request(3, "/next"))
        with trio.fail_after(TIMEOUT):
            status, _, _ = await raw.response(3)
        assert status == 200 and handler.dispatched == 1


async def test_graceful_shutdown_sends_goaway_and_finishes_streams(
    nursery: trio.Nursery,
) -> None:
    handler = Counting()
    engine_scope = trio.CancelScope()
    spec = EngineSpec(kind="http", port=0, options={"grace": "5"}, text="http")

    async def run(task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED) -> None:
        with engine_scope:
            await serve_http(EngineContext(handle=handler), spec, task_status=task_status)

    address = await nursery.start(run)
    raw = await RawH2.open(address)
    try:
        await raw.send(raw.client.request(1, "/hold"))
        with trio.fail_after(TIMEOUT):
            await handler.held.wait()
        engine_scope.cancel()  # the engine shuts down while stream 1 is in flight
        goaway = await _goaway(raw)
        assert (goaway.error_code, goaway.last_stream_id) == (ErrorCodes.NO_ERROR, 1)
        await raw.send(raw.client.request(3, "/late"))  # after the GOAWAY: refused
        handler.release.set()
        with trio.fail_after(TIMEOUT):
            status, body, _frames = await raw.response(1)
        assert status == 200 and json.loads(body)["path"] == "/hold"
        await _closed(raw)
        assert handler.dispatched == 1
    finally:
        await close_clients()
