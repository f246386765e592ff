"""What an HTTP/1.1 connection sends, and how it ends: responses, error answers, the close.

Functions of a connection (:class:`._http_state.ConnectionState`) rather than methods, so the
request loop in :mod:`._http_conn` reads on one screen; they cost no more than methods did.
The rules (which headers the engine owns, the error body) are sans-IO in
:mod:`._http_response`; this is the Trio half:

* every send hands the socket all that is left and waits for room only when it took
  nothing, each wait under ``write_timeout``: a client that stops reading is dropped, while
  a slow one that keeps reading is served (backpressure, not a deadline on the whole body);
* a small body goes out in the same send as the head (one syscall, one packet);
* a streamed body is written chunk by chunk as it is produced, and always closed;
* an engine-detected error is answered (if no response has started) and the connection is
  closed *lingering*: we read and discard what the client still sends for a moment, so it reads
  our answer instead of a reset caused by its unread upload;
* :class:`Drop` ends a connection without an answer (client gone, write timeout, a broken
  streamed body); the request loop logs its reason once.

The access log (:mod:`trioserve.accesslog`) is written here too, where the outcome is known:
:func:`write_response` and :func:`fatal` log their request after the last byte or, when the
write is cut (write timeout, reset, shutdown, a failing streamed body), with the body bytes
the socket really took -- :func:`send` tells a :class:`Tally` how far a cut send got -- and
the reason; :class:`UpgradeStream` logs a websocket upgrade when its answer goes out;
:func:`log_unanswered` logs a request that got no answer at all. One line per request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable

import h11
import trio

from trioserve._cancellation import only_cancelled
from trioserve.accesslog import CLIENT_CLOSED
from trioserve.call import Response
from trioserve.engines._http_fast import simple_response_head
from trioserve.engines._http_parse import HeadError
from trioserve.engines._http_response import (
    engine_error,
    raw_response_bytes,
    reason_phrase,
    response_headers,
)
from trioserve.engines._http_state import ConnectionState

__all__ = [
    "COALESCE_LIMIT",
    "Drop",
    "Tally",
    "UpgradeStream",
    "close_body",
    "close_connection",
    "cut_reason",
    "fatal",
    "log_unanswered",
    "send",
    "write_response",
]

log = logging.getLogger("trioserve.http")

#: bodies up to this size go out in the same send as the head (copying them is cheaper
#: than a second syscall); larger ones are sent as they are, without a copy
COALESCE_LIMIT = 64 * 1024
#: after an error answer: how long, and how much, we read and discard before closing, so the
#: client sees our response instead of a reset caused by its unread upload
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1024 * 1024
#: bytes asked of the socket per receive while lingering
_LINGER_RECEIVE_SIZE = 64 * 1024


class Drop(Exception):
    """End this connection without an answer; ``reason`` goes to the log."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level


