"""The :class:`Server`: one object tree, one policy, one dispatcher, any number of engines.

Everything runs inside one Trio nursery owned by :meth:`Server.serve`; each engine is a task
started with ``nursery.start`` so a bind failure raises to the caller before ``serve`` reports
itself started, and cancelling the surrounding scope is the one way to stop (engines close
their listeners, connections end, unix socket files are removed).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from trioserve._version import __version__
from trioserve.appthread import AppThreadAccess, DirectAccess, ObjectAccess
from trioserve.context import MissedRequestHook
from trioserve.engines import ENGINE_ENTRY_POINTS
from trioserve.engines.base import EngineContext
from trioserve.errors import (
    BindError,
    ConfigError,
    RegistrationError,
    SpecError,
    StartupError,
    TrioserveError,
)
from trioserve.spec import EngineSpec, parse_engine_spec, parse_server_string
from trioserve.startup import bind_error, describe_engine, engine_name
from trioserve.tree import Node, Tree, normalize_api_path

if TYPE_CHECKING:
    from trioserve.auth.tokens import TokenAuthority

__all__ = ["MissedRequestHook", "Server"]

log = logging.getLogger("trioserve.server")


class Server:
    """A web face for a running program.

    ``spec`` may carry server options ROOT-style (``"http:8080;rw;cors"``); engines named in
    it are started by :meth:`serve` when that is given no spec of its own.
    """

    def __init__(
        self,
        spec: str | None = None,
        *,
        top_name: str = "trioserve",
        readonly: bool = True,
        cors: str | None = None,
        cors_credentials: str | None = None,
        access: ObjectAccess | None = None,
        exe_workers: int = 4,
    ) -> None:
        from trioserve.dispatch import Dispatcher
        from trioserve.files import Locations
        from trioserve.policy import Policy

        self.tree = Tree(title="trioserve")
        self.top_name = top_name
        self.cors = cors
        self.cors_credentials = cors_credentials
        self.policy = Policy(readonly=readonly)
        self.locations = Locations()
        self.access: ObjectAccess = access or DirectAccess(exe_workers)
        self.missed_request: MissedRequestHook | None = None
        self.default_page: str | None = None
        self.max_age = 3600
        self.nocache = False
        self.dispatcher = Dispatcher(self)
        self._spec_engines: list[EngineSpec] = []
        self._nursery: trio.Nursery | None = None
        self.engines: list[tuple[EngineSpec, Any]] = []
        if spec:
            self._spec_engines = self._apply_server_string(spec)

    # -- configuration --------------------------------------------------------------
    def _apply_server_string(self, spec: str) -> list[EngineSpec]:
        parsed = parse_server_string(spec)
        if parsed.readonly is not None:
            self.set_readonly(parsed.readonly)
        if parsed.cors is not None:
            self.cors = parsed.cors
        return parsed.engines

    def set_readonly(self, readonly: bool = True) -> None:
        """Read-only (the default) refuses ``exe.*`` unless a restriction allows it."""
        self.policy.readonly = readonly

    @property
    def readonly(self) -> bool:
        return bool(self.policy.readonly)

    def set_top_name(self, name: str) -> None:
        self.top_name = name

    def set_cors(self, origin: str | None = "*", credentials: str | None = None) -> None:
        self.cors = origin
        self.cors_credentials = credentials

    # -- the tree -------------------------------------------------------------------
    def register(
        self, folder: str, obj: Any, name: str | None = None, title: str | None = None
    ) -> str:
        """Make ``obj`` reachable at ``folder/name``; returns the item's full path.

        A folder without a leading ``/`` lives under ``/Objects/`` (as in ROOT).
        """
        node = self.tree.register(folder, obj, name=name, title=title)
        hook = getattr(obj, "_trioserve_registered", None)
        if callable(hook):
            hook(self, node.path())
        return node.path()

    def unregister(self, obj: Any) -> bool:
        return self.tree.unregister(obj) > 0

    def _node(self, path: str) -> Node:
        node = self.tree.find(path)
        if node is None:
            raise RegistrationError(f"no item at {path!r}")
        return node

    def hide(self, path: str, hide: bool = True) -> None:
        """A UI hint (``_hidden``): the browser tree does not show it; it stays reachable.
        To really hide an item from users, use :meth:`restrict` with ``hidden=``."""
        self.tree.set_field(path, "_hidden", "true" if hide else None)

    def set_icon(self, path: str, icon: str) -> None:
        self.tree.set_field(path, "_icon", icon)

    def set_item_field(self, path: str, name: str, value: str | None) -> None:
        """Set (or, with ``None``, delete) an item field; ``"/"`` is the top node."""
        self.tree.set_field(path, name, value)

    def get_item_field(self, path: str, name: str) -> str | None:
        return self.tree.get_field(path, name)

    def create_item(self, path: str, title: str | None = None) -> str:
        return self.tree.create_folder(path, title).path()

    def restrict(self, path: str, options: str) -> None:
        """Per-item access rules, ROOT's grammar (see :mod:`trioserve.policy`).

        ``path`` follows the registration rule: relative paths live under ``/Objects/``;
        ROOT's ``*/name`` wildcard is passed through.
        """
        if not path.startswith(("/", "*/")):
            path = "/" + "/".join(normalize_api_path(path))
        self.policy.restrict(path, options)

    # -- access tokens (trioserve.auth.tokens) ---------------------------------------
    @property
    def tokens(self) -> TokenAuthority:
        """The authority that mints and judges this server's access tokens: made on first
        use with a random secret (tokens then live as long as this process), or with the
        secret of :meth:`set_token_secret`."""
        authority: TokenAuthority | None = getattr(self, "_tokens", None)
        if authority is None:
            from trioserve.auth.tokens import TokenAuthority

            authority = TokenAuthority(on_scoped=self._judge_every_request)
            self._tokens = authority
        return authority

    def _judge_every_request(self) -> None:
        # a scoped token arrived: the policy's no-rule fast paths must not skip it
        self.policy.scoped = True

    def set_token_secret(self, path: str | os.PathLike[str]) -> None:
        """Sign and check tokens with the secret in ``path`` (created if missing; the file
        ``auth_secret_file=`` uses may be the same one), so tokens outlive a restart and work
        on every process that reads it; revocations are kept in ``<path>.revoked``."""
        from trioserve.auth.secret_file import SecretFileError

        try:
            self.tokens.use_secret_file(path)
        except SecretFileError as exc:
            raise ConfigError(str(exc)) from None

    def create_token(
        self, user: str, *, lifetime: float, paths: str | list[str] | None = None
    ) -> str:
        """A token that acts as ``user`` -- under every restriction that applies to that
        user -- limited to the subtrees ``paths`` (``None``: the whole tree), for
        ``lifetime`` seconds. Clients send it as ``?token=`` or ``Authorization: Bearer``.
        Relative paths live under ``/Objects/``, as in :meth:`restrict`."""
        if isinstance(paths, str):
            paths = [paths]
        if paths is not None:
            paths = [
                p if p.startswith("/") else "/" + "/".join(normalize_api_path(p)) for p in paths
            ]
        try:
            return self.tokens.mint(user, lifetime=lifetime, paths=paths)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def revoke_token(self, token: str) -> None:
        """End ``token`` now (kept in ``<secret file>.revoked`` when there is a secret
        file, so it stays ended after a restart and on the processes sharing the file)."""
        try:
            self.tokens.revoke(token)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def set_allow_post_objects(self, allow: bool = True) -> None:
        """Let ``exe.*`` take an argument from the POST body (``name=_post_object_json_``).
        Off by default: decoding what a remote user posts is attack surface."""
        self.policy.allow_post_objects = bool(allow)

    def register_command(
        self,
        path: str,
        fn: Callable[..., Any],
        *,
        icon: str | None = None,
        button: bool = False,
        title: str | None = None,
        update_item: str | list[str] | None = None,
        hreload: bool = False,
    ) -> str:
        """Expose ``fn`` as a command at ``path`` (``cmd.json``); returns the item's path.

        CAUTION: a command lets remote users trigger code in your program. Register only
        functions whose every parameter is safe to receive from anyone who may run it, and
        restrict who may: ``server.restrict(path, "allow=admin")`` plus authentication.
        ``fn`` must be a Python callable whose parameters all carry type annotations a URL can
        produce (checked now, see :func:`trioserve.commands.validate_command`); strings of
        code, ``eval``/``os.system``-like callables and ``*args``/``**kwargs`` are refused.
        ``button=True`` (or ROOT's ``icon="button;..."``) shows it as a toolbar button;
        ``update_item`` (items to refresh) and ``hreload`` (reload the tree) act after success.
        """
        from trioserve.commands import command_fields, validate_command

        params = validate_command(fn)
        fields = command_fields(
            params, icon=icon, button=button, update_item=update_item, hreload=hreload
        )
        name = path.rstrip("/").rsplit("/", 1)[-1]
        node = self.tree.register_command(
            path, fn, fields=fields, title=title if title is not None else f"command {name}"
        )
        return node.path()

    def add_location(self, prefix: str, directory: str | os.PathLike[str], **options: Any) -> None:
        """Serve files of ``directory`` under ``/<prefix>`` (``prefix`` ends with ``/``)."""
        self.locations.add(prefix, Path(directory), **options)

    def remove_location(self, prefix: str) -> None:
        self.locations.remove(prefix)

    def set_default_page(self, path: str | os.PathLike[str] | None = None) -> None:
        """Serve this HTML file at ``/`` (and ``index.htm``) instead of the built-in page;
        ``"$$$h.json$$$"`` in it (quotes included) is replaced by the hierarchy, as in ROOT.
        ``None`` restores the built-in page."""
        self.default_page = os.fspath(path) if path is not None else None

    def set_jsroot(
        self, directory: str | os.PathLike[str], *, follow_symlinks: bool = False
    ) -> Path:
        """Serve a JSROOT distribution (e.g. npm's ``jsroot`` package) at ``jsrootsys/`` and
        enable JSROOT's own page at ``jsroot.htm`` (``/?jsroot`` redirects there)."""
        from trioserve.requests.jsroot import enable_jsroot

        return enable_jsroot(self, directory, follow_symlinks=follow_symlinks)

    def on_missed_request(self, hook: MissedRequestHook | None) -> MissedRequestHook | None:
        """Install ROOT's ``MissedRequest`` hook (usable as a decorator)."""
        self.missed_request = hook
        return hook

    def process_requests(self, max_calls: int | None = None) -> int:
        """Run queued requests in the calling thread (``sync="app"`` mode); see
        :class:`trioserve.appthread.AppThreadAccess`."""
        if isinstance(self.access, AppThreadAccess):
            return self.access.process_requests(max_calls)
        return 0

    # -- engines --------------------------------------------------------------------
    def engine_context(self) -> EngineContext:
        from trioserve.auth import make_authenticator

        return EngineContext(
            handle=self.dispatcher.handle,
            server_header=f"trioserve/{__version__}",
            websocket=self.dispatcher.websocket_hook(),
            cors=lambda: self.cors,
            cors_credentials=lambda: self.cors_credentials,
            make_authenticator=lambda spec: make_authenticator(spec, self.tokens),
            parking=self.access.parking if isinstance(self.access, AppThreadAccess) else None,
            runs_inline=self.dispatcher.runs_inline,
        )

    def _apply_engine_server_options(self, spec: EngineSpec) -> None:
        """ROOT's HTTP engine options that are really server settings: ``cors[=origin]``,
        ``cred_cors[=value]``, ``max_age=N`` and ``nocache`` (static-file caching)."""
        options = spec.options
        if "cors" in options:
            self.cors = options["cors"] or "*"
        if "cred_cors" in options:
            self.cors_credentials = options["cred_cors"] or "true"
        if "max_age" in options:
            self.max_age = spec.int_option("max_age", 3600)
        if spec.flag("nocache"):
            self.nocache = True

    def _websocket_options(self, spec: EngineSpec, hook: Any) -> Any:
        """``websocket_disable`` drops the upgrade hook for this engine (every request for
        ``root.websocket`` on it gets 404, upgrade or not); ``websocket_timeout=S`` (ROOT's
        keepalive timeout) and ``ping_interval=S`` set the keepalive of this engine's
        websockets only, on top of the server-wide settings (``trioserve.ws.configure``)."""
        if spec.flag("websocket_disable") or hook is None:
            return None
        from trioserve.ws import ENGINE_SETTINGS, websocket_hook

        settings: dict[str, float] = {}
        for name in ENGINE_SETTINGS:
            if name in spec.options:
                value = spec.float_option(name, 0.0)
                if not value > 0:  # also refuses nan
                    raise SpecError(
                        f"engine option {name}={spec.options[name]!r} in {spec.text!r} must be "
                        "a positive number of seconds"
                    )
                settings[name] = value
        return websocket_hook(self, **settings) if settings else hook

    @property
    def nursery(self) -> trio.Nursery | None:
        """The server's nursery while it runs, for background tasks of its features."""
        return self._nursery

    def reload_certificates(self) -> int:
        """Re-read the certificate files of the https engines now, rather than on the next
        connection after a file changes (what they also do by themselves); return how many
        reloaded. A file that cannot be used raises :class:`~trioserve.errors.ConfigError`
        naming it, and its engine keeps serving the certificate it had. (Every https engine
        of this process: certificates are per process, like the files they come from.)"""
        from trioserve.engines.https import reload_certificates

        return reload_certificates()

    async def create_engine(self, spec: str | EngineSpec) -> Any:
        """Start one more engine while the server runs; returns its bound address.

        A failure to listen is a :class:`~trioserve.errors.BindError` (an ``OSError`` too)
        whose message names the address and says what to do.
        """
        if self._nursery is None:
            raise ConfigError("create_engine() needs a running server (inside serve())")
        parsed = parse_engine_spec(spec) if isinstance(spec, str) else spec
        module_name, _, func_name = ENGINE_ENTRY_POINTS[parsed.kind].partition(":")
        serve_fn = getattr(importlib.import_module(module_name), func_name)
        ctx = self.engine_context()
        if parsed.kind in ("http", "socket", "https"):
            ctx.websocket = self._websocket_options(parsed, ctx.websocket)
            self._apply_engine_server_options(parsed)
        try:
            address = await self._nursery.start(serve_fn, ctx, parsed)
        except BindError:
            raise
        except OSError as exc:
            raise bind_error(parsed, exc) from exc
        self.engines.append((parsed, address))
        if parsed.kind == "fastcgi":
            log.info("fastcgi engine on %s", describe_engine(parsed.kind, address))
        else:
            log.info(
                "%s engine listening on %s", parsed.kind, describe_engine(parsed.kind, address)
            )
        return address

    async def serve(
        self,
        spec: str | None = None,
        *,
        task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run every engine of ``spec`` until cancelled.

        ``await nursery.start(server.serve, "http:8080;rw")`` returns once all engines are
        bound. Whatever stops the start -- a spec error, a busy port, a missing password
        file -- is raised as one :class:`~trioserve.errors.StartupError` (never an exception
        group), its ``__cause__`` the original; see :mod:`trioserve.errors`.
        """
        engines = list(self._spec_engines)
        if spec:
            engines = self._apply_server_string(spec)
        if not engines:
            engines = [parse_engine_spec("http:8080")]
        started = False
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    for engine in engines:
                        await _start_engine(self, engine)
                    started = True
                    task_status.started(self)
                    await trio.sleep_forever()
                finally:
                    self._nursery = None
                    self.engines.clear()
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # a failure before start-up completed reaches the caller as itself, its cause kept
            leaves = _leaves(group)
            if not started and len(leaves) == 1 and isinstance(leaves[0], Exception):
                raise leaves[0] from leaves[0].__cause__
            raise

    @property
    def addresses(self) -> list[Any]:
        return [address for _, address in self.engines]


async def _start_engine(server: Server, engine: EngineSpec) -> None:
    """One engine of :meth:`Server.serve`: anything but a :class:`StartupError` that stops it
    becomes one, naming the engine, with the original as ``__cause__``."""
    try:
        await server.create_engine(engine)
    except StartupError:
        raise
    except (TrioserveError, ValueError) as exc:
        raise StartupError(f"{engine_name(engine)}: {exc}") from exc
    except Exception as exc:
        raise StartupError(
            f"{engine_name(engine)} failed to start: {type(exc).__name__}: {exc}"
        ) from exc


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves
