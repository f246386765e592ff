"""What TLS costs: root.json of a small object over the https engine against the same over
the http engine, in the same invocation, pinned like root_json.py (benchmarks/_harness.py).

    python3 benchmarks/tls.py [--duration 10] [--runs 3] [--only T1,T2]

T1: keep-alive, wrk -t1 at c=1 and c=50: the record layer's cost per request (encryption,
    and the engine's stream path: an https connection reads and writes through a
    ``trio.SSLStream``, the http engine straight on the socket).
T2: a new connection per request (wrk ``-H 'Connection: close'``), c=50: the handshake's
    cost (TLS 1.3, ECDSA P-256, X25519), what clients that do not keep connections alive pay.

Both servers are ``trioserve.Server`` with one dataclass at /Objects/obj (the bytes
root_json.py serves), each in its own process on the server core; the certificate is a
throw-away self-signed ECDSA P-256 one made with ``openssl`` (wrk does not verify it).
``python3 benchmarks/tls.py --serve http|https PORT [CERT]`` runs one such server.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import _harness as h
import trio
from _servers import Small, rendered

PATH = "/Objects/obj/root.json"
LOADS = {  # name -> (connections, extra wrk arguments, goal)
    "T1 c=1": (1, [], "none: the figure is what TLS costs"),
    "T1 c=50": (50, [], "none: the figure is what TLS costs"),
    "T2 c=50 new connection per request": (
        50,
        ["-H", "Connection: close"],
        "none: the figure is what a handshake costs",
    ),
}


def make_certificate(directory: Path) -> Path:
    """A self-signed ECDSA P-256 certificate and its key, in one PEM (ROOT's ssl_cert)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", "/CN=localhost", "-days", "2",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    combined = directory / "server.pem"
    combined.write_bytes(key.read_bytes() + cert.read_bytes())
    return combined


async def serve(kind: str, port: int, certificate: str = "") -> None:
    from trioserve import Server

    server = Server()
    server.register("/Objects", Small())
    spec = f"{kind}:127.0.0.1:{port}"
    if kind == "https":
        spec += f"?ssl_cert={certificate}"
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, spec)
        print("ready", flush=True)


def _check(url: str, expected: bytes) -> str | None:
    done = subprocess.run(
        ["curl", "-sk", "--fail", url], capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        return f"curl failed ({done.returncode}): {done.stderr.decode(errors='replace')}"
    if done.stdout != expected:
        return f"serves other bytes ({len(done.stdout)} B, expected {len(expected)} B)"
    return None


def measure(args: argparse.Namespace, loads: list[str], certificate: Path) -> None:
    expected = rendered()
    urls: dict[str, str] = {}
    procs: dict[str, h.Process] = {}
    rows = {name: h.Row(name) for name in ("https", "http")}
    with h.running([]) as started:
        for kind, row in rows.items():
            port = h.free_port()
            argv = [h.PYTHON, str(Path(__file__).resolve()), "--serve", kind, str(port)]
            if kind == "https":
                argv.append(str(certificate))
            proc = h.start(kind, argv, ready_line=True, env={"PYTHONPATH": str(h.HERE)})
            started.append(proc)
            procs[kind] = proc
            row.command = proc.command
            urls[kind] = f"{kind}://127.0.0.1:{port}{PATH}"
            row.missing = _check(urls[kind], expected)
        print(f"GET {PATH}: {len(expected)} bytes from both engines\n")
        for load in loads:
            table = [h.Row(r.name, r.command, missing=r.missing) for r in rows.values()]
            measure_load(args, load, table, procs, urls)


def measure_load(
    args: argparse.Namespace,
    load: str,
    table: list[h.Row],
    procs: dict[str, h.Process],
    urls: dict[str, str],
) -> None:
    connections, extra, goal = LOADS[load]

    def argv(row: h.Row, seconds: float) -> list[str]:
        *wrk, url = h.wrk_argv(urls[row.name], seconds, connections)
        return [*wrk, *extra, url]

    h.measure_wrk(table, args, argv, lambda row: [procs[row.name]])
    h.print_table(
        f"{load}: root.json of a small object, wrk -t1 -c{connections}",
        table,
        subject="https",
        versus="http",
        goal=goal,
    )


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        kind, port, *rest = sys.argv[2:]
        trio.run(serve, kind, int(port), *rest)
        return 0
    parser = h.arguments(__doc__)
    parser.add_argument("--only", default="T1,T2", help="which parts (T1, T2)")
    args = parser.parse_args()
    missing = h.require("wrk", "openssl", "curl")
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)})")
        return 2
    h.begin("root.json over https against http: what TLS costs", args)
    parts = {p.strip().upper() for p in args.only.split(",")}
    loads = [name for name in LOADS if name.split()[0] in parts]
    with tempfile.TemporaryDirectory(prefix="tls-bench-") as directory:
        measure(args, loads, make_certificate(Path(directory)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
