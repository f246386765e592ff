"""Servers the benchmarks start as subprocesses: trioserve itself, and the peers it is
measured against in the same run. ``python benchmarks/_servers.py KIND PORT [OPTIONS]``
prints ``ready`` once it listens on 127.0.0.1:PORT.

- ``trioserve``: a Server with one small dataclass at /Objects/obj (OPTIONS: engine options
  such as ``max_connections=5000``).
- ``minimal``: the least a Trio+h11 server can do: keep-alive, one fixed JSON body
  (the exact bytes trioserve renders for the same object), no routing, no rendering.
- ``app`` (not a KIND: ``_servers:app`` for uvicorn and hypercorn): an ASGI app answering
  every request with the same fixed bytes.
- ``ws-trioserve``: a trioserve ``WebSocketHandler`` echo at /echo/root.websocket; the message
  ``broadcast N`` makes it broadcast N messages to every connection (fan-out).
- ``ws-bare``: a bare ``trio_websocket.serve_websocket`` echo.
- ``big``: trioserve with a 10^6-float numpy array at /Objects/big/array (and /Objects/obj).
- ``many``: trioserve with 10,000 items (100 folders of 100: dataclasses and histograms).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

BIG_SIZE = 1_000_000
MANY_FOLDERS = 100
MANY_PER_FOLDER = 100


@dataclass
class Small:
    name: str = "obj"
    title: str = "a small object"
    count: int = 42
    gain: float = 1.5
    values: list[int] = field(default_factory=lambda: [1, 2, 3, 4])


@functools.cache
def rendered() -> bytes:
    """What trioserve answers for ``/Objects/obj/root.json``: every peer sends these bytes."""
    from trioserve.render import render_json

    return render_json(Small()).encode()


def big_array() -> Any:
    import numpy as np

    return np.random.default_rng(6).random(BIG_SIZE)


async def _serve(server: Any, spec: str) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, spec)
        print("ready", flush=True)


async def serve_trioserve(port: int, options: str = "") -> None:
    from trioserve import Server

    server = Server()
    server.register("/Objects", Small())
    await _serve(server, f"http:127.0.0.1:{port}" + (f"?{options}" if options else ""))


async def serve_big(port: int, options: str = "") -> None:
    from trioserve import Server

    server = Server()
    server.register("/Objects", Small())
    server.register("big", big_array(), name="array", title="10^6 random floats")
    await _serve(server, f"http:127.0.0.1:{port}" + (f"?{options}" if options else ""))


async def serve_many(port: int, options: str = "") -> None:
    from trioserve import Server
    from trioserve.histograms import Hist1D

    server = Server()
    for f in range(MANY_FOLDERS):
        for i in range(MANY_PER_FOLDER):
            name = f"item{i:03d}"
            obj: Any = Small(name=name) if i % 2 else Hist1D(name, "a histogram", 20, 0.0, 1.0)
            server.register(f"many/f{f:03d}", obj, name=name)
    await _serve(server, f"http:127.0.0.1:{port}" + (f"?{options}" if options else ""))


async def serve_minimal(port: int, options: str = "") -> None:
    body = rendered()

    async def connection(stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    conn.receive_data(data)
                    if not data:
                        return
                    continue
                if isinstance(event, h11.Request):
                    continue
                if isinstance(event, h11.EndOfMessage):
                    headers = [
                        ("content-type", "application/json"),
                        ("content-length", str(len(body))),
                    ]
                    out = conn.send(h11.Response(status_code=200, headers=headers))
                    out += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
                    await stream.send_all(out)
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            return
        finally:
            await stream.aclose()

    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1", backlog=512)
    print("ready", flush=True)
    await trio.serve_listeners(connection, listeners)


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI peer: fixed bytes for every request, lifespan acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]  # startup / shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    body = rendered()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve_ws_trioserve(port: int, options: str = "") -> None:
    from trioserve import Server
    from trioserve.ws import Connection, WebSocketHandler

    class Echo(WebSocketHandler):
        queue_size = 16

        async def on_data(self, conn: Connection, message: str | bytes) -> None:
            if isinstance(message, str) and message.startswith("broadcast "):
                for i in range(int(message.split()[1])):
                    await self.broadcast(f"update {i}")
                return
            await conn.send(message)

    server = Server()
    server.register("/", Echo("echo"))
    # the fan-out holds 500 clients and a control connection: above the default cap of
    # websockets (half of max_connections), which guards a real server from such a crowd
    await _serve(server, f"http:127.0.0.1:{port}?max_websockets=1000")


async def serve_ws_bare(port: int, options: str = "") -> None:
    import trio_websocket

    async def echo(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        await nursery.start(trio_websocket.serve_websocket, echo, "127.0.0.1", port, None)
        print("ready", flush=True)


KINDS = {
    "trioserve": serve_trioserve,
    "minimal": serve_minimal,
    "big": serve_big,
    "many": serve_many,
    "ws-trioserve": serve_ws_trioserve,
    "ws-bare": serve_ws_bare,
}

if __name__ == "__main__":
    kind, port_text, *rest = sys.argv[1:]
    trio.run(KINDS[kind], int(port_text), *rest)
