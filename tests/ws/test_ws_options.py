"""Engine options for websockets: websocket_disable drops upgrades; websocket_timeout reaches
the keepalive settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from tests.ws.conftest import RawClient, client_frame
from trioserve import Server, WebSocketHandler
from trioserve.errors import SpecError
from trioserve.ws import configure, registry

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
    # the option is the http engine's own (issue 10, item 12): the server-wide setting, which
    # the socket engine uses, stays ROOT's default; test_websocket_timeout_is_per_engine
    # shows both engines' keepalives at work
    assert registry(server).websocket.websocket_timeout == 300.0
    host, port = server.addresses[0][:2]
    conn = await trio_websocket.connect_websocket_url(
        nursery, f"ws://{host}:{port}/echo/root.websocket"
    )
    await conn.send_message("ping")
    with trio.fail_after(5):
        assert await conn.get_message() == "ping"
    await conn.aclose()


# -- issue 10, item 12: the corner cases ----------------------------------------------------
UPGRADE = {
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
}


@dataclass
class Where:
    """What RawClient.open needs to reach one engine."""

    host: str
    port: int


async def test_post_with_upgrade_headers_is_400_as_documented(nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, "http:0")
    host, port = server.addresses[0][:2]
    url = f"http://{host}:{port}/echo/root.websocket"
    async with httpx.AsyncClient() as client:
        post = await client.post(url, headers=UPGRADE, content=b"x")
        assert post.status_code == 400
        assert post.json()["error"] == "bad_method"
        # the connection stays usable, and plain requests are answered as before
        assert (await client.post(url, content=b"x")).status_code == 426
        assert (await client.get(url)).status_code == 426
        assert (await client.head(url, headers=UPGRADE)).status_code == 400


async def test_websocket_disable_answers_404_with_or_without_upgrade(
    nursery: trio.Nursery, short_tmp: Path
) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    sock = f"{short_tmp}/off.sock"
    await nursery.start(
        server.serve, f"http:0?websocket_disable;http:0;socket:{sock}?websocket_disable"
    )
    (off_host, off_port), (on_host, on_port) = (a[:2] for a in server.addresses[:2])
    off = f"http://{off_host}:{off_port}/echo/root.websocket"
    on = f"http://{on_host}:{on_port}/echo/root.websocket"
    async with httpx.AsyncClient() as client:
        assert (await client.get(off, headers=UPGRADE)).status_code == 404
        assert (await client.get(off)).status_code == 404  # was 426
        assert (await client.post(off, content=b"x")).status_code == 404
        assert (await client.get(on)).status_code == 426  # the other engine is untouched
    transport = httpx.AsyncHTTPTransport(uds=sock)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://localhost/echo/root.websocket")).status_code == 404


async def _pinged_within(client: RawClient, seconds: float) -> bool:
    """Did the server ping (or close) this client within ``seconds``?"""
    with trio.move_on_after(seconds):
        opcode, _ = await client.read_frame()
        return opcode in (8, 9)
    return False


async def test_websocket_timeout_is_per_engine(nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, "http:0?websocket_timeout=0.4;http:0")
    short, default = (Where(*a[:2]) for a in server.addresses)
    clients = []
    try:
        for where in (short, default):
            client, status, _ = await RawClient.open(where, "/echo/root.websocket")  # type: ignore[arg-type]
            assert status == 101
            clients.append(client)  # neither answers pings
        with trio.fail_after(5):
            assert await clients[0].read_close() == 1011  # pinged at 0.4 s, cut at 0.8 s
        # the other engine kept ROOT's 300 s (and the 30 s ping): nothing in that time
        assert not await _pinged_within(clients[1], 0.5)
        assert registry(server).websocket.websocket_timeout == 300.0
    finally:
        for client in clients:
            RawClient.opened.remove(client)
            await trio.aclose_forcefully(client.stream)


async def test_ping_interval_from_the_spec(nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, "http:0?ping_interval=0.1;http:0")
    fast, default = (Where(*a[:2]) for a in server.addresses)
    clients = []
    try:
        for where in (fast, default):
            client, status, _ = await RawClient.open(where, "/echo/root.websocket")  # type: ignore[arg-type]
            assert status == 101
            clients.append(client)
        with trio.fail_after(5):
            for _ in range(3):  # pinged every 0.1 s; answered, the connection lives on
                opcode, payload = await clients[0].read_frame()
                assert opcode == 9
                await clients[0].send(client_frame(10, payload))
        assert not await _pinged_within(clients[1], 0.3)
    finally:
        for client in clients:
            RawClient.opened.remove(client)
            await trio.aclose_forcefully(client.stream)


async def test_engine_settings_sit_on_top_of_configure(nursery: trio.Nursery) -> None:
    """``configure`` still reaches every setting an engine's spec leaves alone."""
    server = Server()
    server.register("/", Echo("echo"))
    await nursery.start(server.serve, "http:0?websocket_timeout=0.4;http:0")
    configure(server, ping_interval=0.1, websocket_timeout=100)
    own, default = (Where(*a[:2]) for a in server.addresses)
    clients = []
    try:
        for where in (own, default):
            client, status, _ = await RawClient.open(where, "/echo/root.websocket")  # type: ignore[arg-type]
            assert status == 101
            clients.append(client)  # neither answers pings
        with trio.fail_after(5):
            # its own timeout, the server-wide ping interval: pinged, then cut off
            assert await clients[0].read_close() == 1011
            # the other: pinged as configured, and given the configured 100 s to answer
            opcode, _ = await clients[1].read_frame()
            assert opcode == 9
        assert not await _pinged_within(clients[1], 0.6)  # unanswered, yet not cut off
    finally:
        for client in clients:
            RawClient.opened.remove(client)
            await trio.aclose_forcefully(client.stream)


@pytest.mark.parametrize(
    "spec",
    [
        "http:0?ping_interval=0",
        "http:0?ping_interval=-1",
        "http:0?websocket_timeout=0",
        "http:0?websocket_timeout=nan",
        "http:0?ping_interval=soon",
    ],
)
async def test_bad_keepalive_options_stop_the_start(spec: str) -> None:
    server = Server()
    with trio.fail_after(5), pytest.raises(SpecError, match=spec.split("?")[1].split("=")[0]):
        await server.serve(spec)
