"""Helpers for the HTTP engine tests (no tests here): a real engine task and a raw client.

The raw client speaks bytes on a real socket so tests can send exactly what a broken, slow or
pipelining client sends, and read the answers back one by one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from trioserve.call import Call, Response
from trioserve.engines.base import EngineContext
from trioserve.engines.http import serve_http
from trioserve.spec import EngineSpec

SERVER = "trioserve-test"
BIG_SIZE = 5 * 1024 * 1024


def call_fields(call: Call) -> dict[str, object]:
    return {
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "headers": call.headers,
        "body": call.body.decode("latin-1"),
        "engine": call.engine,
        "top": call.top_name,
        "peer": call.peer,
        "user": call.user,
    }


async def echo(call: Call) -> Response:
    """Echo the call as JSON; a few paths behave specially for the tests."""
    if call.path == "/big":
        return Response(
            content_type="application/octet-stream",
            body=_big_body(BIG_SIZE),
            content_length=BIG_SIZE,
        )
    if call.path == "/stream":
        return Response(body=_big_body(3000, piece=1000))
    if call.path == "/sleep":
        await trio.sleep(float(call.query_dict().get("t", "0")))
    if call.path == "/boom":
        raise RuntimeError("handler exploded")
    if call.path == "/close":
        return Response(body=b"{}", close=True)
    return Response(body=json.dumps(call_fields(call)).encode())


async def _big_body(size: int, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        chunk = min(piece, size - sent)
        sent += chunk
        yield b"x" * chunk


@asynccontextmanager
async def running(
    options: dict[str, str] | None = None,
    *,
    kind: str = "http",
    path: str | None = None,
    handle: Callable[[Call], Awaitable[Response]] = echo,
    **context: object,
) -> AsyncIterator[object]:
    """Run the engine on an ephemeral port (or ``path``) and yield its address."""
    spec = EngineSpec(kind=kind, port=0, path=path, options=dict(options or {}), text=kind)
    ctx = EngineContext(handle=handle, server_header=SERVER, **context)  # type: ignore[arg-type]
    try:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(serve_http, ctx, spec)
            yield address
            nursery.cancel_scope.cancel()
    finally:
        await close_clients()


#: streams opened by tests, closed when the server context ends (no ResourceWarnings)
_opened: list[trio.abc.AsyncResource] = []


async def close_clients() -> None:
    while _opened:
        await trio.aclose_forcefully(_opened.pop())


async def connect(address: object) -> trio.SocketStream:
    if isinstance(address, str):
        stream = await trio.open_unix_socket(address)
    else:
        host, port = address  # type: ignore[misc]
        stream = await trio.open_tcp_stream(host, port)
    _opened.append(stream)
    return stream


@dataclass
class Reply:
    status: int
    reason: str
    header_list: list[tuple[str, str]]
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.header_list)

    def json(self) -> dict[str, object]:
        return json.loads(self.body)


class RawClient:
    """Bytes out, parsed responses in, on one real connection."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def open(cls, address: object) -> RawClient:
        return cls(await connect(address))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buffer += data

    async def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    async def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            await self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    async def response(self, *, head: bool = False) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        _version, status_text, reason = lines[0].split(" ", 2)
        header_list = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            header_list.append((name.strip().lower(), value.strip()))
        headers = dict(header_list)
        status = int(status_text)
        if head or status < 200 or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = await self._take(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self._line()).split(b";")[0], 16)
                if size == 0:
                    while await self._line():
                        pass
                    break
                parts.append(await self._take(size))
                assert await self._take(2) == b"\r\n"
            body = b"".join(parts)
        else:
            body = await self.read_to_eof()
        return Reply(status, reason, header_list, body)

    async def read_to_eof(self) -> bytes:
        try:
            while True:
                await self._fill()
        except (EOFError, trio.BrokenResourceError):
            pass
        data, self.buffer = self.buffer, b""
        return data

    async def is_closed(self, timeout: float = 3.0) -> bool:
        """True if the server closes the connection (EOF or reset) within ``timeout``."""
        with trio.move_on_after(timeout):
            await self.read_to_eof()
            return True
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


def request(path: str = "/", method: str = "GET", headers: str = "", body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n{headers}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body
