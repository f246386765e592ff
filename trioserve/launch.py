"""``trioserve serve``: from an APP import string and a :class:`ServeConfig` to a running server.

The APP is ``module:attribute``, imported with the current directory first on the import path
(as uvicorn and hypercorn do). The attribute is one of:

* a :class:`~trioserve.Server`: served as it is;
* ``def build(server)``: called with a new Server before any engine starts, registers objects;
  a returned awaitable (``async def build(server)``) is awaited there too;
* ``async def run(server, *, task_status=trio.TASK_STATUS_IGNORED)``: the program's own task.
  It is started with ``nursery.start`` in the nursery that also runs the server: it registers
  its objects, calls ``task_status.started()``, then runs its loop (a DAQ loop, or a thread it
  waits on) until Ctrl-C or SIGTERM cancels everything. The engines start only after
  ``started()``, so the first request already sees every object.

The settings of the config file and the command line are applied *after* the APP built its
server, so a deployment overrides what the code chose. Everything that stops the start is a
:class:`~trioserve.errors.StartupError` whose message names the option or the key, so the
command prints one line; a failure of the program's task after the start is its own bug and
keeps its traceback.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import trio

from trioserve.config import ServeConfig
from trioserve.errors import ConfigError, StartupError
from trioserve.server import Server
from trioserve.spec import ENGINE_OPTIONS, EngineSpec, parse_engine_spec
from trioserve.startup import bind_error, describe_engine, engine_name

__all__ = ["DEFAULT_ENGINE", "Launch", "engine_specs", "load_app", "serve_app", "stop_on_signal"]

log = logging.getLogger("trioserve.cli")

DEFAULT_ENGINE = "http:127.0.0.1:8080"


async def stop_on_signal(scope: trio.CancelScope) -> None:
    """Ctrl-C and SIGTERM cancel ``scope``: the one shutdown path, which closes listeners,
    ends connections and removes unix socket files."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            print(f"stopping on {signal.Signals(signum).name}", file=sys.stderr, flush=True)
            scope.cancel()
            return