class Tally:
    """The reply on its way out, as its access-log line will tell it: the status sent and
    the body bytes the socket took so far (exact even when a send is cut half-way)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int) -> None:
        self.status = status
        self.body = 0


async def send(
    conn: ConnectionState,
    data: bytes | bytearray | memoryview,
    tally: Tally | None = None,
    skip: int = 0,
    room: int = 0,
) -> None:
    """Send ``data``; :class:`Drop` when the socket takes nothing for ``write_timeout``.

    Written to the descriptor directly (see :meth:`ConnectionState.read_nowait`): a reply
    the socket buffer takes at once costs one syscall and no cancel scope; only a wait for
    room runs under the timeout (and on TLS, every piece: :meth:`ConnectionState.send_some`).

    With a ``tally``, ``data`` holds ``room`` body bytes after ``skip`` bytes of head or
    framing: they are counted into it once sent, and if the send fails (a timeout, a reset,
    a cancellation), only those the socket took. Counting costs nothing until then.
    """
    timeout = conn.engine.options.write_timeout
    view = memoryview(data)
    try:
        while view:
            sent = conn.write_nowait(view)  # the kernel takes what fits: no copy, few syscalls
            view = view[sent:]
            if view and not sent:
                with trio.move_on_after(timeout) as scope:
                    sent = await conn.send_some(view)
                view = view[sent:]
                conn.waited = True
                if scope.cancelled_caught:
                    raise Drop(f"write timeout: no progress for {timeout:g} s (client not reading)")
    except BaseException:
        if tally is not None:
            taken = len(data) - len(view) - skip
            if taken > 0:
                tally.body += min(taken, room)
        raise
    if tally is not None:
        tally.body += room


def _skip(data: bytes | bytearray, payload: int) -> int:
    """The framing before the payload in what h11 made of a Data event: nothing with a
    Content-Length, the chunk-size line when chunked (whose ``\\r\\n`` follows the payload)."""
    extra = len(data) - payload
    return extra - 2 if extra else 0


async def write_response(
    conn: ConnectionState,
    method: str,
    response: Response,
    *,
    close: bool,
    user: str | None,
    request_line: str,
) -> None:
    """Write ``response`` to a ``method`` request, then log its access line: after the last
    byte, or -- when the write is cut -- with the body bytes the socket took and why."""
    tally = Tally(response.status)
    try:
        await _write(conn, method, response, close, tally)
    except BaseException as exc:
        conn.engine.access.log(
            conn.peer, user, request_line, tally.status, tally.body, cut=cut_reason(conn, exc)
        )
        raise
    conn.engine.access.log(conn.peer, user, request_line, tally.status, tally.body)


async def _write(
    conn: ConnectionState, method: str, response: Response, close: bool, tally: Tally
) -> None:
    server = conn.engine.ctx.server_header
    status = response.status
    try:
        if not 200 <= status <= 599:
            raise ValueError(f"status {status}")
        reason = reason_phrase(status)
        fields = response_headers(response, server=server, close=close)
        body = response.body
        if conn.fast_head is not None and not close and isinstance(body, bytes | bytearray):
            simple = simple_response_head(status, reason, fields)
            if simple is not None:
                # a fast-path response: the head :mod:`._http_fast` wrote (the bytes h11
                # would have) and a body of known length, without h11's events
                if method == "HEAD" or status in (204, 304) or not body:
                    await send(conn, simple)
                elif len(body) <= COALESCE_LIMIT:
                    await send(conn, simple + body, tally, len(simple), len(body))
                else:
                    await send(conn, simple)
                    await send(conn, body, tally, 0, len(body))
                return
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]
        event = h11.Response(status_code=status, reason=reason.encode("ascii"), headers=headers)
    except (h11.LocalProtocolError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        log.error("invalid response for %s request: %s", method, exc)
        await close_body(response.body)
        error = engine_error(500, "internal_error", "the server produced an invalid response")
        tally.status = error.status
        await _write(conn, method, error, True, tally)
        return
    if conn.fast_head is not None and not conn.catch_up_h11():
        log.error("h11 read a fast-path head differently (from %s)", conn.peer)
        raise Drop("request head not understood", level=logging.ERROR)
    head = conn.h11.send(event)
    if method == "HEAD" or status in (204, 304):
        await close_body(body)
        await send(conn, head + conn.h11.send(h11.EndOfMessage()))
        return
    if isinstance(body, bytes | bytearray) and len(body) <= COALESCE_LIMIT:
        # one send for head and a small body: half the syscalls of the common case
        data = conn.h11.send(h11.Data(data=body)) if body else b""
        skip = len(head) + _skip(data, len(body))
        await send(conn, head + data + conn.h11.send(h11.EndOfMessage()), tally, skip, len(body))
        return
    await send(conn, head)
    if isinstance(body, bytes | bytearray):
        data = conn.h11.send(h11.Data(data=body))
        await send(conn, data, tally, _skip(data, len(body)), len(body))
    else:
        try:
            async for chunk in body:
                if chunk:
                    data = conn.h11.send(h11.Data(data=chunk))
                    await send(conn, data, tally, _skip(data, len(chunk)), len(chunk))
        except h11.LocalProtocolError:
            raise Drop("streamed body longer than its Content-Length") from None
        except (Drop, trio.BrokenResourceError, trio.ClosedResourceError):
            raise
        except Exception:
            log.exception("streamed response body failed after %d bytes", tally.body)
            raise Drop("streamed response body failed") from None
        finally:
            await close_body(body)
    try:
        await send(conn, conn.h11.send(h11.EndOfMessage()))
    except h11.LocalProtocolError:
        raise Drop("streamed body shorter than its Content-Length") from None


async def close_body(body: bytes | bytearray | AsyncIterable[bytes]) -> None:
    """Close a streamed body we will not (or no longer) send, so its producer can clean up."""
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log.exception("closing a streamed response body failed")


async def fatal(
    conn: ConnectionState,
    error: HeadError,
    *,
    method: str | None,
    request_line: str,
    user: str | None = None,
) -> None:
    """Answer an engine-detected error (if no response has started), log it, and close."""
    response = engine_error(error.status, error.code, error.message)
    access = conn.engine.access
    if conn.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        data = raw_response_bytes(
            response, server=conn.engine.ctx.server_header, head=method == "HEAD"
        )
        body = response.body if isinstance(response.body, bytes) else b""
        size = len(body) if method != "HEAD" else 0
        tally = Tally(error.status)
        try:
            await send(conn, data, tally, len(data) - size, size)
        except BaseException as exc:
            cut = cut_reason(conn, exc)
            access.log(conn.peer, user, request_line, error.status, tally.body, cut=cut)
            raise
        access.log(conn.peer, user, request_line, error.status, tally.body)
    else:  # a response had started: nothing more can be said on this connection
        access.log(conn.peer, user, request_line, error.status, 0, cut=error.message)
    log.info("dropped connection from %s: %d %s", conn.peer, error.status, error.message)
    conn.dropped = True
    await close_connection(conn, linger=True)


async def close_connection(conn: ConnectionState, *, linger: bool) -> None:
    """Close our side; with ``linger``, drain what the client still sends for a moment so
    it reads our answer rather than a reset."""
    stream = conn.stream
    conn.in_request = False  # nothing left to protect with the grace period
    if linger and not conn.engine.closing:
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()  # TLS has no half-close: the drain alone
            with trio.move_on_after(_LINGER_SECONDS):
                drained = 0
                while drained < _LINGER_BYTES:
                    data = await stream.receive_some(_LINGER_RECEIVE_SIZE)
                    if not data:
                        break
                    drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
    await stream.aclose()


# -- the access log's view of endings --------------------------------------------------------


def cut_reason(conn: ConnectionState, exc: BaseException) -> str:
    """Why a request's answer was cut short (or never given), for its access-log line."""
    if isinstance(exc, Drop):
        return exc.reason
    if isinstance(exc, trio.BrokenResourceError | trio.ClosedResourceError):
        return "connection reset by peer"
    if only_cancelled(exc):
        return "server shutdown" if conn.engine.closing else "connection cancelled"
    return "internal error"


