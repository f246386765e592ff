"""Many clients, broadcasts, and a client that stops reading: bounded memory, no collateral."""

from __future__ import annotations

import pytest
import trio
import trio_websocket

from tests.ws.conftest import TIMEOUT, RawClient, Served


async def test_100_clients_get_every_broadcast(served: Served) -> None:
    handler = served.handler
    n, rounds = 100, 5
    received = [0] * n
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            ready = trio.Event()
            opened = 0

            async def client(i: int) -> None:
                nonlocal opened
                async with trio_websocket.open_websocket_url(served.url()) as ws:
                    opened += 1
                    if opened == n:
                        ready.set()
                    for r in range(rounds):
                        assert await ws.get_message() == f"round {r}"
                        received[i] += 1

            for i in range(n):
                nursery.start_soon(client, i)
            await ready.wait()
            while len(handler.connections) < n:
                await trio.sleep(0.01)
            for r in range(rounds):
                assert await handler.broadcast(f"round {r}") == n
    assert received == [rounds] * n
    await handler.wait_closed(n)


@pytest.mark.parametrize("overflow", ["drop_oldest", "latest", "close", "wait"])
async def test_stalled_reader_is_bounded_and_harms_nobody(served: Served, overflow: str) -> None:
    from trioserve import ws as tws

    tws.configure(served.server, close_timeout=0.3)
    handler = served.handler
    handler.overflow = overflow
    handler.queue_size = 8
    handler.send_timeout = 0.3
    _, status, _ = await RawClient.open(served)  # handshakes, then never reads
    assert status == 101
    with trio.fail_after(TIMEOUT):
        while not handler.connections:
            await trio.sleep(0.01)
    (stalled,) = handler.connections.values()
    payload = b"x" * 65536
    count = 300  # ~19 MiB in total: far more than the socket buffers hold
    peak = 0
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(served.url(), max_message_size=1 << 20) as ws:
            while len(handler.connections) < 2:
                await trio.sleep(0.01)
            for i in range(count):
                await handler.broadcast(payload + str(i).encode())
                # the healthy client gets every message as it comes
                assert await ws.get_message() == payload + str(i).encode()
                peak = max(peak, stalled.statistics().queued)
        assert peak <= handler.queue_size  # memory held for the stalled client is bounded
        if overflow in ("drop_oldest", "latest"):
            assert not stalled.closed
            assert stalled.statistics().dropped > count - 100  # it lost old messages instead
        else:
            await stalled.wait_closed()
            assert stalled.close_code == 1008  # cut off, not waited for forever
