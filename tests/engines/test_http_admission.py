"""Who gets a connection slot, over real sockets from different loopback addresses.

The whole 127.0.0.0/8 range is loopback, so a test can be two clients: a greedy one binding
127.0.0.2 and a newcomer binding 127.0.0.3. Each test holds every slot the greedy client can
get in a way the old single cap could not undo (silent sockets, slow requests, websockets,
parked long-polls) and measures how long the newcomer's plain GET takes.
"""

from __future__ import annotations

import resource
import socket
from functools import partial
from typing import Any

import pytest
import trio
import trio_websocket

from trioserve import Server, WebSocketHandler
from trioserve.call import Call, Response
from trioserve.engines._listen import Slots, accept_forever, open_tcp_listeners, peer_key
from trioserve.engines.base import EngineContext
from trioserve.engines.fastcgi import serve_fastcgi
from trioserve.spec import EngineSpec

from . import test_http_support as support
from .test_fastcgi_engine import RawClient as FcgiClient
from .test_fastcgi_engine import params_for, request_bytes
from .test_http_support import RawClient, echo, request, running

GREEDY = "127.0.0.2"
NEWCOMER = "127.0.0.3"
#: how fast the newcomer must be answered (the defect: more than 15 s)
PROMPT = 2.0


async def connect_from(address: object, source: str) -> trio.SocketStream:
    host, port = address  # type: ignore[misc]
    stream = await trio.open_tcp_stream(host, port, local_address=source)
    support._opened.append(stream)
    return stream


async def newcomer_get(address: object) -> float:
    """Seconds until a GET from :data:`NEWCOMER` is answered (it must be 200, from it)."""
    start = trio.current_time()
    with trio.fail_after(10):
        client = RawClient(await connect_from(address, NEWCOMER))
        await client.send(request("/hello"))
        reply = await client.response()
    assert reply.status == 200
    assert reply.json()["peer"] == NEWCOMER
    return trio.current_time() - start


async def test_silent_sockets_of_one_client_do_not_lock_out_another() -> None:
    # the defect: max_connections=3, three silent sockets from one host, and a GET from
    # another host waited for the silent ones' header_timeout
    async with running({"max_connections": "3", "header_timeout": "60"}) as address:
        greedy = [RawClient(await connect_from(address, GREEDY)) for _ in range(3)]
        await trio.sleep(0.2)  # all three hold a slot, waiting for a request head
        assert await newcomer_get(address) < PROMPT
        closed = [await client.is_closed(0.5) for client in greedy]
        assert closed.count(True) == 1  # exactly one was closed to make room


