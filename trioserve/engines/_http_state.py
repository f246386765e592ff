"""What one HTTP/1.1 connection knows, and what the engine may do to it from outside.

The base of :class:`~trioserve.engines._http_conn.HttpConnection`, in a module of its own so
that the reading (:mod:`._http_read`) and writing (:mod:`._http_write`) functions can name the
type they work on without importing the request loop that calls them (no import cycles, even
for type hints). Attribute access stays what it was: one class, one instance ``__dict__``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import h11
import trio

from trioserve.call import Call
from trioserve.engines._http_parse import RequestHead, check_head
from trioserve.engines._listen import peer_name

if TYPE_CHECKING:
    from trioserve.accesslog import AccessLog
    from trioserve.call import Authenticator
    from trioserve.engines._http_options import HttpOptions
    from trioserve.engines.base import EngineContext

__all__ = ["RECEIVE_SIZE", "ConnectionState", "EngineState"]

#: bytes asked of the socket per read
RECEIVE_SIZE = 64 * 1024


class CheckedHead(Protocol):
    """What a :class:`~trioserve.call.Call` is made from: an HTTP/1.1 head
    (:class:`._http_parse.RequestHead`) or an HTTP/2 one (``_h2_state.H2Head``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...


class EngineState(Protocol):
    """What a connection reads of the engine that accepted it (:mod:`.http` implements it);
    named by shape so the engine can create connections without the two importing each
    other."""

    ctx: EngineContext
    options: HttpOptions
    authenticator: Authenticator | None
    access: AccessLog
    name: str
    #: the engine is shutting down: answer in-flight requests, accept no new ones
    closing: bool
    #: clients wait for a connection slot: answer with ``Connection: close``
    pressure: bool


class ConnectionState:
    """One client connection's stream, h11 state machine, counters and shutdown flags.

    Slotted, and the h11 state machine made only for a request that needs it: an idle
    keep-alive connection is mostly this object and its task, so its size is what thousands
    of idle clients cost.
    """

    __slots__ = (
        "_h11",
        "_max_event",
        "accepted_at",
        "buffer",
        "dropped",
        "engine",
        "fast_head",
        "fd",
        "idle",
        "idle_since",
        "in_request",
        "peer",
        "requests",
        "scope",
        "stream",
        "waited",
        "websocket",
    )

    #: a ``sync="app"`` program's thread may answer this connection's requests between two
    #: of its own steps (:mod:`._http_park`): it reads and writes the socket itself, so only
    #: a plain socket (not TLS, whose state lives in the Trio stream)
    parkable = True

    def __init__(self, engine: EngineState, stream: trio.SocketStream) -> None:
        options = engine.options
        self.engine = engine
        #: what the connection talks through: the socket here, the TLS stream over it in a
        #: subclass (:mod:`.https`); the request head and body, and replies, go through
        #: :meth:`read_nowait` / :meth:`receive` and :meth:`write_nowait` / :meth:`send_some`
        self.stream: trio.abc.Stream = stream
        self.peer = peer_name(stream)
        #: the socket's descriptor: requests are read and answered on it directly (see
        #: :meth:`read_nowait`); the stream serves the websocket hand-over and the close
        self.fd = stream.socket.fileno()
        #: this request cycle waited on the socket (so Trio got a checkpoint)
        self.waited = False
        self._max_event = options.max_url_length + options.max_header_bytes + 1024
        self._h11: h11.Connection | None = None
        #: received bytes no request has consumed yet (the next head, pipelined requests);
        #: h11 sees them only when a request leaves the fast path (:mod:`._http_fast`)
        self.buffer = b""
        #: the raw head of the current request while it is on the fast path; None when h11
        #: carries the request (it was unusual, or its response needs h11 to be written)
        self.fast_head: bytes | None = None
        self.scope: trio.CancelScope | None = None
        self.accepted_at = trio.current_time()
        self.requests = 0
        #: while waiting for the first byte of a request: what to log if the wait is ended
        #: (its deadline, a shed, a shutdown); None while a request is on its way
        self.idle: str | None = None
        self.idle_since = 0.0
        self.websocket = False
        #: from a complete request head until its response is written: what grace protects
        self.in_request = False
        #: the connection's end was already logged (one line per dropped connection)
        self.dropped = False

    @property
    def h11(self) -> h11.Connection:
        """The h11 state machine of the current request (made on first use)."""
        if self._h11 is None:
            self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_event)
        return self._h11

    def read_nowait(self) -> bytes | None:
        """What the socket holds now (``b""`` at its end), or None when nothing arrived yet.

        Reading the descriptor skips ``SocketStream.receive_some``'s per-call machinery
        (conflict detector, error translation, a checkpoint and a cancel scope around each
        call), which cost more than parsing the request. Trio gets control where it matters:
        in :func:`trio.lowlevel.wait_readable` when there is nothing to read, and at the
        checkpoint the request loop takes after a cycle that never waited.
        """
        try:
            return os.read(self.fd, RECEIVE_SIZE)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise trio.BrokenResourceError(f"receive failed: {exc}") from exc

    async def receive(self) -> bytes:
        """Wait for bytes and return them (``b""`` at the end): the wait :meth:`read_nowait`
        leaves to its caller. Called only after :meth:`read_nowait` found nothing, so the
        plain path pays for this call only when it suspends anyway."""
        while True:
            await trio.lowlevel.wait_readable(self.fd)
            self.waited = True
            data = self.read_nowait()
            if data is not None:
                return data

    def write_nowait(self, data: memoryview) -> int:
        """Bytes of ``data`` the socket took now (0 when its buffer is full)."""
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise trio.BrokenResourceError(f"send failed: {exc}") from exc

    async def send_some(self, data: memoryview) -> int:
        """Wait until the peer can take more of ``data``; return how much of it this call
        sent. Here: nothing (the next :meth:`write_nowait` sends it); a stream that cannot
        write without waiting (TLS) sends a piece here and :meth:`write_nowait` takes none.
        Called only after :meth:`write_nowait` took nothing."""
        await trio.lowlevel.wait_writable(self.fd)
        return 0

    def check(self, head: tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]) -> RequestHead:
        """``check_head`` under this engine's limits (:class:`HeadError` when it fails)."""
        options = self.engine.options
        return check_head(
            *head,
            max_url_length=options.max_url_length,
            max_header_bytes=options.max_header_bytes,
            max_body=options.max_body,
        )

    def call_for(self, head: CheckedHead, target: str, version: str) -> Call:
        """The dispatcher's view of a checked request head on this connection (HTTP/1.1,
        whichever thread answers it, :mod:`._http_park`, or an HTTP/2 stream on it)."""
        return Call(
            method=head.method,
            path=head.path,
            query=head.query,
            headers=head.headers,
            engine=self.engine.name,
            top_name=self.engine.options.top,
            peer=self.peer,
            target=target,
            http_version=version,
        )

    def next_cycle(self) -> None:
        """After a request h11 carried: a fresh state machine for the next one, holding no
        bytes (what h11 had not consumed goes back to :attr:`buffer`)."""
        if self._h11 is not None:
            self.buffer = self._h11.trailing_data[0] + self.buffer
            self._h11 = None

    def catch_up_h11(self) -> bool:
        """Hand a fast-path request to h11 after all, so h11 can write its response (a
        streamed body, a closing answer); h11 parses the same head to the same request, with
        no body. False if it did not (a bug: the caller drops the connection)."""
        head = self.fast_head
        assert head is not None
        self.fast_head = None
        self.h11.receive_data(head)
        request = self.h11.next_event()
        end = self.h11.next_event()
        return isinstance(request, h11.Request) and isinstance(end, h11.EndOfMessage)

    # -- shutdown and shedding, called by the engine ----------------------------------------

    def shed_rank(self, idle_before: float | None) -> tuple[int, float] | None:
        """How early this connection goes when the engine must free a slot (lower first), or
        None when it must not: it is in a request, a websocket, or already going.

        Connections already closing (lingering after an error answer) go first; then idle
        keep-alive connections, the longest idle first (a client retries a request that
        meets a closed keep-alive connection, RFC 9112 §9.3.1); then those that never sent a
        byte; then those whose request head is still arriving (nothing was answered yet, so
        nothing is lost but the client's wait). With ``idle_before`` (the gentle rule, when
        no client holding fewer slots waits on this one's account) only closing ones and
        those waiting for a request since before that moment: a connection about to be used
        is not raced, and one its own client left silent (a spare one opened and never used)
        does not keep that client's other connections waiting.
        """
        scope = self.scope
        if scope is None or scope.cancel_called or self.in_request or self.websocket:
            return None
        if self.dropped:
            return (0, 0.0)  # answered and closing, lingering: nothing left to lose
        if self.idle is not None:  # waiting for the first byte of a request
            if idle_before is not None and self.idle_since > idle_before:
                return None
            return (0 if self.requests else 1, self.idle_since)
        if idle_before is not None:
            return None
        return (2, self.accepted_at)

    def shed(self) -> None:
        """Close this connection to free its slot (only one :meth:`shed_rank` accepts); the
        reason is what the engine logs when the cancellation ends the connection."""
        assert self.scope is not None
        if self.idle is None:
            self.idle = "closed while its request head arrived (connection limit)"
        elif self.requests:
            self.idle = "closed while idle (connection limit)"
        else:
            self.idle = "closed before its first request (connection limit)"
        self.scope.cancel()

    def shutdown(self, deadline: float) -> None:
        if self.scope is None:
            return
        if self.websocket or not self.in_request:
            # idle, still receiving a head, or lingering after an error: nothing to finish
            self.scope.cancel()
            return
        self.scope.deadline = min(self.scope.deadline, deadline)
