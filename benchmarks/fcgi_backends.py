"""FastCGI backends for benchmarks/fastcgi.py, each run as its own process:
``python benchmarks/fcgi_backends.py KIND PORT`` prints ``ready`` once it listens.

- ``trioserve``: a Server with one small dataclass at /Objects/obj, FastCGI engine only.
- ``flup``: flup's threaded ``WSGIServer`` (flup.server.fcgi), the usual way to put Python
  behind a FastCGI front-end, answering every request with the exact bytes trioserve
  renders for the same object. It does no routing and no rendering: it is the cost of the
  FastCGI plumbing alone, so the ratio shows what our engine plus dispatcher costs on top.
  Its accepted sockets get TCP_NODELAY (flup never sets it): without it, a front-end that
  reuses connections (Apache ``enablereuse=on``) waits ~40 ms for each reply's last small
  record (Nagle + delayed ACK), and we would be measuring Nagle, not flup.
  ``python benchmarks/fcgi_backends.py flup PORT SPARE`` sizes flup's thread pool
  (``minSpare=maxSpare=SPARE``): behind Apache with reused connections flup's default pool
  (about 15 threads for 150 held connections) starves, so fastcgi.py gives it 200 there;
  behind lighttpd (a new connection per request) the default pool is flup's fastest.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import trio
from _servers import Small, rendered  # the same object and bytes as root_json.py


async def serve_trioserve(port: int) -> None:
    from trioserve import Server

    server = Server()
    server.register("/Objects", Small(), name="obj")
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, f"fastcgi:127.0.0.1:{port}")
        print("ready", flush=True)


def serve_flup(port: int, spare: int | None = None) -> None:
    from flup.server.fcgi import WSGIServer
    from flup.server.fcgi_base import Connection

    class NoDelayConnection(Connection):
        """flup's per-socket handler, with Nagle off on the accepted socket."""

        def __init__(self, sock: socket.socket, *rest: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, *rest)

    body = rendered()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", headers)
        return [body]

    pool: dict[str, int] = {} if spare is None else {"minSpare": spare, "maxSpare": spare}
    server = WSGIServer(app, bindAddress=("127.0.0.1", port), **pool)
    # ThreadedServer makes one job of this class per accepted socket (flup.server.threadedserver)
    server._jobClass = NoDelayConnection
    print("ready", flush=True)
    server.run()


if __name__ == "__main__":
    kind, port_text = sys.argv[1], sys.argv[2]
    if kind == "trioserve":
        trio.run(serve_trioserve, int(port_text))
    elif kind == "flup":
        serve_flup(int(port_text), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    else:
        raise SystemExit(f"unknown backend {kind!r}")