def _allow_descriptors(count: int) -> None:
    """Both ends of every connection live in this process: raise the soft descriptor limit
    to what the test needs (skip where the hard limit forbids it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.skip(f"needs {count} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


async def test_a_client_holding_a_thousand_sockets_does_not_lock_out_another() -> None:
    # the defaults: max_connections=1000, and one host opens 1,000 silent sockets (more
    # than its 900 slots; the rest wait or are turned away)
    _allow_descriptors(2600)
    async with running({"header_timeout": "60"}) as address:
        with trio.fail_after(30):
            for _ in range(1000):
                await connect_from(address, GREEDY)
        await trio.sleep(0.5)
        assert await newcomer_get(address) < PROMPT


async def test_slow_requests_of_one_client_leave_slots_for_others() -> None:
    # requests in progress cannot be closed to make room: the per-peer limit (of 10 slots,
    # 9 by default) is what keeps one for everybody else
    async with running({"max_connections": "10", "grace": "0.1"}) as address:
        for _ in range(10):
            client = RawClient(await connect_from(address, GREEDY))
            await client.send(request("/sleep?t=60"))
        await trio.sleep(0.3)
        assert await newcomer_get(address) < PROMPT


async def test_without_per_peer_admission_one_client_may_take_every_slot() -> None:
    # max_peer_connections=0 (behind a front-end every client is the same peer): the limit
    # is off, so the tenth slow request runs at once and nothing is left for a newcomer
    async with running(
        {"max_connections": "3", "max_peer_connections": "0", "grace": "0.1"}
    ) as address:
        for _ in range(3):
            client = RawClient(await connect_from(address, GREEDY))
            await client.send(request("/sleep?t=60"))
        await trio.sleep(0.3)
        with trio.move_on_after(1) as waited:
            await newcomer_get(address)
        assert waited.cancelled_caught


async def test_a_new_client_gets_the_next_slot_before_one_holding_many() -> None:
    async with running({"max_connections": "4", "grace": "0.1"}) as address:
        first = RawClient(await connect_from(address, GREEDY))
        await first.send(request("/sleep?t=1"))
        for _ in range(3):
            busy = RawClient(await connect_from(address, GREEDY))
            await busy.send(request("/sleep?t=60"))
        await trio.sleep(0.2)  # the greedy client holds all 4 slots, busy
        again = RawClient(await connect_from(address, GREEDY))
        await again.send(request("/again"))  # waits for a slot...
        await trio.sleep(0.1)
        newcomer = RawClient(await connect_from(address, NEWCOMER))
        await newcomer.send(request("/newcomer"))  # ...and so does this one, behind it
        answered: list[str] = []

        async def answer(client: RawClient) -> None:
            answered.append(str((await client.response()).json()["path"]))

        with trio.fail_after(5):
            reply = await first.response()
            # clients wait: the slot is handed over rather than kept alive
            assert reply.headers["connection"] == "close"
            async with trio.open_nursery() as nursery:
                nursery.start_soon(answer, again)
                nursery.start_soon(answer, newcomer)
        # the slot went to the client that held none, not to the older connection of the
        # client that held three (which got the next one)
        assert answered == ["/newcomer", "/again"]


async def test_a_load_test_from_one_host_keeps_all_its_connections() -> None:
    # what wrk -c500 does with the defaults: nobody else waits, so no limit is felt (no
    # connection is closed, no response says Connection: close)
    _allow_descriptors(1200)
    async with running() as address:
        clients = [RawClient(await connect_from(address, GREEDY)) for _ in range(500)]
        replies = []

        async def twice(client: RawClient) -> None:
            for _ in range(2):
                await client.send(request("/load"))
                replies.append(await client.response())

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                for client in clients:
                    nursery.start_soon(twice, client)
        assert len(replies) == 1000
        assert all(r.status == 200 and "connection" not in r.headers for r in replies)


async def _fake_websocket(call: Call, stream: trio.abc.Stream, trailing: bytes) -> None:
    """A session that holds its connection until the client leaves."""
    await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    while await stream.receive_some(1024):
        pass


UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


async def test_websockets_of_one_client_cannot_take_every_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # max_connections=3: websockets get at most half of them (max_websockets=1)
    caplog.set_level("INFO", logger="trioserve.access")
    async with running({"max_connections": "3"}, websocket=_fake_websocket) as address:
        statuses = []
        for _ in range(3):
            client = RawClient(await connect_from(address, GREEDY))
            await client.send(request("/ws/root.websocket", headers=UPGRADE))
            with trio.fail_after(5):
                reply = await client.response(head=True)
            statuses.append(reply.status)
            if reply.status == 503:
                assert reply.headers["connection"] == "close"
        assert statuses == [101, 503, 503]
        assert await newcomer_get(address) < PROMPT
    upgrades = [r.getMessage() for r in caplog.records if "/ws/root.websocket" in r.getMessage()]
    assert len(upgrades) == 3  # one access line each, with the status really sent
    assert sum('HTTP/1.1" 503 ' in line for line in upgrades) == 2


async def _parking_longpoll(call: Call) -> Response:
    if call.file_name == "root.longpoll":
        await trio.sleep(60)  # a parked poll: no message for this client yet
    return await echo(call)


async def test_parked_longpolls_of_one_client_cannot_take_every_slot() -> None:
    async with running(
        {"max_connections": "3", "grace": "0.1"}, handle=_parking_longpoll
    ) as address:
        clients = []
        for _ in range(3):
            client = RawClient(await connect_from(address, GREEDY))
            await client.send(request("/ws/root.longpoll?connection=1&dummy"))
            clients.append(client)
        with trio.fail_after(5):
            refused = [await client.response() for client in clients[1:]]
        assert [reply.status for reply in refused] == [503, 503]
        assert refused[0].json()["error"] == "too_many_websockets"
        assert await newcomer_get(address) < PROMPT


class _Echo(WebSocketHandler):
    async def on_data(self, conn: Any, message: str | bytes) -> None:
        await conn.send(message)


async def test_real_websockets_and_longpolls_through_a_server(nursery: trio.Nursery) -> None:
    """The same through the whole stack: trioserve's websocket layer and trio-websocket."""
    server = Server()
    server.register("/", _Echo("echo"))
    scope = trio.CancelScope()

    async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await server.serve("http:0?max_connections=3", task_status=task_status)

    await nursery.start(serve)
    address = tuple(server.addresses[0][:2])
    try:
        with trio.fail_after(10):
            stream = await connect_from(address, GREEDY)
            ws = await trio_websocket.wrap_client_stream(
                nursery, stream, "localhost", "/echo/root.websocket"
            )
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
            refused = RawClient(await connect_from(address, GREEDY))
            await refused.send(request("/echo/root.websocket", headers=UPGRADE))
            reply = await refused.response()
            assert reply.status == 503
            assert reply.json()["error"] == "too_many_websockets"
            poll = RawClient(await connect_from(address, GREEDY))
            await poll.send(request("/echo/root.longpoll?txt_connect"))
            assert (await poll.response()).status == 503
            client = RawClient(await connect_from(address, NEWCOMER))
            await client.send(request("/h.json"))
            assert (await client.response()).status == 200
            await ws.aclose()
    finally:
        scope.cancel()
        await support.close_clients()


