"""A real server with recording websocket handlers, and a raw-socket websocket client."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from trioserve import Server
from trioserve.ws import Connection, ConnectRequest, WebSocketHandler

TIMEOUT = 10


class Recorder(WebSocketHandler):
    """Echoes, obeys a few commands, and records every event."""

    subprotocols = ("v2.proto", "v1.proto")

    def __init__(self, name: str, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.requests: list[ConnectRequest] = []
        self.data: list[tuple[int, str | bytes]] = []
        self.closed: list[Connection] = []
        self.closed_event = trio.Event()
        self.ready = trio.Event()
        self.refuse = False

    def on_connect(self, request: ConnectRequest) -> bool:  # plain method on purpose
        self.requests.append(request)
        return not self.refuse

    async def on_ready(self, conn: Connection) -> None:
        self.ready.set()

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        self.data.append((conn.id, message))
        if message == "boom":
            raise RuntimeError("handler bug")
        if isinstance(message, str) and message.startswith("close:"):
            code = int(message.split(":")[1])
            await conn.close(code, "asked to")
            return
        await conn.send(message)

    async def on_close(self, conn: Connection) -> None:
        self.closed.append(conn)
        self.closed_event.set()
        self.closed_event = trio.Event()

    async def wait_closed(self, count: int) -> None:
        with trio.fail_after(TIMEOUT):
            while len(self.closed) < count:
                await self.closed_event.wait()


@dataclass
class Served:
    server: Server
    host: str
    port: int
    sock: str
    handler: Recorder
    hidden: Recorder
    paged: Recorder
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def url(self, path: str = "/rec/root.websocket") -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def http(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@pytest.fixture
async def served(nursery: trio.Nursery, short_tmp: Path) -> AsyncIterator[Served]:
    server = Server()
    handler = Recorder("rec")
    hidden = Recorder("secret")
    paged = Recorder("paged", page="<html>dummy_page_content</html>")
    server.register("/", handler)
    server.register("/", hidden)
    server.register("/folder", paged)
    server.restrict("/secret", "hidden=all")
    sock = str(short_tmp / "ws.sock")
    scope = trio.CancelScope()

    async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await server.serve(f"http:0;socket:{sock}", task_status=task_status)

    await nursery.start(run)
    host, port = server.addresses[0][:2]
    yield Served(server, host, port, sock, handler, hidden, paged, scope)
    scope.cancel()
    while RawClient.opened:
        await trio.aclose_forcefully(RawClient.opened.pop().stream)


# ------------------------------------------------------------------ raw websocket client


def client_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    mask: bool = True,
    rsv: int = 0,
    length: int | None = None,
) -> bytes:
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if mask else 0
    if n < 126:
        head = bytes([first, bit | n])
    elif n < 65536:
        head = bytes([first, bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawClient:
    """Speaks the handshake and frames by hand, to send what real clients never would."""

    opened: list[RawClient] = []

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = b""
        RawClient.opened.append(self)

    @classmethod
    async def open(
        cls,
        served: Served,
        path: str = "/rec/root.websocket",
        headers: dict[str, str] | None = None,
        upgrade: bool = True,
    ) -> tuple[RawClient, int, bytes]:
        stream = await trio.open_tcp_stream(served.host, served.port)
        client = cls(stream)
        fields = {
            "Host": f"{served.host}:{served.port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        }
        fields.update(headers or {})
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in fields.items() if v]
        await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await client.read_until(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return client, status, head

    async def read_until(self, marker: bytes) -> bytes:
        with trio.fail_after(TIMEOUT):
            while marker not in self.buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError(self.buffer)
                self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    async def read_exact(self, n: int) -> bytes:
        with trio.fail_after(TIMEOUT):
            while len(self.buffer) < n:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError(self.buffer)
                self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def read_frame(self) -> tuple[int, bytes]:
        first, second = await self.read_exact(2)
        assert second & 0x80 == 0, "server frames are never masked"
        n = second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.read_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.read_exact(8))
        return first & 0x0F, await self.read_exact(n)

    async def read_close(self) -> int:
        """Skip data/pings until the Close frame; return its code."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0] if payload else 1005

    async def at_eof(self) -> bool:
        with trio.fail_after(TIMEOUT):
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    return True

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)
