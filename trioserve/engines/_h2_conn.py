"""One HTTP/2 connection of the HTTP engine: the thin Trio driver around :mod:`._h2_state`.

The HTTP/1.1 request loop (:mod:`._http_conn`) hands a connection over here when its first
bytes are the HTTP/2 connection preface (h2c with prior knowledge), when a request asks to
upgrade to h2c (``Upgrade: h2c``, answered with ``101``), and -- on the https engine -- when
ALPN chose ``h2``. The connection keeps its slot, its cancel scope and its transport seam
(``read_nowait``/``receive``, and :func:`._http_write.send` for writes), so TLS, admission,
shedding and shutdown work as they do for HTTP/1.1.

Three kinds of task share the connection, in one nursery:

* **the reader** (this task) feeds received bytes to :class:`~._h2_state.H2State` and hands
  the events to the streams; after each read it waits until what it made ``h2`` say (SETTINGS
  and PING acknowledgements, WINDOW_UPDATEs) is written, so a client that does not read
  stops being read -- flood replies never pile up;
* **the writer** is the only task that writes to the socket: a stream cancelled half-way
  (a reset, the grace running out) can never leave half a frame behind;
* **one task per stream** (:class:`~._h2_stream.H2Stream`), which waits for the writer after
  each DATA frame it queues, so a response is never buffered twice, and waits for its
  flow-control window alone.

Timeouts: the first request within ``header_timeout`` of the connect (as for HTTP/1.1); a
header block must be completed within ``header_timeout``; with no stream live, the
connection closes (GOAWAY NO_ERROR) after ``keepalive_timeout``; writes make progress within
``write_timeout`` or the connection is dropped; a stream's window must open within
``write_timeout`` or that stream is reset; request bodies: ``body_timeout`` per stream.

Shutdown (the engine calls :meth:`H2Driver.shutdown`): a GOAWAY naming the last stream
received goes out at once, later streams are refused, the live ones get the engine's
``grace`` to finish (the reader keeps reading, so their windows still open), and the
connection closes when the last one ends.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from trioserve.engines._h2_guard import H2Limits
from trioserve.engines._h2_state import (
    BodyTooLarge,
    ConnectionEnded,
    ErrorCodes,
    Event,
    H2Head,
    H2State,
    PeerGoAway,
    RequestBody,
    RequestEnded,
    RequestReceived,
    StreamReset,
    WindowOpened,
)
from trioserve.engines._h2_stream import ConnectionLost, H2Stream
from trioserve.engines._http_parse import HeadError
from trioserve.engines._http_write import Drop, send

if TYPE_CHECKING:
    from trioserve.engines._http_options import HttpOptions
    from trioserve.engines._http_state import ConnectionState

__all__ = ["SWITCHING_PROTOCOLS", "H2Driver", "Upgrade", "limits_for"]

log = logging.getLogger("trioserve.http")

#: the answer to an h2c upgrade request, before the server's HTTP/2 preface
SWITCHING_PROTOCOLS = (
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
)
#: how long the last frames (a GOAWAY) may take to go out when the connection ends
_LAST_WORDS_SECONDS = 1.0


def limits_for(options: HttpOptions) -> H2Limits:
    """The engine's options as HTTP/2 limits: a header list may hold what an HTTP/1.1 head
    may (request target plus header fields), a body what an HTTP/1.1 body may."""
    return H2Limits(
        max_header_list_size=options.max_header_bytes + options.max_url_length,
        max_body=options.max_body,
    )


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An HTTP/1.1 request that asked for h2c: it becomes stream 1 (RFC 7540 §3.2)."""

    #: the ``HTTP2-Settings`` value
    settings: bytes
    head: H2Head
    request_line: str


