"""Running the server for a synchronous (non-Trio) program: :func:`start_in_thread`.

The server and all its engines run in one background thread with its own Trio loop. With
``sync="app"`` (the default, as ROOT recommends) objects are touched only inside the
program's own :meth:`ThreadedServer.process_requests` calls, so nothing is read half-updated;
requests wait up to ``app_timeout`` seconds for the next call and then get 503, and each is
answered within one call (see :mod:`trioserve.appthread`).
With ``sync="server"`` objects are read directly in the server thread: fine for objects the
program replaces atomically, unsafe for ones it mutates in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import trio

from trioserve.appthread import DEFAULT_HOLD_TIMEOUT, AppThreadAccess, DirectAccess, ObjectAccess
from trioserve.server import Server

__all__ = ["ThreadedServer", "start_in_thread"]

T = TypeVar("T")


class ThreadedServer:
    """Handle on a server running in a background thread."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._error: BaseException | None = None
        self._started = threading.Event()

    def __getattr__(self, name: str) -> Any:
        # register(), restrict(), hide()... are the Server's; they only touch the tree, which
        # takes its own lock, so calling them from the program's thread is safe.
        return getattr(self.server, name)

    def process_requests(self, max_calls: int | None = None) -> int:
        return self.server.process_requests(max_calls)

    def create_engine(self, spec: str) -> Any:
        """Start one more engine from the program's thread; returns its bound address."""
        return self.run_in_server(self.server.create_engine, spec)

    def call_in_server(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a sync function in the server's Trio thread (e.g. to broadcast)."""
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def run_in_server(self, afn: Callable[..., Any], *args: Any) -> Any:
        """Run an async function in the server's Trio loop and wait for its result."""
        assert self._token is not None
        return trio.from_thread.run(afn, *args, trio_token=self._token)

    @property
    def addresses(self) -> list[Any]:
        return self.server.addresses

    def _main(self, spec: str | None) -> None:
        async def runner() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._cancel = scope
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.server.serve, spec)
                    self._started.set()

        try:
            trio.run(runner)
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            self._started.set()

    def start(self, spec: str | None, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(
            target=self._main, args=(spec,), name="trioserve", daemon=True
        )
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("the server thread did not start in time")
        if self._error is not None:
            error = self._error
            while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]
            raise error

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every engine and join the thread (idempotent)."""
        if self._thread is None:
            return
        if self._token is not None and self._cancel is not None and self._thread.is_alive():
            try:
                self._token.run_sync_soon(self._cancel.cancel)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    spec: str = "http:8080",
    *,
    sync: Literal["app", "server"] = "app",
    app_timeout: float = 10.0,
    hold_timeout: float = DEFAULT_HOLD_TIMEOUT,
    parking: bool = True,
    **server_options: Any,
) -> ThreadedServer:
    """Start a :class:`Server` in a background thread and return once it is listening.

    ``server_options`` go to :class:`Server` (``top_name``, ``readonly``, ``cors``...).
    ``hold_timeout`` (``sync="app"``): how long one ``process_requests()`` pass waits for a
    request it serves to touch objects again before the program moves on.
    ``parking`` (``sync="app"``): between requests, keep-alive HTTP connections are answered
    by ``process_requests()`` itself, in the program's thread, without waking the server's
    (:mod:`trioserve.parking`); False sends every request through the server's thread.
    """
    if sync == "app":
        access: ObjectAccess = AppThreadAccess(
            app_timeout, hold_timeout=hold_timeout, parking=parking
        )
    elif sync == "server":
        access = DirectAccess()
    else:
        raise ValueError(f"sync must be 'app' or 'server', not {sync!r}")
    server = Server(access=access, **server_options)
    handle = ThreadedServer(server)
    handle.start(spec)
    return handle
