"""One client connection of a websocket handler, and its bounded send queue.

"The receiver is the boss" (libwebsockets): we never write faster than a client reads.
Every connection owns a queue of at most ``queue_size`` messages *and* at most
``queue_bytes`` bytes (4 MiB by default), drained by exactly one consumer -- the
connection's writer task (websocket) or its parked poll (long-poll). A message is counted by
its size on the wire (bytes; text as UTF-8), and one message is always let into an empty
queue, however large, so that it can be sent at all. A send only *queues*; what happens
when the queue is full (by count or by bytes) is the handler's ``overflow`` policy:

``"wait"``
    ``await send()`` waits for room, at most ``send_timeout`` seconds, after which the
    connection is closed with 1008 (a client that stopped reading is cut off, not waited
    for forever). ``send_nowait()`` raises :class:`trio.WouldBlock`.
``"drop_oldest"``
    the oldest queued messages are dropped until the new one fits.
``"latest"``
    only the newest message is kept (the queue holds at most one): for state updates where
    an old value is worthless once a new one exists.
``"close"``
    the connection is closed with 1008; the sender is never slowed.

So a stalled client costs at most ``queue_size`` messages and ``queue_bytes`` bytes (or one
larger message) of queued memory, plus the one message its writer is sending, and never
delays the other connections: each has its own queue and its own writer. The accounting is
a length and a few integer operations per message: the size is measured once per send (once
per broadcast), kept beside the message and subtracted when it leaves the queue.
"""

from __future__ import annotations

import collections
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from trioserve.call import first_header, query_dict

__all__ = [
    "OVERFLOW_POLICIES",
    "ConnectRequest",
    "Connection",
    "ConnectionClosed",
    "HandlerLike",
    "Message",
    "WithHeader",
    "message_size",
]

log = logging.getLogger("trioserve.ws")


@dataclass(frozen=True, slots=True)
class WithHeader:
    """Binary data announced by a text header (ROOT's ``SendHeaderWS``).

    Over a websocket this is two messages, the text header then the binary data; over
    long-poll it is one reply whose ``LongpollHeader`` (txt) or ``bin:<L>`` prefix (raw)
    carries the header.
    """

    header: str
    data: bytes


Message = str | bytes | WithHeader
OVERFLOW_POLICIES = ("wait", "drop_oldest", "latest", "close")


def message_size(message: Message) -> int:
    """What a queued message counts against ``queue_bytes``: its payload on the wire.

    Bytes and ASCII text (``str.isascii`` is a flag lookup) are their length; only text with
    other characters is encoded to learn its UTF-8 length.
    """
    if isinstance(message, bytes):
        return len(message)
    if isinstance(message, str):
        if message.isascii():
            return len(message)
        return len(message.encode("utf-8", "surrogatepass"))
    return message_size(message.header) + len(message.data)


_used_ids: set[int] = set()


def new_connection_id() -> int:
    """An unguessable id, below 2**48 so JavaScript's ``parseInt`` keeps it exact.

    Long-poll clients name their connection in the URL, so a sequential id would let anyone
    guess (and poll, feed or close) someone else's connection.
    """
    while True:
        value = secrets.randbelow(2**48 - 1) + 1
        if value not in _used_ids:
            _used_ids.add(value)
            return value


class ConnectionClosed(Exception):
    """Raised by sends on a connection that is closed (or closing)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What ``on_connect`` sees: who asks, over what, with which query and headers."""

    path: str
    query: str
    user: str | None
    kind: str  # "websocket" or "longpoll"
    headers: tuple[tuple[str, str], ...] = ()
    subprotocols: tuple[str, ...] = ()
    peer: str = "-"
    engine: str = "http"

    def header(self, name: str, default: str | None = None) -> str | None:
        return first_header(self.headers, name, default)

    def query_dict(self) -> dict[str, str]:
        return query_dict(self.query)


@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    queued: int
    sent: int
    dropped: int
    #: the bytes of the queued messages (what ``queue_bytes`` bounds)
    queued_bytes: int = 0