class H2Driver:
    """Serves one connection as HTTP/2; see the module docstring."""

    def __init__(
        self, conn: ConnectionState, received: bytes, *, upgrade: Upgrade | None = None
    ) -> None:
        options = conn.engine.options
        self.conn = conn
        self.state = H2State(
            limits_for(options),
            max_url_length=options.max_url_length,
            upgrade_settings=None if upgrade is None else upgrade.settings,
        )
        self.streams: dict[int, H2Stream] = {}
        self._received = received
        self._upgrade = upgrade
        self._nursery: trio.Nursery | None = None
        self._read_scope: trio.CancelScope | None = None
        # the writer: flush() asks for sequence number n, the writer reports n written
        self._wanted = 0
        self._written = 0
        self._wake = trio.Event()
        self._drained = trio.lowlevel.ParkingLot()
        self._writing = False
        #: why the connection can no longer be written to (None while it can)
        self._lost: str | None = None
        self._shutdown = trio.Event()
        self._finished = False
        self._idle_since = trio.current_time()
        self._block_since: float | None = None
        #: how the connection ended, for the one log line
        self.reason: str | None = None

    # -- the connection's life -----------------------------------------------------------

    async def run(self) -> None:
        conn = self.conn
        try:
            if self._upgrade is not None:
                await send(conn, SWITCHING_PROTOCOLS)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._write_loop)
                nursery.start_soon(self._watch_shutdown)
                if self._upgrade is not None:
                    upgrade = self._upgrade
                    self._start(1, upgrade.head, ended=True, request_line=upgrade.request_line)
                if conn.engine.closing:
                    self._shutdown.set()
                try:
                    await self._read_loop()
                except ConnectionLost:
                    pass
                if self._lost is None:
                    await self._last_words()
                nursery.cancel_scope.cancel()
        except (Drop, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._lost = getattr(exc, "reason", None) or "connection reset by peer"
        finally:
            conn.in_request = False
            if not self._writing and self._lost is None and not self.state.ended:
                # cancelled from outside (shed, grace over): a GOAWAY if the socket takes it
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(_LAST_WORDS_SECONDS / 10):
                        self.state.goaway()
                        try:
                            await send(conn, self.state.data_to_send())
                        except (Drop, trio.BrokenResourceError, trio.ClosedResourceError):
                            pass
        reason = self._lost or self.reason
        if reason is not None:
            # idle ends are routine once requests were served (as on HTTP/1.1)
            idle = reason == "keep-alive idle timeout"
            log.log(
                logging.DEBUG if idle else logging.INFO,
                "dropped connection from %s: %s",
                conn.peer,
                reason,
            )

    async def _last_words(self) -> None:
        """Write what is queued (a GOAWAY) before the connection closes, briefly."""
        with trio.move_on_after(_LAST_WORDS_SECONDS):
            try:
                await self.flush()
            except ConnectionLost:
                pass

    def shutdown(self, deadline: float) -> None:
        """The engine shuts down: GOAWAY, and ``deadline`` for the live streams."""
        scope = self.conn.scope
        if scope is not None:
            scope.deadline = min(scope.deadline, deadline)
        self._shutdown.set()

    async def _watch_shutdown(self) -> None:
        await self._shutdown.wait()
        self.state.goaway()
        self._kick()
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if not self.state.accepting and not self.streams:
            self._finished = True
            if self._read_scope is not None:
                self._read_scope.cancel()

    # -- reading ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        state = self.state
        data: bytes | None = self._received
        self._received = b""
        while True:
            if data:
                events = state.receive(data, trio.current_time())
                self._handle(events)
                if state.ended:
                    await self.flush()
                    return
                if state.header_block_open:
                    if self._block_since is None:
                        self._block_since = trio.current_time()
                else:
                    self._block_since = None
                await self.flush()
            if self._finished:
                return
            data = await self._read()
            if data is None:
                if self._finished:
                    return
                self._timed_out()
                return
            if not data:
                if self.streams:
                    self.reason = "client closed the connection with streams in flight"
                return

    async def _read(self) -> bytes | None:
        """The next bytes (``b""``: the client closed), or None when a deadline passed or the
        connection finished."""
        data = self.conn.read_nowait()
        if data is not None:
            return data
        with trio.CancelScope(deadline=self._read_deadline()) as scope:
            self._read_scope = scope
            data = await self.conn.receive()
        self._read_scope = None
        if scope.cancelled_caught:
            return None
        return data

    def _read_deadline(self) -> float:
        options = self.conn.engine.options
        if self._block_since is not None:
            return self._block_since + options.header_timeout
        if self.streams:
            return math.inf
        if not self.state.requests:
            return self.conn.accepted_at + options.header_timeout
        return self._idle_since + options.keepalive_timeout

    def _timed_out(self) -> None:
        if self._block_since is not None:
            self.state.close(ErrorCodes.ENHANCE_YOUR_CALM, "header block not completed in time")
            self.reason = "header block not received in time"
        else:
            self.state.goaway()
            served = self.state.requests
            self.reason = "keep-alive idle timeout" if served else "no request in header_timeout"

    def _handle(self, events: list[Event]) -> None:
        streams = self.streams
        for event in events:
            if isinstance(event, RequestReceived):
                request_line = f"{event.method} {event.target} HTTP/2.0"
                self._start(
                    event.stream_id,
                    event.head,
                    ended=event.ended,
                    error=event.error,
                    request_line=request_line,
                )
            elif isinstance(event, RequestBody):
                if (stream := streams.get(event.stream_id)) is not None:
                    stream.deliver(event.data)
            elif isinstance(event, RequestEnded):
                if (stream := streams.get(event.stream_id)) is not None:
                    stream.end_body()
            elif isinstance(event, BodyTooLarge):
                if (stream := streams.get(event.stream_id)) is not None:
                    stream.body_too_large()
            elif isinstance(event, StreamReset):
                if (stream := streams.get(event.stream_id)) is not None:
                    stream.peer_reset(event.code)
            elif isinstance(event, WindowOpened):
                if event.stream_id == 0:
                    for stream in streams.values():
                        stream.window_opened()
                elif (stream := streams.get(event.stream_id)) is not None:
                    stream.window_opened()
            elif isinstance(event, PeerGoAway):
                self._finish_if_done()
            elif isinstance(event, ConnectionEnded):
                self.reason = f"HTTP/2 connection error: {event.reason}"

    def _start(
        self,
        stream_id: int,
        head: H2Head | None,
        *,
        ended: bool,
        request_line: str,
        error: HeadError | None = None,
    ) -> None:
        stream = H2Stream(
            self, stream_id, head, ended=ended, error=error, request_line=request_line
        )
        self.streams[stream_id] = stream
        conn = self.conn
        conn.requests += 1
        conn.in_request = True
        conn.idle = None
        assert self._nursery is not None
        self._nursery.start_soon(stream.run)

    def stream_finished(self, stream: H2Stream) -> None:
        """A stream's task ended: its slot is free (see :mod:`._h2_state`, rule 3)."""
        self.streams.pop(stream.stream_id, None)
        self.state.stream_done(stream.stream_id)
        self._kick()
        if not self.streams:
            now = trio.current_time()
            self._idle_since = now
            conn = self.conn
            conn.in_request = False
            conn.idle = "keep-alive idle timeout"
            conn.idle_since = now
            if self._read_scope is not None:
                self._read_scope.deadline = self._read_deadline()
            self._finish_if_done()

    # -- writing ---------------------------------------------------------------------------

    def _kick(self) -> int:
        self._wanted += 1
        self._wake.set()
        return self._wanted

    async def flush(self) -> None:
        """Return once everything queued so far is written (see :class:`._h2_stream.Link`)."""
        wanted = self._kick()
        while self._written < wanted:
            if self._lost is not None:
                raise ConnectionLost(self._lost)
            await self._drained.park()
        if self._lost is not None:
            raise ConnectionLost(self._lost)

    async def _write_loop(self) -> None:
        while True:
            wanted = self._wanted
            data = self.state.data_to_send()
            if data:
                self._writing = True
                try:
                    await send(self.conn, data)
                except Drop as drop:
                    self._lose(drop.reason)
                    return
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._lose("connection reset by peer")
                    return
                self._writing = False
            self._written = wanted
            self._drained.unpark_all()
            if self._wanted == wanted:
                self._wake = trio.Event()
                await self._wake.wait()

    def _lose(self, reason: str) -> None:
        self._lost = reason
        self._drained.unpark_all()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
