"""What an HTTP/1.1 connection reads: a request head, then its body, each under its timeout.

Functions of a connection (:class:`._http_state.ConnectionState`) rather than methods, so the
request loop in :mod:`._http_conn` reads on one screen; they cost no more than methods did.
The limits are checked by the sans-IO guards of :mod:`._http_parse` on the raw bytes *before*
h11 parses them, so a hostile head or chunked body is refused while it is still small:

* the first byte of a request is awaited under ``header_timeout`` (first request) or
  ``keepalive_timeout`` (later ones), in a cancel scope the engine can cut short to shed idle
  connections; silence there ends the connection quietly, with no answer;
* once a byte has arrived, the whole head must follow within ``header_timeout`` (else 408);
* the body is read only when asked for (after authentication), with ``100 Continue`` sent first
  if the client waits for it, and each read under ``body_timeout``, within ``max_body`` (413).
"""

from __future__ import annotations

import logging

import h11
import trio

from trioserve.engines._http_fast import parse_simple_head
from trioserve.engines._http_park import may_park, park
from trioserve.engines._http_parse import ChunkedGuard, HeadError, HeadGuard, RequestHead
from trioserve.engines._http_state import ConnectionState
from trioserve.engines._http_write import Drop, fatal, send

__all__ = ["PRIOR_KNOWLEDGE", "Head", "read_body", "read_head"]

log = logging.getLogger("trioserve.http")


#: a request head as both paths deliver it: (method, target, http_version, headers), the
#: headers as ``(lower-case name, value)`` byte pairs exactly as h11 normalises them
Head = tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]

#: what :func:`read_head` returns for the HTTP/2 connection preface as a connection's first
#: bytes (on an engine with ``http2``): ``conn.buffer`` still holds the whole preface
PRIOR_KNOWLEDGE: Head = (b"PRI", b"*", b"2.0", [])
#: the preface up to the blank line that ends it as an HTTP/1.1 head (RFC 9113 §3.4)
_PREFACE_HEAD = b"PRI * HTTP/2.0\r\n\r\n"


async def read_head(conn: ConnectionState) -> Head | None:
    """The next request head; None when the connection should end (an error was answered, the
    client left or stayed idle too long).

    The head's bytes are gathered in ``conn.buffer`` under the :class:`HeadGuard` limits. A
    head of the common shape is parsed by :mod:`._http_fast` and leaves h11 untouched
    (``conn.fast_head`` is set); any other is handed to h11 with everything buffered after it.
    """
    options = conn.engine.options
    conn.fast_head = None
    if not conn.buffer:
        # idle: nothing but this frame and the wait is held while a client thinks
        first = await _receive_first_byte(conn)
        if not first:
            return None  # silence, shutdown, or the client closed between requests
        conn.buffer = first
    deadline = trio.current_time() + options.header_timeout
    guard = HeadGuard(options.max_url_length, options.max_header_bytes)
    data = conn.buffer
    while True:
        try:
            guard.feed(data)
        except HeadError as error:
            await fatal(conn, error, method=None, request_line="-")
            return None
        if guard.complete:
            break
        more = await _receive_until(conn, deadline)
        if more is None:
            too_slow = HeadError(408, "request_timeout", "request head not received in time")
            await fatal(conn, too_slow, method=None, request_line="-")
            return None
        if not more:
            raise Drop("client closed the connection in the middle of a request")
        conn.buffer += more
        data = more
    head = conn.buffer[: guard.seen]
    if head == _PREFACE_HEAD and not conn.requests and options.http2:
        return PRIOR_KNOWLEDGE
    simple = parse_simple_head(head)
    if simple is not None:
        conn.buffer = conn.buffer[guard.seen :]
        conn.fast_head = head
        return simple
    return await _read_head_with_h11(conn)