def log_unanswered(
    conn: ConnectionState, user: str | None, request_line: str, exc: BaseException
) -> None:
    """Log a request that ended without any answer: the status it stands for is
    :data:`~trioserve.accesslog.CLIENT_CLOSED` when the client went away first, 503 when the
    server shut down first, 500 when it failed (see :mod:`trioserve.accesslog`)."""
    if isinstance(exc, Drop | trio.BrokenResourceError | trio.ClosedResourceError):
        status = CLIENT_CLOSED
    elif only_cancelled(exc):
        status = 503
    else:
        status = 500
    conn.engine.access.log(conn.peer, user, request_line, status, 0, cut=cut_reason(conn, exc))


class UpgradeStream(trio.abc.Stream):
    """The connection's stream as the websocket hook gets it: the same bytes both ways, and
    the request's access-log line written when the hook's answer goes out -- ``101`` at the
    upgrade (not when the session ends, which may be days later), or the refusal it sent
    (403, 404, ...) with its body bytes.

    The hook's first send is its answer's head (:mod:`trioserve.ws` sends the head of a 101
    alone, and a refusal whole); after it this is a plain pass-through.
    """

    def __init__(self, conn: ConnectionState, user: str | None, request_line: str) -> None:
        self._conn = conn
        self._stream = conn.stream
        self._user = user
        self._request_line = request_line
        #: the line is written (or being written): the hook answered
        self.logged = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.logged:
            await self._stream.send_all(data)
            return
        self.logged = True
        status, body = _answer_of(bytes(data))
        conn = self._conn
        log_line = conn.engine.access.log
        try:
            await self._stream.send_all(data)
        except BaseException as exc:
            cut = cut_reason(conn, exc)
            log_line(conn.peer, self._user, self._request_line, status, 0, cut=cut)
            raise
        log_line(conn.peer, self._user, self._request_line, status, body)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()


def _answer_of(data: bytes) -> tuple[int, int]:
    """(status, body bytes) of the answer whose head starts ``data``; what follows the head
    of a 101 is the websocket's, not a body. An unreadable head logs as 500."""
    status = 500
    if data.startswith(b"HTTP/1.") and data[12:13] in (b" ", b"\r") and data[9:12].isdigit():
        status = int(data[9:12])
    end = data.find(b"\r\n\r\n")
    body = len(data) - end - 4 if end >= 0 and status != 101 else 0
    return status, body
