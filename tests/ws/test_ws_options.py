"""Engine options for websockets: websocket_disable drops upgrades; websocket_timeout reaches
the keepalive settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from trioserve import Server, WebSocketHandler
from trioserve.ws import registry

pytestmark = pytest.mark.trio


class Echo(WebSocketHandler):
    async def on_data(self, conn, message):  # type: ignore[no-untyped-def]
        await conn.send(message)


async def test_websocket_disable_refuses_upgrades(nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, "http:0?websocket_disable")
    host, port = server.addresses[0][:2]
    headers = {
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
    }
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://{host}:{port}/echo/root.websocket", headers=headers)
    assert reply.status_code == 404


async def test_websocket_timeout_option(nursery: trio.Nursery, short_tmp: Path) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, f"http:0?websocket_timeout=42;socket:{short_tmp}/s.sock")
    assert registry(server).websocket.websocket_timeout == 42.0
    host, port = server.addresses[0][:2]
    conn = await trio_websocket.connect_websocket_url(
        nursery, f"ws://{host}:{port}/echo/root.websocket"
    )
    await conn.send_message("ping")
    with trio.fail_after(5):
        assert await conn.get_message() == "ping"
    await conn.aclose()
