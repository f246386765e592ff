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
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from functools import partial

import h11
import trio

from trioserve.accesslog import AccessLog
from trioserve.call import Call, Response
from trioserve.debugpage import render_debug_page
from trioserve.engines._http_parse import (
    ChunkedGuard,
    HeadError,
    HeadGuard,
    RequestHead,
    check_head,
)
from trioserve.engines._http_response import (
    CORS_METHODS,
    cors_preflight,
    engine_error,
    raw_response_bytes,
    reason_phrase,
    response_headers,
)
from trioserve.engines._listen import (
    UnixSocketFile,
    accept_forever,
    open_tcp_listeners,
    open_unix_listener,
    peer_name,
)
from trioserve.engines.base import Authenticator, EngineContext
from trioserve.errors import RequestError, SpecError
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

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_URL_LENGTH = 8 * 1024
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_KEEPALIVE_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_GRACE = 2.0
DEFAULT_SOCKET_MODE = 0o600
#: at the connection cap, keep-alive connections idle at least this long are closed
SHED_MIN_IDLE = 0.5
#: title of the ``debug`` echo page
DEBUG_TITLE = "trioserve echo"

#: bytes asked of the socket per receive
_RECEIVE_SIZE = 64 * 1024
#: bytes handed to the socket per send (each under its own write timeout)
_WRITE_CHUNK = 64 * 1024
#: after an error answer: how long, and how much, we read and discard before closing, so the
#: client sees our response instead of a reset caused by its unread upload
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The engine's options, parsed and validated from the spec (see the module table)."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_url_length: int = DEFAULT_MAX_URL_LENGTH
    max_body: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    grace: float = DEFAULT_GRACE
    socket_mode: int = DEFAULT_SOCKET_MODE
    debug: bool = False
    top: str | None = None
    log: str | None = None
    cred_cors: str | None = None

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> HttpOptions:
        def positive_int(name: str, default: int) -> int:
            value = spec.int_option(name, default)
            if value <= 0:
                raise SpecError(f"engine option {name} must be positive in {spec.text!r}")
            return value

        def positive_float(name: str, default: float) -> float:
            value = spec.float_option(name, default)
            if not value > 0:
                raise SpecError(f"engine option {name} must be positive in {spec.text!r}")
            return value

        mode_text = spec.options.get("socket_mode") or ""
        try:
            socket_mode = int(mode_text, 8) if mode_text else DEFAULT_SOCKET_MODE
        except ValueError:
            raise SpecError(
                f"socket_mode={mode_text!r} in {spec.text!r} is not an octal mode"
            ) from None
        if not 0 <= socket_mode <= 0o777:
            raise SpecError(f"socket_mode={mode_text!r} in {spec.text!r} is out of range")
        return cls(
            max_header_bytes=positive_int("max_header_bytes", DEFAULT_MAX_HEADER_BYTES),
            max_url_length=positive_int("max_url_length", DEFAULT_MAX_URL_LENGTH),
            max_body=positive_int("max_body", DEFAULT_MAX_BODY),
            header_timeout=positive_float("header_timeout", DEFAULT_HEADER_TIMEOUT),
            keepalive_timeout=positive_float("keepalive_timeout", DEFAULT_KEEPALIVE_TIMEOUT),
            body_timeout=positive_float("body_timeout", DEFAULT_BODY_TIMEOUT),
            write_timeout=positive_float("write_timeout", DEFAULT_WRITE_TIMEOUT),
            max_connections=positive_int("max_connections", DEFAULT_MAX_CONNECTIONS),
            grace=spec.float_option("grace", DEFAULT_GRACE),
            socket_mode=socket_mode,
            debug=spec.flag("debug"),
            top=spec.options.get("top") or None,
            log=spec.options.get("log") or None,
            cred_cors=(spec.options["cred_cors"] or "true")
            if "cred_cors" in spec.options
            else None,
        )


