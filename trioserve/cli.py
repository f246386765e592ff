"""The ``trioserve`` command: ``demo`` (a live object tree) and ``htdigest`` (password files)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import trio

__all__ = ["main"]


async def _run_demo(spec: str, quiet: bool, jsroot: str | None = None) -> None:
    from trioserve.demo import build_demo, update_forever
    from trioserve.server import Server

    server = Server(top_name="demo")
    demo = build_demo(server)
    if jsroot:
        server.set_jsroot(jsroot)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        nursery.start_soon(update_forever, demo)
        await nursery.start(server.serve, spec)
        for spec_obj, address in server.engines:
            if isinstance(address, tuple):
                host, port = address[0], address[1]
                base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
                print(f"trioserve demo serving {spec_obj.kind} on {base}/", flush=True)
                if not quiet:
                    print(f"  browse:     {base}/", flush=True)
                    print(f"  hierarchy:  {base}/h.json", flush=True)
                    print(f"  histogram:  {base}/Objects/hists/hpx/root.json", flush=True)
                    print(
                        f"  a member:   {base}/Objects/config/settings/gain/root.json", flush=True
                    )
            else:
                print(f"trioserve demo serving {spec_obj.kind} on {address}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    # Ctrl-C and SIGTERM cancel the server's scope: the one shutdown path, which closes
    # listeners, ends connections and removes unix socket files.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            print(f"stopping on {signal.Signals(signum).name}", file=sys.stderr, flush=True)
            scope.cancel()
            return


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["htdigest"]:
        # its options (-c, --password-stdin...) belong to it: argparse's REMAINDER would
        # reject them before the sub-command could see them
        from trioserve.auth.htdigest import main as htdigest_main

        return htdigest_main(argv[1:])
    parser = argparse.ArgumentParser(prog="trioserve", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="serve a live demo object tree")
    demo.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    demo.add_argument(
        "--spec",
        action="append",
        default=[],
        help="extra engine spec, e.g. socket:/tmp/demo.socket or fastcgi:9000",
    )
    demo.add_argument(
        "--jsroot",
        metavar="DIR",
        help="a JSROOT distribution (e.g. npm's jsroot package) for /jsroot.htm",
    )
    demo.add_argument("-q", "--quiet", action="store_true")
    sub.add_parser(
        "htdigest", help="create or update a digest password file (trioserve htdigest --help)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    host = f"[{args.host}]" if ":" in args.host else args.host
    spec = ";".join([f"http:{host}:{args.port}", *args.spec])
    try:
        trio.run(_run_demo, spec, args.quiet, args.jsroot)
    except OSError as exc:
        print(f"trioserve: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
