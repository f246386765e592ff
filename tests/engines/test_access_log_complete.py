"""Every request gets exactly one access-log line, however it ends (issue 10, item 6).

Over real sockets, for both engines: replies cut by ``write_timeout``, by a reset, by the
shutdown's grace, by a failing streamed body or by a front-end's abort are logged with the
body bytes the socket really took and the ``X "reason"`` mark (checked byte for byte against
what the client could still read); requests that got no answer are logged with the status
they stand for; a websocket is logged when it is upgraded, not when it closes.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

import fcgi
from fcgi import RecordType as T
from trioserve import Server
from trioserve.call import Call, Response
from trioserve.ws import Connection, ConnectRequest, WebSocketHandler

from .test_fastcgi_engine import (
    App,
    RawClient,
    params_for,
    request_bytes,
    run_stoppable_engine,
    start_engine,
)
from .test_http_support import connect, request, running

TIMEOUT = 10
#: larger than anything the loopback socket buffers can hold
HUGE = 48 * 1024 * 1024
#: a CLF line, then optionally the mark: status, size and reason captured
LINE = re.compile(
    r'(?P<peer>\S+) - (?P<user>\S+) \[[^]]+\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<size>\d+|-)(?: X "(?P<cut>[^"]*)")?'
)


def parse(line: str) -> dict[str, Any]:
    match = LINE.fullmatch(line)
    assert match, f"not a CLF line (with an optional mark): {line!r}"
    fields: dict[str, Any] = match.groupdict()
    fields["status"] = int(fields["status"])
    fields["size"] = 0 if fields["size"] == "-" else int(fields["size"])
    return fields


async def lines_of(path: Path, count: int) -> list[dict[str, Any]]:
    """Wait until the log holds ``count`` lines; return them parsed (and no more come)."""
    with trio.fail_after(TIMEOUT):
        while not path.exists() or path.read_text().count("\n") < count:
            await trio.sleep(0.01)
    await trio.sleep(0.05)
    lines = path.read_text().splitlines()
    assert len(lines) == count, lines
    return [parse(line) for line in lines]


async def _pieces(size: int, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    block = b"y" * piece
    for start in range(0, size, piece):
        yield block[: min(piece, size - start)]


async def handle(call: Call) -> Response:
    kind = call.path.strip("/")
    if kind == "bytes":
        return Response(content_type="application/octet-stream", body=bytes(HUGE))
    if kind == "length":
        return Response(
            content_type="application/octet-stream", body=_pieces(HUGE), content_length=HUGE
        )
    if kind == "chunked":
        return Response(content_type="application/octet-stream", body=_pieces(HUGE))
    if kind == "trickle":
        return Response(content_type="text/plain", body=_trickle())
    if kind == "sleep":
        await trio.sleep_forever()
    return Response(content_type="text/plain", body=b"ok")


async def _trickle() -> AsyncIterator[bytes]:
    yield b"first"
    await trio.sleep_forever()


async def read_all(stream: trio.abc.ReceiveStream) -> bytes:
    data = bytearray()
    with trio.fail_after(TIMEOUT):
        while chunk := await stream.receive_some(1 << 20):
            data += chunk
    return bytes(data)


def http_body_bytes(raw: bytes) -> int:
    """Body bytes in a (possibly cut) HTTP response: after the head, or the payload of the
    chunks present (the last one perhaps partly)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return len(rest)
    total = 0
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep or not line:
            return total
        size = int(line, 16)
        total += min(size, len(rest))
        if len(rest) < size + 2:
            return total
        rest = rest[size + 2 :]


# ---------------------------------------------------------------- HTTP


@pytest.mark.parametrize("kind", ["bytes", "length", "chunked"])
async def test_http_write_timeout_is_logged_with_the_bytes_really_sent(
    tmp_path: Path, kind: str
) -> None:
    """A client that stops reading is dropped after ``write_timeout``; its line carries the
    status, exactly the body bytes the socket took (all the client can still read once the
    server closed), and the reason -- before the fix no line was written at all."""
    log = tmp_path / "access.log"
    async with running({"log": str(log), "write_timeout": "0.3"}, handle=handle) as address:
        stream = await connect(address)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        await stream.send_all(request(f"/{kind}"))
        [line] = await lines_of(log, 1)
        received = http_body_bytes(await read_all(stream))
    assert line["request"] == f"GET /{kind} HTTP/1.1"
    assert line["status"] == 200
    assert line["cut"].startswith("write timeout")
    assert 0 < line["size"] < HUGE
    assert line["size"] == received