async def serve_http(
    ctx: EngineContext,
    spec: EngineSpec,
    *,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve HTTP on ``spec`` until cancelled; see the module docstring for the contract."""
    options = HttpOptions.from_spec(spec)
    authenticator = ctx.make_authenticator(spec)
    socket_file: UnixSocketFile | None = None
    address: object
    if spec.path is not None:
        listener, socket_file = await open_unix_listener(spec.path, mode=options.socket_mode)
        listeners = [listener]
        address = spec.path
    else:
        listeners, address = await open_tcp_listeners(spec.host, spec.port)
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


class _Drop(Exception):
    """End this connection without an answer; ``reason`` goes to the log."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level


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
        self.connections: set[_Connection] = set()
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
        connection = _Connection(self, stream)
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
            log.info("dropped connection from %s: server shutdown", connection.peer)


class _Connection:
    """One client connection: a loop of request/response cycles on one h11 state machine."""

    def __init__(self, engine: _Engine, stream: trio.SocketStream) -> None:
        options = engine.options
        self.engine = engine
        self.stream = stream
        self.peer = peer_name(stream)
        self.h11 = h11.Connection(
            h11.SERVER,
            max_incomplete_event_size=options.max_url_length + options.max_header_bytes + 1024,
        )
        self.scope: trio.CancelScope | None = None
        self.accepted_at = trio.current_time()
        self.requests = 0
        #: set while waiting for the first byte of a request (the connection is idle)
        self.idle_scope: trio.CancelScope | None = None
        self.idle_since = 0.0
        self.websocket = False
        #: from a complete request head until its response is written: what grace protects
        self.in_request = False
        #: the connection's end was already logged (one line per dropped connection)
        self.dropped = False

    # -- shutdown and shedding --------------------------------------------------------------

    def shed_if_idle(self, idle_before: float) -> None:
        """Close a keep-alive connection that has been idle since before ``idle_before``."""
        if self.idle_scope is not None and self.requests > 0 and self.idle_since <= idle_before:
            self.idle_scope.cancel()

    def shutdown(self, deadline: float) -> None:
        if self.scope is None:
            return
        if self.websocket or not self.in_request:
            # idle, still receiving a head, or lingering after an error: nothing to finish
            self.scope.cancel()
            return
        self.scope.deadline = min(self.scope.deadline, deadline)

    # -- the request loop -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while await self._cycle():
                if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                    await self._close(linger=True)
                    return
                if self.engine.closing:
                    break
                self.h11.start_next_cycle()
            await self._close(linger=False)
        except _Drop as drop:
            log.log(drop.level, "dropped connection from %s: %s", self.peer, drop.reason)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.info("dropped connection from %s: connection reset by peer", self.peer)
        except Exception:
            log.exception("dropped connection from %s: internal error", self.peer)

    async def _cycle(self) -> bool:
        """Serve one request; return True if the connection may carry another one."""
        request = await self._read_head()
        if request is None:
            return False
        self.requests += 1
        self.in_request = True
        try:
            return await self._serve_request(request)
        finally:
            self.in_request = False

    async def _serve_request(self, request: h11.Request) -> bool:
        options = self.engine.options
        method = request.method.decode("ascii")
        request_line = (
            f"{method} {request.target.decode('latin-1')} HTTP/{request.http_version.decode()}"
        )
        try:
            head = check_head(
                request.method,
                request.target,
                request.http_version,
                list(request.headers),
                max_url_length=options.max_url_length,
                max_header_bytes=options.max_header_bytes,
                max_body=options.max_body,
            )
        except HeadError as error:
            await self._fatal(error, method=method, request_line=request_line)
            return False
        call = Call(
            method=head.method,
            path=head.path,
            query=head.query,
            headers=head.headers,
            engine=self.engine.name,
            top_name=options.top,
            peer=self.peer,
        )
        try:
            response = await self._answer(call, head)
        except HeadError as error:
            await self._fatal(error, method=method, request_line=request_line, user=call.user)
            return False
        if response is None:  # the websocket hook owned the connection
            self.engine.access.log(self.peer, call.user, request_line, 101, None)
            return False
        body_pending = self.h11.their_state is h11.SEND_BODY
        close = response.close or body_pending or self.engine.closing or self.engine.pressure
        sent = await self._write_response(method, response, close=close)
        self.engine.access.log(self.peer, call.user, request_line, response.status, sent)
        return not close

    async def _answer(self, call: Call, head: RequestHead) -> Response | None:
        engine = self.engine
        if head.path == "*":
            return Response(status=204, content_type="", headers=[("Allow", CORS_METHODS)])
        origin = call.header("origin")
        if call.method == "OPTIONS" and origin and call.header("access-control-request-method"):
            cors = engine.ctx.cors()
            if cors is not None:
                return cors_preflight(
                    cors,
                    origin,
                    call.header("access-control-request-headers"),
                    credentials=engine.options.cred_cors,
                )
        if engine.authenticator is not None:
            try:
                refusal = engine.authenticator.check(call, time.time())
            except Exception:
                log.exception("authenticator failed for %s %s", call.method, call.path)
                return engine_error(500, "internal_error", "authentication failed")
            if refusal is not None:
                return refusal
        call.body = await self._read_body(head)
        if call.method == "GET" and call.file_name == "root.websocket" and _wants_websocket(call):
            if engine.ctx.websocket is None:
                return engine_error(404, "not_found", "no websocket handler here")
            self.websocket = True
            await engine.ctx.websocket(call, self.stream, self.h11.trailing_data[0])
            return None
        if engine.options.debug:
            return render_debug_page(DEBUG_TITLE, call)
        return await self._dispatch(call)

    async def _dispatch(self, call: Call) -> Response:
        try:
            response = await self.engine.ctx.handle(call)
        except RequestError as error:
            return error.to_response()
        except Exception:
            log.exception("request handler failed for %s %s", call.method, call.path)
            return engine_error(500, "internal_error", "the server failed to answer this request")
        if not isinstance(response, Response):
            log.error("request handler returned %r for %s", type(response), call.path)
            return engine_error(500, "internal_error", "the server failed to answer this request")
        return response

    # -- reading ----------------------------------------------------------------------------

    async def _read_head(self) -> h11.Request | None:
        options = self.engine.options
        guard = HeadGuard(options.max_url_length, options.max_header_bytes)
        leftover = self.h11.trailing_data[0] if self.requests else b""
        try:
            guard.feed(leftover)
        except HeadError as error:
            await self._fatal(error, method=None, request_line="-")
            return None
        deadline: float | None = None
        if leftover:
            deadline = trio.current_time() + options.header_timeout
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self.h11.trailing_data[1]:
                    raise _Drop("client closed the connection in the middle of a request") from None
                log.debug("malformed request from %s: %s", self.peer, exc)
                status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
                raise_error = HeadError(status, "bad_request", "malformed HTTP request")
                await self._fatal(raise_error, method=None, request_line="-")
                return None
            if event is h11.NEED_DATA:
                if deadline is None:
                    data = await self._receive_first_byte()
                    if data is None:
                        return None
                    deadline = trio.current_time() + options.header_timeout
                else:
                    data = await self._receive_until(deadline)
                    if data is None:
                        error = HeadError(
                            408, "request_timeout", "request head not received in time"
                        )
                        await self._fatal(error, method=None, request_line="-")
                        return None
                try:
                    guard.feed(data)
                except HeadError as error:
                    await self._fatal(error, method=None, request_line="-")
                    return None
                self.h11.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                return event
            return None  # ConnectionClosed (or PAUSED, which cannot happen here)

    async def _receive_first_byte(self) -> bytes | None:
        """Wait for a request to begin; None when the connection should close instead."""
        engine = self.engine
        options = engine.options
        if self.requests == 0:
            deadline = self.accepted_at + options.header_timeout
            reason = "no request within header_timeout"
        else:
            deadline = trio.current_time() + options.keepalive_timeout
            reason = "keep-alive idle timeout"
        if engine.closing:
            return None
        self.idle_since = trio.current_time()
        with trio.move_on_at(deadline) as scope:
            self.idle_scope = scope
            try:
                data = await self.stream.receive_some(_RECEIVE_SIZE)
            finally:
                self.idle_scope = None
        if scope.cancelled_caught:
            if engine.closing or engine.pressure:
                reason = "closed while idle (shutdown or connection limit)"
            log.log(
                logging.DEBUG if self.requests else logging.INFO,
                "dropped connection from %s: %s",
                self.peer,
                reason,
            )
            self.dropped = True
            return None
        return data

    async def _receive_until(self, deadline: float) -> bytes | None:
        with trio.move_on_at(deadline):
            return await self.stream.receive_some(_RECEIVE_SIZE)
        return None

    async def _read_body(self, head: RequestHead) -> bytes:
        options = self.engine.options
        if self.h11.they_are_waiting_for_100_continue:
            await self._send(
                self.h11.send(
                    h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                )
            )
        guard: ChunkedGuard | None = None
        if head.chunked:
            guard = ChunkedGuard(options.max_body, options.max_header_bytes)
            guard.feed(self.h11.trailing_data[0])
        parts: list[bytes] = []
        total = 0
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                log.debug("malformed body from %s: %s", self.peer, exc)
                status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
                raise HeadError(status, "bad_request", "malformed request body") from None
            if event is h11.NEED_DATA:
                data = await self._receive_until(trio.current_time() + options.body_timeout)
                if data is None:
                    raise HeadError(408, "request_timeout", "request body not received in time")
                if not data:
                    raise _Drop("client closed the connection in the middle of a request body")
                if guard is not None and not guard.done:
                    guard.feed(data)
                self.h11.receive_data(data)
            elif isinstance(event, h11.Data):
                total += len(event.data)
                if total > options.max_body:
                    raise HeadError(
                        413, "body_too_large", f"the body exceeds {options.max_body} bytes"
                    )
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:
                raise _Drop("unexpected event while reading a body")

    # -- writing ----------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        timeout = self.engine.options.write_timeout
        view = memoryview(data)
        for start in range(0, len(view), _WRITE_CHUNK):
            with trio.move_on_after(timeout) as scope:
                await self.stream.send_all(view[start : start + _WRITE_CHUNK])
            if scope.cancelled_caught:
                raise _Drop(f"write timeout: no progress for {timeout:g} s (client not reading)")

    async def _write_response(self, method: str, response: Response, *, close: bool) -> int:
        server = self.engine.ctx.server_header
        status = response.status
        try:
            if not 200 <= status <= 599:
                raise ValueError(f"status {status}")
            event = h11.Response(
                status_code=status,
                reason=reason_phrase(status).encode("ascii"),
                headers=[
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in response_headers(response, server=server, close=close)
                ],
            )
        except (h11.LocalProtocolError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            log.error("invalid response for %s request: %s", method, exc)
            await _close_body(response.body)
            error = engine_error(500, "internal_error", "the server produced an invalid response")
            return await self._write_response(method, error, close=True)
        await self._send(self.h11.send(event))
        body = response.body
        sent = 0
        if method == "HEAD" or status in (204, 304):
            await _close_body(body)
        elif isinstance(body, bytes | bytearray):
            if body:
                await self._send(self.h11.send(h11.Data(data=body)))
                sent = len(body)
        else:
            try:
                async for chunk in body:
                    if chunk:
                        await self._send(self.h11.send(h11.Data(data=chunk)))
                        sent += len(chunk)
            except h11.LocalProtocolError:
                raise _Drop("streamed body longer than its Content-Length") from None
            except (_Drop, trio.BrokenResourceError, trio.ClosedResourceError):
                raise
            except Exception:
                log.exception("streamed response body failed after %d bytes", sent)
                raise _Drop("streamed response body failed") from None
            finally:
                await _close_body(body)
        try:
            await self._send(self.h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            raise _Drop("streamed body shorter than its Content-Length") from None
        return sent

    async def _fatal(
        self, error: HeadError, *, method: str | None, request_line: str, user: str | None = None
    ) -> None:
        """Answer an engine-detected error (if no response has started) and close."""
        response = engine_error(error.status, error.code, error.message)
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            data = raw_response_bytes(
                response, server=self.engine.ctx.server_header, head=method == "HEAD"
            )
            await self._send(data)
            sent = len(response.body) if method != "HEAD" else 0
            self.engine.access.log(self.peer, user, request_line, error.status, sent)
        log.info("dropped connection from %s: %d %s", self.peer, error.status, error.message)
        self.dropped = True
        await self._close(linger=True)

    async def _close(self, *, linger: bool) -> None:
        """Close our side; with ``linger``, drain what the client still sends for a moment so
        it reads our answer rather than a reset."""
        stream = self.stream
        self.in_request = False  # nothing left to protect with the grace period
        if linger and not self.engine.closing:
            try:
                await stream.send_eof()
                with trio.move_on_after(_LINGER_SECONDS):
                    drained = 0
                    while drained < _LINGER_BYTES:
                        data = await stream.receive_some(_RECEIVE_SIZE)
                        if not data:
                            break
                        drained += len(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await stream.aclose()


def _wants_websocket(call: Call) -> bool:
    upgrade = call.header("upgrade") or ""
    return "websocket" in (token.strip().lower() for token in upgrade.split(","))


async def _close_body(body: bytes | bytearray | AsyncIterable[bytes]) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log.exception("closing a streamed response body failed")
