"""Running one accepted websocket: wsproto over the stream the HTTP engine handed us.

The engine has already parsed the upgrade request with h11 and we have validated it
(``_handshake``). wsproto's handshake object is fed a minimal request head rebuilt from it and
answers with the 101 bytes; from then on wsproto's connection is the sans-IO protocol (bytes
in, events out; control events in, bytes out) and the server's data frames are built by
:func:`~trioserve.ws._handshake.message_frame`. The bytes h11 read past the head are fed to
it only after our 101 answer has been sent.

Per connection there are two working tasks, the fewest that keep the promises of
:mod:`._conn` (plus a keepalive pinger and a close watchdog, which sleep):

* the **reader** (the task running :func:`run_websocket`) reads the socket, feeds wsproto,
  answers pings and Close frames, and calls ``on_ready``/``on_data`` *inline*, one message
  after the other. A slow ``on_data`` slows the reading of its own client only -- TCP
  backpressure, as the handler API promises -- and a message is not handed to another task
  on its way in. The price: while ``on_data`` runs, this client's later frames (its pings
  too) wait, as its later messages always did; our keepalive does not count that time
  against the client;
* the **writer** drains the connection's bounded queue, so a send only ever queues, and a
  client that stops reading stalls its own writer, nothing else.

Everything written to the socket goes through :class:`Sender`: whole frames, in order, each
built only once the socket is ours, so nothing can follow our Close frame.

This replaces ``trio_websocket.WebSocketConnection``, which cost a quarter of the echo
throughput (a reader task and a channel hop per message, a lock that yields per send). As
before, two things go beyond it:

* a frame the parser rejects (bad UTF-8, reserved opcode, bad close code, unmasked frame...)
  is answered with a Close frame carrying the parser's code (1002/1007) -- after the answers
  already queued for the valid messages before it -- and then the socket is closed, as
  RFC 6455 §7.1.7 asks;
* the message size limit is checked from frame headers by :class:`FrameGuard` before any
  payload is parsed (1009), rather than after buffering up to the limit.

``close()`` from inside this connection's own ``on_data`` cannot wait for the peer's answer
to our Close (reading it is this very task's job once ``on_data`` returns), so there it
returns once our Close frame is sent; from anywhere else, once the close handshake is over.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, cast

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection as WSProtocol
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from trioserve._cancellation import only_cancelled
from trioserve.ws._conn import _CLOSE, Connection
from trioserve.ws._handshake import FrameGuard
from trioserve.ws._sender import Sender

__all__ = ["WebSocketSettings", "run_websocket"]

log = logging.getLogger("trioserve.ws")

OPEN = ConnectionState.OPEN
#: how long a Close frame failing a bad peer may take to go out before we hang up anyway
FAIL_FLUSH_TIMEOUT = 1.0
_STREAM_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


@dataclass(slots=True)
class WebSocketSettings:
    """Server-wide transport knobs (``trioserve.ws.configure(server, ...)``)."""

    #: a ping unanswered this long closes the connection (ROOT's ``websocket_timeout``)
    websocket_timeout: float = 300.0
    #: how often an idle connection is pinged
    ping_interval: float = 30.0
    #: how long a close handshake may take before the socket is simply closed
    close_timeout: float = 5.0
    #: read size per ``receive_some``
    receive_buffer: int = 64 * 1024


@dataclass(eq=False, slots=True)
class _Session:
    """What the tasks of one websocket share."""

    conn: Connection
    stream: trio.abc.Stream
    proto: WSProtocol
    sender: Sender
    settings: WebSocketSettings
    guard: FrameGuard
    #: the reader is inside ``on_ready``/``on_data``: it cannot read the peer's Close now
    in_callback: bool = False
    #: the payload of the keepalive ping in flight, and what its pong sets
    ping: bytes | None = None
    pong: trio.Event | None = None
    #: set (and dropped) when the reader next leaves a callback, for whoever waits for that
    reader_back: trio.Event | None = None
    #: the writer has stopped (its Close is sent, or it gave up)
    writer_done: trio.Event = field(default_factory=trio.Event)

    async def deliver(self, name: str, *args: Any) -> Any:
        """Run one event method of the handler; a failure closes the connection with 1011."""
        conn = self.conn
        self.in_callback = True
        try:
            return await conn.handler._invoke(name, *args)
        except Exception:
            log.exception("websocket handler %r failed; closing %s", conn.handler.name, conn.id)
            conn.close_nowait(1011, "handler error")
            return None
        finally:
            self.in_callback = False
            if self.reader_back is not None:
                self.reader_back.set()
                self.reader_back = None

    async def fail(self, code: int, reason: str) -> tuple[int, str]:
        """Fail the connection for bad input: a Close frame with ``code``, then hang up.

        The writer sends it, after what is already queued -- the answers to the valid
        messages that came before the bad frame -- but the peer's input is read no further.
        """
        self.conn.close_nowait(code, reason)
        with trio.move_on_after(FAIL_FLUSH_TIMEOUT):
            await self.writer_done.wait()
        return code, reason


async def run_websocket(
    conn: Connection,
    stream: trio.abc.Stream,
    head: bytes,
    trailing: bytes,
    settings: WebSocketSettings,
    extra_headers: list[tuple[bytes, bytes]],
) -> None:
    """Accept, deliver events to ``conn.handler`` until closed, then ``on_close`` once."""
    handler = conn.handler
    added = False
    code: int | None = None
    reason = ""
    session: _Session | None = None
    try:
        try:
            proto = await _accept(stream, head, conn.subprotocol, extra_headers)
        except _STREAM_GONE:
            return
        session = _Session(
            conn,
            stream,
            proto,
            Sender(stream, proto),
            settings,
            FrameGuard(handler.max_message_size),
        )
        handler._add(conn)
        added = True
        closing = trio.Event()
        conn._abort = closing.set
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_writer, session)
            nursery.start_soon(_keepalive, session)
            nursery.start_soon(_watchdog, closing, session)
            code, reason = await _read(session, trailing)
            nursery.cancel_scope.cancel()
    except BaseException as exc:
        # Cancellation from outside is the server shutting down: say so with 1001.
        if only_cancelled(exc) and session is not None and not conn._closed.is_set():
            code, reason = 1001, "server shutting down"
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                try:
                    await session.sender.event(CloseConnection(code=code, reason=reason))
                except _STREAM_GONE:
                    pass
        raise
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
            conn._gone.set()
            if added:
                handler._remove(conn)
                conn._mark_closed(code if code is not None else 1006, reason)
                log.info("websocket %s of %r closed (%s)", conn.id, handler.name, conn.close_code)
                with trio.move_on_after(settings.close_timeout):
                    try:
                        await handler._invoke("on_close", conn)
                    except Exception:
                        log.exception("on_close of %r failed", handler.name)


async def _accept(
    stream: trio.abc.Stream,
    head: bytes,
    subprotocol: str | None,
    extra_headers: list[tuple[bytes, bytes]],
) -> WSProtocol:
    """Answer the (already validated) handshake with 101; wsproto's connection from then on."""
    handshake = WSConnection(ConnectionType.SERVER)
    handshake.receive_data(head)
    if not any(isinstance(event, Request) for event in handshake.events()):
        raise RuntimeError("wsproto did not accept the rebuilt handshake request")
    accept = AcceptConnection(subprotocol=subprotocol, extra_headers=extra_headers)
    data = handshake.send(accept)
    await stream.send_all(data)
    assert handshake.connection is not None
    return handshake.connection


