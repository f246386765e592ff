"""Python analog of ROOT's tutorials/http/ws.C (with ws.htm): websocket handlers.

Two handlers are registered at the top of the tree:

* ``/ws/``   -- the demo page (``ws.html`` next to this file): it shows messages both ways,
  the server confirms every message and pushes a counter every second to every client.
  The page uses a websocket and falls back to long-poll (``root.longpoll``), which is what
  a browser behind a FastCGI front-end gets.
* ``/echo/`` -- a plain echo (text stays text, binary stays binary) at a fixed path, for
  quick tests: ``python -m websockets ws://127.0.0.1:8080/echo/root.websocket`` or the
  Autobahn cases: ``kosoku ws://127.0.0.1:8080/echo/root.websocket -x '12.*' -x '13.*'``.

    python examples/ws.py --port 8080
"""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

import trioserve
from trioserve.ws import Connection, WebSocketHandler


class DemoHandler(WebSocketHandler):
    """ROOT's TUserHandler from ws.C: confirm what clients send, push a counter."""

    page = "file:" + str(Path(__file__).with_name("ws.html"))
    overflow = "latest"  # a slow browser only ever needs the newest counter value

    def on_connect(self, request: trioserve.ws.ConnectRequest) -> bool:
        print(f"connect from {request.peer} ({request.kind}, user {request.user})", flush=True)
        return True

    async def on_ready(self, conn: Connection) -> None:
        await conn.send(f"Init: you are connection {conn.id}")

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        print(f"client {conn.id} says {message!r}", flush=True)
        await conn.send(f"Confirm: {message!r}")

    def on_close(self, conn: Connection) -> None:
        print(f"client {conn.id} left ({conn.close_code})", flush=True)


class EchoHandler(WebSocketHandler):
    """Sends every message back unchanged; big limit so the Autobahn 9.* cases fit."""

    max_message_size = 64 << 20
    queue_size = 16

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        await conn.send(message)


async def push_counter(handler: WebSocketHandler) -> None:
    counter = 0
    while True:
        await trio.sleep(1)
        counter += 1
        await handler.broadcast(f"Server counter {counter}")


async def main(spec: str) -> None:
    server = trioserve.Server(top_name="ws")
    demo = DemoHandler("ws", "websocket demo")
    server.register("/", demo)
    server.register("/", EchoHandler("echo", "echo handler"))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, spec)
        for address in server.addresses:
            if isinstance(address, tuple):
                print(f"serving http://{address[0]}:{address[1]}/ws/", flush=True)
            else:
                print(f"serving unix socket {address}", flush=True)
        nursery.start_soon(push_counter, demo)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--socket", help="also serve on this unix socket path")
    args = parser.parse_args()
    spec = f"http:{args.port}" + (f";socket:{args.socket}" if args.socket else "")
    try:
        trio.run(main, spec)
    except KeyboardInterrupt:
        pass
