"""An idle HTTP/1.1 connection parked for the program's thread (``sync="app"``).

:mod:`trioserve.parking` says why and keeps the rules of ownership; this module is what the
two threads do with an HTTP/1.1 connection:

* :func:`park` (the server's Trio thread, where the request loop would wait for the next
  request): parks the connection and sleeps until it is handed back, keeping the keep-alive
  deadline, shedding and shutdown exactly as a connection waiting for its next request;
  then carries on from what the program left (:class:`Pending`: a reply to write, or the
  rest of one; bytes of a request it did not take);
* :func:`serve_parked` (the program's thread, inside ``process_requests()``): reads what
  arrived and answers each complete request that it can answer whole, right there: the
  fast path's shape (:mod:`._http_fast`), a request the dispatcher can answer without
  waiting on anything but object access (``EngineContext.runs_inline``: ``root.json``,
  ``h.json`` and their kin), no authenticator on the engine, no shutdown or slot pressure,
  and a reply of bytes whose head the fast path writes. The request runs through the same
  :func:`~._http_response.dispatch_call` and the same head functions as in the server's
  thread, so the bytes are the same (``tests/engines/test_http_park.py`` compares them).

Anything else is handed back untouched: the program stops at the first request it does not
take and leaves its bytes in ``conn.buffer``, so the server's thread reads them as if they had
just arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from trioserve.call import Response
from trioserve.engines._http_fast import parse_simple_head, simple_response_head
from trioserve.engines._http_parse import HeadError, HeadGuard
from trioserve.engines._http_response import (
    answer_before_body,
    dispatch_call,
    reason_phrase,
    response_headers,
)
from trioserve.engines._http_state import ConnectionState
from trioserve.engines._http_write import (
    COALESCE_LIMIT,
    Drop,
    Tally,
    cut_reason,
    send,
    write_response,
)
from trioserve.gzip_reply import DEFER_ABOVE, finish_gzip
from trioserve.parking import Broken, Parked

__all__ = ["Pending", "may_park", "park", "serve_parked"]

log = logging.getLogger("trioserve.http")

#: ``.gz`` bodies up to this size are compressed in the program's thread (a monitored
#: histogram: tens of µs); larger ones by the server's (:data:`~trioserve.gzip_reply.DEFER_ABOVE`)
GZIP_IN_PROGRAM = 128 * 1024
#: :func:`_run_inline`: the request waited on something after all
_SUSPENDED = object()
#: hand-backs: the client closed; the next request is for the server's thread (its bytes are
#: in ``conn.buffer``)
_CLOSED = object()
_READ_ON = object()


@dataclass(slots=True, kw_only=True)
class Pending:
    """An answer the program began and the server's thread finishes: a reply to write
    whole (``response``), or the ``rest`` of one the socket did not take at once."""

    method: str
    user: str | None
    request_line: str
    response: Response | None = None
    rest: bytes | memoryview = b""
    tally: Tally | None = None
    skip: int = 0
    room: int = 0


# -- the server's thread -----------------------------------------------------------------------


def may_park(conn: ConnectionState) -> bool:
    """Whether the program could answer anything on ``conn``: a plain socket, on an engine
    whose authenticator (if any) may judge from any thread (digest auth keeps nonce counts
    only the server's thread may change), not echoing (``debug``). Otherwise parking would
    only add a hop to every request."""
    engine = conn.engine
    authenticator = engine.authenticator
    return (
        conn.parkable
        and not engine.options.debug
        and getattr(authenticator, "any_thread", authenticator is None)
    )


async def park(conn: ConnectionState) -> bytes | None:
    """Park ``conn`` (idle, nothing buffered) until the program hands it back; return the
    bytes of a request to read next (``b""``: the client closed), or None to wait for one
    here as usual. Raises (:class:`Drop`, cancellation) where the connection ends."""
    parking = conn.engine.ctx.parking
    assert parking is not None
    keepalive = conn.engine.options.keepalive_timeout
    conn.idle = "keep-alive idle timeout"
    conn.idle_since = now = trio.current_time()
    # the program keeps idle_since on Trio's clock (shedding ranks by it) through this offset
    parked = parking.park(conn.fd, partial(serve_parked, conn, now - time.monotonic()))
    try:
        while not parked.returned.is_set():
            remaining = keepalive - (time.monotonic() - parked.active_at)
            if remaining <= 0 and parking.take_back(parked):
                assert conn.scope is not None
                conn.scope.cancel()  # as the idle deadline does: the engine logs conn.idle
                await trio.lowlevel.checkpoint()
            with trio.move_on_after(max(remaining, 0.05)):
                await parked.returned.wait()
    except BaseException:
        if not parking.take_back(parked):  # the program is answering: let it finish
            with trio.CancelScope(shield=True):
                await parked.returned.wait()
        raise
    conn.idle = None
    return await _carry_on(conn, parked)


async def _carry_on(conn: ConnectionState, parked: Parked) -> bytes | None:
    handback = parked.handback
    if isinstance(handback, Broken):
        raise Drop(handback.reason, level=logging.ERROR)
    if isinstance(handback, BaseException):
        raise handback
    if handback is _CLOSED:
        return b""
    if isinstance(handback, Pending) and not await _finish(conn, handback):
        return b""  # a closing answer: the connection ends here
    conn.fast_head = None  # the program's last request is over: the next is read afresh
    # the next request's bytes, if any (a request the program left, or pipelined after the
    # reply it began); none after the watch took the connection back
    data, conn.buffer = conn.buffer, b""
    return data or None


async def _finish(conn: ConnectionState, pending: Pending) -> bool:
    """Write what the program could not; False when the connection must close."""
    conn.in_request = True
    try:
        if pending.response is not None:
            finish_gzip(pending.response)  # a large .gz body is left for this thread
            engine = conn.engine
            close = pending.response.close or engine.closing or engine.pressure
            await write_response(
                conn,
                pending.method,
                pending.response,
                close=close,
                user=pending.user,
                request_line=pending.request_line,
            )
            if conn.fast_head is None:  # h11 wrote it: a fresh state machine for what follows
                conn.next_cycle()
            return not close
        tally = pending.tally
        assert tally is not None
        access = conn.engine.access
        line = (conn.peer, pending.user, pending.request_line, tally.status)
        try:
            await send(conn, pending.rest, tally, pending.skip, pending.room)
        except BaseException as exc:
            access.log(*line, tally.body, cut=cut_reason(conn, exc))
            raise
        access.log(*line, tally.body)
        return True
    finally:
        conn.in_request = False


# -- the program's thread ----------------------------------------------------------------------


def serve_parked(conn: ConnectionState, clock_offset: float = 0.0) -> tuple[object, int]:
    """Answer what arrived on ``conn``; return the hand-back (None: stay parked) and how many
    requests were answered. Never waits: the socket is read and written without blocking.
    ``clock_offset`` turns ``time.monotonic()`` into Trio's clock."""
    try:
        data = conn.read_nowait()
    except trio.BrokenResourceError as exc:
        return exc, 0
    if data is None:  # woken for nothing (the poll saw an event that was not data)
        return None, 0
    if not data:
        return _CLOSED, 0  # the client closed between requests
    conn.buffer += data
    answered = 0
    try:
        while conn.buffer:
            handback = _answer_one(conn)
            if handback is not None:
                # a reply begun here and finished by the server's thread counts as answered
                return handback, answered + isinstance(handback, Pending)
            answered += 1
            conn.idle_since = time.monotonic() + clock_offset
    except Drop as drop:
        return drop, answered
    return None, answered


def _answer_one(conn: ConnectionState) -> object | None:
    """Answer the request at the start of ``conn.buffer``; None when it was answered whole,
    else the hand-back: :data:`_READ_ON` (the request's bytes still buffered) or the
    :class:`Pending` rest of its answer."""
    engine = conn.engine
    options = engine.options
    if engine.closing or engine.pressure:  # (the rest of :func:`may_park` held at parking)
        return _READ_ON
    guard = HeadGuard(options.max_url_length, options.max_header_bytes)
    try:
        guard.feed(conn.buffer)
    except HeadError:
        return _READ_ON  # the server's thread answers the error, as it would have
    if not guard.complete:
        return _READ_ON
    head = conn.buffer[: guard.seen]
    simple = parse_simple_head(head)
    if simple is None:
        return _READ_ON
    try:
        checked = conn.check(simple)
    except HeadError:
        return _READ_ON
    raw_method, raw_target, raw_version, _ = simple
    method = raw_method.decode("ascii")
    target = raw_target.decode("latin-1")
    version = raw_version.decode("ascii")
    call = conn.call_for(checked, target, version)
    if not engine.ctx.runs_inline(call):
        return _READ_ON
    request_line = f"{method} {target} HTTP/{version}"
    conn.fast_head = head
    conn.in_request = True
    try:
        response: object = answer_before_body(engine, call, checked.path)  # a token's refusal
        if response is None:
            deferring = DEFER_ABOVE.set(GZIP_IN_PROGRAM)
            try:
                response = _run_inline(dispatch_call(engine.ctx.handle, call))
            finally:
                DEFER_ABOVE.reset(deferring)
        if response is _SUSPENDED:  # a handler that waits after all: the server's to answer
            log.warning(
                "%s waited for something in the program's thread; answered by the "
                "server's thread instead",
                request_line,
            )
            conn.fast_head = None
            return _READ_ON
        assert isinstance(response, Response)
        conn.buffer = conn.buffer[guard.seen :]
        conn.requests += 1
        return _write(conn, method, call.user, request_line, response)
    finally:
        conn.in_request = False


def _run_inline(coroutine: Coroutine[Any, Any, Response]) -> object:
    """Run a coroutine that should finish without suspending (object access runs inline in
    this thread, see :meth:`~trioserve.appthread.AppThreadAccess.run`); close it and
    return :data:`_SUSPENDED` if it waits on anything after all."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    return _SUSPENDED


def _write(
    conn: ConnectionState, method: str, user: str | None, request_line: str, response: Response
) -> Pending | None:
    """Write ``response`` whole (None), or leave the server's thread what it must finish."""
    engine = conn.engine
    pending = partial(Pending, method=method, user=user, request_line=request_line)
    body = response.body
    status = response.status
    if (
        response.close
        or response.gzip_pending
        or not isinstance(body, bytes | bytearray)
        or not 200 <= status <= 599
    ):
        return pending(response=response)
    try:
        fields = response_headers(response, server=engine.ctx.server_header, close=False)
        head = simple_response_head(status, reason_phrase(status), fields)
    except ValueError:  # UnicodeEncodeError: the server's path answers it (a 500)
        head = None
    if head is None:
        return pending(response=response)
    if method == "HEAD" or status in (204, 304):
        body = b""
    room = len(body)
    try:
        if room <= COALESCE_LIMIT:  # one write for head and body, as the server's thread does
            sent = conn.write_nowait(memoryview(head + body))
        else:  # a large body goes as it is, not copied behind the head
            sent = conn.write_nowait(memoryview(head))
            if sent == len(head):
                sent += conn.write_nowait(memoryview(body))
    except trio.BrokenResourceError as exc:
        engine.access.log(conn.peer, user, request_line, status, 0, cut=cut_reason(conn, exc))
        raise Drop("connection reset by peer") from None
    if sent < len(head) + room:
        tally = Tally(status)
        if sent < len(head):  # (rare: the socket's buffer had no room for a head)
            rest: bytes | memoryview = head[sent:] + body
        else:
            tally.body = sent - len(head)
            rest = memoryview(body)[tally.body :]
        skip = max(0, len(head) - sent)
        return pending(rest=rest, tally=tally, skip=skip, room=room - tally.body)
    engine.access.log(conn.peer, user, request_line, status, room)
    return None
