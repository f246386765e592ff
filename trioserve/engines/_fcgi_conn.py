"""One FastCGI connection: the read loop that feeds :class:`fcgi.ServerConnection`.

One task per connection reads records and turns the core's events into per-request state; every
request whose input is complete runs as its own child task (:mod:`._fcgi_request`), so
multiplexed requests run concurrently and ABORT_REQUEST cancels exactly one of them. All writes
go through one lock per connection so records of different requests never interleave
mid-record. Split from :mod:`trioserve.engines.fastcgi` (which owns listeners and shutdown)
so each module stays readable.

* The body is STDIN up to its empty record; CONTENT_LENGTH is never trusted. A body over
  ``max_body`` is answered 413 at once, without waiting for the rest.
* A connection with no request in flight may idle only ``idle_timeout`` seconds.
"""

from __future__ import annotations

import logging

import trio

import fcgi
from trioserve.accesslog import AccessLog
from trioserve.call import error_response
from trioserve.engines._fcgi_options import FastcgiOptions
from trioserve.engines._fcgi_request import ConnectionGone, Request, reply_early, run_request
from trioserve.engines._listen import peer_name
from trioserve.engines.base import EngineContext

__all__ = ["FastcgiConnection"]

log = logging.getLogger("trioserve.fastcgi")

_READ_SIZE = 64 * 1024
#: how long an error reply may take before we give up on a connection anyway
_ERROR_REPLY_TIMEOUT = 2.0


class FastcgiConnection:
    """One front-end connection: its protocol state, its requests in flight, its send lock."""

    def __init__(
        self,
        ctx: EngineContext,
        options: FastcgiOptions,
        access: AccessLog,
        stream: trio.SocketStream,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.access = access
        self.stream = stream
        self.peer = peer_name(stream)
        self.conn = fcgi.ServerConnection(
            max_params_bytes=options.max_params,
            max_conns=options.max_connections,
            mpxs=True,
        )
        self.send_lock = trio.Lock()
        self.requests: dict[int, Request] = {}
        self.nursery: trio.Nursery | None = None
        #: when the last request ended (or the connection opened), for the idle timeout
        self.last_activity = trio.current_time()
        #: the shielded scope the engine runs this connection in (see serve_fastcgi)
        self.scope: trio.CancelScope | None = None
        self.shutting_down = False

    def shut_down(self, deadline: float) -> None:
        """Engine shutdown: close now when idle, else once the requests in flight are
        answered, and in any case at ``deadline``."""
        self.shutting_down = True
        if self.scope is None:
            return
        if not self.requests:
            self.scope.cancel()
        else:
            self.scope.deadline = min(self.scope.deadline, deadline)

    # ------------------------------------------------------------ plumbing

    async def serve(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                try:
                    await self._read_loop()
                except ConnectionGone:
                    pass
                nursery.cancel_scope.cancel()
        except Exception:  # a bug in here must cost one connection, not the engine
            log.exception("FastCGI connection from %s failed", self.peer)
        finally:
            if self.requests:
                log.info(
                    "FastCGI connection from %s closed with %d request(s) in flight",
                    self.peer,
                    len(self.requests),
                )
            await trio.aclose_forcefully(self.stream)

    def close_soon(self) -> None:
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        async with self.send_lock:
            await self._send_locked(data)

    async def _send_locked(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionGone from exc

    async def finish(self, request: Request, data: bytes, app_status: int = 0) -> None:
        """Send ``data`` and END_REQUEST together, then forget the request."""
        async with self.send_lock:
            data += self.conn.end_request(request.rid, app_status)
            await self._send_locked(data)
        if self.requests.get(request.rid) is request:  # the id may already be reused
            del self.requests[request.rid]
        self.last_activity = trio.current_time()
        if self.conn.must_close or (self.shutting_down and not self.requests):
            self.close_soon()

    # ------------------------------------------------------------ reading

    async def _receive_or_idle(self) -> bytes | None:
        """The next bytes (``b""`` at EOF), or None once the connection has had nothing in
        flight and received nothing for ``idle_timeout`` seconds."""
        limit = self.options.idle_timeout
        while True:
            with trio.move_on_after(limit) as waited:
                try:
                    return await self.stream.receive_some(_READ_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return b""
            if waited.cancelled_caught and not self.requests:
                quiet = trio.current_time() - self.last_activity
                if quiet >= limit:
                    return None
                limit = self.options.idle_timeout - quiet
            else:
                limit = self.options.idle_timeout

    async def _read_loop(self) -> None:
        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except fcgi.ProtocolError as exc:
                await self._protocol_error(exc)
                return
            if event is fcgi.NEED_DATA:
                await self.send(conn.data_to_send())
                if conn.must_close:
                    return
                # a connection with nothing in flight may idle only so long: front-ends
                # that died without closing (or leaked connections) must not pile up
                data = await self._receive_or_idle()
                if data is None:
                    log.info(
                        "closing FastCGI connection from %s: idle for %.0f s",
                        self.peer,
                        self.options.idle_timeout,
                    )
                    return
                conn.receive_data(data)
            elif isinstance(event, fcgi.ConnectionClosed):
                return  # the front-end went away: cancel only this connection's requests
            else:
                self._on_event(event)

    def _on_event(self, event: fcgi.Event) -> None:
        assert self.nursery is not None
        if isinstance(event, fcgi.RequestStarted):
            self.requests[event.request_id] = Request(event.request_id, event.keep_conn)
            return
        request = self.requests.get(getattr(event, "request_id", -1))
        if request is None:
            return
        if isinstance(event, fcgi.Params):
            request.params = event.params
        elif isinstance(event, fcgi.StdinData):
            if request.answered:
                return
            if len(request.body) + len(event.data) > self.options.max_body:
                request.answered = True
                request.body = bytearray()
                message = f"the request body exceeds {self.options.max_body} bytes"
                reply = error_response(413, "body_too_large", message)
                self.nursery.start_soon(reply_early, self, request, reply)
                return
            request.body += event.data
        elif isinstance(event, fcgi.StdinEnd):
            if not request.answered:
                request.answered = True
                self.nursery.start_soon(run_request, self, request)
        elif isinstance(event, fcgi.RequestAborted):
            request.aborted = True
            if request.scope is not None:
                request.scope.cancel()
            elif not request.answered:
                request.answered = True
                self.nursery.start_soon(reply_early, self, request, None)

    async def _protocol_error(self, exc: fcgi.ProtocolError) -> None:
        log.warning("closing FastCGI connection from %s: %s", self.peer, exc.message)
        rid = exc.request_id
        if (
            rid is not None
            and exc.protocol_status is not None
            and rid in self.conn.requests_in_flight
        ):
            with trio.move_on_after(_ERROR_REPLY_TIMEOUT):
                async with self.send_lock:
                    data = self.conn.end_request(rid, 1, exc.protocol_status)
                    await self._send_locked(data)
