"""One HTTP/1.1 connection of the HTTP engine: the request loop on one h11 state machine.

Split from :mod:`trioserve.engines.http` (which owns options, listeners and shutdown) so each
module stays readable; the request order and the contract are described there. This module is
the loop and the decisions between reading and writing (preflights, authentication before the
body, the websocket hand-over, dispatch); the rest lives in:

* :mod:`._http_state` -- the connection's state, and the shutdown and shedding hooks the
  engine calls (the base class);
* :mod:`._http_read` -- the request head and body, under their timeouts and limits;
* :mod:`._http_write` -- the response, engine error answers, the lingering close, :class:`Drop`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import h11
import trio

from trioserve.call import Call, Response
from trioserve.debugpage import render_debug_page
from trioserve.engines._h2_conn import H2Driver, Upgrade
from trioserve.engines._h2_state import H2Head, h2c_upgrade_settings
from trioserve.engines._http_parse import HeadError, RequestHead
from trioserve.engines._http_read import PRIOR_KNOWLEDGE, Head, read_body, read_head
from trioserve.engines._http_response import (
    DEBUG_TITLE,
    answer_before_body,
    dispatch_call,
    engine_error,
)
from trioserve.engines._http_state import ConnectionState
from trioserve.engines._http_write import (
    Drop,
    UpgradeStream,
    close_connection,
    fatal,
    log_unanswered,
    write_response,
)

if TYPE_CHECKING:
    from trioserve.engines._http_state import EngineState

__all__ = ["Drop", "HttpConnection"]

log = logging.getLogger("trioserve.http")


class HttpConnection(ConnectionState):
    """One client connection: a loop of request/response cycles (h11 only for requests the
    fast path leaves to it)."""

    __slots__ = ("h2",)

    def __init__(self, engine: EngineState, stream: trio.SocketStream) -> None:
        super().__init__(engine, stream)
        #: the HTTP/2 driver, once the connection speaks HTTP/2 (:mod:`._h2_conn`)
        self.h2: H2Driver | None = None

    async def run_h2(self, received: bytes = b"", upgrade: Upgrade | None = None) -> None:
        """Serve the connection as HTTP/2 from here on: after the preface (``received``
        starts with it), an h2c ``upgrade``, or ALPN ``h2`` (https)."""
        self.h2 = H2Driver(self, received, upgrade=upgrade)
        await self.h2.run()

    def negotiated_h2(self) -> bool:
        """The transport chose HTTP/2 before any byte was read (TLS ALPN ``h2``: the https
        engine's connection says so); plain TCP never does."""
        return False

    def shutdown(self, deadline: float) -> None:
        if self.h2 is not None:  # GOAWAY, and the grace for the streams in flight
            self.h2.shutdown(deadline)
        else:
            super().shutdown(deadline)

    # -- the request loop -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while await self._cycle():
                if self.fast_head is None:  # h11 carried this request
                    if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                        await close_connection(self, linger=True)
                        return
                    self.next_cycle()
                if self.engine.closing:
                    break
            await close_connection(self, linger=False)
        except Drop as drop:
            log.log(drop.level, "dropped connection from %s: %s", self.peer, drop.reason)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.info("dropped connection from %s: connection reset by peer", self.peer)
        except Exception:
            log.exception("dropped connection from %s: internal error", self.peer)

    async def _cycle(self) -> bool:
        """Serve one request; return True if the connection may carry another one."""
        self.waited = False
        if not self.requests and self.engine.options.http2 and self.negotiated_h2():
            await self.run_h2()
            return False
        request = await read_head(self)
        if request is None:
            return False
        if request is PRIOR_KNOWLEDGE:  # HTTP/2 with prior knowledge (h2c)
            await self.run_h2(self.buffer)
            return False
        self.requests += 1
        self.in_request = True
        try:
            keep = await self._serve_request(request)
        finally:
            self.in_request = False
        if not self.waited:
            # the request was already there and the answer fit the socket buffer: give the
            # other tasks their turn (Trio's rule: every cycle reaches a checkpoint)
            await trio.lowlevel.checkpoint()
        return keep

    async def _serve_request(self, request: Head) -> bool:
        options = self.engine.options
        raw_method, raw_target, raw_version, _ = request
        method = raw_method.decode("ascii")
        target = raw_target.decode("latin-1")
        version = raw_version.decode("ascii")
        request_line = f"{method} {target} HTTP/{version}"
        try:
            head = self.check(request)
        except HeadError as error:
            await fatal(self, error, method=method, request_line=request_line)
            return False
        if options.http2 and self.fast_head is None and not self.engine.closing:
            # h2c upgrade (RFC 7540 §3.2): this request becomes stream 1 of HTTP/2
            has_body = head.chunked or bool(head.content_length)
            settings = h2c_upgrade_settings(head.headers, has_body)
            if settings is not None and not head.path.endswith("/root.websocket"):
                h2_head = H2Head(head.method, target, head.path, head.query, head.headers, None)
                upgrade = Upgrade(settings, h2_head, request_line)
                await self.run_h2(self.h11.trailing_data[0], upgrade)
                return False
        call = self.call_for(head, target, version)
        try:
            response = await self._answer(call, head, request_line)
        except HeadError as error:
            await fatal(self, error, method=method, request_line=request_line, user=call.user)
            return False
        except BaseException as exc:  # no answer at all: the line says why (once)
            if not self.websocket:  # an upgrade wrote its own line
                log_unanswered(self, call.user, request_line, exc)
            raise
        if response is None:  # the websocket hook owned the connection (and logged)
            return False
        body_pending = self.fast_head is None and self.h11.their_state is h11.SEND_BODY
        close = response.close or body_pending or self.engine.closing or self.engine.pressure
        await write_response(
            self, method, response, close=close, user=call.user, request_line=request_line
        )
        return not close

    async def _answer(self, call: Call, head: RequestHead, request_line: str) -> Response | None:
        engine = self.engine
        early = answer_before_body(engine, call, head.path)
        if early is not None:
            return early
        call.body = await read_body(self, head)
        if call.file_name == "root.websocket":
            if engine.ctx.websocket is None:
                # websockets are off on this engine: 404 for every request of one, upgrade
                # or not (a 426 would invite an upgrade that cannot come)
                return engine_error(404, "not_found", "no websocket handler here")
            if call.method == "GET" and _wants_websocket(call):
                self.websocket = True
                # the hook's answer is logged as it goes out (at the upgrade); if none does
                upgrade = UpgradeStream(self, call.user, request_line)
                try:
                    await engine.ctx.websocket(call, upgrade, self.h11.trailing_data[0])
                except BaseException as exc:
                    if not upgrade.logged:
                        log_unanswered(self, call.user, request_line, exc)
                    raise
                if not upgrade.logged:  # the hook returned without a word
                    self.engine.access.log(
                        self.peer, call.user, request_line, 500, 0, cut="no websocket answer"
                    )
                return None
        if engine.options.debug:
            return render_debug_page(DEBUG_TITLE, call)
        return await self._dispatch(call)

    async def _dispatch(self, call: Call) -> Response:
        return await dispatch_call(self.engine.ctx.handle, call)


def _wants_websocket(call: Call) -> bool:
    upgrade = call.header("upgrade") or ""
    return "websocket" in (token.strip().lower() for token in upgrade.split(","))