async def _read(session: _Session, data: bytes | bytearray) -> tuple[int, str]:
    """``on_ready``, then read and deliver until the connection is over; its close code.

    Once a close is under way (asked by the server or forced by a handler error), further
    messages are read and dropped so the peer's Close frame can still arrive.
    """
    conn = session.conn
    proto = session.proto
    guard = session.guard
    stream = session.stream
    size = session.settings.receive_buffer
    parts: list[Any] = []
    if await session.deliver("on_ready", conn) is False:
        conn.close_nowait(1000, "refused by handler")
    while True:
        violation = None
        if data:
            if proto.state is OPEN:
                allowed = guard.feed(data)
                if guard.violation is not None:
                    violation = guard.violation
                    data = data[:allowed]
            proto.receive_data(cast(bytes, data))  # its buffer takes any bytes-like
        for event in proto.events():
            kind = type(event)  # identity tests: isinstance on wsproto's ABCs costs more
            if kind is TextMessage or kind is BytesMessage:
                if conn.closed:
                    parts.clear()
                    continue
                message = cast("TextMessage | BytesMessage", event)
                payload: Any = message.data
                if not message.message_finished:
                    parts.append(payload)
                    continue
                if parts:
                    parts.append(payload)
                    payload = ("" if kind is TextMessage else b"").join(parts)
                    parts = []
                elif kind is BytesMessage:
                    payload = bytes(payload)  # wsproto hands out the unmasked bytearray
                await session.deliver("on_data", conn, payload)
            elif kind is Ping:
                await session.sender.event(cast("Ping", event).response())
            elif kind is Pong:
                if session.pong is not None and bytes(cast("Pong", event).payload) == session.ping:
                    session.ping = None
                    session.pong.set()
            elif kind is CloseConnection:
                return await _closed_by_peer(session, cast("CloseConnection", event))
        if violation is not None:
            return await session.fail(1009, violation)
        try:
            data = await stream.receive_some(size)
        except _STREAM_GONE:
            return 1006, ""
        if not data:
            return 1006, ""