async def test_http_reset_mid_reply_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    async with running({"log": str(log)}, handle=handle) as address:
        stream = await connect(address)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        await stream.send_all(request("/length"))
        with trio.fail_after(TIMEOUT):
            assert await stream.receive_some(1024)  # the reply has started
        # close with a reset (SO_LINGER 0), the reply far from done
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()
        [line] = await lines_of(log, 1)
    assert (line["status"], line["cut"]) == (200, "connection reset by peer")
    assert 0 < line["size"] < HUGE


async def test_http_shutdown_logs_cut_and_unanswered_requests(tmp_path: Path) -> None:
    """At shutdown a reply still streaming after the grace is logged with what went out, and
    a request still being dispatched as 503 -- both marked."""
    log = tmp_path / "access.log"
    async with running({"log": str(log), "grace": "0.2"}, handle=handle) as address:
        streaming = await connect(address)
        waiting = await connect(address)
        await streaming.send_all(request("/trickle"))
        await waiting.send_all(request("/sleep"))
        with trio.fail_after(TIMEOUT):
            assert b"first" in await streaming.receive_some(4096)
        await trio.sleep(0.1)
    lines = sorted(await lines_of(log, 2), key=lambda line: line["request"])
    assert [(x["request"], x["status"], x["size"], x["cut"]) for x in lines] == [
        ("GET /sleep HTTP/1.1", 503, 0, "server shutdown"),
        ("GET /trickle HTTP/1.1", 200, 5, "server shutdown"),
    ]


async def test_http_client_leaving_mid_body_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    async with running({"log": str(log)}, handle=handle) as address:
        stream = await connect(address)
        await stream.send_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123")
        await trio.sleep(0.1)
        await stream.aclose()
        [line] = await lines_of(log, 1)
    assert line["request"] == "POST /up HTTP/1.1"
    assert (line["status"], line["size"]) == (499, 0)
    assert line["cut"] == "client closed the connection in the middle of a request body"


