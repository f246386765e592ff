"""One ``Origin`` rule for websocket upgrades and every long-poll request (issue 10, item 8).

A browser page from a foreign origin that may not open a websocket to a handler may not
open, feed, poll or close a long-poll connection of it either -- over HTTP and over FastCGI.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import httpx
import pytest
import trio

from tests.ws.conftest import TIMEOUT, RawClient, Served
from tests.ws.test_ws_longpoll import FlupClient

LP = "/rec/root.longpoll"
FOREIGN = {"Origin": "http://evil.example"}


@pytest.fixture
async def http(served: Served) -> Any:
    async with httpx.AsyncClient(base_url=served.http(""), timeout=TIMEOUT) as client:
        yield client


async def test_longpoll_refuses_a_foreign_origin_like_an_upgrade(
    served: Served, http: httpx.AsyncClient
) -> None:
    handler = served.handler
    # the websocket rule, for reference
    _, status, _ = await RawClient.open(served, headers=FOREIGN)
    assert status == 403
    # the same page may not open a long-poll connection either: on_connect is never asked
    for connect in ("txt_connect", "raw_connect"):
        refused = await http.get(f"{LP}?{connect}", headers=FOREIGN)
        assert refused.status_code == 403
        assert refused.json()["error"] == "origin_refused"
    assert handler.requests == [] and handler.connections == {}
    two = await http.get(LP + "?txt_connect", headers={"Origin": "http://a", "origin": "http://b"})
    assert two.status_code == 400  # as for an upgrade with two Origin headers

    # the server's own origin, and clients that send none, connect as before
    same = {"Origin": f"http://{served.host}:{served.port}"}
    conn_id = int((await http.get(LP + "?txt_connect", headers=same)).text)
    assert (await http.get(LP + "?txt_connect")).status_code == 200
    conn = handler.connection(conn_id)
    assert conn is not None

    # a connection opened by the right page cannot be used from a foreign one
    fed = await http.post(f"{LP}?connection={conn_id}", content=b"forged", headers=FOREIGN)
    assert fed.status_code == 403
    await conn.send("for the owner only")
    polled = await http.get(f"{LP}?connection={conn_id}&dummy", headers=FOREIGN)
    assert polled.status_code == 403
    closed = await http.get(f"{LP}?connection={conn_id}&close", headers=FOREIGN)
    assert closed.status_code == 403
    assert handler.data == [] and not conn.closed
    owner = await http.get(f"{LP}?connection={conn_id}&dummy", headers=same)
    assert owner.text == "for the owner only"


async def test_longpoll_follows_the_cors_setting_like_an_upgrade(
    served: Served, http: httpx.AsyncClient
) -> None:
    served.server.set_cors("https://app.example")
    listed = {"Origin": "https://app.example"}
    own = {"Origin": f"http://{served.host}:{served.port}"}
    _, status, _ = await RawClient.open(served, headers=listed)
    assert status == 101
    _, status, _ = await RawClient.open(served, headers=own)
    assert status == 403
    assert (await http.get(LP + "?txt_connect", headers=listed)).status_code == 200
    assert (await http.get(LP + "?txt_connect", headers=own)).status_code == 403


def _fcgi_connect(client: Any, origin: str) -> str:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": LP,
        "QUERY_STRING": "txt_connect",
        "SERVER_NAME": "site.example",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_HOST": "site.example",
        "HTTP_ORIGIN": origin,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    seen: dict[str, str] = {}

    def start_response(status: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        seen["status"] = status.decode()

    b"".join(client(environ, start_response))
    return seen["status"]


async def test_longpoll_origin_rule_over_fastcgi(served: Served) -> None:
    address = await served.server.create_engine("fastcgi:0")
    client = FlupClient(connect=tuple(address[:2]))
    with trio.fail_after(TIMEOUT):
        foreign = await trio.to_thread.run_sync(_fcgi_connect, client, "http://evil.example")
        same = await trio.to_thread.run_sync(_fcgi_connect, client, "http://site.example")
    assert foreign.startswith("403")
    assert same.startswith("200")
    assert len(served.handler.requests) == 1
