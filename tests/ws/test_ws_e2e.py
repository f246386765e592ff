"""Websocket handlers against a real server task: real clients over TCP and unix sockets."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import trio
import trio_websocket
from websockets.exceptions import ConnectionClosed as WsLibClosed
from websockets.sync.client import connect as ws_connect
from websockets.sync.client import unix_connect as ws_unix_connect

from tests.ws.conftest import TIMEOUT, RawClient, Served
from trioserve import ws as tws


async def test_trio_websocket_over_tcp_keeps_text_and_binary_apart(served: Served) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(
            served.url("/rec/root.websocket?opt=1"), subprotocols=["v1.proto", "v2.proto"]
        ) as ws:
            assert ws.subprotocol == "v2.proto"  # the handler's preference wins
            await ws.send_message("text ü")
            await ws.send_message(b"\x00binary")
            assert await ws.get_message() == "text ü"
            assert await ws.get_message() == b"\x00binary"
        await served.handler.wait_closed(1)
    assert [m for _, m in served.handler.data] == ["text ü", b"\x00binary"]
    request = served.handler.requests[0]
    assert (request.kind, request.query, request.user) == ("websocket", "opt=1", None)
    assert request.subprotocols == ("v1.proto", "v2.proto")
    assert served.handler.closed[0].close_code == 1000
    assert served.handler.connections == {}


async def test_trio_websocket_over_the_unix_socket(served: Served, nursery: trio.Nursery) -> None:
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_unix_socket(served.sock)
        ws = await trio_websocket.wrap_client_stream(
            nursery, stream, "localhost", "/rec/root.websocket"
        )
        await ws.send_message(b"\x01\x02")
        await ws.send_message("via unix")
        assert await ws.get_message() == b"\x01\x02"
        assert await ws.get_message() == "via unix"
        await ws.aclose()
        await served.handler.wait_closed(1)


def _websockets_roundtrip(connect: Any) -> list[Any]:
    with connect() as ws:
        ws.send("hello")
        ws.send(b"\xff\x00")
        got = [ws.recv(timeout=TIMEOUT), ws.recv(timeout=TIMEOUT)]
        ws.send("close:4001")
        try:
            ws.recv(timeout=TIMEOUT)
        except WsLibClosed as exc:
            got.append((exc.rcvd.code, exc.rcvd.reason))
    return got


async def test_websockets_library_over_tcp_and_unix(served: Served) -> None:
    url = served.url()
    with trio.fail_after(TIMEOUT):
        tcp = await trio.to_thread.run_sync(_websockets_roundtrip, lambda: ws_connect(url))
        unix = await trio.to_thread.run_sync(
            _websockets_roundtrip,
            lambda: ws_unix_connect(served.sock, "ws://localhost/rec/root.websocket"),
        )
    for got in (tcp, unix):
        assert got == ["hello", b"\xff\x00", (4001, "asked to")]
    await served.handler.wait_closed(2)
    assert [c.close_code for c in served.handler.closed] == [4001, 4001]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/nothere/root.websocket", {}, 404),
        ("/secret/root.websocket", {}, 404),  # hidden looks exactly like missing
        ("/rec/sub/root.websocket", {}, 404),
        ("/rec/root.websocket", {"Sec-WebSocket-Version": "8"}, 426),
        ("/rec/root.websocket", {"Sec-WebSocket-Key": "c2hvcnQ="}, 400),
        ("/rec/root.websocket", {"Connection": "keep-alive"}, 400),
        ("/rec/root.websocket", {"Origin": "http://evil.example"}, 403),
    ],
)
async def test_refused_handshakes(
    served: Served, path: str, headers: dict[str, str], status: int
) -> None:
    client, got, head = await RawClient.open(served, path, headers)
    assert got == status
    if status == 426:
        assert b"Sec-WebSocket-Version: 13" in head
    assert b"Connection: close" in head
    assert await client.at_eof()
    assert served.handler.connections == {}


async def test_same_origin_and_on_connect_refusal(served: Served) -> None:
    origin = {"Origin": f"http://{served.host}:{served.port}"}
    client, status, _ = await RawClient.open(served, headers=origin)
    assert status == 101
    await client.stream.aclose()
    served.handler.refuse = True
    client, status, _ = await RawClient.open(served, headers=origin)
    assert status == 403
    assert len(served.handler.requests) == 2


async def test_cors_setting_decides_the_origin(served: Served) -> None:
    served.server.set_cors("https://app.example")
    _, status, _ = await RawClient.open(served, headers={"Origin": "https://app.example"})
    assert status == 101
    _, status, _ = await RawClient.open(
        served, headers={"Origin": f"http://{served.host}:{served.port}"}
    )
    assert status == 403


async def test_pages_and_plain_gets(served: Served) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        page = await http.get(served.http("/folder/paged/"))
        assert page.status_code == 200
        assert page.text == "<html>dummy_page_content</html>"
        assert (await http.get(served.http("/folder/paged/index.htm"))).text == page.text
        default = await http.get(served.http("/rec/"))  # no page of its own: the server's
        assert default.status_code == 200 and "dummy_page_content" not in default.text
        plain = await http.get(served.http("/rec/root.websocket"))
        assert plain.status_code == 426
        assert plain.headers["sec-websocket-version"] == "13"
        assert plain.headers["upgrade"] == "websocket"  # RFC 9110 §15.5.22
        assert (await http.get(served.http("/secret/root.websocket"))).status_code == 404


async def test_handler_error_closes_with_1011(served: Served) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(served.url()) as ws:
            await ws.send_message("boom")
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1011
        await served.handler.wait_closed(1)
    assert served.handler.closed[0].close_code == 1011


async def test_send_from_a_plain_thread(served: Served) -> None:
    handler = served.handler
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(served.url()) as ws:
            await handler.ready.wait()
            (conn,) = handler.connections.values()

            def from_thread() -> None:
                handler.send_threadsafe(conn.id, "by id")
                conn.send_nowait(b"nowait")
                assert handler.broadcast_threadsafe("to all") == 1

            await trio.to_thread.run_sync(from_thread)
            assert [await ws.get_message() for _ in range(3)] == ["by id", b"nowait", "to all"]
            assert threading.current_thread() is threading.main_thread()


async def test_server_close_completes_the_handshake(served: Served) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(served.url()) as ws:
            await served.handler.ready.wait()
            (conn,) = served.handler.connections.values()
            await conn.send("last words")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.close, 4321, "bye")
                assert await ws.get_message() == "last words"
                with pytest.raises(trio_websocket.ConnectionClosed) as info:
                    await ws.get_message()
        assert (info.value.reason.code, info.value.reason.reason) == (4321, "bye")
        await served.handler.wait_closed(1)
    assert conn.close_code == 4321
    assert served.handler.closed == [conn]


async def test_keepalive_closes_a_dead_connection(served: Served) -> None:
    tws.configure(served.server, websocket_timeout=0.3, ping_interval=0.1, close_timeout=0.3)
    client, status, _ = await RawClient.open(served)  # handshakes, then never answers pings
    assert status == 101
    with trio.fail_after(5):
        await served.handler.wait_closed(1)
    assert served.handler.closed[0].close_code == 1011
    opcode, _ = await client.read_frame()
    assert opcode == 9  # it was pinged


async def test_shutdown_closes_everything_with_1001(served: Served) -> None:
    clients = []
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            client, status, _ = await RawClient.open(served)
            assert status == 101
            clients.append(client)
        with trio.fail_after(TIMEOUT):
            while len(served.handler.connections) < 3:
                await trio.sleep(0.01)
        served.scope.cancel()
        del nursery
    for client in clients:
        assert await client.read_close() == 1001
    await served.handler.wait_closed(3)
    assert {c.close_code for c in served.handler.closed} == {1001}