async def test_http_complete_replies_keep_the_plain_format(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    async with running({"log": str(log)}, handle=handle) as address:
        stream = await connect(address)
        await stream.send_all(request("/ok") + request("/ok", method="HEAD"))
        with trio.fail_after(TIMEOUT):
            data = b""
            while data.count(b"HTTP/1.1 200") < 2:
                data += await stream.receive_some(4096)
        lines = await lines_of(log, 2)
    assert [(x["status"], x["size"], x["cut"]) for x in lines] == [(200, 2, None), (200, 0, None)]
    assert all(not line.endswith('"') for line in log.read_text().splitlines())


# ---------------------------------------------------------------- websockets (a real server)


class Holder(WebSocketHandler):
    """Accepts ``/hold`` and keeps the connection until the client closes; refuses when
    asked to."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.refuse = False
        self.closed = trio.Event()

    def on_connect(self, request: ConnectRequest) -> bool:
        return not self.refuse

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        await conn.send(message)

    async def on_close(self, conn: Connection) -> None:
        self.closed.set()


async def test_websocket_is_logged_at_the_upgrade(nursery: trio.Nursery, tmp_path: Path) -> None:
    """The 101 line is there while the websocket is open (it used to be written when it
    closed), once; a refused upgrade is logged with its real status and body, not as 101."""
    log = tmp_path / "access.log"
    server = Server()
    handler = Holder("hold")
    server.register("/", handler)
    scope = trio.CancelScope()

    async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await server.serve(f"http:0?log={log}", task_status=task_status)

    await nursery.start(run)
    host, port = server.addresses[0][:2]
    url = f"ws://{host}:{port}/hold/root.websocket"
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(url) as ws:
            [line] = await lines_of(log, 1)  # logged while the websocket is open
            await ws.send_message("still open")
            assert await ws.get_message() == "still open"
        await handler.closed.wait()
        handler.refuse = True
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with trio_websocket.open_websocket_url(url):
                pass  # pragma: no cover
    lines = await lines_of(log, 2)
    scope.cancel()
    assert lines[0] == line
    assert (line["request"], line["status"], line["size"], line["cut"]) == (
        "GET /hold/root.websocket HTTP/1.1",
        101,
        0,
        None,
    )
    assert refused.value.status_code == 403
    assert (lines[1]["status"], lines[1]["cut"]) == (403, None)
    assert lines[1]["size"] == len(refused.value.body or b"")


# ---------------------------------------------------------------- FastCGI


class FcgiApp(App):
    async def _answer(self, call: Call) -> Response:
        if call.file_name == "huge":
            return Response(content_type="application/octet-stream", body=bytes(HUGE))
        return await super()._answer(call)


def stdout_content(raw: bytes, rid: int) -> bytes:
    """The STDOUT content of ``rid`` in a (possibly cut) stream of records, the partial last
    record's included."""
    out = bytearray()
    pos = 0
    while pos + fcgi.HEADER_LEN <= len(raw):
        _, rtype, record_id, length, padding = struct.unpack_from(">BBHHBx", raw, pos)
        content = raw[pos + fcgi.HEADER_LEN : pos + fcgi.HEADER_LEN + length]
        if rtype == T.STDOUT and record_id == rid:
            out += content
        pos += fcgi.HEADER_LEN + length + padding
    return bytes(out)


@pytest.fixture
async def clients() -> AsyncIterator[list[RawClient]]:
    opened: list[RawClient] = []
    yield opened
    for client in (*opened, *RawClient.opened):
        await trio.aclose_forcefully(client.stream)
    RawClient.opened.clear()


async def test_fastcgi_reply_cut_by_shutdown_is_logged_with_the_bytes_really_sent(
    nursery: trio.Nursery, tmp_path: Path, clients: list[RawClient]
) -> None:
    log = tmp_path / "access.log"
    app = FcgiApp()
    address, scope, stopped = await run_stoppable_engine(
        nursery, f"fastcgi:0?log={log}&grace=0.3", app
    )
    client = await RawClient.connect(address)
    clients.append(client)
    client.stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    await client.send(request_bytes(1, params_for("/huge")))
    await trio.sleep(0.3)  # the front-end stalls; the reply fills the socket buffers
    scope.cancel()
    with trio.fail_after(TIMEOUT):
        await stopped.wait()
    [line] = await lines_of(log, 1)
    content = stdout_content(await read_all(client.stream), 1)
    head, _, body = content.partition(b"\r\n\r\n")
    assert b"Status: 200" in head
    assert line["request"] == "GET /root.app/huge FastCGI"
    assert (line["status"], line["cut"]) == (200, "server shutdown")
    assert 0 < line["size"] < HUGE
    assert line["size"] == len(body)


async def test_fastcgi_endings_are_logged_once_each(
    nursery: trio.Nursery, tmp_path: Path, clients: list[RawClient]
) -> None:
    """An abort while dispatching, a failing streamed body, a 413 answered early, a
    front-end that leaves mid-dispatch or before the body ended: one line each, marked
    when the reply was cut. None of these was logged before."""
    log = tmp_path / "access.log"
    app = FcgiApp()
    address = await start_engine(nursery, f"fastcgi:0?log={log}&max_body=1000", app.handle)
    client = await RawClient.connect(address)
    with trio.fail_after(TIMEOUT):
        # 1. aborted while the app works on it
        await client.send(request_bytes(1, params_for("/forever")))
        while not app.calls:
            await trio.sleep(0.005)
        await client.send(fcgi.encode_record(T.ABORT_REQUEST, 1))
        assert (await client.replies(1))[1].end == (0, 0)
        # 2. a body over max_body: 413 at once
        reply = await client.get(2, params_for("/echo.json", "POST"), b"x" * 5000)
        assert reply.status == 413
        # 3. a streamed body that fails after its first part: the connection ends
        await client.send(request_bytes(3, params_for("/broken")))
        while await client.record() is not None:
            pass
        # 4. the front-end leaves while the app works
        leaving = await RawClient.connect(address)
        await leaving.send(request_bytes(1, params_for("/wait")))
        while len(app.calls) < 3:
            await trio.sleep(0.005)
        await leaving.aclose()
        # 5. the front-end leaves before the body ended (params complete)
        early = await RawClient.connect(address)
        await early.send(
            fcgi.encode_begin_request(1, keep_conn=True)
            + fcgi.encode_stream(T.PARAMS, 1, fcgi.encode_params(params_for("/up")), end=True)
            + fcgi.encode_record(T.STDIN, 1, b"part")
        )
        await trio.sleep(0.1)
        await early.aclose()
    lines = {line["request"]: line for line in await lines_of(log, 5)}
    got = {request: (x["status"], x["size"], x["cut"]) for request, x in lines.items()}
    assert got == {
        "GET /root.app/forever FastCGI": (499, 0, "aborted by the front-end"),
        "POST /root.app/echo.json FastCGI": (413, len(reply.body), None),
        "GET /root.app/broken FastCGI": (200, len(b"first part"), "streamed reply failed"),
        "GET /root.app/wait FastCGI": (499, 0, "connection closed"),
        "GET /root.app/up FastCGI": (499, 0, "connection closed"),
    }