async def _read_head_with_h11(conn: ConnectionState) -> Head | None:
    """The unusual head, parsed by h11 from the buffered bytes (it holds a whole head)."""
    conn.h11.receive_data(conn.buffer)
    conn.buffer = b""
    try:
        event = conn.h11.next_event()
    except h11.RemoteProtocolError as exc:
        log.debug("malformed request from %s: %s", conn.peer, exc)
        status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
        error = HeadError(status, "bad_request", "malformed HTTP request")
        await fatal(conn, error, method=None, request_line="-")
        return None
    if isinstance(event, h11.Request):
        headers = list(event.headers)
        if _bodiless(headers):
            # h11 holds the (empty) body's end ready: take it now, so an answer given before
            # the body is asked for (a 401, a preflight, OPTIONS *) does not look like one
            # that leaves a body unread, and the connection stays open
            conn.h11.next_event()
        return event.method, event.target, event.http_version, headers
    # NEED_DATA cannot happen (the guard saw the blank line that h11 also ends the head at:
    # h11 ends a head at the first blank line, CRLF or bare LF, as the guard does)
    log.error("h11 did not parse a complete head from %s: %r", conn.peer, event)
    raise Drop("request head not understood", level=logging.ERROR)


def _bodiless(headers: list[tuple[bytes, bytes]]) -> bool:
    """No Transfer-Encoding and no (or a zero) Content-Length: h11 frames an empty body."""
    length: bytes | None = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return False
        if name == b"content-length":
            length = value
    return length is None or length.strip() == b"0"


async def _receive_first_byte(conn: ConnectionState) -> bytes | None:
    """Wait for a request to begin; None (or ``b""`` when the client closed) when the
    connection should close instead.

    The wait's deadline is put on the connection's own scope (the one the engine's shutdown
    and shedding cancel) rather than on a scope of its own: an idle connection holds one
    scope, and a request costs none. When that deadline, a shed or a shutdown ends the wait,
    the cancellation ends the connection, and :attr:`ConnectionState.idle` tells the engine
    which line to log.
    """
    engine = conn.engine
    options = engine.options
    if engine.closing:
        return None
    data = conn.read_nowait()
    if data is not None:  # the next request is already here (pipelined, or a fast client)
        return data
    parking = engine.ctx.parking
    while parking is not None and conn.requests and parking.open() and may_park(conn):
        # a sync="app" program answers this connection's next requests in its own thread
        # (:mod:`trioserve.parking`); what it leaves comes back here, and once that is
        # finished (the rest of a reply written) the connection parks again
        data = await park(conn)
        if data is None:
            data = conn.read_nowait()
        if data is not None:
            return data
    if conn.requests == 0:
        deadline = conn.accepted_at + options.header_timeout
        conn.idle = "no request within header_timeout"
    else:
        deadline = trio.current_time() + options.keepalive_timeout
        conn.idle = "keep-alive idle timeout"
    conn.idle_since = trio.current_time()
    scope = conn.scope
    assert scope is not None, "a connection runs inside its engine's scope"
    saved = scope.deadline
    scope.deadline = min(saved, deadline)
    data = await conn.receive()
    scope.deadline = saved
    conn.idle = None
    return data


async def _receive_until(conn: ConnectionState, deadline: float) -> bytes | None:
    data = conn.read_nowait()
    if data is not None:
        return data
    with trio.move_on_at(deadline):
        return await conn.receive()
    return None


async def read_body(conn: ConnectionState, head: RequestHead) -> bytes:
    """The whole request body; :class:`HeadError` (408, 413, 400) or :class:`Drop` if not."""
    if conn.fast_head is not None or conn.h11.their_state is not h11.SEND_BODY:
        return b""  # a request without a body (the fast path takes no other)
    options = conn.engine.options
    if conn.h11.they_are_waiting_for_100_continue:
        await send(
            conn,
            conn.h11.send(
                h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            ),
        )
    guard: ChunkedGuard | None = None
    if head.chunked:
        guard = ChunkedGuard(options.max_body, options.max_header_bytes)
        guard.feed(conn.h11.trailing_data[0])
    parts: list[bytes] = []
    total = 0
    while True:
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError as exc:
            log.debug("malformed body from %s: %s", conn.peer, exc)
            status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
            raise HeadError(status, "bad_request", "malformed request body") from None
        if event is h11.NEED_DATA:
            data = await _receive_until(conn, trio.current_time() + options.body_timeout)
            if data is None:
                raise HeadError(408, "request_timeout", "request body not received in time")
            if not data:
                raise Drop("client closed the connection in the middle of a request body")
            if guard is not None and not guard.done:
                guard.feed(data)
            conn.h11.receive_data(data)
        elif isinstance(event, h11.Data):
            total += len(event.data)
            if total > options.max_body:
                raise HeadError(413, "body_too_large", f"the body exceeds {options.max_body} bytes")
            parts.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return b"".join(parts)
        else:
            raise Drop("unexpected event while reading a body")