# -- the APP --------------------------------------------------------------------------------
def load_app(text: str, source: str = "APP") -> Any:
    """Import ``module:attribute`` (dots allowed on both sides) with the current directory
    first on ``sys.path``; every failure is a :class:`StartupError` naming ``source``."""
    module_name, sep, attr_path = text.partition(":")
    if not sep or not module_name or not attr_path:
        raise StartupError(
            f"{source} {text!r} is not an import string: write module:attribute, "
            "e.g. mymodule:build"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise StartupError(
                f"{source} {text!r}: no module named {exc.name!r}: run trioserve from the "
                "folder that holds it, or fix the name"
            ) from exc
        raise StartupError(f"{source} {text!r}: importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:
        log.debug("importing %s raised", module_name, exc_info=exc)
        raise StartupError(
            f"{source} {text!r}: importing {module_name!r} raised "
            f"{type(exc).__name__}: {exc} (--log-level debug shows the traceback)"
        ) from exc
    value: Any = module
    for part in attr_path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise StartupError(
                f"{source} {text!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    if not isinstance(value, Server) and not callable(value):
        raise StartupError(
            f"{source} {text!r} is a {type(value).__name__}, not a trioserve.Server or a "
            "function that takes one"
        )
    return value


def _takes_task_status(fn: Callable[..., Any]) -> bool:
    try:
        return "task_status" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or C callable: called plainly
        return False


@dataclass
class Launch:
    """What ``serve`` runs: the config, the APP's text and where it came from."""

    config: ServeConfig

    @property
    def app_source(self) -> str:
        return self.config.source("app") if "app" in self.config.sources else "APP"

    async def build(self, app: Any, nursery: trio.Nursery) -> Server:
        """The APP's server, with the config's settings applied on top."""
        source = f"{self.app_source} {self.config.app!r}"
        if isinstance(app, Server):
            server = app
        else:
            server = Server()
            try:
                if _takes_task_status(app):
                    await nursery.start(app, server)
                else:
                    result = app(server)
                    if inspect.isawaitable(result):
                        await result
            except StartupError:
                raise
            except RuntimeError as exc:
                if "without calling task_status.started()" in str(exc):
                    raise StartupError(
                        f"{source} returned before calling task_status.started(): call it "
                        "once its objects are registered, then run its loop"
                    ) from exc
                raise _factory_error(source, exc) from exc
            except Exception as exc:
                raise _factory_error(source, exc) from exc
        apply_settings(server, self.config)
        return server


def _factory_error(source: str, exc: BaseException) -> StartupError:
    log.debug("%s raised", source, exc_info=exc)
    return StartupError(
        f"{source} raised {type(exc).__name__}: {exc} (--log-level debug shows the traceback)"
    )


# -- settings and engines -------------------------------------------------------------------
def apply_settings(server: Server, config: ServeConfig) -> None:
    """Set what the config and the command line gave; each error names its key or option."""
    if config.top_name is not None:
        server.set_top_name(config.top_name)
    if config.readonly is not None:
        server.set_readonly(config.readonly)
    if config.cors is not None:
        server.cors = config.cors
    if config.cors_credentials is not None:
        server.cors_credentials = config.cors_credentials
    if config.max_age is not None:
        server.max_age = config.max_age
    if config.nocache is not None:
        server.nocache = config.nocache
    if config.default_page is not None:
        if not os.path.isfile(config.default_page):
            raise StartupError(
                f"{config.source('default_page')}: the file {config.default_page!r} does not "
                "exist: give an HTML file"
            )
        server.set_default_page(config.default_page)
    if config.jsroot is not None:
        source = config.source("jsroot")
        if not os.path.isdir(config.jsroot):
            raise StartupError(
                f"{source}: the directory {config.jsroot!r} does not exist: give the folder "
                "of a JSROOT distribution, e.g. node_modules/jsroot after npm install jsroot"
            )
        _configure(source, server.set_jsroot, config.jsroot)
    for path, options in config.restrict:
        _configure(f"{config.source('restrict')} {path!r}", server.restrict, path, options)
    for location in config.locations:
        source = f"{config.source('locations')} {location.prefix!r}"
        if not os.path.isdir(location.directory):
            raise StartupError(
                f"{source}: the directory {location.directory!r} does not exist: create it or "
                "fix the path (relative paths start at the config file's folder)"
            )
        _configure(
            source, server.add_location, location.prefix, location.directory, **location.options
        )


def _configure(source: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except ConfigError as exc:
        raise StartupError(f"{source}: {exc}") from exc


def engine_specs(config: ServeConfig) -> list[str]:
    """The engine spec strings to serve: the config's or ``--spec``'s (else
    :data:`DEFAULT_ENGINE`), with ``[auth]``, ``[limits]`` and ``log.access`` added as options
    to each engine that takes them and does not set them itself."""
    texts = list(config.engines or (DEFAULT_ENGINE,))
    result: list[str] = []
    for text in texts:
        spec = _parse(text, config)
        extra: dict[str, str] = {}
        http_like = spec.kind in ("http", "socket", "https")
        if config.auth is not None and http_like and "auth_file" not in spec.options:
            extra["auth_file"] = config.auth.file
            extra["auth_domain"] = config.auth.realm
            if config.auth.secret_file is not None:
                extra["auth_secret_file"] = config.auth.secret_file
        for name, value in config.limits.items():
            if name in ENGINE_OPTIONS[spec.kind] and name not in spec.options:
                extra[name] = str(value)
        if config.access_log is not None and "log" not in spec.options:
            extra["log"] = config.access_log
        if extra:
            joined = "&".join(f"{name}={value}" for name, value in extra.items())
            text = f"{text}{'&' if '?' in text else '?'}{joined}"
        result.append(text)
    return result


def _parse(text: str, config: ServeConfig) -> EngineSpec:
    try:
        return parse_engine_spec(text)
    except StartupError as exc:
        raise StartupError(f"{config.source('engines')}: {exc}") from exc


def preflight(texts: list[str], config: ServeConfig) -> list[EngineSpec]:
    """What can be checked without binding: options, password files, socket folders."""
    from trioserve.engines._fcgi_options import FastcgiOptions
    from trioserve.engines._http_options import HttpOptions

    specs: list[EngineSpec] = []
    for text in texts:
        spec = _parse(text, config)
        if spec.kind == "fastcgi":
            FastcgiOptions.from_spec(spec)
        else:
            HttpOptions.from_spec(spec)
        auth_file = spec.options.get("auth_file")
        if auth_file and not os.path.isfile(auth_file):
            from_config = config.auth is not None and auth_file == config.auth.file
            source = config.source("auth") if from_config else engine_name(spec)
            realm = spec.options.get("auth_domain") or "REALM"
            raise StartupError(
                f"{source}: the password file {auth_file!r} does not exist: create it with "
                f"trioserve htdigest -c {auth_file} {realm} USER"
            )
        if spec.path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(spec.path))):
            raise bind_error(spec, FileNotFoundError(errno.ENOENT, "no such directory"))
        specs.append(spec)
    return specs


# -- the program ------------------------------------------------------------------------------
async def serve_app(
    config: ServeConfig, *, check: bool = False, out: Callable[[str], None] = print
) -> None:
    """Check everything, build the server and serve until Ctrl-C/SIGTERM (or, with
    ``check``, stop before binding and print one ``ok`` line)."""
    if config.app is None:
        raise StartupError("no APP: give one (trioserve serve mymodule:build) or app= in --config")
    texts = engine_specs(config)
    preflight(texts, config)
    launch = Launch(config)
    app = load_app(config.app, launch.app_source)
    failure: StartupError | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_on_signal, nursery.cancel_scope)
        try:
            server = await launch.build(app, nursery)
            if check:
                engines = ", ".join(config.engines or (DEFAULT_ENGINE,))
                out(f"trioserve: ok: {config.app} builds, engines {engines}")
                nursery.cancel_scope.cancel()
                return
            await nursery.start(server.serve, ";".join(texts))
        except StartupError as exc:
            failure = exc
            nursery.cancel_scope.cancel()
        else:
            for spec, address in server.engines:
                out(f"trioserve serving {spec.kind} on {describe_engine(spec.kind, address)}")
            out("Press Ctrl-C to stop.")
    if failure is not None:
        raise failure


def with_overrides(config: ServeConfig, **given: Any) -> ServeConfig:
    """``config`` with the command line's options (those not ``None``) put over it;
    ``given`` maps a field to ``(value, "--option")``."""
    values = {name: value for name, (value, _) in given.items() if value is not None}
    sources = dict(config.sources)
    sources.update({name: option for name, (value, option) in given.items() if value is not None})
    return replace(config, **values, sources=sources)