async def test_fastcgi_longpolls_cannot_take_every_connection(nursery: trio.Nursery) -> None:
    parked = trio.Event()

    async def handle(call: Call) -> Response:
        if call.file_name == "root.longpoll":
            parked.set()
            await trio.sleep_forever()
        return Response(content_type="text/plain", body=b"ok")

    spec = EngineSpec(kind="fastcgi", port=0, options={"max_connections": "2"}, text="fastcgi")
    address = await nursery.start(serve_fastcgi, EngineContext(handle=handle), spec)
    first = await FcgiClient.connect(address)
    second = await FcgiClient.connect(address)
    try:
        poll = params_for("/ws/root.longpoll", query="connection=1&dummy")
        with trio.fail_after(5):
            await first.send(request_bytes(1, poll))
            await parked.wait()
            reply = await second.get(1, poll)
            assert reply.status == 503
            assert (await second.get(2, params_for("/h.json"))).status == 200
    finally:
        while FcgiClient.opened:
            await FcgiClient.opened.pop().aclose()


# ---------------------------------------------------------------- the accept loop (P2)


async def test_a_burst_of_connections_is_accepted_in_one_pass() -> None:
    """The backlog is emptied at once, not one connection per trip through the scheduler
    (which made the 500th connection of wrk's burst wait seconds: wrk timeouts)."""
    listeners, address = await open_tcp_listeners("127.0.0.1", 0)
    clients = [socket.create_connection(address) for _ in range(30)]  # all in the backlog
    accepted: list[trio.SocketStream] = []
    passes = 0
    done = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        accepted.append(stream)
        if len(accepted) == len(clients):
            done.set()
        await done.wait()
        await stream.aclose()

    async def count_passes() -> None:
        nonlocal passes
        while True:  # one turn per scheduler pass
            passes += 1
            await trio.lowlevel.checkpoint()

    try:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(count_passes)
                nursery.start_soon(
                    partial(
                        accept_forever,
                        listeners[0],
                        nursery,
                        handler,
                        limiter=trio.CapacityLimiter(100),
                    )
                )
                await done.wait()
                nursery.cancel_scope.cancel()
    finally:
        for client in clients:
            client.close()
    assert len(accepted) == 30
    assert passes <= 8  # one pass per connection before


async def test_the_accept_loop_ends_when_the_engine_closes_the_listener() -> None:
    listeners, _ = await open_tcp_listeners("127.0.0.1", 0)
    slots = Slots(trio.CapacityLimiter(10))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(accept_forever, listeners[0], nursery, _close, slots=slots))
            await trio.sleep(0.1)
            listeners[0].socket.close()  # what an engine does at shutdown
    # the nursery exited: the loop returned on its own


async def _close(stream: trio.SocketStream) -> None:
    await stream.aclose()


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # a dual-stack listener's IPv4 client
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one site's /64 is one client
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("-", "-"),  # unix sockets
    ],
)
def test_peer_key(host: str, key: str) -> None:
    assert peer_key(host) == key


async def test_the_admission_options_are_accepted_in_spec_strings(nursery: trio.Nursery) -> None:
    """Users set these in spec strings; the spec parser must let them through to both
    engines (a SpecError at start would make the documented options unusable)."""
    from trioserve import Server

    server = Server()
    await nursery.start(
        server.serve,
        "http:127.0.0.1:0?max_peer_connections=0&max_websockets=5;"
        "fastcgi:127.0.0.1:0?max_websockets=5",
    )
    assert len(server.addresses) == 2