_CLOSE = object()


class HandlerLike(Protocol):
    """What a connection and the transports need of the handler that owns it.

    :class:`~trioserve.ws.WebSocketHandler` is the one implementation; naming it here by
    shape keeps this module below the handler's (which builds connections) instead of the
    two importing each other.
    """

    name: str
    queue_size: int
    queue_bytes: int
    overflow: str
    send_timeout: float
    max_message_size: int
    page: str | None

    def select_subprotocol(self, offered: Sequence[str]) -> str | None: ...

    def _add(self, conn: Connection) -> None: ...

    def _remove(self, conn: Connection) -> bool: ...

    async def _invoke(self, name: str, *args: Any) -> Any: ...


@dataclass(eq=False)
class Connection:
    """A live connection (websocket or long-poll) of one handler.

    Sending is safe from any Trio task of the server's run and, through
    :meth:`send_nowait`/:meth:`send_threadsafe`, from a plain thread of the program.
    """

    handler: HandlerLike
    request: ConnectRequest
    id: int = field(default_factory=new_connection_id)
    subprotocol: str | None = None
    #: set once closed: the close code (1000 normal, 1001 shutdown, 1006 lost...) and reason
    close_code: int | None = None
    close_reason: str = ""
    _queue: collections.deque[Message] = field(default_factory=collections.deque)
    #: the size of each queued message (:func:`message_size`), in queue order, and their sum
    _sizes: collections.deque[int] = field(default_factory=collections.deque)
    _bytes: int = 0
    #: where the consumer and "wait"-policy senders park until the queue or state changes
    _changed: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)
    _waiting: int = 0
    _closing: tuple[int, str] | None = None
    _closed: trio.Event = field(default_factory=trio.Event)
    #: ``close()`` may return: the transport is done, or our Close frame is out while the
    #: reader is inside ``on_data`` (may precede ``_closed``, which waits for on_data to return)
    _gone: trio.Event = field(default_factory=trio.Event)
    _token: trio.lowlevel.TrioToken = field(default_factory=trio.lowlevel.current_trio_token)
    _sent: int = 0
    _dropped: int = 0
    _abort: Callable[[], None] | None = None

    # -- facts ------------------------------------------------------------------------
    @property
    def user(self) -> str | None:
        return self.request.user

    @property
    def kind(self) -> str:
        return self.request.kind

    @property
    def closed(self) -> bool:
        return self._closing is not None or self._closed.is_set()

    def statistics(self) -> ConnectionStatistics:
        return ConnectionStatistics(len(self._queue), self._sent, self._dropped, self._bytes)

    def __repr__(self) -> str:
        return f"<Connection {self.kind} {self.id} of {self.handler.name!r}>"

    # -- sending ------------------------------------------------------------------------
    def _in_our_run(self) -> bool:
        try:
            return trio.lowlevel.current_trio_token() is self._token
        except RuntimeError:
            return False

    def _wake(self) -> None:
        # a parking lot and a count, not an Event: nothing to allocate or call when nobody
        # waits, which is the case for most wakes (the writer is busy, the queue has room)
        if self._waiting:
            self._changed.unpark_all()

    async def _wait_changed(self) -> None:
        """Sleep until the next :meth:`_wake` (callers re-check their condition after)."""
        self._waiting += 1
        try:
            await self._changed.park()
        finally:
            self._waiting -= 1

    def _no_room(self, size: int) -> bool:
        """Would a message of ``size`` bytes overflow the queue? Never when it is empty."""
        queue = self._queue
        handler = self.handler
        return bool(queue) and (
            len(queue) >= handler.queue_size or self._bytes + size > handler.queue_bytes
        )

    def _clear(self) -> None:
        self._queue.clear()
        self._sizes.clear()
        self._bytes = 0

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionClosed(self.close_code or 1006, self.close_reason)

    def _offer(self, message: Message, size: int) -> bool:
        """Queue per the overflow policy; False when the policy is "wait" and it is full.

        ``size`` is ``message_size(message)``, measured once by the caller (a waiting send
        offers again, a broadcast offers the same message to every connection).
        """
        self._check_open()
        policy = self.handler.overflow
        if policy == "latest":
            self._dropped += len(self._queue)
            self._clear()
        elif self._no_room(size):
            if policy == "wait":
                return False
            if policy == "drop_oldest":
                while self._no_room(size):
                    self._queue.popleft()
                    self._bytes -= self._sizes.popleft()
                    self._dropped += 1
            else:  # "close"
                self._dropped += 1
                self.close_nowait(1008, "send queue full")
                raise ConnectionClosed(1008, "send queue full")
        self._queue.append(message)
        self._sizes.append(size)
        self._bytes += size
        self._wake()
        return True

    async def send(self, message: Message) -> None:
        """Queue ``message`` (str -> text frame, bytes -> binary frame); returns when queued."""
        message = _coerce(message)
        size = message_size(message)
        if self._offer(message, size):
            return
        with trio.move_on_after(self.handler.send_timeout):
            while True:
                await self._wait_changed()
                if self._offer(message, size):
                    return
        self.close_nowait(1008, "client does not read")
        raise ConnectionClosed(1008, "client does not read")

    def send_nowait(self, message: Message) -> None:
        """Queue without waiting; from a foreign thread this hops into the server's run.

        Raises :class:`trio.WouldBlock` when the policy is "wait" and the queue is full.
        """
        message = _coerce(message)
        if not self._in_our_run():
            trio.from_thread.run_sync(self.send_nowait, message, trio_token=self._token)
            return
        if not self._offer(message, message_size(message)):
            raise trio.WouldBlock

    def send_threadsafe(self, message: Message) -> None:
        """From a non-Trio thread: block that thread until the message is queued."""
        trio.from_thread.run(self.send, _coerce(message), trio_token=self._token)

    # -- closing ------------------------------------------------------------------------
    def close_nowait(self, code: int = 1000, reason: str = "") -> None:
        """Ask for a close; queued messages are still delivered first (unless policy closed)."""
        if not self._in_our_run():
            trio.from_thread.run_sync(self.close_nowait, code, reason, trio_token=self._token)
            return
        if self._closing is None and not self._closed.is_set():
            self._closing = (code, reason)
            if code == 1008:
                self._clear()
            self._wake()
            if self._abort is not None:
                self._abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server side; queued messages go first.

        Returns once the close handshake is over and the socket closed -- or, while this
        connection's own ``on_data`` is running (say, it called this), once our Close frame
        is sent: the peer's answer is read only after ``on_data`` returns.
        """
        self.close_nowait(code, reason)
        await self._gone.wait()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed and ``on_close`` is due or done."""
        await self._closed.wait()

    # -- the consumer side (writer task or parked poll) -----------------------------------
    def _pop_nowait(self) -> Any:
        """The next message, ``_CLOSE`` when a close is due, ``None`` when nothing yet."""
        if self._queue:
            message = self._queue.popleft()
            self._bytes -= self._sizes.popleft()
            self._sent += 1
            self._wake()
            return message
        if self._closing is not None:
            return _CLOSE
        return None

    async def _pop(self) -> Any:
        while True:
            item = self._pop_nowait()
            if item is not None:
                return item
            await self._wait_changed()

    def _mark_closed(self, code: int | None, reason: str) -> None:
        if self._closed.is_set():
            return
        if self._closing is not None:
            code, reason = self._closing  # we closed it: report our code, not the echo
        self.close_code = code
        self.close_reason = reason
        self._clear()
        self._closing = self._closing or (code or 1006, reason)
        self._closed.set()
        self._gone.set()
        self._wake()


def _coerce(message: Any) -> Message:
    if isinstance(message, str | bytes | WithHeader):
        return message
    if isinstance(message, bytearray | memoryview):
        return bytes(message)
    raise TypeError(f"a websocket message is str or bytes, not {type(message).__name__}")
