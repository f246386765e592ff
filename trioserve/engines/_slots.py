"""Who gets a connection slot, shared by the HTTP and FastCGI engines' accept loops.

* :class:`Slots` decides who gets a connection slot: the ``max_connections`` cap, and for
  the HTTP engine on TCP the per-peer rules (a limit per client address, a new client
  admitted before one holding many slots, the biggest holder's idle connections closed
  first when someone waits). Its docstring has the rules; an engine supplies only how to
  close one waiting-for-a-request connection of a peer (``shed``) and what to do under
  ``pressure``.
* :class:`LongLived` is the separate cap on websockets and long-poll requests, which hold a
  slot for minutes and so must not be able to take all of them.
* :func:`peer_key` names a client: its IPv4 address, or its IPv6 /64.

Apart from :mod:`._listen` (sockets and the accept loop) so that each reads on its own; the
accept loop hands every accepted connection to :meth:`Slots.arrive`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from trioserve.errors import RequestError

if TYPE_CHECKING:
    from trioserve.call import Call, Response

__all__ = [
    "ROOM_RECHECK_INTERVAL",
    "TOO_MANY_LONG_LIVED",
    "WAITING_ROOM",
    "LongLived",
    "Slots",
    "peer_key",
]

log = logging.getLogger("trioserve.listen")

#: accepted connections of one engine that may wait for a slot (per-peer admission on)
WAITING_ROOM = 128
#: while connections wait for a slot, how often the engine is asked again to close some
ROOM_RECHECK_INTERVAL = 0.25


def peer_key(host: str) -> str:
    """The client a connection counts against for the per-peer limits.

    An IPv4 address is itself; an IPv4-mapped IPv6 address (a dual-stack listener) is its IPv4
    address; any other IPv6 address counts as its /64, since one host or site is handed a
    whole /64 and could otherwise open each connection from a new address. Anything else
    (``"-"`` for unix sockets) is one peer.
    """
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return f"{ipaddress.IPv6Address(int(address) >> 64 << 64)}/64"


@dataclass(eq=False, slots=True)
class _Waiter:
    """An accepted connection that has no slot yet (nothing was read from it)."""

    stream: trio.SocketStream
    peer: str
    handler: Callable[[trio.SocketStream], Awaitable[None]]
    nursery: trio.Nursery


class Slots:
    """The connection slots of one engine: who holds them, who waits, who goes next.

    Every connection holds one ``limiter`` token for its whole life (``max_connections``).
    With per-peer admission on (``per_peer`` not None: the HTTP engine on TCP) the rules are
    these, and only the first applies while nobody waits, so one client alone -- a load test,
    a front-end -- may use every slot up to ``per_peer``:

    * a peer (:func:`peer_key`) never holds more than ``per_peer`` slots, whatever its
      connections do: the rest stays for the others even if all its requests are slow;
    * the accept loop keeps accepting while the slots are taken, so the kernel backlog never
      hides a newcomer behind one client's queued connections; accepted connections wait in
      a room of ``waiting_room``; when it is full, the peer with the most connections (held
      and waiting) loses its newest waiting one, closed unread;
    * a free slot goes to the waiting connection whose peer holds the fewest slots (the
      oldest among equals): a new client before one that already holds many;
    * to free a slot for a waiting connection, ``shed(peer, False)`` closes one connection of
      a peer holding *more* slots than the waiter's -- the biggest such peer first -- that is
      not in a request (the engine's choice: idle keep-alive first, then never used, then a
      head still arriving); a waiter whose peer holds as many as anyone, or is at its limit,
      gets the gentle ``shed(peer, True)`` instead, which closes only connections waiting
      for a request for a moment (its own client's first, so a client turns over its own);
    * while anyone waits, ``pressure(True)``: responses close their connection, so slots
      turn over.

    With per-peer admission off (unix sockets, FastCGI, ``max_peer_connections=0``: every
    connection is from one peer) the loop stops accepting while one connection waits, as a
    plain cap does: clients queue in the kernel backlog, and ``shed(None, True)`` applies.
    The engine answers the ``shed`` calls synchronously; a closed connection frees its slot
    when its task ends, and the waiting connections are admitted then.
    """

    def __init__(
        self,
        limiter: trio.CapacityLimiter,
        *,
        per_peer: int | None = None,
        waiting_room: int = WAITING_ROOM,
        pressure: Callable[[bool], None] | None = None,
        shed: Callable[[str | None, bool], bool] | None = None,
        logger: logging.Logger = log,
    ) -> None:
        self.limiter = limiter
        self.per_peer = per_peer
        self.fair = per_peer is not None
        #: accepted connections that may wait for a slot (one without per-peer admission)
        self.room = max(waiting_room, 1) if self.fair else 1
        #: slots held, by peer
        self.held: dict[str, int] = {}
        #: waiting connections, oldest first, and how many of them each peer has
        self.waiting: list[_Waiter] = []
        self.queued: dict[str, int] = {}
        self._pressure = pressure
        self._shed = shed
        self._log = logger
        self._changed = trio.Event()
        self._room_free = trio.Event()
        self._room_free.set()
        self._admitting = False
        self._next_round = 0.0

    # -- the accept loop's side ----------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """Whether the accept loop should take more connections from the backlog now."""
        return self.fair or not self.waiting

    async def wait_accepting(self) -> None:
        """Return when :attr:`accepting` (at once, without a checkpoint, if it is already)."""
        while not self.accepting:
            await self._room_free.wait()

    def arrive(
        self,
        stream: trio.SocketStream,
        peer: str,
        handler: Callable[[trio.SocketStream], Awaitable[None]],
        nursery: trio.Nursery,
    ) -> None:
        """A connection was accepted: start ``handler(stream)`` in ``nursery`` now if a slot
        is free for its peer, else let it wait (or close it, when the room is full)."""
        if self.waiting:
            self._admit_ready()
        if self._take(stream, peer):
            nursery.start_soon(_run_connection, handler, stream, self, peer)
            return
        if len(self.waiting) >= self.room and not self._evict_for(peer):
            self._drop(stream, peer)
            return
        waiter = _Waiter(stream, peer, handler, nursery)
        self.waiting.append(waiter)
        self.queued[peer] = self.queued.get(peer, 0) + 1
        self._room_free = trio.Event() if self._room_free.is_set() else self._room_free
        self._make_room([waiter])
        self._changed.set()
        if not self._admitting:
            self._admitting = True
            self._next_round = trio.current_time() + ROOM_RECHECK_INTERVAL
            nursery.start_soon(self._admit_waiting)

    def release(self, token: object, peer: str) -> None:
        """A connection ended: its slot is free."""
        self.limiter.release_on_behalf_of(token)
        count = self.held[peer] - 1
        if count:
            self.held[peer] = count
        else:
            del self.held[peer]
        if self.waiting:
            self._changed.set()

    # -- admission -----------------------------------------------------------------------------

    def _take(self, token: object, peer: str) -> bool:
        held = self.held.get(peer, 0)
        if self.per_peer is not None and held >= self.per_peer:
            return False
        try:
            # no checkpoint: the accept loop took one already, and a connection costs one trip
            # through the scheduler less
            self.limiter.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            return False
        self.held[peer] = held + 1
        return True

    def _admit_ready(self) -> None:
        """Start every waiting connection a slot is free for, fewest slots held first."""
        while self.waiting:
            best: _Waiter | None = None
            best_held = 0
            for waiter in self.waiting:  # oldest first: the oldest wins a tie
                held = self.held.get(waiter.peer, 0)
                if self.per_peer is not None and held >= self.per_peer:
                    continue
                if best is None or held < best_held:
                    best, best_held = waiter, held
            if best is None or not self._take(best.stream, best.peer):
                break
            self._unqueue(best)
            best.nursery.start_soon(_run_connection, best.handler, best.stream, self, best.peer)

    def _unqueue(self, waiter: _Waiter) -> None:
        self.waiting.remove(waiter)
        count = self.queued[waiter.peer] - 1
        if count:
            self.queued[waiter.peer] = count
        else:
            del self.queued[waiter.peer]
        if not self.waiting:
            self._room_free.set()

    def _evict_for(self, peer: str) -> bool:
        """The room is full and ``peer`` knocks: close the newest waiting connection of the
        peer with the most connections, unless that is ``peer`` itself (False: turn it away)."""

        def total(one: str) -> int:
            return self.held.get(one, 0) + self.queued.get(one, 0)

        biggest = max(self.queued, key=total)
        if total(biggest) <= total(peer) + 1:  # counting the newcomer: it is (one of) the most
            return False
        for waiter in reversed(self.waiting):
            if waiter.peer == biggest:
                self._unqueue(waiter)
                self._drop(waiter.stream, biggest)
                return True
        return False  # not reached: ``biggest`` has a waiting connection

    def _drop(self, stream: trio.SocketStream, peer: str) -> None:
        self._log.info(
            "dropped connection from %s: no connection slot (the client holds %d, %d more wait)",
            peer,
            self.held.get(peer, 0),
            self.queued.get(peer, 0),
        )
        stream.socket.close()

    async def _admit_waiting(self) -> None:
        """While connections wait: admit them as slots free, and make room every
        :data:`ROOM_RECHECK_INTERVAL` seconds."""
        try:
            if self._pressure is not None:
                self._pressure(True)
            while self.waiting:
                self._admit_ready()
                if not self.waiting:
                    break
                if trio.current_time() >= self._next_round:
                    self._next_round = trio.current_time() + ROOM_RECHECK_INTERVAL
                    self._make_room(self.waiting)
                with trio.move_on_at(self._next_round):
                    await self._changed.wait()
                self._changed = trio.Event()
        finally:
            self._admitting = False
            if self._pressure is not None:
                self._pressure(False)
            # cancelled (the engine shuts down): nobody will admit these any more
            for waiter in self.waiting:
                waiter.stream.socket.close()
            self.waiting.clear()
            self.queued.clear()
            self._room_free.set()

    def _make_room(self, waiters: list[_Waiter]) -> None:
        """Ask the engine to close one connection for each of ``waiters`` (see the rules in
        the class docstring)."""
        shed = self._shed
        if shed is None:
            return
        spent: set[tuple[str | None, bool]] = set()  # nothing left to close there this round

        def close_one(peer: str | None, gentle: bool) -> bool:
            if (peer, gentle) in spent:
                return False
            if shed(peer, gentle):
                return True
            spent.add((peer, gentle))
            return False

        if not self.fair:
            for _ in waiters:
                if not close_one(None, True):
                    break
            return
        now = self.held
        held = dict(now)  # as it will be once the connections closed here are gone
        biggest = sorted(held, key=held.__getitem__, reverse=True)
        for waiter in sorted(waiters, key=lambda one: now.get(one.peer, 0)):
            mine = held.get(waiter.peer, 0)
            if self.per_peer is not None and mine >= self.per_peer:
                close_one(waiter.peer, True)  # its own client must turn over first
                continue
            # the biggest peer holding more than this one's with a connection to close (counts
            # only go down in a round: past a peer that held no more than ``mine`` before it,
            # none holds more now)
            victim = None
            for peer in biggest:
                if now[peer] <= mine:
                    break
                if held[peer] > mine and close_one(peer, False):
                    victim = peer
                    break
            if victim is not None:
                held[victim] -= 1
                held[waiter.peer] = mine + 1
                continue
            # nobody holding more has one: the gentle rule, among the peers holding as many
            for peer in biggest:
                if now[peer] < mine or close_one(peer, True):
                    break


async def _run_connection(
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    stream: trio.SocketStream,
    slots: Slots,
    peer: str,
) -> None:
    try:
        await handler(stream)
    finally:
        slots.release(stream, peer)


#: how a long-poll request's path ends (the dispatcher's ``root.longpoll``, gzipped or not)
_LONGPOLL_ENDINGS = ("/root.longpoll", "/root.longpoll.gz")


class LongLived:
    """The websocket sessions and long-poll requests of one engine, within their own cap.

    Both hold their connection's slot for minutes (a websocket for its whole session, a
    parked poll up to ``poll_timeout``), and neither can be closed to make room without
    ending a session; so together they get at most ``limit`` of an engine's slots, and plain
    requests always keep the others. The engine refuses a websocket upgrade beyond the cap
    itself (with its own 503); :meth:`counting` does the same for long-poll requests.
    """

    __slots__ = ("count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def take(self) -> bool:
        """Count one more, unless the cap is reached (False)."""
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def release(self) -> None:
        self.count -= 1

    def counting(
        self, handle: Callable[[Call], Awaitable[Response]]
    ) -> Callable[[Call], Awaitable[Response]]:
        """``handle`` with each long-poll request counted while it runs, and answered 503
        when the cap is reached. Other requests go straight to ``handle`` (no extra frame)."""

        def counted(call: Call) -> Awaitable[Response]:
            if call.path.endswith(_LONGPOLL_ENDINGS):
                return self._longpoll(handle, call)
            return handle(call)

        return counted

    async def _longpoll(
        self, handle: Callable[[Call], Awaitable[Response]], call: Call
    ) -> Response:
        if not self.take():
            raise RequestError(503, "too_many_websockets", TOO_MANY_LONG_LIVED)
        try:
            return await handle(call)
        finally:
            self.release()


#: the message of a 503 for a websocket or long-poll request beyond the engine's cap
TOO_MANY_LONG_LIVED = "too many websocket and long-poll connections on this engine"


# -- the accept loop ----------------------------------------------------------------------------
