"""The FastCGI engine on real sockets: flup's client, a raw-socket client, unix sockets.

The dispatcher is a small ``handle(call)`` coroutine (the real one lives elsewhere); what is
under test is the transport: framing, concurrency, cancellation, limits and cleanup.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from flup.client.fcgi_app import FCGIApp

import fcgi
from fcgi import RecordType as T
from trioserve.call import Call, Response
from trioserve.engines.base import EngineContext
from trioserve.engines.fastcgi import serve_fastcgi
from trioserve.errors import RequestError, SpecError
from trioserve.spec import parse_engine_spec

TIMEOUT = 10
BIG = 5 * 1024 * 1024


# ---------------------------------------------------------------- the tiny application


@dataclass
class App:
    calls: list[Call] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    release: trio.Event = field(default_factory=trio.Event)
    active: int = 0
    max_active: int = 0
    produced: int = 0

    async def handle(self, call: Call) -> Response:
        self.calls.append(call)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await self._answer(call)
        except trio.Cancelled:
            self.cancelled.append(call.path)
            raise
        finally:
            self.active -= 1

    async def _answer(self, call: Call) -> Response:
        name = call.file_name
        if name == "echo.json":
            info = {
                "method": call.method,
                "path": call.path,
                "query": call.query,
                "user": call.user,
                "script_name": call.script_name,
                "body_len": len(call.body),
                "body_sha": hashlib.sha256(call.body).hexdigest(),
                "headers": dict(call.headers),
                "engine": call.engine,
                "top": call.top_name,
            }
            return Response(body=json.dumps(info).encode())
        if name == "wait":  # blocks until released (or cancelled)
            await self.release.wait()
            return Response(content_type="text/plain", body=b"released")
        if name == "release":  # once a /wait is being handled at the same time
            while self.active < 2:
                await trio.sleep(0.001)
            self.release.set()
            return Response(content_type="text/plain", body=b"ok")
        if name == "forever":
            await trio.sleep_forever()
        if name == "fail":
            raise RuntimeError("boom: secret internals")
        if name == "bigbytes":
            return Response(content_type="application/octet-stream", body=_pattern(BIG))
        if name == "stream":
            size = int(call.query_dict().get("size", BIG))
            return Response(
                content_type="application/octet-stream",
                body=self._chunks(size),
                content_length=size,
            )
        if name == "refused":
            raise RequestError(403, "forbidden", "not for you")
        if name == "trickle":
            return Response(content_type="text/plain", body=self._trickle())
        if name == "broken":
            return Response(content_type="text/plain", body=self._broken())
        if name == "sleep":
            await trio.sleep(0.05)
            return Response(content_type="text/plain", body=b"slept")
        return Response(status=404, body=b'{"error": "not_found"}')

    async def _chunks(self, size: int) -> AsyncIterator[bytes]:
        chunk = 64 * 1024
        for start in range(0, size, chunk):
            piece = _pattern(min(chunk, size - start), start)
            self.produced += len(piece)
            yield piece

    async def _trickle(self) -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await trio.sleep_forever()
            yield b"never"
        finally:
            self.cancelled.append("trickle closed")

    async def _broken(self) -> AsyncIterator[bytes]:
        yield b"first part"
        await trio.sleep(0)
        raise RuntimeError("the object vanished")


def _pattern(size: int, offset: int = 0) -> bytes:
    block = bytes(range(256)) * 1024
    start = offset % 256
    out = (block[start:] + block) * (size // len(block) + 2)
    return out[:size]


async def start_engine(
    nursery: trio.Nursery, spec: str, handle: Callable[[Call], Awaitable[Response]]
) -> Any:
    return await nursery.start(serve_fastcgi, EngineContext(handle=handle), parse_engine_spec(spec))


# ---------------------------------------------------------------- a raw FastCGI client


def params_for(path: str, method: str = "GET", query: str = "", **extra: str) -> dict[str, str]:
    """What lighttpd sends (PATH_INFO + SCRIPT_NAME), trimmed to what matters."""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "127.0.0.1",
        **extra,
    }


def request_bytes(
    rid: int, params: dict[str, str], body: bytes = b"", *, keep_conn: bool = True
) -> bytes:
    return (
        fcgi.encode_begin_request(rid, keep_conn=keep_conn)
        + fcgi.encode_stream(T.PARAMS, rid, fcgi.encode_params(params), end=True)
        + fcgi.encode_stream(T.STDIN, rid, body, end=True)
    )


@dataclass
class Reply:
    records: list[fcgi.Record] = field(default_factory=list)
    end: tuple[int, int] | None = None

    @property
    def stdout(self) -> bytes:
        return b"".join(r.content for r in self.records if r.type == T.STDOUT)

    @property
    def head(self) -> dict[str, str]:
        block = self.stdout.split(b"\r\n\r\n", 1)[0].decode()
        return dict(line.split(": ", 1) for line in block.split("\r\n"))

    @property
    def status(self) -> int:
        return int(self.head["Status"].split()[0])

    @property
    def body(self) -> bytes:
        return self.stdout.split(b"\r\n\r\n", 1)[1]

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.reader = fcgi.RecordReader()

    #: every client opened by a test, closed at teardown by the ``app`` fixture
    opened: list[RawClient] = []

    @classmethod
    async def connect(cls, address: Any) -> RawClient:
        if isinstance(address, str):
            client = cls(await trio.open_unix_socket(address))
        else:
            client = cls(await trio.open_tcp_stream(*address))
        cls.opened.append(client)
        return client

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def record(self) -> fcgi.Record | None:
        """The next record, or None at EOF."""
        while (record := self.reader.next_record()) is None:
            data = await self.stream.receive_some(1 << 16)
            if not data:
                assert self.reader.buffered == 0, "EOF inside a record"
                return None
            self.reader.feed(data)
        return record

    async def replies(self, *rids: int) -> dict[int, Reply]:
        """Read until every rid got END_REQUEST."""
        out = {rid: Reply() for rid in rids}
        while any(r.end is None for r in out.values()):
            record = await self.record()
            assert record is not None, "connection closed before END_REQUEST"
            reply = out[record.request_id]
            assert reply.end is None, "record after END_REQUEST"
            if record.type == T.END_REQUEST:
                reply.end = fcgi.decode_end_body(record.content)
            else:
                reply.records.append(record)
        return out

    async def get(self, rid: int, params: dict[str, str], body: bytes = b"", **kw: Any) -> Reply:
        await self.send(request_bytes(rid, params, body, **kw))
        return (await self.replies(rid))[rid]

    async def assert_closed(self) -> None:
        with trio.fail_after(TIMEOUT):
            assert await self.record() is None

    async def aclose(self) -> None:
        await self.stream.aclose()


@pytest.fixture
async def app() -> AsyncIterator[App]:
    yield App()
    while RawClient.opened:
        await RawClient.opened.pop().aclose()


@pytest.fixture
async def tcp(nursery: trio.Nursery, app: App) -> Any:
    return await start_engine(nursery, "fastcgi:0", app.handle)


# ---------------------------------------------------------------- flup's client


class FlupClient(FCGIApp):  # type: ignore[misc]
    """flup 1.0.3's client, minus its one Python 2 line (``types.StringTypes`` in
    ``_getConnection``); everything that speaks FastCGI is flup's own code."""

    def _getConnection(self) -> socket.socket:
        if isinstance(self._connect, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self._connect)
            return sock
        return socket.create_connection(self._connect)


