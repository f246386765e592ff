"""One FastCGI request on a connection: dispatch it, then write its reply as STDOUT records.

Each request whose input is complete runs these functions in its own child task of the
connection (:mod:`._fcgi_conn`), so multiplexed requests run concurrently and ABORT_REQUEST
cancels exactly one of them through :attr:`Request.scope`. Kept apart from the connection's
read loop because this half is about one request's life (params → Call → dispatcher → reply
bytes), the other about the stream they share.

* Small replies go out in one write (with TCP_NODELAY that is one packet); big ones are sliced,
  each slice under the connection's send lock, so no second copy of a large body is built and
  other requests' records get a turn.
* If a streamed body fails after its headers went out, the connection is closed *without*
  END_REQUEST: front-ends then report a truncated reply instead of a complete-looking one.
* Every request whose params arrived gets one access-log line (:mod:`trioserve.accesslog`),
  however it ends: after its END_REQUEST, or -- when the reply is cut (the front-end left or
  aborted, the shutdown's grace ran out, a streamed body failed) -- with the body bytes the
  front-end's socket really took (:attr:`Request.sent`, exact even for a write cut half-way)
  and the reason; a request that never got an answer is logged by :func:`log_unanswered`.
  The line is only built when INFO logging is on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import trio

import fcgi
from trioserve._cancellation import only_cancelled
from trioserve.accesslog import CLIENT_CLOSED, AccessLog
from trioserve.auth import frontend_user
from trioserve.call import Call, Response, error_response
from trioserve.debugpage import render_debug_page
from trioserve.engines._fcgi_call import app_path, call_at, redirect_to_mount
from trioserve.engines._fcgi_options import FastcgiOptions
from trioserve.engines._fcgi_reply import body_allowed, response_head
from trioserve.engines.base import EngineContext
from trioserve.errors import RequestError

__all__ = [
    "Connection",
    "ConnectionGone",
    "Request",
    "log_unanswered",
    "reply_early",
    "run_request",
]

log = logging.getLogger("trioserve.fastcgi")

#: replies up to this size (head + body) are written with a single send
_SMALL_REPLY = 64 * 1024
#: a large body is written in slices of this size, each under the send lock
_SLICE = 256 * 1024
#: one STDOUT record on the wire at its largest (fcgi never pads what it writes)
_RECORD = fcgi.HEADER_LEN + fcgi.MAX_CONTENT
#: why a reply stopped when the front-end aborted the request
_ABORTED = "aborted by the front-end"


class ConnectionGone(Exception):
    """The stream broke, or a reply failed mid-body: the connection must end now."""

    def __init__(self, reason: str = "front-end closed the connection") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False, slots=True)
class Request:
    """One request id's state, from BEGIN_REQUEST until its END_REQUEST is sent."""

    rid: int
    keep_conn: bool
    params: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    #: the task is running (input complete) or an early answer (413, abort) is on its way
    answered: bool = False
    aborted: bool = False
    #: the cancel scope of whatever the request is waiting on right now (dispatch, body)
    scope: trio.CancelScope | None = None
    #: body bytes of the reply the front-end's socket took so far (the access log's ``%b``)
    sent: int = 0
    #: bytes of the write in progress the socket took; set by the connection when that
    #: write fails, so a cut reply still counts exactly what went out
    taken: int = 0


class Connection(Protocol):
    """What one request uses of its connection (:class:`._fcgi_conn.FastcgiConnection`).

    A protocol rather than the class so that the connection, which starts the requests, is
    the only one of the two modules that imports the other.
    """

    ctx: EngineContext
    options: FastcgiOptions
    access: AccessLog
    #: the sans-IO protocol state; records are built by it, sent by :meth:`send`
    conn: fcgi.ServerConnection
    #: the engine is shutting down (a cut reply is logged as the shutdown's)
    shutting_down: bool

    @property
    def peer(self) -> str:
        """The peer address (for logs, and calls whose params carry no REMOTE_ADDR)."""

    async def send(
        self, data: bytes | bytearray | memoryview, request: Request | None = None
    ) -> None:
        """Send under the connection's lock; :class:`ConnectionGone` if the stream broke.
        If the send fails, ``request.taken`` says how much of ``data`` the socket took."""

    async def finish(self, request: Request, data: bytes, app_status: int = 0) -> None:
        """Send ``data`` and END_REQUEST together, then forget the request (on failure,
        ``request.taken`` as for :meth:`send`)."""

    def close_soon(self) -> None:
        """End the connection (and its other requests) once this task returns."""


