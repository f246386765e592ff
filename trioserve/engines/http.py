"""The HTTP/1.1 engine: h11 over Trio streams, the same code for TCP and unix sockets.

Spec kinds ``http`` (``spec.host``/``spec.port``; port 0 binds an ephemeral port) and ``socket``
(``spec.path``). :func:`serve_http` binds -- raising ``OSError`` to the caller of
``nursery.start`` on failure -- then reports the real address (``(host, port)`` or the socket
path) and serves until cancelled. Each connection is one task; requests on a connection are
answered in order (keep-alive and pipelining), each one:

1. head read under ``header_timeout`` and checked by :mod:`._http_parse` (414, 431, 400 for
   faulty framing / Host / path, 413 for a declared body over ``max_body``);
2. ``OPTIONS *`` and CORS preflights (only when ``ctx.cors()`` is not None) answered here;
3. authentication (``ctx.make_authenticator(spec)``), *before* the body is read, so a refused
   upload is never received; ``Expect: 100-continue`` is answered only after that;
4. the body read completely (chunked bodies checked by a :class:`ChunkedGuard`) within
   ``max_body``;
5. WebSocket hand-over, ``debug`` echo page, or ``await ctx.handle(call)``;
6. the response written with ``Date``, ``Server``, ``Content-Length`` when known (chunked
   otherwise), streamed bodies sent chunk by chunk with backpressure and a per-write timeout.

Engine errors use :func:`trioserve.call.error_response` bodies, ``Cache-Control: no-store``
and ``Connection: close``. Engine options (spec ``?name=value``), with their defaults:

=====================  ========================================================================
max_header_bytes       16384: request header block (431)
max_url_length         8192: request target (414)
max_body               16 MiB: request body (413; before 100-continue when declared)
header_timeout         10 s: a whole request head; then 408 (if anything arrived) and close
keepalive_timeout      30 s: idle time between requests on a connection
body_timeout           30 s: silence while a request body is being received (408 and close)
write_timeout          30 s: no progress writing to the client; the connection is dropped
max_connections        1000: connections at once; extra clients wait (no 503); while they
                       wait, responses carry ``Connection: close`` and connections waiting
                       for a request are closed to let them in (see below)
max_peer_connections   900 (``max_connections`` less a tenth, at most 100 less): slots one
                       client address (an IPv6 /64) may hold; 0 turns per-peer admission
                       off (behind a front-end); always off on unix sockets
max_websockets         500 (half ``max_connections``): websocket sessions and long-poll
                       requests at once; beyond it an upgrade or long-poll request gets 503
grace                  2 s: on shutdown, time in-flight requests get to finish
socket_mode            0600 (octal): mode of the unix socket file
debug, top, log        echo page; top name for calls; ``log=FILE`` access log (CLF)
cred_cors              ``Access-Control-Allow-Credentials`` value for preflights
thrds                  accepted for ROOT compatibility and ignored (Trio has no worker pool)
=====================  ========================================================================

Paths: the whole path is percent-decoded (``%2F`` becomes ``/``, as ROOT's engines hand it
over), then dot segments are removed; malformed escapes, invalid UTF-8 and control characters
(``%00``, ``%0A``...) are 400. The query is passed raw.

WebSocket hand-over: a ``GET`` whose file name is ``root.websocket`` and whose ``Upgrade``
header lists ``websocket`` is authenticated like any request; then, if ``ctx.websocket`` is
set, the engine awaits ``ctx.websocket(call, stream, trailing_bytes)``: ``stream`` is the raw
Trio stream with the request head consumed and no response written, ``trailing_bytes`` what
was read past the head (the client's first frames, usually ``b""``). The hook owns the stream
until it returns (it does the handshake and validation); the engine then closes it. The hook
is cancelled when the engine shuts down, so it should send its close frame from a shielded,
time-bounded scope. Without a hook the request gets a 404 JSON answer.

Who gets a connection slot (:class:`._listen.Slots` has the rules): a client may use every
slot up to ``max_peer_connections`` while nobody else needs them; when another client waits,
the slot goes to the client holding the fewest, and the client holding the most loses a
connection that is not in a request (idle keep-alive first; then one that never sent a
byte; then a head still arriving). Connections are accepted as they come, so one client's
queue in the kernel backlog hides nobody; at most :data:`._listen.WAITING_ROOM` wait, the
biggest client's newest one is closed beyond that. Websockets and long-polls hold slots for
minutes and cannot be closed for room, hence their own cap, ``max_websockets``.

Shutdown (cancelling the engine's scope): listeners close and the unix socket file is removed
first; connections waiting for a request close at once; requests in progress get ``grace``
seconds to complete, then are cancelled. EMFILE-type accept errors are logged and retried.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import trio

from trioserve.accesslog import AccessLog
from trioserve.engines._http_conn import HttpConnection
from trioserve.engines._http_options import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_GRACE,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_PEER_CONNECTIONS,
    DEFAULT_MAX_URL_LENGTH,
    DEFAULT_MAX_WEBSOCKETS,
    DEFAULT_SOCKET_MODE,
    DEFAULT_WRITE_TIMEOUT,
    HttpOptions,
)
from trioserve.engines._http_response import engine_error, raw_response_bytes
from trioserve.engines._http_state import EngineState
from trioserve.engines._listen import (
    TOO_MANY_LONG_LIVED,
    LongLived,
    Slots,
    accept_forever,
    open_listeners,
    peer_key,
)
from trioserve.engines.base import Authenticator, EngineContext, WebSocketHook
from trioserve.spec import EngineSpec

if TYPE_CHECKING:
    from trioserve.call import Call

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_GRACE",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_PEER_CONNECTIONS",
    "DEFAULT_MAX_URL_LENGTH",
    "DEFAULT_MAX_WEBSOCKETS",
    "DEFAULT_SOCKET_MODE",
    "DEFAULT_WRITE_TIMEOUT",
    "ConnectionFactory",
    "HttpOptions",
    "serve_http",
]

log = logging.getLogger("trioserve.http")

#: the gentle rule (see :class:`._listen.Slots`) closes only connections that have waited this
#: long for a request; shorter, and we would race a client's next request
SHED_MIN_IDLE = 0.5

#: makes the connection for an accepted socket: :class:`HttpConnection`, or the https
#: engine's TLS connection (:mod:`.https`), which is the same request loop over a TLS stream
ConnectionFactory = Callable[[EngineState, trio.SocketStream], HttpConnection]


async def serve_http(
    ctx: EngineContext,
    spec: EngineSpec,
    *,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
    connection: ConnectionFactory = HttpConnection,
) -> None:
    """Serve HTTP on ``spec`` until cancelled; see the module docstring for the contract.
    ``connection`` makes each connection (the https engine passes its TLS one)."""
    options = HttpOptions.from_spec(spec)
    authenticator = ctx.make_authenticator(spec)
    listeners, address, socket_file = await open_listeners(spec, socket_mode=options.socket_mode)
    try:
        access = AccessLog(options.log)
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        if socket_file is not None:
            socket_file.remove()
        raise
    engine = _Engine(ctx, spec, options, authenticator, access, connection)
    try:
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(
                    partial(
                        accept_forever,
                        listener,
                        nursery,
                        engine.serve_connection,
                        slots=engine.slots,
                        logger=log,
                    )
                )
            if ctx.parking is not None:
                nursery.start_soon(ctx.parking.watch)
            log.info("%s engine serving on %s", engine.name, address)
            task_status.started(address)
            try:
                await trio.sleep_forever()
            finally:
                for listener in listeners:
                    listener.socket.close()
                if socket_file is not None:
                    socket_file.remove()
                    socket_file = None
                engine.begin_shutdown()
    finally:
        for listener in listeners:
            listener.socket.close()
        if socket_file is not None:
            socket_file.remove()
        access.close()
        log.info("%s engine on %s stopped", engine.name, address)


class _Engine:
    """State shared by one engine's connections."""

    def __init__(
        self,
        ctx: EngineContext,
        spec: EngineSpec,
        options: HttpOptions,
        authenticator: Authenticator | None,
        access: AccessLog,
        connection: ConnectionFactory = HttpConnection,
    ) -> None:
        self.spec = spec
        self.new_connection = connection
        self.options = options
        self.authenticator = authenticator
        self.access = access
        #: ``http``, ``socket`` or ``https``: the calls' ``engine`` and the log lines say it
        self.name = spec.kind
        self.limiter = trio.CapacityLimiter(options.max_connections)
        # per-peer admission needs peer addresses: on a unix socket every client is "-"
        per_peer = options.max_peer_connections if spec.path is None else 0
        self.slots = Slots(
            self.limiter,
            per_peer=per_peer or None,
            pressure=self.set_pressure,
            shed=self.shed,
            logger=log,
        )
        self.long_lived = LongLived(options.max_websockets)
        self.ctx = dataclasses.replace(
            ctx,
            handle=self.long_lived.counting(ctx.handle),
            websocket=None if ctx.websocket is None else self._counting(ctx.websocket),
        )
        self.connections: set[HttpConnection] = set()
        #: the connections of each peer (:func:`._listen.peer_key`), to shed from one peer
        self.by_peer: dict[str, set[HttpConnection]] = {}
        self.closing = False
        self.grace_deadline = float("inf")
        #: clients wait for a connection slot: responses close their connection
        self.pressure = False

    def set_pressure(self, pressure: bool) -> None:
        """Called by :class:`._listen.Slots` while clients wait for a slot: every response is
        sent with ``Connection: close``, so slots turn over without racing a client's next
        request."""
        self.pressure = pressure

    def shed(self, peer: str | None, gentle: bool) -> bool:
        """Close one connection of ``peer`` (of anyone when None) that is waiting for a
        request, the best candidate by :meth:`ConnectionState.shed_rank`; with ``gentle``
        only one that has waited :data:`SHED_MIN_IDLE` seconds. Return whether one was
        closed (it frees its slot as soon as its task ends)."""
        pool = self.connections if peer is None else self.by_peer.get(peer)
        if not pool:
            return False
        idle_before = trio.current_time() - SHED_MIN_IDLE if gentle else None
        victim: HttpConnection | None = None
        best: tuple[int, float] | None = None
        for connection in pool:
            rank = connection.shed_rank(idle_before)
            if rank is not None and (best is None or rank < best):
                victim, best = connection, rank
        if victim is None:
            return False
        victim.shed()
        return True

    def _counting(self, hook: WebSocketHook) -> WebSocketHook:
        """The websocket hook, with each session counted against ``max_websockets``; an
        upgrade beyond it is refused with 503 before any handshake, written on the hook's
        stream like the websocket layer's own refusals (so it is logged as they are)."""
        long_lived = self.long_lived

        async def counted(call: Call, stream: trio.abc.Stream, trailing: bytes) -> None:
            if not long_lived.take():
                refusal = engine_error(503, "too_many_websockets", TOO_MANY_LONG_LIVED)
                data = raw_response_bytes(refusal, server=self.ctx.server_header)
                with trio.move_on_after(self.options.write_timeout):
                    await stream.send_all(data)
                return
            try:
                await hook(call, stream, trailing)
            finally:
                long_lived.release()

        return counted

    def begin_shutdown(self) -> None:
        self.closing = True
        self.grace_deadline = trio.current_time() + self.options.grace
        for connection in list(self.connections):
            connection.shutdown(self.grace_deadline)

    async def serve_connection(self, stream: trio.SocketStream) -> None:
        connection = self.new_connection(self, stream)
        peer = peer_key(connection.peer)
        peers = self.by_peer.get(peer)
        if peers is None:
            peers = self.by_peer[peer] = set()
        # Shielded so that cancelling the engine does not kill a request mid-response: the
        # engine sets a grace deadline on this scope instead (see begin_shutdown).
        with trio.CancelScope(shield=True) as scope:
            connection.scope = scope
            self.connections.add(connection)
            peers.add(connection)
            if self.closing:
                connection.shutdown(self.grace_deadline)
            try:
                await connection.run()
            finally:
                self.connections.discard(connection)
                peers.discard(connection)
                if not peers and self.by_peer.get(peer) is peers:
                    del self.by_peer[peer]
                await trio.aclose_forcefully(stream)
        if scope.cancelled_caught and not connection.dropped:
            if connection.idle is None:
                log.info("dropped connection from %s: server shutdown", connection.peer)
            else:
                level = logging.DEBUG if connection.requests else logging.INFO
                reason = "closed while idle (shutdown)" if self.closing else connection.idle
                log.log(level, "dropped connection from %s: %s", connection.peer, reason)
