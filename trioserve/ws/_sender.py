"""The one way to a websocket's socket: whole frames, in order, nothing after our Close.

Apart from the transport (:mod:`._transport`), whose reader and writer tasks and keepalive
pinger all write through one :class:`Sender` per connection.
"""

from __future__ import annotations

import trio
from wsproto.connection import Connection as WSProtocol
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Ping, Pong

from trioserve.ws._conn import Message, WithHeader
from trioserve.ws._handshake import message_frame

__all__ = ["Sender"]

OPEN = ConnectionState.OPEN
#: payloads from this size on are written after their frame header instead of being copied
#: into one buffer with it
_COPY_LIMIT = 1 << 16


class Sender:
    """The one way to the socket: whole frames, in order, nothing after our Close.

    A ``trio.Lock`` would do, but its uncontended acquire still yields to the scheduler,
    once per message; the socket's own ``send_all`` is the checkpoint here.
    """

    __slots__ = ("_busy", "_idle", "_waiting", "proto", "stream")

    def __init__(self, stream: trio.abc.Stream, proto: WSProtocol) -> None:
        self.stream = stream
        self.proto = proto
        self._busy = False
        self._idle = trio.lowlevel.ParkingLot()
        self._waiting = 0

    async def _acquire(self) -> None:
        while self._busy:
            self._waiting += 1
            try:
                await self._idle.park()
            finally:
                self._waiting -= 1
        self._busy = True

    def _release(self) -> None:
        self._busy = False
        if self._waiting:
            self._idle.unpark()

    async def message(self, message: Message) -> bool:
        """Send one queued message; False (nothing sent) once a Close has been sent or seen."""
        await self._acquire()
        try:
            if self.proto.state is not OPEN:
                return False
            if isinstance(message, WithHeader):  # a text frame, then the binary one
                header, payload = message_frame(message.data)
                header = b"".join(message_frame(message.header)) + header
            else:
                header, payload = message_frame(message)
            if len(payload) < _COPY_LIMIT:
                await self.stream.send_all(header + payload)
            else:
                await self.stream.send_all(header)
                await self.stream.send_all(payload)
            return True
        finally:
            self._release()

    async def event(self, event: Ping | Pong | CloseConnection) -> bool:
        """Send a control frame if the protocol state still allows it."""
        await self._acquire()
        try:
            state = self.proto.state
            if state is not OPEN and not (
                type(event) is CloseConnection and state is ConnectionState.REMOTE_CLOSING
            ):
                return False
            await self.stream.send_all(self.proto.send(event))
            return True
        finally:
            self._release()
