"""Servers the benchmarks start as subprocesses: trioserve itself, and the peers it is
measured against in the same run. ``python benchmarks/_servers.py KIND PORT``.

- ``trioserve``: a Server with one small dataclass at /Objects/obj.
- ``minimal``: the least a Trio+h11 server can do: keep-alive, one fixed JSON body
  (the exact bytes trioserve renders for the same object), no routing, no rendering.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import h11
import trio


@dataclass
class Small:
    name: str = "obj"
    title: str = "a small object"
    count: int = 42
    gain: float = 1.5
    values: list[int] = field(default_factory=lambda: [1, 2, 3, 4])


def rendered() -> bytes:
    from trioserve.render import render_json

    return render_json(Small()).encode()


async def serve_trioserve(port: int) -> None:
    from trioserve import Server

    server = Server()
    server.register("/Objects", Small())
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"http:127.0.0.1:{port}")
        print("ready", flush=True)


async def serve_minimal(port: int) -> None:
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


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    trio.run({"trioserve": serve_trioserve, "minimal": serve_minimal}[kind], port)
