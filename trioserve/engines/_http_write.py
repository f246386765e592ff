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
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable

import h11
import trio

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

__all__ = ["Drop", "close_body", "close_connection", "fatal", "send", "write_response"]

log = logging.getLogger("trioserve.http")

#: bodies up to this size go out in the same send as the head (copying them is cheaper
#: than a second syscall); larger ones are sent as they are, without a copy
_COALESCE_LIMIT = 64 * 1024
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


async def send(conn: ConnectionState, data: bytes | bytearray) -> None:
    """Send ``data``; :class:`Drop` when the socket takes nothing for ``write_timeout``.

    Written to the descriptor directly (see :meth:`ConnectionState.read_nowait`): a reply
    the socket buffer takes at once costs one syscall and no cancel scope; only a wait for
    room runs under the timeout.
    """
    timeout = conn.engine.options.write_timeout
    view = memoryview(data)
    while view:
        sent = conn.write_nowait(view)  # the kernel takes what fits: no copy, few syscalls
        view = view[sent:]
        if view and not sent:
            with trio.move_on_after(timeout) as scope:
                await trio.lowlevel.wait_writable(conn.fd)
            conn.waited = True
            if scope.cancelled_caught:
                raise Drop(f"write timeout: no progress for {timeout:g} s (client not reading)")


async def write_response(
    conn: ConnectionState, method: str, response: Response, *, close: bool
) -> int:
    """Write ``response`` to a ``method`` request; return the body bytes sent (access log)."""
    server = conn.engine.ctx.server_header
    status = response.status
    try:
        if not 200 <= status <= 599:
            raise ValueError(f"status {status}")
        reason = reason_phrase(status)
        fields = response_headers(response, server=server, close=close)
        if (
            conn.fast_head is not None
            and not close
            and isinstance(response.body, bytes | bytearray)
        ):
            simple = simple_response_head(status, reason, fields)
            if simple is not None:
                return await _write_simple(conn, method, status, simple, response.body)
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]
        event = h11.Response(status_code=status, reason=reason.encode("ascii"), headers=headers)
    except (h11.LocalProtocolError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        log.error("invalid response for %s request: %s", method, exc)
        await close_body(response.body)
        error = engine_error(500, "internal_error", "the server produced an invalid response")
        return await write_response(conn, method, error, close=True)
    if conn.fast_head is not None and not conn.catch_up_h11():
        log.error("h11 read a fast-path head differently (from %s)", conn.peer)
        raise Drop("request head not understood", level=logging.ERROR)
    head = conn.h11.send(event)
    body = response.body
    sent = 0
    if method == "HEAD" or status in (204, 304):
        await close_body(body)
        await send(conn, head + conn.h11.send(h11.EndOfMessage()))
        return 0
    if isinstance(body, bytes | bytearray) and len(body) <= _COALESCE_LIMIT:
        # one send for head and a small body: half the syscalls of the common case
        data = conn.h11.send(h11.Data(data=body)) if body else b""
        await send(conn, head + data + conn.h11.send(h11.EndOfMessage()))
        return len(body)
    await send(conn, head)
    if isinstance(body, bytes | bytearray):
        await send(conn, conn.h11.send(h11.Data(data=body)))
        sent = len(body)
    else:
        try:
            async for chunk in body:
                if chunk:
                    await send(conn, conn.h11.send(h11.Data(data=chunk)))
                    sent += len(chunk)
        except h11.LocalProtocolError:
            raise Drop("streamed body longer than its Content-Length") from None
        except (Drop, trio.BrokenResourceError, trio.ClosedResourceError):
            raise
        except Exception:
            log.exception("streamed response body failed after %d bytes", sent)
            raise Drop("streamed response body failed") from None
        finally:
            await close_body(body)
    try:
        await send(conn, conn.h11.send(h11.EndOfMessage()))
    except h11.LocalProtocolError:
        raise Drop("streamed body shorter than its Content-Length") from None
    return sent


async def _write_simple(
    conn: ConnectionState, method: str, status: int, head: bytes, body: bytes | bytearray
) -> int:
    """A fast-path response: the head :mod:`._http_fast` wrote (the bytes h11 would have)
    and a body of known length, without h11's events."""
    if method == "HEAD" or status in (204, 304) or not body:
        await send(conn, head)
        return 0
    if len(body) <= _COALESCE_LIMIT:
        await send(conn, head + body)
    else:
        await send(conn, head)
        await send(conn, body)
    return len(body)


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
    """Answer an engine-detected error (if no response has started) and close."""
    response = engine_error(error.status, error.code, error.message)
    if conn.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        data = raw_response_bytes(
            response, server=conn.engine.ctx.server_header, head=method == "HEAD"
        )
        await send(conn, data)
        body = response.body if isinstance(response.body, bytes) else b""
        sent = len(body) if method != "HEAD" else 0
        conn.engine.access.log(conn.peer, user, request_line, error.status, sent)
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
            await stream.send_eof()
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
