"""root.json through a real front-end to trioserve's FastCGI engine, against the same
front-end to flup, in the same invocation (P3).

    python3 benchmarks/fastcgi.py [--duration 10] [--runs 3] [--connections 50]
                                  [--fronts lighttpd,apache,nginx]

Two backends (benchmarks/fcgi_backends.py: trioserve's FastCGI engine, and flup's threaded
WSGIServer with TCP_NODELAY serving the same bytes) and, in front of both, one lighttpd
(section "fastcgi-tcp" of config/lighttpd-fastcgi.conf), one Apache (section "proxy" of
config/apache-fastcgi.conf: mod_proxy_fcgi with enablereuse=on) and one nginx (sections
"upstream-tcp" and "location" of config/nginx-fastcgi.conf: an upstream with keepalive,
fastcgi_keep_conn on), each with one listening port per backend. The sections are rendered
by tests/frontends/harness.py from the snippet files users copy, so what is measured is
what users run (Apache with Debian's default event MPM sizes, nginx with one worker).
Backends and front-ends are all on the server core, wrk on the other; the CPU column is
backend + front-end.

lighttpd opens a new FastCGI connection per request (it never reuses them), so its table
measures connection set-up + one request; Apache and nginx keep connections open
(KEEP_CONN). Needs wrk, lighttpd, apache2, nginx (Debian packages; nginx-light will do).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import _harness as h
from _servers import rendered

sys.path.insert(0, str(h.REPO))
from tests.frontends import harness as fe  # the config rendering the tests use

PATH = fe.PREFIX + "/Objects/obj/root.json"
BACKENDS = ("trioserve", "flup")
#: flup's thread pool behind reused connections, Apache's and nginx's (its default
#: starves there: each held connection holds one of its threads)
FLUP_SPARE_BEHIND_REUSE = 200
#: the front-ends that keep FastCGI connections open between requests
REUSING = ("apache", "nginx")
FRONTS = {  # name -> (binary, title, snippet section, goal)
    "lighttpd": ("lighttpd", "P3 lighttpd → FastCGI", "fastcgi-tcp", "trioserve ÷ flup ≥ 2"),
    "apache": (
        "apache2",
        "P3 Apache → FastCGI (mod_proxy_fcgi, enablereuse=on)",
        "proxy",
        "trioserve ÷ flup ≥ 2",
    ),
    "nginx": (
        "nginx",
        "P3 nginx → FastCGI (upstream keepalive, fastcgi_keep_conn on)",
        "location",
        "trioserve ÷ flup ≥ 2",
    ),
}
SNIPPETS = {
    "lighttpd": fe.LIGHTTPD_SNIPPETS,
    "apache": fe.APACHE_SNIPPETS,
    "nginx": fe.NGINX_SNIPPETS,
}


def start_front(name: str, work: Path, ports: dict[str, int]) -> fe.FrontEnd:
    binary = h.tool(FRONTS[name][0])
    section = FRONTS[name][2]
    with h.on_server_core():  # the front-end and every child it forks
        if name == "lighttpd":
            hosts = {
                kind: [(section, {"PREFIX": fe.PREFIX, "HOST": "127.0.0.1", "PORT": port})]
                for kind, port in ports.items()
            }
            return fe.lighttpd(work / name, binary, hosts)
        if name == "nginx":
            common = {"PREFIX": fe.PREFIX, "PREFIX_RE": fe.PREFIX_RE}
            servers = {
                kind: [
                    ("upstream-tcp", {"UPSTREAM": kind, "HOST": "127.0.0.1", "PORT": port}),
                    (section, {**common, "UPSTREAM": kind}),
                ]
                for kind, port in ports.items()
            }
            return fe.nginx(work / name, binary, fe.nginx_params_file(binary), servers)
        vhosts = {
            kind: [(section, {"PREFIX": fe.PREFIX, "BACKEND": f"fcgi://127.0.0.1:{port}/"})]
            for kind, port in ports.items()
        }
        # Debian's MPM sizes: the tests' 50 workers are all busy at c=50, and Apache then
        # drops keep-alive connections (wrk read errors, for either backend)
        return fe.apache(work / name, binary, vhosts, mpm=fe.DEBIAN_MPM)


def bench_front(
    args: argparse.Namespace, name: str, work: Path, backends: dict[str, h.Process]
) -> None:
    binary, title, section, goal = FRONTS[name]
    title = f"{title}, wrk -t1 -c{args.connections}"
    missing = h.require(binary)
    rows = [h.Row(kind, backends[kind].command) for kind in BACKENDS]
    if missing:
        for row in rows:
            row.missing = f"{binary} is not installed (apt-get install {binary})"
        h.print_table(title, rows, subject="trioserve", versus="flup", goal=goal)
        return
    front = start_front(name, work, {kind: backends[kind].port for kind in BACKENDS})
    try:
        front_proc = h.Process(name, front.argv, front.proc)
        for row in rows:
            body = h.get(f"http://127.0.0.1:{front.ports[row.name]}{PATH}")
            if body != rendered():
                row.missing = f"answers other bytes through {name}: {body[:80]!r}"

        def argv(row: h.Row, seconds: float) -> list[str]:
            url = f"http://127.0.0.1:{front.ports[row.name]}{PATH}"
            return h.wrk_argv(url, seconds, args.connections)

        #: µs of CPU per request of the backend process alone, per run: the part of the
        #: table's "µs CPU/req" (backend + front-end on one core) the backend is answerable for
        own: dict[str, list[float]] = {kind: [] for kind in BACKENDS}

        def one(row: h.Row) -> h.Result:
            row.load = " ".join(h.pinned(argv(row, args.duration), h.LOAD_CORE))
            servers = [backends[row.name], front_proc]
            before = backends[row.name].cpu_seconds()
            result = h.wrk(argv(row, args.duration), servers, args.duration)
            spent = backends[row.name].cpu_seconds() - before
            if result.rate:
                own[row.name].append(spent * 1e6 / (result.rate * args.duration))
            return result

        def warmup(row: h.Row) -> None:
            if args.warmup > 0:
                h.wrk(argv(row, args.warmup), (), args.warmup)

        h.measure_interleaved(rows, args.runs, one, warmup)
        split = _split_line(rows, own)
        snippets = SNIPPETS[name].name
        used = (
            f"sections 'upstream-tcp' + {section!r}" if name == "nginx" else f"section {section!r}"
        )
        h.print_table(
            title,
            rows,
            subject="trioserve",
            versus="flup",
            goal=goal,
            notes=[
                f"front-end ({h.FRONT_PINNING}): {' '.join(front.argv)}",
                f"  config: {used} of config/{snippets}, one port per backend"
                + (", Debian's default event MPM sizes" if name == "apache" else "")
                + (", one worker process" if name == "nginx" else ""),
                *split,
            ],
        )
    finally:
        front.stop()


def _split_line(rows: list[h.Row], own: dict[str, list[float]]) -> list[str]:
    """The backends' own µs of CPU per request (median over the runs), and what the
    front-end took of each request on the same core: the end-to-end ratio cannot exceed
    (front-end + flup) / front-end however cheap the backend gets."""
    mine, peer = own.get("trioserve") or [], own.get("flup") or []
    results = {row.name: row.result for row in rows}
    if not mine or not peer or results.get("trioserve") is None:
        return []
    me, them = statistics.median(mine), statistics.median(peer)
    total = results["trioserve"]
    front = total.cpu * 1e6 / total.rate - me if total and total.rate else float("nan")
    return [
        f"backend alone, µs CPU per request: trioserve {me:,.0f}, flup {them:,.0f} "
        f"(flup ÷ trioserve {them / me:.2f}); the front-end's share of a request on the same "
        f"core: {front:,.0f} µs, so the end-to-end ratio is at most "
        f"{(front + them) / front:.2f} even for a backend that costs nothing"
    ]


def main() -> int:
    parser = h.arguments(__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--fronts", default="lighttpd,apache,nginx")
    args = parser.parse_args()
    if h.require("wrk"):
        print("wrk is not installed (apt-get install wrk)")
        return 2
    fronts = [f.strip() for f in args.fronts.split(",") if f.strip()]
    unknown = set(fronts) - set(FRONTS)
    if unknown:
        parser.error(f"unknown front-ends {sorted(unknown)}; choose from {sorted(FRONTS)}")
    h.begin("FastCGI behind real front-ends: trioserve and flup", args)
    # short (unix socket paths), and reachable by Apache's www-data children
    work = Path(tempfile.mkdtemp(prefix="tsbench-", dir="/tmp"))
    work.chmod(0o755)
    with h.running([]) as started:
        try:
            for name in fronts:
                # fresh backends per front-end: flup's pool is sized for the front-end's way
                # of using connections (see fcgi_backends.py)
                backends: dict[str, h.Process] = {}
                for kind in BACKENDS:
                    port = h.free_port()
                    argv = [h.PYTHON, str(h.HERE / "fcgi_backends.py"), kind, str(port)]
                    if kind == "flup" and name in REUSING:
                        argv.append(str(FLUP_SPARE_BEHIND_REUSE))
                    proc = h.start(kind, argv, port=port, ready_line=True, cwd=h.HERE)
                    started.append(proc)
                    backends[kind] = proc
                bench_front(args, name, work, backends)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