async def _closed_by_peer(session: _Session, event: CloseConnection) -> tuple[int, str]:
    """A Close from wsproto: the peer's (answer it), its answer to ours, or a parse failure."""
    state = session.proto.state
    reason = event.reason or ""
    if state is ConnectionState.REMOTE_CLOSING:
        with trio.move_on_after(session.settings.close_timeout):
            try:
                await session.sender.event(event.response())
            except _STREAM_GONE:
                pass
        return event.code, reason
    if state is ConnectionState.CLOSED:
        return event.code, reason
    # wsproto reports its own parse failures as a Close "received" while still OPEN
    return await session.fail(event.code, reason)


async def _writer(session: _Session) -> None:
    """Drain the queue; at its end send our Close (the reader sees the answer)."""
    conn = session.conn
    sender = session.sender
    try:
        while True:
            item = conn._pop_nowait()
            if item is None:
                await conn._wait_changed()
                continue
            if item is _CLOSE:
                break
            try:
                if not await sender.message(item):
                    return  # the peer closed first: nothing more may be sent
            except UnicodeEncodeError:
                log.exception("websocket %s: a message cannot be sent as text", conn.id)
                conn.close_nowait(1011, "unsendable message")
        code, reason = conn._closing or (1000, "")
        await sender.event(CloseConnection(code=code, reason=reason))
        if session.in_callback:
            # the reader cannot take the peer's answer before its on_data returns, so a
            # close() waiting in that on_data (or for it) is released now
            conn._gone.set()
    except _STREAM_GONE:
        conn._gone.set()
    finally:
        session.writer_done.set()


async def _keepalive(session: _Session) -> None:
    """Ping every ``ping_interval``; no pong within ``websocket_timeout`` -> close (1011).

    The pong is read by the reader, which cannot read while it is inside ``on_data``: a
    deadline that passes while a handler runs is restarted when the reader is back, so a
    slow handler never gets its live client cut off.
    """
    settings = session.settings
    conn = session.conn
    interval = min(settings.ping_interval, settings.websocket_timeout)
    while True:
        await trio.sleep(interval)
        pong = session.pong = trio.Event()
        payload = session.ping = os.urandom(4)
        deadline = trio.current_time() + settings.websocket_timeout
        with trio.move_on_at(deadline):
            try:
                if not await session.sender.event(Ping(payload=payload)):
                    return
            except _STREAM_GONE:
                return
        while not pong.is_set():
            with trio.move_on_at(deadline):
                await pong.wait()
            if pong.is_set():
                break
            if not session.in_callback:
                log.info(
                    "websocket %s: no pong in %ss, closing", conn.id, settings.websocket_timeout
                )
                conn.close_nowait(1011, "keepalive ping timeout")
                return
            back = session.reader_back = session.reader_back or trio.Event()
            await back.wait()
            deadline = trio.current_time() + settings.websocket_timeout


async def _watchdog(closing: trio.Event, session: _Session) -> None:
    """Once a close is asked for, the socket goes away within ``close_timeout`` regardless."""
    await closing.wait()
    await trio.sleep(session.settings.close_timeout)
    await trio.aclose_forcefully(session.stream)
    session.conn._gone.set()
