"""Running one accepted websocket: trio-websocket over the stream the HTTP engine handed us.

The engine has already parsed the upgrade request with h11. trio-websocket wants to do the
handshake itself from raw bytes, so we give it a stream (:class:`_Handover`) that first
returns a minimal request head rebuilt from the request we validated, then -- only once our
101 answer has been sent -- the bytes h11 read past the head, then the socket itself.
(wsproto would drop bytes that arrive before the accept: they sit in its h11 buffer.)

Two gaps of trio-websocket 0.12 / wsproto 1.2 are closed here, both in :class:`_ServerWS`,
a ``wsproto.WSConnection`` subclass handed to ``trio_websocket.WebSocketConnection``:

* a frame the parser rejects (bad UTF-8, reserved opcode, bad close code, unmasked frame...)
  surfaces as a ``CloseConnection`` event while the state is still OPEN, and trio-websocket
  then drops the socket without a Close frame. We answer it with a Close frame carrying the
  parser's code (1002/1007), flushed by the stream's ``aclose``, as RFC 6455 §7.1.7 asks;
* the message size limit is checked from frame headers by :class:`FrameGuard` before any
  payload is parsed (1009), rather than after buffering up to the limit.

Per connection: trio-websocket's reader task, our reader loop (``on_data`` in order), one
writer task draining the bounded queue, a keepalive pinger and a close watchdog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio
import trio_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection

from trioserve.ws._conn import _CLOSE, Connection, WithHeader
from trioserve.ws._handshake import FrameGuard, close_frame

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wsproto.events import Event

__all__ = ["WebSocketSettings", "run_websocket"]

log = logging.getLogger("trioserve.ws")


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


class _Handover(trio.abc.Stream):
    def __init__(self, stream: trio.abc.Stream, head: bytes, trailing: bytes) -> None:
        self.stream = stream
        self._head = head
        self._trailing = trailing
        self._released = trio.Event()
        self._lock = trio.Lock()
        self.outbox = bytearray()

    def release(self) -> None:
        self._released.set()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        await self._released.wait()
        if self._trailing:
            data, self._trailing = self._trailing, b""
            return bytes(data)
        return bytes(await self.stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._lock:
            await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def flush_outbox(self, timeout: float = 1.0) -> None:
        if not self.outbox:
            return
        data = bytes(self.outbox)
        self.outbox.clear()
        with trio.move_on_after(timeout):
            try:
                await self.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
                pass

    async def aclose(self) -> None:
        try:
            with trio.CancelScope(shield=True):
                await self.flush_outbox()
        finally:
            await self.stream.aclose()


class _ServerWS(WSConnection):
    """wsproto's server connection that fails bad input *with* a Close frame."""

    def __init__(self, guard: FrameGuard, outbox: bytearray) -> None:
        super().__init__(ConnectionType.SERVER)
        self._guard = guard
        self._outbox = outbox
        self._pending: CloseConnection | None = None
        self.failed: CloseConnection | None = None

    def receive_data(self, data: bytes | None) -> None:
        if self.failed is not None or self._pending is not None:
            return
        if data and self.state is ConnectionState.OPEN:
            allowed = self._guard.feed(data)
            if self._guard.violation is not None:
                if allowed:
                    super().receive_data(data[:allowed])
                self._pending = CloseConnection(code=1009, reason=self._guard.violation)
                return
        super().receive_data(data)

    def _fail_if_local(self, event: Event) -> Event:
        if isinstance(event, CloseConnection) and self.state is ConnectionState.OPEN:
            # wsproto reports its own parse failures as a close "received" in state OPEN
            self.failed = event
            self._outbox += self.send(CloseConnection(code=event.code, reason=event.reason))
        return event

    def events(self) -> Iterator[Event]:  # type: ignore[override]
        for event in super().events():
            yield self._fail_if_local(event)
        if self._pending is not None and self.failed is None:
            pending, self._pending = self._pending, None
            yield self._fail_if_local(pending)


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
    guard = FrameGuard(handler.max_message_size)
    wrapper = _Handover(stream, head, trailing)
    wsproto_conn = _ServerWS(guard, wrapper.outbox)
    ws = trio_websocket.WebSocketConnection(
        wrapper,
        wsproto_conn,
        message_queue_size=1,
        # the guard counts bytes on the wire, which is >= len() of the text: it trips first
        max_message_size=handler.max_message_size,
        receive_buffer_size=settings.receive_buffer,
    )
    added = False
    code: int | None = None
    reason = ""
    try:
        async with trio.open_nursery() as nursery:
            # what trio_websocket.wrap_server_stream does, with our wsproto connection
            nursery.start_soon(ws._reader_task)
            proposal = await ws._get_request()
            await proposal.accept(subprotocol=conn.subprotocol, extra_headers=extra_headers)
            wrapper.release()
            handler._add(conn)
            added = True
            closing = trio.Event()
            writer_done = trio.Event()
            conn._abort = closing.set
            nursery.start_soon(_writer, conn, ws, writer_done)
            nursery.start_soon(_keepalive, conn, ws, settings)
            nursery.start_soon(_watchdog, closing, wrapper, settings)
            try:
                await _deliver(conn, ws)
            except trio_websocket.ConnectionClosed as exc:
                if exc.reason is not None:
                    code, reason = exc.reason.code, exc.reason.reason or ""
            if conn._closing is not None:
                # we started the close: let the writer finish the handshake (bounded)
                with trio.move_on_after(settings.close_timeout):
                    await writer_done.wait()
            if wsproto_conn.failed is not None:
                code, reason = wsproto_conn.failed.code, wsproto_conn.failed.reason or ""
            nursery.cancel_scope.cancel()
    except BaseException as exc:
        # Cancellation from outside is the server shutting down: say so with 1001.
        if _is_cancel(exc) and added and not conn._closed.is_set():
            code, reason = 1001, "server shutting down"
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                try:
                    await wrapper.send_all(close_frame(1001, reason))
                except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
                    pass
        raise
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(wrapper)
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


