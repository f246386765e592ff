"""The user-facing handler class (ROOT's THttpWSHandler, made Pythonic).

ROOT funnels four events through one ``ProcessWS(call)`` switch on the method name; here they
are four methods, each optional, each either ``async def`` or plain ``def``:

* ``on_connect(request) -> bool`` -- refuse by returning False (websocket: 403; long-poll: 404);
* ``on_ready(conn)`` -- the connection is open and may be sent to;
* ``on_data(conn, message)`` -- one complete message: ``str`` for a text frame, ``bytes`` for
  a binary one (ROOT cannot tell them apart; we keep them distinct);
* ``on_close(conn)`` -- called exactly once, after the connection left ``handler.connections``.

Events of one connection are delivered one after the other; a slow ``on_data`` slows the
reading of that connection only (TCP backpressure to that client). Plain methods run through
the server's object-access mode, so with ``start_in_thread(sync="app")`` they run inside the
program's ``process_requests()`` like every other request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from trioserve.ws._conn import (
    OVERFLOW_POLICIES,
    Connection,
    ConnectRequest,
    Message,
    _coerce,
    message_size,
)

if TYPE_CHECKING:
    from trioserve.context import Host

__all__ = ["WebSocketHandler"]

log = logging.getLogger("trioserve.ws")

Target = int | Connection


class WebSocketHandler:
    """Subclass and register like any object: ``server.register("/", MyHandler("chat"))``.

    Then the page is at ``/chat/``, the websocket at ``/chat/root.websocket`` and the
    long-poll emulation at ``/chat/root.longpoll``. Class attributes are the defaults;
    the constructor's keywords override them per instance.
    """

    #: default page at ``<path>/``: ``None`` = the server's page, ``"file:<path>"``, or HTML
    page: str | None = None
    #: messages queued per connection before ``overflow`` applies
    queue_size: int = 64
    #: bytes queued per connection before ``overflow`` applies (one larger message still
    #: fits an empty queue): 64 messages of 1 MiB must not cost 64 MiB per stalled client
    queue_bytes: int = 4 << 20
    #: what a send does to a full queue: "wait", "drop_oldest", "latest" or "close"
    overflow: str = "wait"
    #: how long "wait" waits for room before cutting the client off (1008)
    send_timeout: float = 10.0
    #: largest incoming message in bytes (the client gets 1009 past it)
    max_message_size: int = 1 << 20
    #: subprotocols we speak, in our order of preference (see :meth:`select_subprotocol`)
    subprotocols: Sequence[str] = ()

    def __init__(
        self,
        name: str | None = None,
        title: str = "",
        *,
        page: str | None = None,
        queue_size: int | None = None,
        queue_bytes: int | None = None,
        overflow: str | None = None,
        send_timeout: float | None = None,
        max_message_size: int | None = None,
        subprotocols: Iterable[str] | None = None,
    ) -> None:
        self.name = name or getattr(type(self), "name", None) or type(self).__name__
        self.title = title
        if page is not None:
            self.page = page
        if queue_size is not None:
            self.queue_size = queue_size
        if queue_bytes is not None:
            self.queue_bytes = queue_bytes
        if overflow is not None:
            self.overflow = overflow
        if send_timeout is not None:
            self.send_timeout = send_timeout
        if max_message_size is not None:
            self.max_message_size = max_message_size
        if subprotocols is not None:
            self.subprotocols = tuple(subprotocols)
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, not {self.overflow!r}")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if self.queue_bytes < 1:
            raise ValueError("queue_bytes must be at least 1")
        self._connections: dict[int, Connection] = {}
        self._server: Host | None = None
        self._path: str | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        #: per event name: (the function found last time, is it a coroutine function?)
        self._kinds: dict[str, tuple[object, bool]] = {}

    # -- events: override these -------------------------------------------------------
    def on_connect(self, request: ConnectRequest) -> bool | Awaitable[bool]:
        return True

    def on_ready(self, conn: Connection) -> Awaitable[None] | None:
        return None

    def on_data(self, conn: Connection, message: str | bytes) -> Awaitable[None] | None:
        return None

    def on_close(self, conn: Connection) -> Awaitable[None] | None:
        return None

    def select_subprotocol(self, offered: Sequence[str]) -> str | None:
        """Pick the subprotocol to answer; default: our first one the client offered."""
        for mine in self.subprotocols:
            if mine in offered:
                return mine
        return None

    # -- registration -----------------------------------------------------------------
    def _trioserve_registered(self, server: Host, path: str) -> None:
        """Called by ``Server.register``: remember where we live (for pages and logs)."""
        self._server = server
        self._path = path
        # a field the browser UI reads to link the item to its page at ``<path>/``
        server.set_item_field(path, "_ws", "true")

    @property
    def path(self) -> str | None:
        return self._path

    # -- connections ------------------------------------------------------------------
    @property
    def connections(self) -> dict[int, Connection]:
        """A snapshot ``{id: Connection}`` of the live connections."""
        return dict(self._connections)

    def connection(self, target: Target) -> Connection | None:
        if isinstance(target, Connection):
            return target if self._connections.get(target.id) is target else None
        return self._connections.get(target)

    def _require(self, target: Target) -> Connection:
        conn = self.connection(target)
        if conn is None:
            from trioserve.ws._conn import ConnectionClosed

            raise ConnectionClosed(None, f"no connection {target!r}")
        return conn

    # -- sending ------------------------------------------------------------------------
    async def send(self, target: Target, message: Message) -> None:
        """Queue ``message`` for one connection (by id or object)."""
        await self._require(target).send(message)

    def send_nowait(self, target: Target, message: Message) -> None:
        self._require(target).send_nowait(message)

    async def broadcast(self, message: Message) -> int:
        """Queue ``message`` for every connection; returns how many took it.

        Connections with room get it at once; under the "wait" policy the full ones are
        waited for concurrently (each at most ``send_timeout``, then cut off), so one stalled
        client delays only this call's return, never the delivery to the others.
        """
        message = _coerce(message)
        size = message_size(message)
        delivered = 0
        waiting: list[Connection] = []
        for conn in list(self._connections.values()):
            try:
                if conn._offer(message, size):
                    delivered += 1
                else:
                    waiting.append(conn)
            except Exception:
                continue
        if waiting:
            results: list[bool] = []

            async def one(conn: Connection) -> None:
                try:
                    await conn.send(message)
                    results.append(True)
                except Exception:
                    pass

            async with trio.open_nursery() as nursery:
                for conn in waiting:
                    nursery.start_soon(one, conn)
            delivered += len(results)
        return delivered

    def broadcast_nowait(self, message: Message) -> int:
        """Queue for every connection that has room now; full "wait" queues are skipped."""
        message = _coerce(message)
        size = message_size(message)
        delivered = 0
        for conn in list(self._connections.values()):
            try:
                if conn._offer(message, size):
                    delivered += 1
            except Exception:
                continue
        return delivered

    def _token_or_raise(self) -> trio.lowlevel.TrioToken:
        if self._token is None:
            from trioserve.ws._conn import ConnectionClosed

            raise ConnectionClosed(None, "the handler has never had a connection")
        return self._token

    def send_threadsafe(self, target: Target, message: Message) -> None:
        """From a plain (non-Trio) thread: block that thread until the message is queued."""
        trio.from_thread.run(self.send, target, message, trio_token=self._token_or_raise())

    def broadcast_threadsafe(self, message: Message) -> int:
        """From a plain thread: broadcast and block until queued everywhere."""
        return trio.from_thread.run(self.broadcast, message, trio_token=self._token_or_raise())

    async def close(self, target: Target, code: int = 1000, reason: str = "") -> None:
        await self._require(target).close(code, reason)

    async def close_all(self, code: int = 1001, reason: str = "") -> None:
        async with trio.open_nursery() as nursery:
            for conn in list(self._connections.values()):
                nursery.start_soon(conn.close, code, reason)

    # -- event delivery (used by the transports) ----------------------------------------
    def _add(self, conn: Connection) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._connections[conn.id] = conn

    def _remove(self, conn: Connection) -> bool:
        return self._connections.pop(conn.id, None) is not None

    async def _invoke(self, name: str, *args: Any) -> Any:
        """Run one event method: async inline, plain through the server's access mode.

        Whether a method is ``async def`` is looked up once per function, not per message
        (``inspect.iscoroutinefunction`` costs more than a short ``on_data``); the cache is
        keyed by the function itself, so a method replaced at run time is looked at again.
        """
        fn = getattr(self, name)
        func = getattr(fn, "__func__", fn)
        kind = self._kinds.get(name)
        if kind is None or kind[0] is not func:
            kind = (func, inspect.iscoroutinefunction(fn))
            self._kinds[name] = kind
        if kind[1]:
            return await fn(*args)
        if self._server is not None:
            result = await self._server.access.run(lambda: fn(*args))
        else:
            result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
