"""One HTTP/1.1 connection of the HTTP engine: the request loop on one h11 state machine.

Split from :mod:`trioserve.engines.http` (which owns options, listeners and shutdown) so each
module stays readable; the request order and the contract are described there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

import h11
import trio

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
from trioserve.engines._listen import peer_name
from trioserve.errors import RequestError

if TYPE_CHECKING:
    from trioserve.engines.http import _Engine

__all__ = ["DEBUG_TITLE", "Drop", "HttpConnection"]

log = logging.getLogger("trioserve.http")

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


#: bodies up to this size go out in the same send as the head (copying them is cheaper
#: than a second syscall); larger ones are sent as they are, without a copy
_COALESCE_LIMIT = 64 * 1024


class Drop(Exception):
    """End this connection without an answer; ``reason`` goes to the log."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level


class HttpConnection:
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
        except Drop as drop:
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
            target=request.target.decode("latin-1"),
            http_version=request.http_version.decode("ascii"),
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
                    raise Drop("client closed the connection in the middle of a request") from None
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
                        too_slow = HeadError(
                            408, "request_timeout", "request head not received in time"
                        )
                        await self._fatal(too_slow, method=None, request_line="-")
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
                    raise Drop("client closed the connection in the middle of a request body")
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
                raise Drop("unexpected event while reading a body")

    # -- writing ----------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        timeout = self.engine.options.write_timeout
        view = memoryview(data)
        for start in range(0, len(view), _WRITE_CHUNK):
            with trio.move_on_after(timeout) as scope:
                await self.stream.send_all(view[start : start + _WRITE_CHUNK])
            if scope.cancelled_caught:
                raise Drop(f"write timeout: no progress for {timeout:g} s (client not reading)")

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
        head = self.h11.send(event)
        body = response.body
        sent = 0
        if method == "HEAD" or status in (204, 304):
            await _close_body(body)
            await self._send(head + self.h11.send(h11.EndOfMessage()))
            return 0
        if isinstance(body, bytes | bytearray) and len(body) <= _COALESCE_LIMIT:
            # one send for head and a small body: half the syscalls of the common case
            data = self.h11.send(h11.Data(data=body)) if body else b""
            await self._send(head + data + self.h11.send(h11.EndOfMessage()))
            return len(body)
        await self._send(head)
        if isinstance(body, bytes | bytearray):
            await self._send(self.h11.send(h11.Data(data=body)))
            sent = len(body)
        else:
            try:
                async for chunk in body:
                    if chunk:
                        await self._send(self.h11.send(h11.Data(data=chunk)))
                        sent += len(chunk)
            except h11.LocalProtocolError:
                raise Drop("streamed body longer than its Content-Length") from None
            except (Drop, trio.BrokenResourceError, trio.ClosedResourceError):
                raise
            except Exception:
                log.exception("streamed response body failed after %d bytes", sent)
                raise Drop("streamed response body failed") from None
            finally:
                await _close_body(body)
        try:
            await self._send(self.h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            raise Drop("streamed body shorter than its Content-Length") from None
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
            body = response.body if isinstance(response.body, bytes) else b""
            sent = len(body) if method != "HEAD" else 0
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
