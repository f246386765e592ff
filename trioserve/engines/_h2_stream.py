"""One HTTP/2 stream of the HTTP engine: its request becomes the same :class:`Call` an HTTP/1.1
request becomes, answered by the same dispatcher, in the same order of decisions.

Each stream is one task (started by :mod:`._h2_conn`, which feeds it body bytes, resets and
window changes through the plain methods below). The order is :mod:`._http_conn`'s:
``OPTIONS *`` and CORS preflights first, then authentication *before* the body is awaited
(a refused upload is reset, not received), the body within ``max_body`` and
``body_timeout``, the ``debug`` echo page or ``ctx.handle(call)``. Differences, each because
HTTP/2 says so:

* a bad head (:class:`~._http_parse.HeadError`) is answered on its stream, and the
  connection goes on;
* an answer given before the request body ended is followed by RST_STREAM NO_ERROR
  (RFC 9113 §8.1), which tells the client to stop sending it;
* ``root.websocket`` requests get RST_STREAM HTTP_1_1_REQUIRED: websockets stay on HTTP/1.1
  (we do not offer RFC 8441), and browsers retry over HTTP/1.1 on that code;
* the response goes out DATA frame by DATA frame as the flow-control windows allow: a client
  that does not open its stream's window for ``write_timeout`` seconds gets that stream
  reset, and only that stream waits meanwhile. A streamed body holds one chunk at a time.

One access-log line per stream, like one per HTTP/1.1 request (``"GET /x HTTP/2.0"``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Protocol

import trio

from trioserve._cancellation import only_cancelled
from trioserve.accesslog import CLIENT_CLOSED
from trioserve.call import Call, Response
from trioserve.debugpage import render_debug_page
from trioserve.engines._h2_state import ErrorCodes, H2Head, H2State, StreamGone
from trioserve.engines._http_parse import HeadError
from trioserve.engines._http_response import (
    DEBUG_TITLE,
    answer_before_body,
    dispatch_call,
    engine_error,
    response_headers,
)
from trioserve.engines._http_write import close_body

if TYPE_CHECKING:
    from trioserve.engines._http_state import ConnectionState

__all__ = ["H2Stream", "Link"]

log = logging.getLogger("trioserve.http")


class ConnectionLost(Exception):
    """The connection can carry nothing more (its writer failed); the stream just ends."""


class Link(Protocol):
    """What a stream uses of its connection (:class:`._h2_conn.H2Driver`)."""

    state: H2State
    conn: ConnectionState

    async def flush(self) -> None:
        """Return once everything queued so far is written; :class:`ConnectionLost` if the
        connection broke."""

    def stream_finished(self, stream: H2Stream) -> None: ...


class H2Stream:
    """One request and its response; see the module docstring."""

    __slots__ = (
        "_body_event",
        "_window_event",
        "body_ended",
        "error",
        "head",
        "link",
        "logged",
        "parts",
        "received",
        "request_line",
        "reset_code",
        "scope",
        "sent",
        "status",
        "stream_id",
        "too_large",
        "user",
    )

    def __init__(
        self,
        link: Link,
        stream_id: int,
        head: H2Head | None,
        *,
        ended: bool,
        error: HeadError | None = None,
        request_line: str,
    ) -> None:
        self.link = link
        self.stream_id = stream_id
        self.head = head
        self.error = error
        self.request_line = request_line
        self.body_ended = ended
        self.parts: list[bytes] = []
        self.received = 0
        self.too_large = False
        self._body_event = trio.Event()
        self._window_event = trio.Event()
        #: cancelled when the client resets the stream
        self.scope = trio.CancelScope()
        self.reset_code: int | None = None
        self.user: str | None = None
        #: the status answered and the body bytes written, for the access log
        self.status = 0
        self.sent = 0
        self.logged = False

    # -- what the connection tells the stream (plain calls from its reader) ---------------

    def deliver(self, data: bytes) -> None:
        self.parts.append(data)
        self.received += len(data)
        self._body_event.set()

    def end_body(self) -> None:
        self.body_ended = True
        self._body_event.set()

    def body_too_large(self) -> None:
        self.too_large = True
        self._body_event.set()

    def peer_reset(self, code: int) -> None:
        self.reset_code = code
        self.scope.cancel()

    def window_opened(self) -> None:
        self._window_event.set()

    # -- the task ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            with self.scope:
                await self._serve()
        except ConnectionLost as lost:
            self._log_cut(str(lost) or "connection lost")
        except Exception as exc:  # a bug of ours: this stream ends, the connection goes on
            self.link.state.reset(self.stream_id, ErrorCodes.INTERNAL_ERROR)
            self._log_cut(None, exc)
        except BaseException as exc:
            self._log_cut(None, exc)
            raise
        finally:
            self.link.stream_finished(self)
        if self.scope.cancelled_caught:
            self._log_cut("stream reset by client")

    async def _serve(self) -> None:
        if self.error is not None or self.head is None:
            error = self.error or HeadError(400, "bad_request", "malformed request")
            self.link.state.discard_body(self.stream_id)
            await self._write("-", engine_error(error.status, error.code, error.message))
            return
        head = self.head
        call = self.link.conn.call_for(head, head.target, "2")
        try:
            response = await self._answer(call)
        except HeadError as error:
            self.link.state.discard_body(self.stream_id)
            response = engine_error(error.status, error.code, error.message)
        self.user = call.user
        if response is None:
            return
        hsts: str | None = getattr(self.link.conn, "hsts", None)
        if hsts is not None:  # the https engine's header, as its HTTP/1.1 answers carry it
            response.set_header("Strict-Transport-Security", hsts)
        await self._write(call.method, response)

    async def _answer(self, call: Call) -> Response | None:
        engine = self.link.conn.engine
        # a client certificate's user (https), unless the authenticator names one
        call.user = getattr(self.link.conn, "tls_user", None)
        early = answer_before_body(engine, call, call.path)
        if early is not None:
            self.link.state.discard_body(self.stream_id)
            return early
        call.body = await self._read_body()
        if call.file_name == "root.websocket":
            if engine.ctx.websocket is None:
                return engine_error(404, "not_found", "no websocket handler here")
            # websockets stay on HTTP/1.1: this code makes browsers retry there
            self.link.state.reset(self.stream_id, ErrorCodes.HTTP_1_1_REQUIRED)
            await self.link.flush()
            self._log(426, cut="websocket over HTTP/2: reset with HTTP_1_1_REQUIRED")
            return None
        if engine.options.debug:
            return render_debug_page(DEBUG_TITLE, call)
        return await self._dispatch(call)

    async def _read_body(self) -> bytes:
        timeout = self.link.conn.engine.options.body_timeout
        while True:
            if self.too_large:
                limit = self.link.conn.engine.options.max_body
                raise HeadError(413, "body_too_large", f"the request body exceeds {limit} bytes")
            if self.body_ended:
                break
            event = self._body_event = trio.Event()
            with trio.move_on_after(timeout) as waited:
                await event.wait()
            if waited.cancelled_caught:
                raise HeadError(408, "request_timeout", "request body not received in time")
        body = b"".join(self.parts)
        self.parts = []
        return body

    async def _dispatch(self, call: Call) -> Response:
        return await dispatch_call(self.link.conn.engine.ctx.handle, call)

    # -- the response ----------------------------------------------------------------------

    async def _write(self, method: str, response: Response) -> None:
        state = self.link.state
        conn = self.link.conn
        body = response.body
        try:
            if not 200 <= response.status <= 599:
                raise ValueError(f"status {response.status}")
            fields = response_headers(response, server=conn.engine.ctx.server_header, close=False)
            bodiless = method == "HEAD" or response.status in (204, 304)
            empty = bodiless or (isinstance(body, bytes | bytearray) and not body)
            state.send_head(self.stream_id, response.status, fields, end_stream=empty)
        except ValueError as exc:
            log.error("invalid response for %s request: %s", method, exc)
            await close_body(body)
            invalid = "the server produced an invalid response"
            await self._write(method, engine_error(500, "internal_error", invalid))
            return
        except StreamGone:
            await close_body(body)
            raise ConnectionLost("stream closed before its answer") from None
        self.status = response.status
        try:
            if empty:
                await self.link.flush()
                await close_body(body)
            elif isinstance(body, bytes | bytearray):
                await self._send(memoryview(body), end=True)  # the head goes with its first frame
            else:
                await self.link.flush()
                await self._stream_body(body, response.content_length)
        except StreamGone as gone:
            self._log(self.status, cut=str(gone))
            return
        if not self.body_ended:
            # answered before the request body ended: tell the client to stop (§8.1)
            state.reset(self.stream_id, ErrorCodes.NO_ERROR)
            await self.link.flush()
        self._log(self.status)

    async def _stream_body(self, body: AsyncIterable[bytes], length: int | None) -> None:
        sent = 0
        try:
            async for chunk in body:
                if not chunk:
                    continue
                sent += len(chunk)
                if length is not None and sent > length:
                    raise _BadStream("streamed body longer than its Content-Length")
                await self._send(memoryview(chunk), end=False)
        except (StreamGone, ConnectionLost, trio.Cancelled):
            raise
        except _BadStream as bad:
            self._fail(str(bad))
        except Exception:
            log.exception("streamed response body failed after %d bytes", self.sent)
            self._fail("streamed response body failed")
        finally:
            await close_body(body)
        if length is not None and sent < length:
            self._fail("streamed body shorter than its Content-Length")
        try:
            self.link.state.end_stream(self.stream_id)
        finally:
            await self.link.flush()

    def _fail(self, reason: str) -> None:
        self.link.state.reset(self.stream_id, ErrorCodes.INTERNAL_ERROR)
        raise StreamGone(reason)

    async def _send(self, view: memoryview, *, end: bool) -> None:
        """Send ``view`` frame by frame as the windows open; each frame is written before the
        next is made, so the connection holds at most one frame of this stream."""
        state = self.link.state
        timeout = self.link.conn.engine.options.write_timeout
        while True:
            taken = state.send_data_nowait(self.stream_id, view, end=end)
            if taken:
                await self.link.flush()
                self.sent += taken
                view = view[taken:]
                if not view:
                    return
                continue
            if not view:  # an empty piece: only its END_STREAM (if any) was queued
                await self.link.flush()
                return
            event = self._window_event = trio.Event()
            if state.window(self.stream_id) > 0:
                continue  # opened between the two looks
            with trio.move_on_after(timeout) as waited:
                await event.wait()
            if waited.cancelled_caught:
                state.reset(self.stream_id, ErrorCodes.CANCEL)
                await self.link.flush()
                raise StreamGone(
                    f"write timeout: window closed for {timeout:g} s (client not reading)"
                )

    # -- the access log --------------------------------------------------------------------

    def _log(self, status: int, *, cut: str | None = None) -> None:
        if self.logged:
            return
        self.logged = True
        conn = self.link.conn
        conn.engine.access.log(conn.peer, self.user, self.request_line, status, self.sent, cut=cut)

    def _log_cut(self, reason: str | None, exc: BaseException | None = None) -> None:
        if self.logged:
            return
        if reason is None:
            assert exc is not None
            if only_cancelled(exc):
                reason = "server shutdown" if self.link.conn.engine.closing else "connection closed"
            else:
                log.error(
                    "stream %d from %s failed", self.stream_id, self.link.conn.peer, exc_info=exc
                )
                reason = "internal error"
        if self.status:
            self._log(self.status, cut=reason)
        else:
            status = 503 if self.link.conn.engine.closing else CLIENT_CLOSED
            self._log(status, cut=reason)


class _BadStream(Exception):
    pass
