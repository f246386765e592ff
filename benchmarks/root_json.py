"""root.json of a small object under wrk: trioserve against a minimal Trio+h11 server.

Both servers run in the same invocation, one after the other, on loopback, with the same
wrk settings (keep-alive, 50 connections, 2 threads). The figure that matters is the ratio:
absolute numbers depend on the machine.

    python3 benchmarks/root_json.py [--duration 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_servers.py"), kind, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"{kind} server did not start")
    return proc


def wrk(url: str, duration: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not match or "Non-2xx" in out.stdout:
        raise RuntimeError(f"wrk failed:\n{out.stdout}")
    return float(match.group(1))


def measure(kind: str, path: str, duration: int, connections: int) -> float:
    port = free_port()
    proc = start(kind, port)
    try:
        time.sleep(0.2)
        return wrk(f"http://127.0.0.1:{port}{path}", duration, connections)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    path = "/Objects/obj/root.json"
    ours = measure("trioserve", path, args.duration, args.connections)
    peer = measure("minimal", path, args.duration, args.connections)
    print(f"trioserve root.json:        {ours:10.0f} req/s")
    print(f"minimal trio+h11 (fixed):   {peer:10.0f} req/s")
    print(f"ratio trioserve / minimal:  {ours / peer:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
