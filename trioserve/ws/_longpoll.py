"""Long-poll emulation of a websocket (ROOT's THttpLongPollEngine), reference §8.5.

JSROOT falls back to it when websockets are unavailable -- notably behind FastCGI
front-ends, which cannot pass websockets. Everything goes through the normal dispatcher as
``<path>/root.longpoll?...`` requests, so it works over HTTP, unix sockets and FastCGI alike.

================  ======================================  =====================================
step              request                                 reply
================  ======================================  =====================================
connect           ``?txt_connect`` / ``?raw_connect``     ``<id>`` / ``txt:<id>``; refused: 404
send data         ``?connection=<id>`` + POST body (txt)  ``<<nope>>`` (txt, text/plain) or
                  or ``&post=<base64>`` (raw)             ``txt:<<nope>>`` (raw, x-binary)
poll              ``?connection=<id>&dummy``              next queued message (parked until one)
close             ``?connection=<id>&close``              ``OK`` (text/plain)
================  ======================================  =====================================

Reply framing: txt -- text as ``text/plain``, bytes as ``application/x-binary`` (exactly that
string: JSROOT compares it), a header in ``LongpollHeader``; raw -- always
``application/x-binary``, ``txt:<text>`` or ``bin:<L><spaces>:<header><bytes>`` padded so the
bytes start at a multiple of 8.

Our additions, each to bound resources: a parked poll is answered ``<<nope>>`` after
``poll_timeout`` (so proxies do not time it out, and the client simply polls again); a newer
poll releases the older with ``<<nope>>`` (one parked poll per connection); a connection
nobody polled for ``idle_timeout`` is closed and gets ``on_close``; at most
``max_connections`` long-poll connections server-wide (503 past it). Ids are random, and a
connection answers only the user who opened it (404 for anyone else).

The codec functions at the top are pure; the session logic below them uses Trio.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import trio

from trioserve.ws._conn import _CLOSE, Connection, Message

if TYPE_CHECKING:
    from trioserve.context import Host

__all__ = [
    "BINARY_TYPE",
    "NOPE",
    "LongpollQuery",
    "LongpollReply",
    "LongpollSettings",
    "Longpolls",
    "encode_connect",
    "encode_message",
    "encode_nope",
    "parse_query",
]

log = logging.getLogger("trioserve.ws")

NOPE = "<<nope>>"
BINARY_TYPE = "application/x-binary"
TEXT_TYPE = "text/plain; charset=utf-8"


# -- the codec (pure) ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LongpollQuery:
    """What a ``root.longpoll`` query asks for."""

    connect: str | None = None  # "txt" or "raw" for a connect request
    connection: int | None = None
    dummy: bool = False
    close: bool = False
    post: bytes | None = None  # raw mode's base64 ``post=`` data, decoded
    bad: str | None = None  # why the query is malformed


@dataclass(frozen=True, slots=True)
class LongpollReply:
    body: bytes
    content_type: str = TEXT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200


def parse_query(query: str) -> LongpollQuery:
    """Parse the raw query text the way ROOT does (§8.5 "detection details").

    ``post=`` is taken from the raw text: JSROOT does not URL-encode its base64, so a ``+``
    in it is a plus, not a space.
    """
    if query.startswith("txt_connect"):
        return LongpollQuery(connect="txt")
    if query.startswith("raw_connect"):
        return LongpollQuery(connect="raw")
    connection: int | None = None
    close = False
    post: bytes | None = None
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "connection":
            if not (value.isascii() and value.isdigit()) or len(value) > 20:
                return LongpollQuery(bad="connection must be a decimal id")
            connection = int(value)
        elif name == "close":
            close = True
        elif name == "post":
            try:
                post = base64.b64decode(unquote(value).encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                return LongpollQuery(bad="post= is not base64")
    if connection is None:
        return LongpollQuery(bad="missing connection=")
    return LongpollQuery(connection=connection, dummy="&dummy" in query, close=close, post=post)


def _raw_binary(header: str, data: bytes) -> bytes:
    head = header.encode("utf-8")
    prefix = f"bin:{len(head)}"
    spaces = (-(len(prefix) + 1 + len(head))) % 8
    return prefix.encode("ascii") + b" " * spaces + b":" + head + data


def encode_message(message: Message, raw: bool) -> LongpollReply:
    """The reply carrying one queued message to a poll."""
    if isinstance(message, str):
        if raw:
            return LongpollReply(b"txt:" + message.encode("utf-8"), BINARY_TYPE)
        return LongpollReply(message.encode("utf-8"), TEXT_TYPE)
    header, data = ("", message) if isinstance(message, bytes) else (message.header, message.data)
    if raw:
        return LongpollReply(_raw_binary(header, data), BINARY_TYPE)
    headers = (("LongpollHeader", header),) if header else ()
    return LongpollReply(bytes(data), BINARY_TYPE, headers)


def encode_nope(raw: bool) -> LongpollReply:
    return encode_message(NOPE, raw)


def encode_connect(connection_id: int, raw: bool) -> LongpollReply:
    return LongpollReply((f"txt:{connection_id}" if raw else str(connection_id)).encode())


def decode_data(body: bytes, content_type: str | None) -> Message:
    """Client data as a message: text unless declared binary or not valid UTF-8."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (BINARY_TYPE, "application/octet-stream"):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


