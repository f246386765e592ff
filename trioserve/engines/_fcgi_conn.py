"""One FastCGI connection: the read loop that feeds :class:`fcgi.ServerConnection`.

One task per connection reads records and turns the core's events into per-request state; every
request whose input is complete runs as its own child task (:mod:`._fcgi_request`), so
multiplexed requests run concurrently and ABORT_REQUEST cancels exactly one of them. All writes
go through one lock per connection so records of different requests never interleave
mid-record. Split from :mod:`trioserve.engines.fastcgi` (which owns listeners, shutdown and
the idle timeout) so each module stays readable.

* The body is STDIN up to its empty record; CONTENT_LENGTH is never trusted. A body over
  ``max_body`` is answered 413 at once, without waiting for the rest.
* A connection with no request in flight may idle only ``idle_timeout`` seconds: the engine's
  one sweeper task closes it (:func:`trioserve.engines.fastcgi.serve_fastcgi`), from
  :attr:`FastcgiConnection.last_activity`, which reads and finished requests move on.

Speed: this code runs for every request behind a front-end, and lighttpd opens a connection
per request, so it reads and writes the socket's descriptor directly (``os.read`` and
``os.write`` on the non-blocking socket) and asks Trio to wait only when the kernel says it
would block. Trio's stream methods pay per call for conflict detection, error translation
and a forced trip through the scheduler; here a reply that fits the socket buffer costs one
system call, and a connection that is read, answered and closed without ever waiting never
registers with Trio's epoll at all. Fairness is kept by hand: a read that did not have to
wait yields every other time (a front-end that keeps the socket full cannot starve the
others), a partial write waits under the lock, and :meth:`FastcgiConnection.send` (big and
streamed replies) always yields, as ``send_all`` did.
"""

from __future__ import annotations

import logging
import os

import trio

import fcgi
from trioserve.accesslog import AccessLog
from trioserve.call import error_response
from trioserve.engines._fcgi_options import FastcgiOptions
from trioserve.engines._fcgi_request import (
    ConnectionGone,
    Request,
    log_unanswered,
    reply_early,
    run_request,
)
from trioserve.engines._listen import peer_name
from trioserve.engines.base import EngineContext

__all__ = ["FastcgiConnection"]

log = logging.getLogger("trioserve.fastcgi")

_READ_SIZE = 64 * 1024
#: how long an error reply may take before we give up on a connection anyway
_ERROR_REPLY_TIMEOUT = 2.0

#: the name of every request task (naming it saves Trio working one out per request)
_REQUEST_TASK = "trioserve.fastcgi.request"