def _is_cancel(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancel(e) for e in exc.exceptions)
    return False


async def _deliver(conn: Connection, ws: trio_websocket.WebSocketConnection) -> None:
    """``on_ready`` then ``on_data`` per message, in order, until the connection closes.

    Once a close is under way (asked by the server or forced by a handler error), further
    messages are read and dropped so the peer's Close frame can still arrive.
    """
    handler = conn.handler
    try:
        if await handler._invoke("on_ready", conn) is False:
            conn.close_nowait(1000, "refused by handler")
        while True:
            message = await ws.get_message()
            if not conn.closed:
                await handler._invoke("on_data", conn, message)
    except trio_websocket.ConnectionClosed:
        raise
    except Exception:
        log.exception("websocket handler %r failed; closing %s", handler.name, conn.id)
        conn.close_nowait(1011, "handler error")
        while True:
            await ws.get_message()


async def _writer(
    conn: Connection, ws: trio_websocket.WebSocketConnection, done: trio.Event
) -> None:
    try:
        while True:
            item = await conn._pop()
            if item is _CLOSE:
                break
            if isinstance(item, WithHeader):
                await ws.send_message(item.header)
                item = item.data
            await ws.send_message(item)
        code, reason = conn._closing or (1000, "")
        await ws.aclose(code, reason or None)
    except trio_websocket.ConnectionClosed:
        pass
    finally:
        done.set()
        conn._gone.set()


async def _keepalive(
    conn: Connection, ws: trio_websocket.WebSocketConnection, settings: WebSocketSettings
) -> None:
    """Ping every ``ping_interval``; no pong within ``websocket_timeout`` -> close (1011)."""
    interval = min(settings.ping_interval, settings.websocket_timeout)
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(settings.websocket_timeout) as scope:
            try:
                await ws.ping()
            except trio_websocket.ConnectionClosed:
                return
        if scope.cancelled_caught:
            log.info("websocket %s: no pong in %ss, closing", conn.id, settings.websocket_timeout)
            conn.close_nowait(1011, "keepalive ping timeout")
            return


async def _watchdog(closing: trio.Event, wrapper: _Handover, settings: WebSocketSettings) -> None:
    """Once a close is asked for, the socket goes away within ``close_timeout`` regardless."""
    await closing.wait()
    await trio.sleep(settings.close_timeout)
    await trio.aclose_forcefully(wrapper.stream)
