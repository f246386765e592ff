"""Websocket throughput (P5): our handler layer against bare trio-websocket, same invocation.

    python3 benchmarks/ws_echo.py [--duration 10] [--runs 3] [--clients 1,100]
                                  [--fanout 500] [--messages 20]

1. Echo round trips per second: C clients each send a message and wait for its echo, over
   and over -- against a trioserve ``WebSocketHandler`` (handshake via the HTTP engine,
   bounded queue, writer task) and against a bare ``trio_websocket.serve_websocket`` echo
   (benchmarks/_servers.py ``ws-trioserve`` / ``ws-bare``). Servers on the server core, the
   clients (this process, a minimal raw-socket client) on the load core; the CPU column
   tells whether the server was the bottleneck (near 100 %) or the clients were.
2. Broadcast fan-out (no peer): N clients connected to the handler; one more sends
   ``broadcast M`` and the handler broadcasts M messages to every connection; time until
   every client has received all of them.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import os
import statistics
import time

import _harness as h
import trio
import trio_websocket

KINDS = {"trioserve": "ws-trioserve", "bare": "ws-bare"}
PATHS = {"trioserve": "/echo/root.websocket", "bare": "/"}
MESSAGE = "ping 0123456789"


class RawSocket:
    """The cheapest websocket client we can write: a hand-made handshake, one pre-masked
    frame sent again and again, server frames parsed by their 2-10 byte header. It costs
    a fraction of a trio-websocket client, so the server, not the client, sets the rate."""

    def __init__(self, stream: trio.SocketStream, rest: bytes) -> None:
        self.stream = stream
        self.buffer = bytearray(rest)
        payload = MESSAGE.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.frame = bytes([0x81, 0x80 | len(payload)]) + mask + masked

    @classmethod
    async def connect(cls, port: int, path: str) -> RawSocket:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise OSError("closed during the handshake")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise OSError(f"handshake refused: {head.splitlines()[0]!r}")
        return cls(stream, rest)

    async def _need(self, count: int) -> None:
        while len(self.buffer) < count:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise OSError("connection closed")
            self.buffer += chunk

    async def message(self) -> bytes:
        """The next text/binary frame's payload (control frames are skipped)."""
        while True:
            await self._need(2)
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if length == 126:
                await self._need(4)
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                await self._need(10)
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            await self._need(start + length)
            payload = bytes(self.buffer[start : start + length])
            del self.buffer[: start + length]
            if opcode == 0x8:
                raise OSError("server closed the websocket")
            if opcode in (0x1, 0x2):
                return payload

    async def echo(self) -> None:
        await self.stream.send_all(self.frame)
        await self.message()


async def round_trips(port: int, path: str, clients: int, seconds: float) -> h.Result:
    latencies: list[float] = []
    errors = 0

    async def one(deadline: float) -> None:
        nonlocal errors
        try:
            ws = await RawSocket.connect(port, path)
        except OSError:
            errors += 1
            return
        try:
            while trio.current_time() < deadline:
                start = time.perf_counter()
                await ws.echo()
                latencies.append(time.perf_counter() - start)
        except (OSError, trio.BrokenResourceError):
            errors += 1
        finally:
            await ws.stream.aclose()

    start = time.perf_counter()
    deadline = trio.current_time() + seconds
    with trio.move_on_after(seconds + 30):
        async with trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(one, deadline)
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]
    return h.Result(
        rate=len(latencies) / elapsed,
        p50=ordered[len(ordered) // 2] * 1e3,
        p99=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        errors=errors,
    )


def echo(args: argparse.Namespace, servers: dict[str, h.Process], clients: int) -> None:
    rows = [h.Row(name, proc.command) for name, proc in servers.items()]

    def target(row: h.Row) -> tuple[int, str]:
        return servers[row.name].port, PATHS[row.name]

    def one(row: h.Row) -> h.Result:
        row.load = f"{h.HERE_LOAD}: {clients} raw websocket clients"
        with h.Meter([servers[row.name]]) as meter:
            result = trio.run(round_trips, *target(row), clients, args.duration)
        return dataclasses.replace(result, cpu=meter.cpu, others=meter.others)

    def warmup(row: h.Row) -> None:
        if args.warmup > 0:
            trio.run(round_trips, *target(row), clients, args.warmup)

    h.measure_interleaved(rows, args.runs, one, warmup)
    h.print_table(
        f"P5 websocket echo, {clients} client(s), one message in flight each",
        rows,
        subject="trioserve",
        versus="bare",
        unit="msg/s",
        goal="trioserve ÷ bare ≥ 0.9",
    )


async def fanout(port: int, clients: int, messages: int) -> float:
    url = f"ws://127.0.0.1:{port}{PATHS['trioserve']}"
    connected = 0
    everyone = trio.Event()
    done = trio.Event()
    finished = 0

    async def one() -> None:
        nonlocal connected, finished
        async with trio_websocket.open_websocket_url(url) as ws:
            connected += 1
            if connected == clients:
                everyone.set()
            for _ in range(messages):
                await ws.get_message()
            finished += 1
            if finished == clients:
                done.set()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(one)
            await everyone.wait()
            async with trio_websocket.open_websocket_url(url) as control:
                await trio.sleep(0.2)  # the server has registered every connection
                start = time.perf_counter()
                await control.send_message(f"broadcast {messages}")
                await done.wait()
                elapsed = time.perf_counter() - start
    return elapsed


def fan(args: argparse.Namespace, server: h.Process) -> None:
    times = [trio.run(fanout, server.port, args.fanout, args.messages) for _ in range(args.runs)]
    elapsed = statistics.median(times)
    total = args.fanout * args.messages
    print(f"## broadcast fan-out: {args.messages} messages to {args.fanout} clients (no peer)")
    print("| server | deliveries/s | seconds | spread |")
    print("|---|---|---|---|")
    spread = (max(times) - min(times)) / 2 / elapsed * 100
    print(f"| trioserve | {total / elapsed:,.0f} | {elapsed:.3f} | ±{spread:.0f}% |")
    print(f"\ncommands:\n  trioserve: {server.command}")
    print(f"    load: {h.HERE_LOAD}: {args.fanout} trio-websocket clients\n")


def main() -> int:
    parser = h.arguments(__doc__, duration=5.0)
    parser.add_argument("--clients", default="1,100", help="client counts, comma-separated")
    parser.add_argument("--fanout", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    h.begin("websocket echo: trioserve's handler layer and bare trio-websocket", args)
    with h.running([]) as started:
        servers: dict[str, h.Process] = {}
        for name, kind in KINDS.items():
            port = h.free_port()
            argv = [h.PYTHON, str(h.HERE / "_servers.py"), kind, str(port)]
            servers[name] = h.start(name, argv, port=port, ready_line=True, cwd=h.HERE)
            started.append(servers[name])
        for clients in (int(c) for c in args.clients.split(",")):
            echo(args, servers, clients)
        if args.fanout > 0:
            fan(args, servers["trioserve"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
