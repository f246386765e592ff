"""Websocket throughput: our handler layer against bare trio-websocket, in the same run.

1. Echo round trips per second: C clients each send a message and wait for its echo, over
   and over, for D seconds -- once against a trioserve ``WebSocketHandler`` (handshake via
   the HTTP engine, bounded queue, writer task) and once against a bare
   ``trio_websocket.serve_websocket`` echo server.
2. Broadcast fan-out: N clients connected to the handler; ``handler.broadcast`` of M
   messages; time until every client has received all of them.

    python benchmarks/ws_echo.py [--clients 10] [--seconds 3] [--fanout 500] [--messages 20]

Server and clients share one process and one core (Trio is single-threaded), so the numbers
are a ratio to compare, not a capacity figure.
"""

from __future__ import annotations

import argparse
import time

import trio
import trio_websocket

from trioserve import Server
from trioserve.ws import Connection, WebSocketHandler


class Echo(WebSocketHandler):
    queue_size = 16

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        await conn.send(message)


async def bare_echo(request: trio_websocket.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except trio_websocket.ConnectionClosed:
        pass


async def round_trips(url: str, clients: int, seconds: float) -> float:
    count = 0
    deadline = trio.current_time() + seconds

    async def one() -> None:
        nonlocal count
        async with trio_websocket.open_websocket_url(url) as ws:
            while trio.current_time() < deadline:
                await ws.send_message("ping 0123456789")
                await ws.get_message()
                count += 1

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)
    return count / (time.perf_counter() - start)


async def fanout(url: str, handler: WebSocketHandler, clients: int, messages: int) -> float:
    connected = trio.Event()
    done = 0

    async def one() -> None:
        nonlocal done
        async with trio_websocket.open_websocket_url(url) as ws:
            for _ in range(messages):
                await ws.get_message()
            done += 1

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)
        while len(handler.connections) < clients:
            await trio.sleep(0.01)
        connected.set()
        start = time.perf_counter()
        for i in range(messages):
            await handler.broadcast(f"update {i}")
        while done < clients:
            await trio.sleep(0.001)
        return time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    server = Server()
    echo = Echo("echo")
    server.register("/", echo)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "http:0")
        host, port = server.addresses[0][:2]
        ours = await round_trips(
            f"ws://{host}:{port}/echo/root.websocket", args.clients, args.seconds
        )
        listeners = await nursery.start(
            trio_websocket.serve_websocket, bare_echo, "127.0.0.1", 0, None
        )
        bare_port = listeners.port
        bare = await round_trips(f"ws://127.0.0.1:{bare_port}/", args.clients, args.seconds)
        print(f"echo round trips/s, {args.clients} clients: trioserve handler {ours:8.0f}")
        print(f"echo round trips/s, {args.clients} clients: bare trio-websocket {bare:7.0f}")
        print(f"ratio trioserve/bare: {ours / bare:.2f}")
        elapsed = await fanout(
            f"ws://{host}:{port}/echo/root.websocket", echo, args.fanout, args.messages
        )
        total = args.fanout * args.messages
        print(
            f"broadcast fan-out: {args.messages} messages to {args.fanout} clients "
            f"({total} deliveries) in {elapsed:.3f} s = {total / elapsed:.0f} deliveries/s"
        )
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fanout", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    trio.run(main, parser.parse_args())
