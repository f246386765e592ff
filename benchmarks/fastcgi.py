"""root.json through lighttpd -> trioserve's FastCGI engine vs lighttpd -> flup, same run.

    python benchmarks/fastcgi.py [--duration 5] [--connections 50] [--threads 2]

Starts two backends (benchmarks/fcgi_backends.py), one lighttpd whose two listening
sockets each front one of them (configured from config/lighttpd-fastcgi.conf, section
"fastcgi-tcp", exactly as a user would), checks that both answer the same bytes, then runs
wrk against each for the same time and prints requests/s and the ratio. Everything is
stopped by PID at the end. Needs lighttpd and wrk (Debian packages ``lighttpd``, ``wrk``).

lighttpd opens a new FastCGI connection per request (it never reuses them, FINDINGS §2),
so this measures connection set-up + one request, the real cost behind lighttpd.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SNIPPETS = REPO / "config" / "lighttpd-fastcgi.conf"
PREFIX = "/root.app"
PATH = PREFIX + "/Objects/obj/root.json"


def section(name: str, **values: object) -> str:
    """One section of the user-facing snippet file, placeholders filled in."""
    text = SNIPPETS.read_text()
    start = text.index(f"# === section: {name} ===")
    end = text.find("# === section:", start + 1)
    body = text[start : end if end >= 0 else len(text)]
    for key, value in values.items():
        body = body.replace(f"@{key}@", str(value))
    if re.search(r"@[A-Z0-9_]+@", re.sub(r"#.*", "", body)):
        raise ValueError(f"unfilled placeholder in section {name}")
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # flup may ignore SIGTERM while threads run
            proc.kill()
            proc.wait(timeout=5)


def wrk(url: str, duration: int, connections: int, threads: int) -> float:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        print(f"  wrk reported: {errors.group(0)}", file=sys.stderr)
    if not match:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per side")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not Path(lighttpd).exists() or not shutil.which("wrk"):
        print("needs lighttpd and wrk (apt-get install lighttpd wrk)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="tsbench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        backends = {"trioserve": free_port(), "flup": free_port()}
        for kind, port in backends.items():
            proc = subprocess.Popen(
                [sys.executable, str(HERE / "fcgi_backends.py"), kind, str(port)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
            )
            procs.append(proc)
            wait_port(port, proc)
        fronts = {kind: free_port() for kind in backends}
        lines = [
            f'server.document-root = "{work}"',
            'server.bind = "127.0.0.1"',
            f"server.port = {free_port()}",
            f'server.errorlog = "{work}/lighttpd-error.log"',
            "server.max-connections = 4096",
            "server.modules = ( )",
            section("modules"),
        ]
        for kind, port in fronts.items():
            lines.append(f'$SERVER["socket"] == "127.0.0.1:{port}" {{')
            lines.append(
                section("fastcgi-tcp", PREFIX=PREFIX, HOST="127.0.0.1", PORT=backends[kind])
            )
            lines.append("}")
        config = work / "lighttpd.conf"
        config.write_text("\n".join(lines) + "\n")
        front = subprocess.Popen([lighttpd, "-D", "-f", str(config)])
        procs.append(front)
        for port in fronts.values():
            wait_port(port, front)

        bodies = {}
        for kind, port in fronts.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{PATH}", timeout=10) as reply:
                bodies[kind] = reply.read()
        if bodies["trioserve"] != bodies["flup"]:
            print(f"bodies differ: {bodies}", file=sys.stderr)
            return 1
        print(
            f"GET {PATH} ({len(bodies['flup'])} bytes) through lighttpd, wrk "
            f"-t{args.threads} -c{args.connections} -d{args.duration}s"
        )
        rates = {}
        for kind, port in fronts.items():
            url = f"http://127.0.0.1:{port}{PATH}"
            rates[kind] = wrk(url, args.duration, args.connections, args.threads)
            print(f"  lighttpd -> {kind:<10} {rates[kind]:>10.0f} requests/s")
        print(f"  ratio trioserve / flup: {rates['trioserve'] / rates['flup']:.2f}")
        return 0
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