async def reply_early(connection: Connection, request: Request, response: Response | None) -> None:
    """Answer before the input is complete (413) or an aborted, never-dispatched request."""
    conn = connection.conn
    status = response.status if response is not None else CLIENT_CLOSED
    cut = None if response is not None else _ABORTED
    skip = size = 0
    try:
        data = b""
        if response is not None:
            method = request.params.get("REQUEST_METHOD", "GET")
            head = response_head(response, method)
            if isinstance(response.body, bytes) and body_allowed(method, response.status):
                skip, size = len(head), len(response.body)
                head += response.body
            data = conn.send_stdout(request.rid, head)
        await connection.finish(request, data)
        request.sent = size
    except BaseException as exc:
        request.sent = _body_taken(request.taken, skip, size)
        if request.params:
            _log(connection, request, status, cut or _cut_reason(connection, exc))
        if not isinstance(exc, ConnectionGone):
            raise
        connection.close_soon()
        return
    if request.params:  # an abort may come before the params did: no request to log then
        _log(connection, request, status, cut)


async def run_request(connection: Connection, request: Request) -> None:
    """The task of one request whose input is complete."""
    try:
        await _respond(connection, request)
    except ConnectionGone:
        connection.close_soon()


async def _respond(connection: Connection, request: Request) -> None:
    params = request.params
    options = connection.options
    path, mount = app_path(params)
    call = call_at(
        params,
        bytes(request.body),
        path,
        mount,
        top_name=options.top_name,
        peer=params.get("REMOTE_ADDR") or connection.peer,  # the peer only when needed
    )
    request.body = bytearray()
    status = 0  # no answer yet
    cut: str | None = None
    try:
        response: Response | None
        if path is None and call.method in ("GET", "HEAD"):
            response = redirect_to_mount(params)
        elif options.debug:
            response = render_debug_page("FastCGI echo", call, params.items())
        else:
            response = await _dispatch(connection, request, call)
        if response is None:  # aborted while dispatching
            status, cut = CLIENT_CLOSED, _ABORTED
            await connection.finish(request, b"")
        else:
            status = response.status
            if not await _write(connection, request, call.method, response):
                cut = _ABORTED
    except BaseException as exc:
        if status:
            _log(connection, request, status, cut or _cut_reason(connection, exc), call)
        else:
            log_unanswered(connection, request, exc, call)
        raise
    _log(connection, request, status, cut, call)


def log_unanswered(
    connection: Connection, request: Request, exc: BaseException | None, call: Call | None = None
) -> None:
    """Log a request that ended without an answer (``exc`` why, None: its connection closed
    before its input was complete), with the status it stands for:
    :data:`~trioserve.accesslog.CLIENT_CLOSED` when the front-end went away first, 503 when
    the server shut down first, 500 when it failed (see :mod:`trioserve.accesslog`)."""
    if exc is None or only_cancelled(exc):
        status = 503 if connection.shutting_down else CLIENT_CLOSED
        reason = "server shutdown" if connection.shutting_down else "connection closed"
    elif isinstance(exc, ConnectionGone):
        status, reason = CLIENT_CLOSED, exc.reason
    else:
        status, reason = 500, "internal error"
    _log(connection, request, status, reason, call)


def _log(
    connection: Connection,
    request: Request,
    status: int,
    cut: str | None,
    call: Call | None = None,
) -> None:
    """The request's access-log line; only built when someone listens."""
    access = connection.access
    if not access.logger.isEnabledFor(logging.INFO):  # the line costs more than the check
        return
    params = request.params
    if call is not None:
        method, peer, user = call.method, call.peer, call.user
        target = params.get("REQUEST_URI") or call.script_name + call.path
    else:
        method = (params.get("REQUEST_METHOD") or "GET").upper()
        peer = params.get("REMOTE_ADDR") or connection.peer
        user = frontend_user(params.get("REMOTE_USER"), params.get("AUTH_TYPE"))
        target = params.get("REQUEST_URI") or (
            params.get("SCRIPT_NAME", "") + params.get("PATH_INFO", "")
        )
    protocol = params.get("SERVER_PROTOCOL") or "FastCGI"
    access.log(peer, user, f"{method} {target} {protocol}", status, request.sent, cut=cut)