_wait_readable = trio.lowlevel.wait_readable
_wait_writable = trio.lowlevel.wait_writable
_current_time = trio.current_time


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
        #: the non-blocking socket's descriptor, read and written directly (module docstring)
        self.fd = stream.socket.fileno()
        self.conn = fcgi.ServerConnection(
            max_params_bytes=options.max_params,
            max_conns=options.max_connections,
            mpxs=True,
        )
        #: made on the first write that has to wait (most connections never need it)
        self._send_lock: trio.Lock | None = None
        self.requests: dict[int, Request] = {}
        self.nursery: trio.Nursery | None = None
        #: when the connection last received bytes or finished a request (or opened), for
        #: the idle timeout
        self.last_activity = _current_time()
        #: the shielded scope the connection runs in (its nursery's; see :meth:`serve`)
        self.scope: trio.CancelScope | None = None
        self.shutting_down = False
        self._shutdown_deadline = float("inf")
        self._close_requested = False
        self._peer: str | None = None
        #: reads in a row that found bytes waiting (see :meth:`_receive`)
        self._eager_reads = 0
        #: a request task was just started on a connection that closes once idle
        self._started_last = False
        #: a request task was just started: the front-end now waits for its reply, so the
        #: next read should wait for readiness first rather than try (and fail) at once
        self._wait_first = False
        #: whether Trio was ever asked to wait on the descriptor (see :meth:`_close`)
        self._waited = False

    @property
    def peer(self) -> str:
        """The peer address for logs; looked up on first use (behind a front-end the
        request's REMOTE_ADDR is what calls carry, so most connections never need it)."""
        if self._peer is None:
            self._peer = peer_name(self.stream)
        return self._peer

    def shut_down(self, deadline: float) -> None:
        """Engine shutdown: close now when idle, else once the requests in flight are
        answered, and in any case at ``deadline``."""
        self.shutting_down = True
        self._shutdown_deadline = min(self._shutdown_deadline, deadline)
        if self.scope is None:
            return  # serve() applies it once the connection's scope exists
        if not self.requests:
            self.scope.cancel()
        else:
            self.scope.deadline = min(self.scope.deadline, deadline)

    def close_idle(self) -> None:
        """The idle timeout ran out (the engine's sweeper decided): close the connection."""
        if self._close_requested or (self.nursery and self.nursery.cancel_scope.cancel_called):
            return  # already on its way out
        log.info(
            "closing FastCGI connection from %s: idle for %.0f s",
            self.peer,
            self.options.idle_timeout,
        )
        self.close_soon()

    # ------------------------------------------------------------ plumbing

    async def serve(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                # Shielded: cancelling the engine must not cut a reply in half. Shutdown
                # gives the requests ``grace`` seconds instead (see shut_down).
                scope = nursery.cancel_scope
                scope.shield = True
                self.nursery, self.scope = nursery, scope
                if self._close_requested:
                    scope.cancel()
                elif self.shutting_down:
                    self.shut_down(self._shutdown_deadline)
                try:
                    await self._read_loop()
                except ConnectionGone:
                    pass
                scope.cancel()
        except Exception:  # a bug in here must cost one connection, not the engine
            log.exception("FastCGI connection from %s failed", self.peer)
        finally:
            if self.requests:
                log.info(
                    "FastCGI connection from %s closed with %d request(s) in flight",
                    self.peer,
                    len(self.requests),
                )
                for request in self.requests.values():
                    # a request whose params came but whose input never completed had no
                    # task to log it (a task logs its own request, however it ended)
                    if not request.answered and request.params:
                        log_unanswered(self, request, None)
            self._close()

    def _close(self) -> None:
        """What ``SocketStream.aclose()`` does, minus its checkpoint (nothing is left to wait
        for). A descriptor Trio never waited on needs no ``notify_closing`` (Trio knows
        nothing about it): behind lighttpd most connections are read, answered and closed
        without ever waiting, once per request."""
        sock = self.stream.socket
        if self._waited:
            sock.close()  # notify_closing, then close
        elif sock.fileno() != -1:
            os.close(sock.detach())

    def close_soon(self) -> None:
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()
        else:
            self._close_requested = True

    def _write(self, data: bytes | bytearray | memoryview) -> int:
        """Write what the socket takes now; 0 if it takes nothing."""
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:  # EPIPE, ECONNRESET, ...: the front-end is gone
            raise ConnectionGone from exc

    async def _write_all(
        self, data: bytes | bytearray | memoryview, request: Request | None = None
    ) -> None:
        """Write all of ``data``, waiting under the send lock if the socket is full.

        While the lock is free nobody is half-way through a record, so a write that the
        socket takes at once needs neither the lock nor the scheduler. If the write fails
        after the socket took part of ``data``, ``request.taken`` says how much (the access
        log counts a cut reply's bytes from it).
        """
        lock = self._send_lock
        if lock is None or not lock.locked():
            written = self._write(data)
            if written == len(data):
                return
            if lock is None:
                lock = self._send_lock = trio.Lock()
            lock.acquire_nowait()  # free (checked above, no checkpoint since)
            try:
                await self._write_rest(memoryview(data), written, request)
            finally:
                lock.release()
            return
        async with lock:
            await self._write_rest(memoryview(data), 0, request)

    async def _write_rest(self, data: memoryview, written: int, request: Request | None) -> None:
        """Write ``data`` from ``written`` on, waiting for room whenever the socket is full."""
        try:
            while True:
                written += self._write(data[written:])
                if written == len(data):
                    return
                self._waited = True
                try:
                    await _wait_writable(self.fd)
                except trio.ClosedResourceError as exc:
                    raise ConnectionGone from exc
        except BaseException:
            if request is not None:
                request.taken = written
            raise

    async def send(
        self, data: bytes | bytearray | memoryview, request: Request | None = None
    ) -> None:
        """Send under the connection's lock; a checkpoint (and a yield) like Trio's
        ``send_all``, so that a big reply lets the other tasks run between its slices."""
        if not data:
            return
        if request is not None:
            request.taken = 0
        await trio.lowlevel.checkpoint_if_cancelled()
        await self._write_all(data, request)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def finish(self, request: Request, data: bytes, app_status: int = 0) -> None:
        """Send ``data`` and END_REQUEST together, then forget the request.

        No forced yield here: this is the one write of a small reply, and the request's
        task ends right after it.
        """
        request.taken = 0
        await trio.lowlevel.checkpoint_if_cancelled()
        data += self.conn.end_request(request.rid, app_status)
        await self._write_all(data, request)
        if self.requests.get(request.rid) is request:  # the id may already be reused
            del self.requests[request.rid]
        self.last_activity = _current_time()
        if self.conn.must_close or (self.shutting_down and not self.requests):
            self.close_soon()

    # ------------------------------------------------------------ reading

    async def _receive(self) -> bytes:
        """The next bytes from the front-end, ``b""`` at EOF (or when it reset)."""
        fd = self.fd
        data: bytes | None = None
        if self._wait_first:
            self._wait_first = False
        else:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                pass
            except OSError:
                data = b""
        if data is None:
            self._eager_reads = 0
            self._waited = True
            while data is None:
                try:
                    await _wait_readable(fd)
                    data = os.read(fd, _READ_SIZE)
                except BlockingIOError:
                    pass
                except (OSError, trio.ClosedResourceError):
                    data = b""
        else:
            # the bytes were already there: yield every other time anyway, so that a
            # front-end that keeps the socket full cannot hold the loop forever
            self._eager_reads += 1
            if self._eager_reads >= 2:
                self._eager_reads = 0
                await trio.lowlevel.checkpoint()
        self.last_activity = _current_time()
        return data

    async def _read_loop(self) -> None:
        conn = self.conn
        need_data = fcgi.NEED_DATA
        while True:
            try:
                event = conn.next_event()
            except fcgi.ProtocolError as exc:
                await self._protocol_error(exc)
                return
            if event is need_data:
                queued = conn.data_to_send()  # management replies, rejections
                if queued:
                    await self.send(queued)
                if conn.must_close:
                    return
                if self._started_last:
                    self._started_last = False
                    # No KEEP_CONN (lighttpd): the front-end sends nothing more, yet EOF
                    # must still cancel the request, so we would have to ask the kernel to
                    # wake us. Most requests finish without ever blocking: give the new
                    # task two turns (trio may run this task first in a batch) and skip
                    # the wait, and its cancellation, when it is already answered.
                    for _ in range(2):
                        await trio.lowlevel.cancel_shielded_checkpoint()
                        if conn.must_close:
                            return
                conn.receive_data(await self._receive())
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
                self.nursery.start_soon(run_request, self, request, name=_REQUEST_TASK)
                self._started_last = not request.keep_conn
                self._wait_first = True
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
                data = self.conn.end_request(rid, 1, exc.protocol_status)
                await self._write_all(data)
