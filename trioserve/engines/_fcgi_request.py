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
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import trio

import fcgi
from trioserve.accesslog import AccessLog
from trioserve.call import Call, Response, error_response
from trioserve.debugpage import render_debug_page
from trioserve.engines._fcgi_call import app_path, call_at, redirect_to_mount
from trioserve.engines._fcgi_options import FastcgiOptions
from trioserve.engines._fcgi_reply import body_allowed, response_head
from trioserve.engines.base import EngineContext
from trioserve.errors import RequestError

__all__ = ["Connection", "ConnectionGone", "Request", "reply_early", "run_request"]

log = logging.getLogger("trioserve.fastcgi")

#: replies up to this size (head + body) are written with a single send
_SMALL_REPLY = 64 * 1024
#: a large body is written in slices of this size, each under the send lock
_SLICE = 256 * 1024


class ConnectionGone(Exception):
    """The stream broke, or a reply failed mid-body: the connection must end now."""


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

    @property
    def peer(self) -> str:
        """The peer address (for logs, and calls whose params carry no REMOTE_ADDR)."""

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send under the connection's lock; :class:`ConnectionGone` if the stream broke."""

    async def finish(self, request: Request, data: bytes, app_status: int = 0) -> None:
        """Send ``data`` and END_REQUEST together, then forget the request."""

    def close_soon(self) -> None:
        """End the connection (and its other requests) once this task returns."""


async def reply_early(connection: Connection, request: Request, response: Response | None) -> None:
    """Answer before the input is complete (413) or an aborted, never-dispatched request."""
    conn = connection.conn
    try:
        data = b""
        if response is not None:
            method = request.params.get("REQUEST_METHOD", "GET")
            data = conn.send_stdout(request.rid, response_head(response, method))
            if isinstance(response.body, bytes) and body_allowed(method, response.status):
                data += conn.send_stdout(request.rid, response.body)
        await connection.finish(request, data)
    except ConnectionGone:
        connection.close_soon()


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
    response: Response | None
    if path is None and call.method in ("GET", "HEAD"):
        response = redirect_to_mount(params)
    elif options.debug:
        response = render_debug_page("FastCGI echo", call, params.items())
    else:
        response = await _dispatch(connection, request, call)
    if response is None:  # aborted while dispatching
        await connection.finish(request, b"")
        return
    sent = await _write(connection, request, call.method, response)
    access = connection.access
    if access.logger.isEnabledFor(logging.INFO):  # the line costs more than the check
        target = params.get("REQUEST_URI") or call.script_name + call.path
        protocol = params.get("SERVER_PROTOCOL") or "FastCGI"
        request_line = f"{call.method} {target} {protocol}"
        access.log(call.peer, call.user, request_line, response.status, sent)


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


async def _write(connection: Connection, request: Request, method: str, response: Response) -> int:
    """Write the reply; return how many body bytes went out (for the access log)."""
    rid, conn = request.rid, connection.conn
    head = response_head(response, method)
    body = response.body
    send_body = body_allowed(method, response.status)
    if isinstance(body, bytes | bytearray | memoryview):
        payload = memoryview(body) if send_body else memoryview(b"")
        if len(head) + len(payload) <= _SMALL_REPLY:
            await connection.finish(request, conn.send_stdout(rid, head + payload))
            return len(payload)
        await connection.send(conn.send_stdout(rid, head))
        for start in range(0, len(payload), _SLICE):
            await connection.send(conn.send_stdout(rid, payload[start : start + _SLICE]))
        await connection.finish(request, b"")
        return len(payload)
    await connection.send(conn.send_stdout(rid, head))
    if not send_body:
        await _close_iterable(body)
        await connection.finish(request, b"")
        return 0
    sent = [0]
    completed = await _stream(connection, request, body, sent)
    await connection.finish(request, b"", app_status=0 if completed else 1)
    return sent[0]


async def _stream(
    connection: Connection, request: Request, body: AsyncIterable[bytes], sent: list[int]
) -> bool:
    """Send an async-iterable body chunk by chunk (counting into ``sent[0]``); False if
    the request was aborted."""
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
                    raise ConnectionGone from exc
                finally:
                    request.scope = None
            if scope.cancelled_caught:
                return False
            view = memoryview(chunk)
            for start in range(0, len(view), _SLICE):
                piece = view[start : start + _SLICE]
                await connection.send(connection.conn.send_stdout(request.rid, piece))
                sent[0] += len(piece)
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