def _cut_reason(connection: Connection, exc: BaseException) -> str:
    if isinstance(exc, ConnectionGone):
        return exc.reason
    if only_cancelled(exc):
        return "server shutdown" if connection.shutting_down else "connection closed"
    return "internal error"


def _body_taken(wire: int, skip: int, size: int) -> int:
    """Body bytes among the first ``wire`` bytes of a write of STDOUT records whose content
    is ``skip`` bytes of head, then ``size`` body bytes (then perhaps END_REQUEST)."""
    full, rest = divmod(wire, _RECORD)
    content = full * fcgi.MAX_CONTENT + max(rest - fcgi.HEADER_LEN, 0)
    return min(max(content - skip, 0), size)


async def _dispatch(connection: Connection, request: Request, call: Call) -> Response | None:
    limiter = connection.options.limiter
    with trio.CancelScope() as scope:
        request.scope = scope
        if request.aborted:
            scope.cancel()
        try:
            if limiter is not None:
                async with limiter:
                    return await connection.ctx.handle(call)
            return await connection.ctx.handle(call)
        except RequestError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except Exception:
            log.exception("dispatching %s %s failed", call.method, call.path)
            return error_response(500, "internal_error", "the request failed on the server")
        finally:
            request.scope = None
    return None


async def _write(connection: Connection, request: Request, method: str, response: Response) -> bool:
    """Write the reply, counting its body bytes into ``request.sent``; False if the
    front-end aborted the request half-way."""
    rid, conn = request.rid, connection.conn
    head = response_head(response, method)
    body = response.body
    send_body = body_allowed(method, response.status)
    if isinstance(body, bytes | bytearray | memoryview):
        payload = memoryview(body) if send_body else memoryview(b"")
        if len(head) + len(payload) <= _SMALL_REPLY:
            try:
                await connection.finish(request, conn.send_stdout(rid, head + payload))
            except BaseException:
                request.sent = _body_taken(request.taken, len(head), len(payload))
                raise
            request.sent = len(payload)
            return True
        await connection.send(conn.send_stdout(rid, head), request)
        for start in range(0, len(payload), _SLICE):
            await _send_body(connection, request, payload[start : start + _SLICE])
        await connection.finish(request, b"")
        return True
    await connection.send(conn.send_stdout(rid, head), request)
    if not send_body:
        await _close_iterable(body)
        await connection.finish(request, b"")
        return True
    completed = await _stream(connection, request, body)
    await connection.finish(request, b"", app_status=0 if completed else 1)
    return completed


async def _send_body(connection: Connection, request: Request, piece: memoryview) -> None:
    """One slice of the body as STDOUT records, counted into ``request.sent`` (only what
    the socket took, if the write fails)."""
    try:
        await connection.send(connection.conn.send_stdout(request.rid, piece), request)
    except BaseException:
        request.sent += _body_taken(request.taken, 0, len(piece))
        raise
    request.sent += len(piece)


async def _stream(connection: Connection, request: Request, body: AsyncIterable[bytes]) -> bool:
    """Send an async-iterable body chunk by chunk; False if the request was aborted."""
    iterator: AsyncIterator[bytes] = aiter(body)
    try:
        while True:
            with trio.CancelScope() as scope:
                request.scope = scope
                if request.aborted:
                    scope.cancel()
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return True
                except Exception as exc:
                    log.exception("streaming the reply of request %d failed", request.rid)
                    raise ConnectionGone("streamed reply failed") from exc
                finally:
                    request.scope = None
            if scope.cancelled_caught:
                return False
            view = memoryview(chunk)
            for start in range(0, len(view), _SLICE):
                await _send_body(connection, request, view[start : start + _SLICE])
    finally:
        await _close_iterable(iterator)


async def _close_iterable(body: object) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            try:
                await aclose()
            except Exception:
                log.debug("closing a reply body failed", exc_info=True)
