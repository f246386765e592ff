"""Send queues are bounded in bytes as well as in messages (issue 10, item 9).

300 messages of 1 MiB to a client that never reads: under every overflow policy, over a real
websocket and over long-poll, the queue holds at most ``queue_bytes`` (4 MiB by default) --
before, it held ``queue_size`` (64) of them, and the server grew by 67 MB.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from tests.ws.conftest import TIMEOUT, RawClient, Served
from trioserve import ws as tws
from trioserve.ws import (
    OVERFLOW_POLICIES,
    Connection,
    ConnectionClosed,
    WebSocketHandler,
    WithHeader,
)
from trioserve.ws._conn import message_size

MIB = 1 << 20
COUNT = 300


def test_the_documented_default_and_what_a_message_counts() -> None:
    assert WebSocketHandler.queue_bytes == 4 * MIB
    assert WebSocketHandler("h", queue_bytes=10).queue_bytes == 10
    with pytest.raises(ValueError, match="queue_bytes"):
        WebSocketHandler("h", queue_bytes=0)
    assert message_size(b"\x00" * 7) == 7
    assert message_size("abc") == 3
    assert message_size("été") == 5  # text counts as UTF-8 on the wire
    assert message_size(WithHeader("hé", b"12345")) == 3 + 5


async def _flood(conn: Connection, overflow: str) -> tuple[int, int]:
    """Send COUNT distinct 1 MiB messages to a connection nobody reads; the peak queue
    (messages, bytes) seen after each send."""
    peak_messages = peak_bytes = 0
    for i in range(COUNT):
        message = bytes([i % 251]) * MIB  # a new object each time, as real data would be
        try:
            if overflow == "wait":
                await conn.send(message)  # waits for room (send_timeout), then cuts off
            else:
                conn.send_nowait(message)
        except ConnectionClosed:
            break
        stats = conn.statistics()
        peak_messages = max(peak_messages, stats.queued)
        peak_bytes = max(peak_bytes, stats.queued_bytes)
        await trio.sleep(0)  # let the writer (or nobody, for long-poll) take its turn
    return peak_messages, peak_bytes


@pytest.mark.parametrize("overflow", OVERFLOW_POLICIES)
async def test_a_stalled_websocket_costs_at_most_queue_bytes(served: Served, overflow: str) -> None:
    tws.configure(served.server, close_timeout=0.3)
    handler = served.handler
    handler.overflow = overflow
    handler.send_timeout = 0.3
    limit = handler.queue_bytes  # the default
    _, status, _ = await RawClient.open(served)  # handshakes, then never reads
    assert status == 101
    with trio.fail_after(TIMEOUT):
        while not handler.connections:
            await trio.sleep(0.01)
    (stalled,) = handler.connections.values()
    tracemalloc.start()
    try:
        with trio.fail_after(TIMEOUT):
            peak_messages, peak_bytes = await _flood(stalled, overflow)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_messages * MIB <= limit  # was queue_size (64) messages
    assert peak_bytes <= limit
    # what the server held at its worst: the queue, the message in the writer's hands,
    # the one being built and offered (it was 67 MB)
    assert traced_peak < limit + 4 * MIB
    if overflow in ("drop_oldest", "latest"):
        assert not stalled.closed
        assert stalled.statistics().dropped >= COUNT - 16
    else:
        with trio.fail_after(TIMEOUT):
            await stalled.wait_closed()
        assert stalled.close_code == 1008


@pytest.mark.parametrize("overflow", OVERFLOW_POLICIES)
async def test_a_longpoll_nobody_polls_costs_at_most_queue_bytes(
    served: Served, overflow: str
) -> None:
    handler = served.handler
    handler.overflow = overflow
    handler.send_timeout = 0.3
    async with httpx.AsyncClient(base_url=served.http(""), timeout=TIMEOUT) as http:
        conn_id = int((await http.get("/rec/root.longpoll?txt_connect")).text)
        conn = handler.connection(conn_id)
        assert conn is not None
        with trio.fail_after(TIMEOUT):
            peak_messages, peak_bytes = await _flood(conn, overflow)
        assert peak_messages * MIB <= handler.queue_bytes
        assert peak_bytes <= handler.queue_bytes
        if overflow in ("drop_oldest", "latest"):
            # the newest messages are still there for the next polls, oldest first
            kept = conn.statistics().queued
            assert kept == (1 if overflow == "latest" else handler.queue_bytes // MIB)
            reply = await http.get(f"/rec/root.longpoll?connection={conn_id}&dummy")
            assert reply.content == bytes([(COUNT - kept) % 251]) * MIB
        else:
            with trio.fail_after(TIMEOUT):
                await conn.wait_closed()
            assert conn.close_code == 1008


async def test_a_message_larger_than_queue_bytes_still_goes_out(served: Served) -> None:
    """One message always fits an empty queue, so a small budget slows, never blocks."""
    handler = served.handler
    handler.queue_bytes = 1000
    big = "x" * 5000
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(served.url()) as ws:
            while not handler.connections:
                await trio.sleep(0.01)
            (conn,) = handler.connections.values()
            await conn.send(big)
            await conn.send(big + "2")  # waits for the first to leave the queue
            assert await ws.get_message() == big
            assert await ws.get_message() == big + "2"
            assert await handler.broadcast(big + "3") == 1
            assert await ws.get_message() == big + "3"
            assert conn.statistics().queued_bytes == 0


async def test_broadcast_counts_each_connection_against_its_own_budget(
    served: Served,
) -> None:
    handler = served.handler
    handler.overflow = "drop_oldest"
    handler.queue_bytes = 3 * 1000
    clients: list[Any] = []
    for _ in range(2):
        client, status, _ = await RawClient.open(served)  # neither reads
        assert status == 101
        clients.append(client)
    with trio.fail_after(TIMEOUT):
        while len(handler.connections) < 2:
            await trio.sleep(0.01)
    for i in range(10):
        assert handler.broadcast_nowait(bytes([i]) * 1000) == 2
    for conn in handler.connections.values():
        stats = conn.statistics()
        assert stats.queued_bytes <= 3000
        assert stats.queued_bytes == 1000 * stats.queued
