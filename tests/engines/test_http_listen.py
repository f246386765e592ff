"""The shared listener helpers and the engine's logging, on real sockets."""

from __future__ import annotations

import errno
import logging
import socket
from functools import partial

import trio

from trioserve.engines._listen import accept_forever, open_tcp_listeners, set_nodelay

from .test_http_support import RawClient, connect, request, running


async def test_open_tcp_listeners_reports_the_real_port():
    listeners, (host, port) = await open_tcp_listeners("127.0.0.1", 0)
    try:
        assert host == "127.0.0.1" and port > 0
        assert listeners[0].socket.getsockname()[1] == port
    finally:
        for listener in listeners:
            await listener.aclose()


async def test_accepted_tcp_streams_get_nodelay():
    listeners, address = await open_tcp_listeners("127.0.0.1", 0)
    async with listeners[0]:
        client = await trio.open_tcp_stream(*address)
        server = await listeners[0].accept()
        async with client, server:
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, False)
            set_nodelay(server)
            assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


class _ExhaustedOnce(trio.abc.Listener[trio.SocketStream]):
    """A real listener whose first accept fails the way a process out of descriptors does."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.inner = inner
        self.failures = 0

    async def accept(self) -> trio.SocketStream:
        if self.failures == 0:
            self.failures += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return await self.inner.accept()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_accept_retries_after_emfile(caplog):
    caplog.set_level(logging.WARNING, logger="trioserve.listen")
    listeners, address = await open_tcp_listeners("127.0.0.1", 0)
    listener = _ExhaustedOnce(listeners[0])
    served: list[bytes] = []

    async def handler(stream: trio.SocketStream) -> None:
        async with stream:
            served.append(await stream.receive_some(10))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            limiter = trio.CapacityLimiter(5)
            nursery.start_soon(partial(accept_forever, listener, nursery, handler, limiter=limiter))
            client = await trio.open_tcp_stream(*address)
            async with client:
                await client.send_all(b"hi")
                while not served:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert served == [b"hi"]
    assert listener.failures == 1
    assert "accept failed" in caplog.text


async def test_without_log_option_lines_go_to_the_access_logger(caplog):
    caplog.set_level(logging.INFO, logger="trioserve.access")
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request("/x?y=1", headers="Authorization: Basic c2VjcmV0\r\n"))
            await client.response()
    records = [r for r in caplog.records if r.name == "trioserve.access"]
    assert len(records) == 1
    assert '"GET /x?y=1 HTTP/1.1" 200 ' in records[0].getMessage()
    assert "c2VjcmV0" not in caplog.text


async def test_garbage_is_logged_as_one_drop_line_without_traceback(caplog):
    caplog.set_level(logging.DEBUG, logger="trioserve")
    async with running() as address:
        for garbage in (b"\x00\x01\x02\x03", b"GET / HTTP/1.1\r\nHost: t\r\nBad\r\n\r\n"):
            client = await RawClient.open(address)
            with trio.fail_after(3):
                await client.send(garbage)
                assert (await client.response()).status == 400
                assert await client.is_closed()
    drops = [r for r in caplog.records if "dropped connection" in r.getMessage()]
    assert len(drops) == 2
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in drops)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_many_concurrent_connections():
    async with running({"max_connections": "50"}) as address:
        closes = []

        async def one(index: int) -> None:
            client = RawClient(await connect(address))
            for round_number in range(3):
                await client.send(request(f"/c{index}/{round_number}"))
                reply = await client.response()
                assert reply.json()["path"] == f"/c{index}/{round_number}"
                if reply.headers.get("connection") == "close":  # at the cap: slots turn over
                    closes.append(index)
                    client = RawClient(await connect(address))

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for index in range(100):
                    nursery.start_soon(one, index)
        assert closes  # the cap was reached and handled by turnover, not by errors