def flup_request(
    client: FCGIApp, path: str, method: str = "GET", body: bytes = b"", query: str = ""
) -> tuple[str, dict[str, str], bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/octet-stream",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_X_TEST": "flup",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    seen: dict[str, Any] = {}

    def start_response(status: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        seen["status"] = status.decode()
        seen["headers"] = {k.decode(): v.decode() for k, v in headers}

    result = b"".join(client(environ, start_response))
    return seen["status"], seen["headers"], result


async def test_flup_client_over_tcp(tcp: tuple[str, int], app: App) -> None:
    client = FlupClient(connect=tcp)
    with trio.fail_after(TIMEOUT):
        status, headers, body = await trio.to_thread.run_sync(
            # WSGI strings are latin-1 decoded bytes; flup encodes them back to latin-1
            flup_request,
            client,
            "/Objects/été/echo.json".encode().decode("latin-1"),
            "GET",
            b"",
            "compact=3",
        )
    assert status == "200 OK"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    info = json.loads(body)
    assert info["path"] == "/Objects/été/echo.json"
    assert info["query"] == "compact=3"
    assert info["script_name"] == "/root.app"
    assert info["engine"] == "fastcgi"
    assert info["headers"]["x-test"] == "flup"
    assert app.calls[0].peer == "192.0.2.1"


async def test_flup_client_over_unix_socket_with_a_large_post(
    nursery: trio.Nursery, app: App, short_tmp: Path
) -> None:
    path = str(short_tmp / "app.sock")
    assert await start_engine(nursery, f"fastcgi:{path}", app.handle) == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    body = _pattern(300_000)
    with trio.fail_after(TIMEOUT):
        status, _, reply = await trio.to_thread.run_sync(
            flup_request, FlupClient(connect=path), "/upload/echo.json", "POST", body
        )
    assert status == "200 OK"
    info = json.loads(reply)
    assert (info["method"], info["body_len"]) == ("POST", 300_000)
    assert info["body_sha"] == hashlib.sha256(body).hexdigest()


# ---------------------------------------------------------------- raw client


async def test_get_values(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    query = fcgi.encode_params({"FCGI_MPXS_CONNS": "", "FCGI_MAX_CONNS": "", "FCGI_X": ""})
    with trio.fail_after(TIMEOUT):
        await client.send(fcgi.encode_record(T.GET_VALUES, 0, query))
        record = await client.record()
        assert record is not None and record.type == T.GET_VALUES_RESULT
        values = dict(fcgi.decode_pairs(record.content))
        assert values == {b"FCGI_MPXS_CONNS": b"1", b"FCGI_MAX_CONNS": b"1000"}
        # management records do not disturb requests on the same connection
        await client.send(fcgi.encode_record(77, 0))
        record = await client.record()
        assert record == fcgi.Record(T.UNKNOWN_TYPE, 0, bytes([77]) + b"\0" * 7)
        reply = await client.get(1, params_for("/echo.json"))
        assert reply.status == 200 and reply.end == (0, 0)


async def test_response_framing_and_keep_conn(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        for rid in (1, 1, 2):  # ids are reusable once answered
            reply = await client.get(rid, params_for("/echo.json", "POST"), b"xyz")
            assert reply.json()["body_len"] == 3
            assert reply.head["Content-Length"] == str(len(reply.body))
            types = [r.type for r in reply.records]
            assert types[-1] == T.STDOUT and reply.records[-1].content == b""
            assert all(len(r.content) <= 65535 for r in reply.records)
        # without KEEP_CONN the engine closes after answering
        reply = await client.get(3, params_for("/echo.json"), keep_conn=False)
        assert reply.status == 200
        await client.assert_closed()


async def test_stray_records_for_an_inactive_id_keep_the_connection(
    tcp: tuple[str, int], app: App
) -> None:
    """FastCGI 1.0 §3.3 (issue 10, item 10): a stray record for a request id not in use --
    here a 1-byte STDIN for the id just answered and a 1-byte DATA for an id never used,
    between two KEEP_CONN requests -- is ignored; both requests are answered on one
    connection."""
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        first = await client.get(1, params_for("/echo.json"), keep_conn=True)
        assert first.status == 200 and first.end == (0, 0)
        await client.send(
            fcgi.encode_record(T.STDIN, 1, b"x")
            + fcgi.encode_record(T.DATA, 2, b"y")
            + fcgi.encode_record(T.ABORT_REQUEST, 3)
        )
        second = await client.get(1, params_for("/second/echo.json"), keep_conn=True)
        assert second.status == 200 and second.end == (0, 0)
        assert second.json()["path"] == "/second/echo.json"
        # a stray record in the same write as the next request
        await client.send(fcgi.encode_record(T.STDIN, 1, b"z") + request_bytes(2, params_for("/3")))
        third = (await client.replies(2))[2]
        assert third.status == 404 and third.end == (0, 0)
    assert [c.path for c in app.calls] == ["/echo.json", "/second/echo.json", "/3"]


async def test_multiplexed_requests_run_concurrently(tcp: tuple[str, int], app: App) -> None:
    """Request 1 waits for request 2 on the same connection: serial handling would hang."""
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await client.send(
            request_bytes(1, params_for("/wait")) + request_bytes(2, params_for("/release"))
        )
        replies = await client.replies(1, 2)
    assert replies[1].body == b"released" and replies[2].body == b"ok"
    assert app.max_active == 2


async def test_abort_request_cancels_only_that_request(tcp: tuple[str, int], app: App) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await client.send(request_bytes(1, params_for("/forever")))
        await client.send(request_bytes(2, params_for("/sleep")))
        while len(app.calls) < 2:
            await trio.sleep(0.005)
        await client.send(fcgi.encode_record(T.ABORT_REQUEST, 1))
        replies = await client.replies(1, 2)
    assert replies[1].end == (0, 0) and replies[1].stdout == b""
    assert replies[2].body == b"slept"
    assert app.cancelled == ["/forever"]
    # aborting a request that is still receiving its body answers it at once
    with trio.fail_after(TIMEOUT):
        await client.send(
            fcgi.encode_begin_request(5, keep_conn=True)
            + fcgi.encode_stream(
                T.PARAMS, 5, fcgi.encode_params(params_for("/echo.json")), end=True
            )
            + fcgi.encode_record(T.STDIN, 5, b"partial")
            + fcgi.encode_record(T.ABORT_REQUEST, 5)
        )
        assert (await client.replies(5))[5].end == (0, 0)
        reply = await client.get(6, params_for("/echo.json"))
    assert reply.status == 200
    # request 5 was never dispatched; the order of 1 and 2 is up to the scheduler
    assert sorted(c.path for c in app.calls) == ["/echo.json", "/forever", "/sleep"]


async def test_front_end_dropping_the_connection_cancels_its_requests(
    tcp: tuple[str, int], app: App
) -> None:
    other = await RawClient.connect(tcp)
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await other.send(request_bytes(1, params_for("/wait")))
        await client.send(request_bytes(1, params_for("/forever")))
        while len(app.calls) < 2:
            await trio.sleep(0.005)
        await client.aclose()
        while not app.cancelled:
            await trio.sleep(0.005)
        assert app.cancelled == ["/forever"]
        app.release.set()  # the other connection's request was not touched
        assert (await other.replies(1))[1].body == b"released"


@pytest.mark.parametrize(
    ("garbage", "expected_end"),
    ids=["bad-version", "unknown-type-on-unknown-id", "impossible-length", "params-too-big"],
    argvalues=[
        (b"\x02" + fcgi.encode_record(T.STDIN, 1)[1:], None),  # bad version
        # a record type no front-end sends (a STDIN for an unknown id is ignored instead:
        # test_stray_records_for_an_inactive_id_keep_the_connection)
        (fcgi.encode_record(42, 9, b"who?"), None),
        (fcgi.encode_record(T.BEGIN_REQUEST, 1, b"\0\1"), None),  # impossible length
        (  # params past the limit: END_REQUEST(OVERLOADED) for that request, then close
            fcgi.encode_begin_request(4, keep_conn=True)
            + fcgi.encode_record(T.PARAMS, 4, b"\x01\x80\x00\x08\x00A" + b"v" * 2048),
            (4, fcgi.ProtocolStatus.OVERLOADED),
        ),
    ],
)
async def test_malformed_stream_closes_the_connection(
    nursery: trio.Nursery, app: App, garbage: bytes, expected_end: tuple[int, int] | None
) -> None:
    address = await start_engine(nursery, "fastcgi:0?max_params=1024", app.handle)
    client = await RawClient.connect(address)
    with trio.fail_after(TIMEOUT):
        assert (await client.get(1, params_for("/echo.json"))).status == 200
        await client.send(garbage)
        if expected_end is not None:
            rid, status = expected_end
            reply = (await client.replies(rid))[rid]
            assert reply.end == (1, status) and reply.stdout == b""
        await client.assert_closed()
        # the engine itself is fine
        fresh = await RawClient.connect(address)
        assert (await fresh.get(1, params_for("/echo.json"))).status == 200


async def test_huge_streamed_response_with_backpressure(tcp: tuple[str, int], app: App) -> None:
    size = 48 * 1024 * 1024
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await client.send(request_bytes(1, params_for("/stream", query=f"size={size}")))
        await trio.sleep(0.3)  # a reader that stalls: the producer must stall too
        assert 0 < app.produced < size // 2
        total, digest, first = 0, hashlib.sha256(), True
        while True:
            record = await client.record()
            assert record is not None
            if record.type == T.END_REQUEST:
                break
            assert record.type == T.STDOUT and len(record.content) <= 65535
            content = record.content
            if first:
                head, _, content = content.partition(b"\r\n\r\n")
                assert head.startswith(b"Status: 200 OK\r\n")
                assert f"Content-Length: {size}".encode() in head
                first = False
            total += len(content)
            digest.update(content)
    assert total == size
    assert digest.hexdigest() == hashlib.sha256(_pattern(size)).hexdigest()


async def test_big_bytes_body_and_head(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params_for("/bigbytes"))
        assert reply.body == _pattern(BIG)
        assert reply.head["Content-Length"] == str(BIG)
        head = await client.get(2, params_for("/bigbytes", "HEAD"))
        assert head.body == b"" and head.head["Content-Length"] == str(BIG)
        streamed_head = await client.get(3, params_for("/stream", "HEAD", query="size=10"))
        assert streamed_head.body == b"" and streamed_head.head["Content-Length"] == "10"


async def test_failed_dispatch_is_a_500_without_internals(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params_for("/fail"))
    assert reply.status == 500 and reply.end == (0, 0)
    assert reply.json()["error"] == "internal_error"
    assert b"secret" not in reply.stdout


async def test_request_error_keeps_its_status(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params_for("/refused"))
    assert reply.status == 403 and reply.json()["error"] == "forbidden"


async def test_abort_while_streaming_ends_the_request(tcp: tuple[str, int], app: App) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await client.send(request_bytes(1, params_for("/trickle")))
        first = await client.record()
        assert first is not None and first.content.startswith(b"Status: 200 OK")
        body = await client.record()
        assert body is not None and body.content == b"first"
        await client.send(fcgi.encode_record(T.ABORT_REQUEST, 1))
        reply = (await client.replies(1))[1]
        assert reply.end == (1, 0) and reply.stdout == b""  # only the empty STDOUT
        assert (await client.get(2, params_for("/echo.json"))).status == 200
    assert app.cancelled == ["trickle closed"]


async def test_failure_mid_body_closes_without_end_request(tcp: tuple[str, int]) -> None:
    client = await RawClient.connect(tcp)
    with trio.fail_after(TIMEOUT):
        await client.send(request_bytes(1, params_for("/broken")))
        seen = []
        while (record := await client.record()) is not None:
            seen.append(record)
    assert b"first part" in b"".join(r.content for r in seen)
    assert all(r.type == T.STDOUT for r in seen)  # no END_REQUEST: the truncation shows


async def test_body_limit_answers_413_and_keeps_the_connection(
    nursery: trio.Nursery, app: App
) -> None:
    address = await start_engine(nursery, "fastcgi:0?max_body=1000", app.handle)
    client = await RawClient.connect(address)
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params_for("/echo.json", "POST"), b"x" * 5000)
        assert reply.status == 413 and reply.json()["error"] == "body_too_large"
        ok = await client.get(2, params_for("/echo.json", "POST"), b"x" * 1000)
        assert ok.json()["body_len"] == 1000
    assert [c.path for c in app.calls] == ["/echo.json"]


async def test_thrds_limits_concurrent_dispatch(nursery: trio.Nursery, app: App) -> None:
    address = await start_engine(nursery, "fastcgi:0?thrds=1&top=MyTop", app.handle)
    client = await RawClient.connect(address)
    with trio.fail_after(TIMEOUT):
        await client.send(b"".join(request_bytes(i, params_for("/sleep")) for i in (1, 2, 3)))
        replies = await client.replies(1, 2, 3)
        assert all(r.body == b"slept" for r in replies.values())
        echo = (await client.get(4, params_for("/echo.json"))).json()
    assert app.max_active == 1
    assert echo["top"] == "MyTop"


async def test_access_log_file(nursery: trio.Nursery, app: App, tmp_path: Path) -> None:
    logfile = tmp_path / "access.log"
    address = await start_engine(nursery, f"fastcgi:0?log={logfile}", app.handle)
    client = await RawClient.connect(address)
    params = params_for(
        "/echo.json",
        REQUEST_URI="/root.app/echo.json?x=1",
        SERVER_PROTOCOL="HTTP/1.1",
        REMOTE_USER="alice",
        AUTH_TYPE="Digest",
        HTTP_AUTHORIZATION="Digest secret-response",
    )
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params)
        # the line is written once END_REQUEST went out, which may be just after we read it
        while not (line := logfile.read_text()):
            await trio.sleep(0.005)
    assert "127.0.0.1 - alice [" in line
    assert f'"GET /root.app/echo.json?x=1 HTTP/1.1" 200 {len(reply.body)}' in line
    assert "secret" not in line


async def test_debug_option_serves_the_escaped_echo_page(nursery: trio.Nursery, app: App) -> None:
    address = await start_engine(nursery, "fastcgi:0?debug", app.handle)
    client = await RawClient.connect(address)
    params = params_for(
        "/<script>x</script>/root.json",
        HTTP_AUTHORIZATION="Bearer tok-123",
        HTTP_COOKIE="sid=cookie-456",
        APP_PASSWORD="pw-789",
    )
    with trio.fail_after(TIMEOUT):
        reply = await client.get(1, params)
    page = reply.body.decode()
    assert reply.status == 200 and reply.head["Content-Type"].startswith("text/html")
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    for secret in ("tok-123", "cookie-456", "pw-789"):
        assert secret not in page
    # three credential params, and the two credential headers derived from them
    assert page.count("(hidden)") == 5
    assert app.calls == []  # debug answers without dispatching


async def test_user_and_apache_default_path_over_the_wire(tcp: tuple[str, int], app: App) -> None:
    client = await RawClient.connect(tcp)
    params = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/root.app/Objects/a b/echo.json",
        "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000/Objects/a%20b/echo.json",
        "QUERY_STRING": "x=1",
        "REMOTE_USER": "admin",
        "AUTH_TYPE": "Digest",
    }
    with trio.fail_after(TIMEOUT):
        info = (await client.get(1, params)).json()
        noslash = await client.get(
            2,
            {
                "REQUEST_METHOD": "GET",
                "SCRIPT_NAME": "/root.app",
                "REDIRECT_STATUS": "200",
                "QUERY_STRING": "a=1",
            },
        )
    assert (info["path"], info["script_name"], info["user"]) == (
        "/Objects/a b/echo.json",
        "/root.app",
        "admin",
    )
    assert noslash.status == 301 and noslash.head["Location"] == "/root.app/?a=1"


# ---------------------------------------------------------------- binding and cleanup


async def test_bind_failure_raises_before_started(
    nursery: trio.Nursery, tcp: tuple[str, int], app: App
) -> None:
    with pytest.raises(OSError):
        await start_engine(nursery, f"fastcgi:{tcp[1]}", app.handle)


async def test_loopback_by_default(tcp: tuple[str, int]) -> None:
    assert tcp[0] == "127.0.0.1"


async def test_bad_socket_mode_is_a_spec_error(
    nursery: trio.Nursery, app: App, short_tmp: Path
) -> None:
    with pytest.raises(SpecError, match="octal"):
        await start_engine(nursery, f"fastcgi:{short_tmp}/x.sock?socket_mode=rw", app.handle)
    assert not (short_tmp / "x.sock").exists()


async def test_unix_socket_lifecycle(app: App, short_tmp: Path) -> None:
    path = short_tmp / "fcgi.sock"
    # a regular file is never replaced
    path.write_text("precious")
    async with trio.open_nursery() as nursery:
        with pytest.raises(FileExistsError):
            await start_engine(nursery, f"fastcgi:{path}", app.handle)
    assert path.read_text() == "precious"
    path.unlink()
    # a stale socket (nobody listening) is replaced
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    async with trio.open_nursery() as nursery:
        await start_engine(nursery, f"fastcgi:{path}?socket_mode=660", app.handle)
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        # a live socket is refused
        with pytest.raises(OSError):
            await start_engine(nursery, f"fastcgi:{path}", app.handle)
        client = await RawClient.connect(str(path))
        with trio.fail_after(TIMEOUT):
            assert (await client.get(1, params_for("/echo.json"))).status == 200
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert not path.exists()


# ---------------------------------------------------------------- real front-end captures

#: copies of the shared reference captures (see captures/README.md)
CAPTURES = Path(__file__).resolve().parents[1] / "fcgi" / "captures"


def load_capture(name: str) -> list[bytes]:
    """A capture with its redaction undone (see tests/fcgi/test_fcgi_fixtures.py), cut
    before each BEGIN_REQUEST: a front-end sends the next request on a connection only
    after END_REQUEST of the previous one (they all reuse request id 1)."""
    wire = (CAPTURES / name).read_bytes().replace(b"<harness-dir>", b"/" + b"h" * 36)
    starts, pos = [], 0
    while pos < len(wire):
        if wire[pos + 1] == T.BEGIN_REQUEST:
            starts.append(pos)
        pos += 8 + int.from_bytes(wire[pos + 4 : pos + 6], "big") + wire[pos + 6]
    assert pos == len(wire)
    return [wire[a:b] for a, b in itertools.pairwise([*starts, len(wire)])]


async def describe(call: Call) -> Response:
    info = {"path": call.path, "mount": call.script_name, "len": len(call.body), "user": call.user}
    return Response(body=json.dumps(info).encode())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "apache-keepconn-4requests.in.bin",
            [
                ("/Objects/subfolder/obj/root.json", 0, None),
                ("/multi.json", 46, None),
                ("/upload.json", 300_000, None),
                ("/root.json", 0, None),
            ],
        ),
        ("apache-digest-get.in.bin", [("/Objects/subfolder/obj/root.json", 0, "user")]),
        ("lighttpd-post-300k.in.bin", [("/upload.json", 300_000, None)]),
        ("lighttpd-digest-get.in.bin", [("/Objects/subfolder/obj/root.json", 0, "user")]),
    ],
)
async def test_captured_front_end_streams_replayed(
    nursery: trio.Nursery, name: str, expected: list[tuple[str, int, str | None]]
) -> None:
    """The exact bytes Apache/lighttpd sent, replayed over a socket: every request answered
    in order on the one connection, with the path, body and user the front-end meant."""
    address = await start_engine(nursery, "fastcgi:0", describe)
    client = await RawClient.connect(address)
    try:
        with trio.fail_after(TIMEOUT):
            seen = []
            for request in load_capture(name):
                await client.send(request)
                reply = (await client.replies(1))[1]
                assert reply.status == 200 and reply.end == (0, 0)
                info = reply.json()
                assert info["mount"] == "/root.app"
                seen.append((info["path"], info["len"], info["user"]))
            if name.startswith("lighttpd"):  # no KEEP_CONN: we close after the reply
                await client.assert_closed()
    finally:
        await client.aclose()
    assert seen == expected