# -- sessions (Trio) ----------------------------------------------------------------------
@dataclass(slots=True)
class LongpollSettings:
    #: a parked poll is answered <<nope>> after this long
    poll_timeout: float = 25.0
    #: a connection nobody polls for this long is closed (on_close is called)
    idle_timeout: float = 60.0
    #: long-poll connections server-wide
    max_connections: int = 256


@dataclass(eq=False, slots=True)
class Session:
    conn: Connection
    raw: bool
    last_seen: float = field(default_factory=trio.current_time)
    generation: int = 0
    parked: bool = False
    finished: bool = False


class Longpolls:
    """All long-poll sessions of one server, and the task that expires them."""

    def __init__(self, server: Host, settings: LongpollSettings) -> None:
        self.server = server
        self.settings = settings
        self.sessions: dict[int, Session] = {}
        self._kick = trio.Event()
        self._reaper_running = False

    # -- lifecycle ------------------------------------------------------------------------
    def full(self) -> bool:
        return len(self.sessions) >= self.settings.max_connections

    def add(self, conn: Connection, raw: bool) -> Session:
        session = Session(conn, raw)
        self.sessions[conn.id] = session
        conn.handler._add(conn)
        conn._abort = self._wake_reaper
        self._ensure_reaper()
        return session

    def lookup(self, connection_id: int, user: str | None, handler: Any) -> Session | None:
        session = self.sessions.get(connection_id)
        if session is None or session.finished:
            return None
        if session.conn.handler is not handler or session.conn.user != user:
            return None
        return session

    async def finish(self, session: Session, code: int, reason: str) -> None:
        """End a session once: forget it, wake its parked poll, then ``on_close``."""
        if session.finished:
            return
        session.finished = True
        conn = session.conn
        self.sessions.pop(conn.id, None)
        conn.handler._remove(conn)
        conn._mark_closed(code, reason)
        log.info("long-poll %s of %r closed (%s)", conn.id, conn.handler.name, conn.close_code)
        try:
            await conn.handler._invoke("on_close", conn)
        except Exception:
            log.exception("on_close of %r failed", conn.handler.name)

    # -- polling --------------------------------------------------------------------------
    async def poll(self, session: Session) -> LongpollReply:
        """Park until a message is queued (or a newer poll, a close, ``poll_timeout``)."""
        conn = session.conn
        session.generation += 1
        generation = session.generation
        session.parked = True
        conn._wake()  # releases an older parked poll of this connection with <<nope>>
        try:
            with trio.move_on_after(self.settings.poll_timeout):
                while session.generation == generation and not session.finished:
                    item = conn._pop_nowait()
                    if item is _CLOSE:
                        code, reason = conn._closing or (1000, "")
                        with trio.CancelScope(shield=True):
                            await self.finish(session, code, reason)
                        return LongpollReply(b"closed", TEXT_TYPE, status=404)
                    if item is not None:
                        return encode_message(item, session.raw)
                    await conn._wait_changed()
            if session.finished:
                return LongpollReply(b"closed", TEXT_TYPE, status=404)
            return encode_nope(session.raw)
        finally:
            if session.generation == generation:
                session.parked = False
            session.last_seen = trio.current_time()

    # -- expiry ---------------------------------------------------------------------------
    def _wake_reaper(self) -> None:
        self._kick.set()

    def _ensure_reaper(self) -> None:
        if self._reaper_running:
            return
        self._reaper_running = True
        nursery = self.server.nursery
        if nursery is not None:
            nursery.start_soon(self._reaper)
        else:
            trio.lowlevel.spawn_system_task(self._reaper)

    async def _reaper(self) -> None:
        """Close idle and server-closed sessions; on shutdown close all with 1001."""
        try:
            while self.sessions:
                now = trio.current_time()
                deadline = now + self.settings.idle_timeout
                for session in list(self.sessions.values()):
                    if session.parked:
                        continue
                    if session.conn._closing is not None:
                        code, reason = session.conn._closing
                        await self.finish(session, code, reason)
                        continue
                    expires = session.last_seen + self.settings.idle_timeout
                    if expires <= now:
                        await self.finish(session, 1001, "long-poll client went away")
                    else:
                        deadline = min(deadline, expires)
                with trio.move_on_at(deadline):
                    await self._kick.wait()
                self._kick = trio.Event()
        finally:
            self._reaper_running = False
            if self.sessions:
                with trio.CancelScope(shield=True), trio.move_on_after(5.0):
                    for session in list(self.sessions.values()):
                        await self.finish(session, 1001, "server shutting down")
