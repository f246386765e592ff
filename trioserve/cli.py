"""The trioserve command: serve (your program's objects), demo (a live object tree), htdigest
(password files) and token (access tokens). Every failure to start is one line on stderr and
exit status 2."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from typing import Any

import trio

from trioserve._version import __version__
from trioserve.errors import BindError, ConfigError, StartupError
from trioserve.startup import BUSY_PORT_ADVICE, describe_engine

__all__ = ["main"]

#: exit status of a server that could not start (argparse uses 2 for usage errors, too)
EXIT_CANNOT_START = 2


#: how long the link ``trioserve demo --token`` prints stays valid
DEMO_TOKEN_LIFETIME = 24 * 3600


async def _run_demo(spec: str, quiet: bool, jsroot: str | None = None, token: bool = False) -> None:
    from trioserve.config import ServeConfig
    from trioserve.demo import build_demo, update_forever
    from trioserve.launch import apply_settings, stop_on_signal
    from trioserve.server import Server

    server = Server(top_name="demo")
    demo = build_demo(server)
    if jsroot:
        apply_settings(server, ServeConfig(jsroot=jsroot, sources={"jsroot": "--jsroot"}))
    secret = None
    if token:
        # the way Jupyter hands out its first link: nothing for anonymous requests, the
        # whole tree for whoever holds the printed URL
        server.restrict("/", "hidden=anonymous")
        secret = server.create_token("demo", lifetime=DEMO_TOKEN_LIFETIME)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_on_signal, nursery.cancel_scope)
        nursery.start_soon(update_forever, demo)
        await nursery.start(server.serve, spec)
        for spec_obj, address in server.engines:
            where = describe_engine(spec_obj.kind, address)
            print(f"trioserve demo serving {spec_obj.kind} on {where}", flush=True)
            if quiet or not where.startswith(("http://", "https://")):
                continue
            base = where.rstrip("/")
            if secret is not None:
                print(f"  with token: {base}/?token={secret}", flush=True)
                continue
            print(f"  browse:     {base}/", flush=True)
            print(f"  hierarchy:  {base}/h.json", flush=True)
            print(f"  histogram:  {base}/Objects/hists/hpx/root.json", flush=True)
            print(f"  a member:   {base}/Objects/config/settings/gain/root.json", flush=True)
        print("Press Ctrl-C to stop.", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trioserve", description=__doc__)
    parser.add_argument("--version", action="version", version=f"trioserve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve the objects of your program (module:attribute)",
        description="Serve the objects your program registers on a trioserve Server. APP is "
        "module:attribute, imported with the current directory on the import path: a Server, "
        "a function that takes one (plain or async), or an async function with a task_status "
        "parameter that runs your program's own loop. Options given here override the "
        "config file's keys. Full reference: docs/cli.md.",
    )
    serve.add_argument("app", nargs="?", metavar="APP", help="module:attribute, e.g. myapp:build")
    serve.add_argument(
        "--spec",
        action="append",
        metavar="SPEC",
        help="an engine, repeatable (default http:127.0.0.1:8080): http:8080, "
        "socket:/run/app.sock, fastcgi:127.0.0.1:9000; replaces the config's engines",
    )
    serve.add_argument("--config", metavar="FILE", help="a TOML file (keys: docs/cli.md)")
    serve.add_argument(
        "--check",
        action="store_true",
        help="check the config, the engines and the APP (it is built, nothing is bound), "
        "print one ok line and exit",
    )
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument(
        "--readonly",
        dest="readonly",
        action="store_const",
        const=True,
        help="refuse method calls (exe.json) unless a restrict rule allows them (the default)",
    )
    mode.add_argument(
        "--rw", dest="readonly", action="store_const", const=False, help="allow method calls"
    )
    serve.add_argument("--top", metavar="NAME", help="the name of the top folder")
    serve.add_argument(
        "--cors", metavar="ORIGIN", help="answer cross-origin requests from ORIGIN (or *)"
    )
    serve.add_argument(
        "--jsroot", metavar="DIR", help="a JSROOT distribution (npm's jsroot) for /jsroot.htm"
    )
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="what the log shows (default info)",
    )

    demo = sub.add_parser(
        "demo",
        help="serve a live demo object tree",
        description="Serve a live demo object tree that changes ten times a second.",
    )
    demo.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    demo.add_argument(
        "--spec",
        action="append",
        default=[],
        metavar="SPEC",
        help="an extra engine, e.g. socket:/tmp/demo.socket or fastcgi:9000",
    )
    demo.add_argument(
        "--jsroot",
        metavar="DIR",
        help="a JSROOT distribution (e.g. npm's jsroot package) for /jsroot.htm",
    )
    demo.add_argument(
        "--token",
        action="store_true",
        help="hide the tree from anonymous requests and print a URL carrying a 24 h token",
    )
    demo.add_argument("-q", "--quiet", action="store_true", help="print only the URL")
    sub.add_parser(
        "htdigest",
        help="create or update a digest password file (trioserve htdigest --help)",
        add_help=False,
    )
    sub.add_parser(
        "token",
        help="mint or revoke an access token (trioserve token --help)",
        add_help=False,
    )
    return parser


def _cannot_start(exc: BaseException, port_option: str) -> int:
    """Print the one line for ``exc`` and return the exit status."""
    if isinstance(exc, BindError) and exc.errno == errno.EADDRINUSE and "port" in exc.advice:
        message = f"{exc.problem}: {BUSY_PORT_ADVICE} with {port_option}"
    else:
        message = str(exc)
    print(f"trioserve: cannot start: {message}", file=sys.stderr, flush=True)
    return EXIT_CANNOT_START


def _single(exc: BaseException) -> BaseException:
    """The one error inside nested single-member exception groups (Trio's nurseries)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run(port_option: str, fn: Any, *args: Any) -> int:
    try:
        trio.run(fn, *args)
    except (StartupError, ConfigError) as exc:
        return _cannot_start(exc, port_option)
    except BaseExceptionGroup as group:
        inner = _single(group)
        if isinstance(inner, StartupError | ConfigError):
            return _cannot_start(inner, port_option)
        raise
    return 0


def _serve(args: argparse.Namespace) -> int:
    from trioserve.config import ServeConfig, read_config
    from trioserve.launch import with_overrides

    try:
        config = read_config(args.config) if args.config else ServeConfig()
    except ConfigError as exc:
        return _cannot_start(exc, "--spec")
    config = with_overrides(
        config,
        app=(args.app, "APP"),
        engines=(tuple(args.spec) if args.spec else None, "--spec"),
        readonly=(args.readonly, "--readonly/--rw"),
        top_name=(args.top, "--top"),
        cors=(args.cors, "--cors"),
        jsroot=(args.jsroot and os.path.abspath(args.jsroot), "--jsroot"),
        log_level=(args.log_level, "--log-level"),
    )
    _configure_logging(config.log_level or "info")
    return _run("--spec", _serve_main, config, args.check)


async def _serve_main(config: Any, check: bool) -> None:
    from trioserve.launch import serve_app

    def out(line: str) -> None:
        print(line, flush=True)

    await serve_app(config, check=check, out=out)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()), format="%(asctime)s %(name)s %(message)s"
    )


def _demo(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return _cannot_start(
            StartupError(
                f"--port {args.port} is out of range: use 1 to 65535 (0 picks a free port)"
            ),
            "--port",
        )
    from trioserve.config import ServeConfig
    from trioserve.launch import preflight

    host = f"[{args.host}]" if ":" in args.host else args.host
    specs = [f"http:{host}:{args.port}", *args.spec]
    try:
        preflight(specs, ServeConfig(sources={"engines": "--spec"}))
    except StartupError as exc:
        return _cannot_start(exc, "--port")
    _configure_logging("info")
    return _run("--port", _run_demo, ";".join(specs), args.quiet, args.jsroot, args.token)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["htdigest"]:
        # its options (-c, --password-stdin...) belong to it: argparse's REMAINDER would
        # reject them before the sub-command could see them
        from trioserve.auth.htdigest import main as htdigest_main

        return htdigest_main(argv[1:])
    if argv[:1] == ["token"]:
        from trioserve.auth._token_cli import main as token_main

        return token_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
