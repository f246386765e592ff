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
max_connections        1000: extra clients wait in the listen backlog (no 503); while they
                       wait, responses carry ``Connection: close`` and keep-alive
                       connections idle for 0.5 s are closed, so slots turn over
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

Shutdown (cancelling the engine's scope): listeners close and the unix socket file is removed
first; connections waiting for a request close at once; requests in progress get ``grace``
seconds to complete, then are cancelled. EMFILE-type accept errors are logged and retried.
"""

from __future__ import annotations

import logging
from functools import partial

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
    DEFAULT_MAX_URL_LENGTH,
    DEFAULT_SOCKET_MODE,
    DEFAULT_WRITE_TIMEOUT,
    HttpOptions,
)
from trioserve.engines._listen import (
    accept_forever,
    open_listeners,
)
from trioserve.engines.base import Authenticator, EngineContext
from trioserve.spec import EngineSpec

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_GRACE",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_URL_LENGTH",
    "DEFAULT_SOCKET_MODE",
    "DEFAULT_WRITE_TIMEOUT",
    "HttpOptions",
    "serve_http",
]

log = logging.getLogger("trioserve.http")

#: at the connection cap, keep-alive connections idle at least this long are closed
SHED_MIN_IDLE = 0.5


async def serve_http(
    ctx: EngineContext,
    spec: EngineSpec,
    *,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve HTTP on ``spec`` until cancelled; see the module docstring for the contract."""
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
    engine = _Engine(ctx, spec, options, authenticator, access)
    try:
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(
                    partial(
                        accept_forever,
                        listener,
                        nursery,
                        engine.serve_connection,
                        limiter=engine.limiter,
                        make_room=engine.make_room,
                        logger=log,
                    )
                )
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
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.options = options
        self.authenticator = authenticator
        self.access = access
        self.name = "socket" if spec.kind == "socket" else "http"
        self.limiter = trio.CapacityLimiter(options.max_connections)
        self.connections: set[HttpConnection] = set()
        self.closing = False
        self.grace_deadline = float("inf")
        #: the accept loop waits for a free slot: idle keep-alive connections should go
        self.pressure = False

    def make_room(self, pressure: bool) -> None:
        """Called by the accept loop while clients wait for a slot (see ``max_connections``).

        Under pressure every response is sent with ``Connection: close`` so slots turn over
        without racing a client's next request, and keep-alive connections idle for at least
        :data:`SHED_MIN_IDLE` seconds are closed (clients retry a request that meets a stale
        keep-alive connection, RFC 9112 §9.3.1).
        """
        self.pressure = pressure
        if pressure:
            now = trio.current_time()
            for connection in list(self.connections):
                connection.shed_if_idle(now - SHED_MIN_IDLE)

    def begin_shutdown(self) -> None:
        self.closing = True
        self.grace_deadline = trio.current_time() + self.options.grace
        for connection in list(self.connections):
            connection.shutdown(self.grace_deadline)

    async def serve_connection(self, stream: trio.SocketStream) -> None:
        connection = HttpConnection(self, stream)
        # Shielded so that cancelling the engine does not kill a request mid-response: the
        # engine sets a grace deadline on this scope instead (see begin_shutdown).
        with trio.CancelScope(shield=True) as scope:
            connection.scope = scope
            self.connections.add(connection)
            if self.closing:
                connection.shutdown(self.grace_deadline)
            try:
                await connection.run()
            finally:
                self.connections.discard(connection)
                await trio.aclose_forcefully(stream)
        if scope.cancelled_caught and not connection.dropped:
            if connection.idle is None:
                log.info("dropped connection from %s: server shutdown", connection.peer)
            else:
                level = logging.DEBUG if connection.requests else logging.INFO
                reason = "closed while idle (shutdown)" if self.closing else connection.idle
                log.log(level, "dropped connection from %s: %s", connection.peer, reason)
