"""The trioserve process the front-end tests put behind Apache, lighttpd and nginx.

Run as ``python -m tests.frontends.backend WORKDIR [--top NAME]``: it serves the same
server on a direct HTTP engine (the reference answers and the call counters, never through
a front-end), a FastCGI TCP engine and a FastCGI unix socket, prints one JSON line with the
bound addresses and runs until SIGTERM/SIGINT or until its stdin closes (so a crashed test
run cannot leave it behind).

What it serves, besides the standard tree requests:

* ``/Objects/demo/sample`` (the suite's ``Sample``), ``/Objects/demo/été_x`` (registered as
  ``été x``; the tree sanitises the space), ``/Objects/private/vault`` visible to ``user``
  only, files under ``/files/`` (with ``secret.txt`` one level above, for traversal tests);
* MissedRequest hooks: ``echo.json`` (method, decoded path, query, user, body length and
  SHA-256, counted per ``tag=``), ``stats.json?tag=T`` (that count, and how many bytes
  ``bigstream.bin`` produced for the tag), ``big.bin?size=N`` and ``bigstream.bin?size=N``
  (a deterministic body as bytes, and streamed in 64 KiB chunks);
* the websocket handler ``/chat`` (echoes what a client sends), reached through front-ends
  by its long-poll emulation, and ``longpoll.json?connection=ID[&push=TEXT]`` (whether that
  connection has a poll parked, after sending it TEXT). Parked polls wait 60 s, longer
  than any test, so a reply a front-end held back shows as a timeout, not as ``<<nope>>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import trio

from tests.conftest import Sample
from trioserve import Call, Response, Server
from trioserve import ws as tws

SECRET = "TRIOSERVE-SECRET-OUTSIDE-LOCATION"
FILE_TEXT = "a file served through the front-end\n"
_PATTERN = bytes(range(256)) * 256  # 64 KiB


@dataclass
class Marker:
    """The object registered under a name with UTF-8 and a space."""

    title: str = "summer"
    marker: str = "été-marker"


@dataclass
class Vault:
    title: str = "for user only"
    code: int = 4242


class Chat(tws.WebSocketHandler):
    """Sends every message back to the connection it came from."""

    async def on_data(self, conn: tws.Connection, message: str | bytes) -> None:
        await conn.send(message)


def big_body(size: int) -> bytes:
    return (_PATTERN * (size // len(_PATTERN) + 1))[:size]


def make_server(workdir: Path, top: str) -> Server:
    server = Server(top_name=top)
    server.register("demo", Sample(), name="sample")
    server.register("demo", Marker(), name="été x")
    server.register("private", Vault(), name="vault")
    server.restrict("private", "visible=user")
    server.register("/", Chat("chat"))
    tws.configure(server, poll_timeout=60.0, idle_timeout=120.0)
    files = workdir / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "ok.txt").write_text(FILE_TEXT)
    (workdir / "secret.txt").write_text(SECRET + "\n")
    server.add_location("files/", files)
    counts: Counter[str] = Counter()

    async def hook(call: Call) -> Response | None:
        name = call.file_name
        query = call.query_dict()
        if name == "echo.json":
            counts[query.get("tag", "")] += 1
            info = {
                "top": top,
                "method": call.method,
                "path": call.path,
                "query": query,
                "user": call.user,
                "engine": call.engine,
                "script_name": call.script_name,
                "length": len(call.body),
                "sha256": hashlib.sha256(call.body).hexdigest(),
            }
            return Response(body=json.dumps(info, ensure_ascii=False).encode())
        if name == "stats.json":
            tag = query.get("tag", "")
            stats = {"count": counts[tag], "streamed": counts["bytes:" + tag]}
            return Response(body=json.dumps(stats).encode())
        if name == "big.bin":
            body = big_body(int(query.get("size", "0")))
            return Response(content_type="application/octet-stream", body=body)
        if name == "bigstream.bin":
            size = int(query.get("size", "0"))
            produced = "bytes:" + query.get("tag", "")

            async def chunks() -> AsyncIterator[bytes]:
                chunk = _PATTERN  # 64 KiB, so big_body(size) is a prefix of the repetition
                for start in range(0, size, len(chunk)):
                    piece = chunk[: size - start]
                    counts[produced] += len(piece)
                    yield piece
                    await trio.sleep(0)

            return Response(
                content_type="application/octet-stream", body=chunks(), content_length=size
            )
        if name == "longpoll.json":
            session = tws.registry(server).longpolls.sessions.get(int(query["connection"]))
            if session is None:
                return Response(status=404, body=b"{}")
            if "push" in query:
                await session.conn.send(query["push"])
            return Response(body=json.dumps({"parked": session.parked}).encode())
        return None

    server.on_missed_request(hook)
    return server


async def main(workdir: Path, top: str) -> None:
    server = make_server(workdir, top)
    sock = workdir / "app.sock"
    spec = f"http:127.0.0.1:0;fastcgi:127.0.0.1:0;fastcgi:{sock}?socket_mode=0666"
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, spec)
        http_addr, fcgi_addr, unix_addr = server.addresses
        line = {"http": list(http_addr[:2]), "fastcgi": list(fcgi_addr[:2]), "unix": unix_addr}
        print(json.dumps(line), flush=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:

            async def wait_stdin_closed() -> None:
                fd = sys.stdin.fileno()
                os.set_blocking(fd, False)
                while True:
                    await trio.lowlevel.wait_readable(fd)
                    try:
                        if not os.read(fd, 4096):
                            break
                    except BlockingIOError:
                        continue
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait_stdin_closed)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--top", default="trioserve")
    args = parser.parse_args()
    trio.run(main, args.workdir, args.top)
