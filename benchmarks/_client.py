"""The Python load generator's one tool: a keep-alive HTTP/1.1 GET over a Trio stream (h11).

wrk cannot pace requests (a browser refreshing once a second), time the first byte of one
large reply, or hold idle connections open; these benchmarks need all three. Bodies are
counted, not kept, unless asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import h11
import trio


@dataclass(frozen=True)
class Reply:
    status: int
    size: int  # body bytes
    first_byte: float  # seconds from sending the request to the first byte of the reply
    total: float  # seconds from sending the request to the end of the body
    body: bytes = b""


class Client:
    """One keep-alive connection to 127.0.0.1:PORT; reconnects if the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stream: trio.SocketStream | None = None
        self.conn = h11.Connection(h11.CLIENT)

    async def connect(self) -> None:
        self.stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        self.conn = h11.Connection(h11.CLIENT)

    async def get(self, target: str, *, keep: bool = False) -> Reply:
        if self.stream is None or self.conn.our_state is not h11.IDLE:
            await self.aclose()
            await self.connect()
        assert self.stream is not None
        conn = self.conn
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("host", f"127.0.0.1:{self.port}")],
        )
        start = time.perf_counter()
        await self.stream.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
        first = 0.0
        status = 0
        size = 0
        chunks: list[bytes] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                await self.aclose()
                raise trio.BrokenResourceError(f"bad reply: {exc}") from exc
            if event is h11.NEED_DATA:
                data = await self.stream.receive_some(1 << 20)
                if not first:
                    first = time.perf_counter() - start
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if keep:
                    chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise trio.BrokenResourceError("server closed the connection mid-reply")
        total = time.perf_counter() - start
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            await self.aclose()
        return Reply(status, size, first, total, b"".join(chunks))

    async def aclose(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await stream.aclose()