async def test_idle_connections_are_closed_but_busy_ones_are_not(
    nursery: trio.Nursery, app: App
) -> None:
    """idle_timeout counts only while nothing is in flight: a request that takes longer
    than the timeout still gets its answer on the same connection."""
    address = await start_engine(nursery, "fastcgi:0?idle_timeout=0.2", app.handle)
    client = await RawClient.connect(address)
    with trio.fail_after(TIMEOUT):
        await client.send(request_bytes(1, params_for("/wait")))
        await trio.sleep(0.5)  # longer than idle_timeout, with a request in flight
        app.release.set()
        reply = (await client.replies(1))[1]
        assert reply.status == 200 and reply.end == (0, 0)
        # now nothing is in flight: the engine closes the connection after 0.2 s
        await client.assert_closed()


async def run_stoppable_engine(
    nursery: trio.Nursery, spec: str, app: App
) -> tuple[Any, trio.CancelScope, trio.Event]:
    """An engine in its own cancel scope, so a test can stop it and keep talking."""
    scope = trio.CancelScope()
    stopped = trio.Event()

    async def run(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            async with trio.open_nursery() as engine:
                task_status.started(await start_engine(engine, spec, app.handle))
        stopped.set()

    return await nursery.start(run), scope, stopped


async def test_shutdown_lets_requests_in_flight_finish(nursery: trio.Nursery, app: App) -> None:
    """Cancelling the engine closes idle connections at once, while a request in flight
    still gets its reply (within ``grace``) before its connection closes."""
    address, scope, stopped = await run_stoppable_engine(nursery, "fastcgi:0?grace=5", app)
    busy = await RawClient.connect(address)
    idle = await RawClient.connect(address)
    await busy.send(request_bytes(1, params_for("/wait")))
    with trio.fail_after(TIMEOUT):
        while not app.calls:
            await trio.sleep(0.005)
        await trio.sleep(0.05)  # let the engine take the idle connection too
        scope.cancel()
        await idle.assert_closed()  # nothing in flight: closed at once
        assert not stopped.is_set()  # the busy request holds the engine open
        app.release.set()
        reply = (await busy.replies(1))[1]
        assert reply.status == 200 and reply.body == b"released"
        await busy.assert_closed()
        await stopped.wait()  # long before the 5 s grace
    assert app.cancelled == []
    with pytest.raises(OSError):
        await trio.open_tcp_stream(*address)  # the listener is gone


async def test_shutdown_grace_is_bounded(nursery: trio.Nursery, app: App) -> None:
    address, scope, stopped = await run_stoppable_engine(nursery, "fastcgi:0?grace=0.2", app)
    client = await RawClient.connect(address)
    await client.send(request_bytes(1, params_for("/wait")))  # never released
    with trio.fail_after(TIMEOUT):
        while not app.calls:
            await trio.sleep(0.005)
        scope.cancel()
        await stopped.wait()  # the engine ends although the request never finished
        await client.assert_closed()
    assert app.cancelled == ["/wait"]
