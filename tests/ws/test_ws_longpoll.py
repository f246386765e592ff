"""The long-poll emulation end to end: over HTTP (httpx) and over FastCGI (flup's client)."""

from __future__ import annotations

import base64
import io
import socket
import sys
from typing import Any

import httpx
import pytest
import trio
from flup.client.fcgi_app import FCGIApp

from tests.ws.conftest import TIMEOUT, Served
from trioserve import ws as tws
from trioserve.ws import WithHeader

LP = "/rec/root.longpoll"


@pytest.fixture
async def http(served: Served) -> Any:
    async with httpx.AsyncClient(base_url=served.http(""), timeout=TIMEOUT) as client:
        yield client


async def test_txt_round_trip(served: Served, http: httpx.AsyncClient) -> None:
    handler = served.handler
    connect = await http.get(LP + "?txt_connect&key=k")
    assert connect.status_code == 200
    conn_id = int(connect.text)
    (conn,) = handler.connections.values()
    assert (conn.id, conn.kind) == (conn_id, "longpoll")
    assert handler.requests[0].kind == "longpoll"

    sent = await http.post(f"{LP}?connection={conn_id}", content="hello ü".encode())
    assert (sent.status_code, sent.text) == (200, "<<nope>>")
    poll = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert (poll.text, poll.headers["content-type"].split(";")[0]) == ("hello ü", "text/plain")

    await conn.send(b"\x00\x01binary")
    await conn.send(WithHeader("the header", b"\xff"))
    binary = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert binary.content == b"\x00\x01binary"
    assert binary.headers["content-type"] == "application/x-binary"
    headed = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert (headed.content, headed.headers["longpollheader"]) == (b"\xff", "the header")

    closed = await http.get(f"{LP}?connection={conn_id}&close")
    assert (closed.status_code, closed.text) == (200, "OK")
    assert handler.closed == [conn] and handler.connections == {}
    assert (await http.get(f"{LP}?connection={conn_id}&dummy")).status_code == 404


async def test_raw_round_trip_byte_exact(served: Served, http: httpx.AsyncClient) -> None:
    connect = await http.get(LP + "?raw_connect")
    assert connect.content.startswith(b"txt:")
    conn_id = int(connect.content[4:])
    post = base64.b64encode(b"from raw client >>?").decode()  # has '+' and '/'
    sent = await http.get(f"{LP}?connection={conn_id}&post={post}")
    assert sent.content == b"txt:<<nope>>"
    assert sent.headers["content-type"] == "application/x-binary"
    assert served.handler.data[-1][1] == "from raw client >>?"
    echoed = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert echoed.content == b"txt:from raw client >>?"
    (conn,) = served.handler.connections.values()
    await conn.send(WithHeader("abc", b"PAYLOAD"))
    reply = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert reply.content == b"bin:3       :abcPAYLOAD"
    await conn.send(b"12345678")
    reply = await http.get(f"{LP}?connection={conn_id}&dummy")
    assert reply.content == b"bin:0  :12345678"


async def test_parked_poll_wakes_on_send_and_newer_poll_releases_it(
    served: Served, http: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    conn_id = int((await http.get(LP + "?txt_connect")).text)
    (conn,) = served.handler.connections.values()
    replies: list[str] = []

    async def poll() -> None:
        replies.append((await http.get(f"{LP}?connection={conn_id}&dummy")).text)

    with trio.fail_after(TIMEOUT):
        nursery.start_soon(poll)
        while not served.server._ws_registry.longpolls.sessions[conn_id].parked:
            await trio.sleep(0.01)
        nursery.start_soon(poll)  # a second parked poll releases the first with <<nope>>
        while replies != ["<<nope>>"]:
            await trio.sleep(0.01)
        await conn.send("pushed")
        while len(replies) < 2:
            await trio.sleep(0.01)
    assert replies == ["<<nope>>", "pushed"]


async def test_poll_timeout_idle_timeout_and_refusals(
    served: Served, http: httpx.AsyncClient
) -> None:
    tws.configure(served.server, poll_timeout=0.1, idle_timeout=0.3, max_connections=2)
    conn_id = int((await http.get(LP + "?txt_connect")).text)
    with trio.fail_after(TIMEOUT):
        assert (await http.get(f"{LP}?connection={conn_id}&dummy")).text == "<<nope>>"
    second = await http.get(LP + "?txt_connect")
    assert (await http.get(LP + "?txt_connect")).status_code == 503  # the server-wide cap
    # someone else's id, an unknown id, a hidden handler: all 404
    assert (await http.get("/secret/root.longpoll?txt_connect")).status_code == 404
    assert (await http.get(f"{LP}?connection=12345&dummy")).status_code == 404
    assert (await http.get(f"{LP}?connection=abc")).status_code == 400
    with trio.fail_after(TIMEOUT):
        await served.handler.wait_closed(2)  # nobody polls: both expire
    assert {c.close_code for c in served.handler.closed} == {1001}
    assert int(second.text) in {c.id for c in served.handler.closed}
    served.handler.refuse = True
    assert (await http.get(LP + "?txt_connect")).status_code == 404


async def test_server_close_answers_the_parked_poll(
    served: Served, http: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    conn_id = int((await http.get(LP + "?txt_connect")).text)
    (conn,) = served.handler.connections.values()
    await conn.send("queued first")
    assert (await http.get(f"{LP}?connection={conn_id}&dummy")).text == "queued first"
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as inner:
            result: list[int] = []

            async def poll() -> None:
                result.append((await http.get(f"{LP}?connection={conn_id}&dummy")).status_code)

            inner.start_soon(poll)
            await trio.sleep(0.05)
            await conn.close(4000, "server says bye")
    assert result == [404]
    assert conn.close_code == 4000 and served.handler.closed == [conn]


class FlupClient(FCGIApp):  # type: ignore[misc]
    """flup's FastCGI client, minus its one Python 2 line (as in the engine tests)."""

    def _getConnection(self) -> socket.socket:
        return socket.create_connection(self._connect)


def fcgi_get(client: FCGIApp, path: str, query: str, body: bytes = b"") -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/plain",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    seen: dict[str, str] = {}

    def start_response(status: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        seen["status"] = status.decode()

    data = b"".join(client(environ, start_response))
    return seen["status"], data


async def test_longpoll_through_fastcgi(served: Served) -> None:
    address = await served.server.create_engine("fastcgi:0")
    client = FlupClient(connect=tuple(address[:2]))

    async def call(query: str, body: bytes = b"") -> tuple[str, bytes]:
        return await trio.to_thread.run_sync(fcgi_get, client, LP, query, body)

    with trio.fail_after(TIMEOUT):
        status, body = await call("txt_connect")
        assert status.startswith("200")
        conn_id = int(body)
        assert (await call(f"connection={conn_id}", b"over fastcgi"))[1] == b"<<nope>>"
        assert (await call(f"connection={conn_id}&dummy"))[1] == b"over fastcgi"
        assert (await call(f"connection={conn_id}&close"))[1] == b"OK"
        await served.handler.wait_closed(1)
    assert served.handler.requests[0].engine != "http"
