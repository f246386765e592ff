"""Keep-alive connections the program's own thread answers, inside ``process_requests()``.

Why: with ``sync="app"`` every request used to cross threads twice: the server's Trio thread
woke for the request, queued its object access, slept; the program ran it in
``process_requests()`` and woke the server again to send the answer. On the program's core
each wake is a GIL handoff and a context switch, and measured there (``benchmarks/
observer.py``) the wakes, not the work, were most of what a monitored program lost: a bare
thread answering fixed bytes already cost it 1.8%, trioserve's crossing 4.8% in all, where
the same requests served inside a Trio program cost 1.1%.

So between two requests an HTTP/1.1 keep-alive connection is *parked* here instead of waited
on by the server's thread (Trio does not poll a socket nobody waits on): the program's next
``process_requests()`` polls the parked sockets (one ``poll()`` call, at most every
``poll_interval``) and answers what arrived there and then, reading, rendering and writing
in its own thread. The server's thread sleeps through it all. The program answers only what
it can answer whole without waiting on anything (the HTTP engine decides:
:mod:`trioserve.engines._http_park`); anything else -- a partial head, an unusual request, a
reply the socket does not take at once -- is handed back to the server's thread as it
stands, which carries on exactly where the program stopped.

The rules that keep a connection whole:

* A parked connection belongs to one thread at a time: *parked* (nobody; the program may take
  it), *serving* (the program, inside one ``process_requests()``), *returned* (the server's
  thread, for good). Every change happens under one lock.
* The server's thread may take a connection back whenever it is not being served (its
  keep-alive deadline, shedding, shutdown); one being served is handed back the moment the
  program is done with it, never in the middle of a request.
* A program that stops calling ``process_requests()`` for ``stall`` seconds gets every parked
  connection taken back by :meth:`Parking.watch`, so its clients are served (and refused
  with 503 after ``app_timeout``) as they were before; connections park again only once it
  calls again.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["DEFAULT_POLL_INTERVAL", "DEFAULT_STALL", "Parked", "Parking"]

log = logging.getLogger("trioserve.parking")

#: how often (at most) ``process_requests()`` polls the parked sockets: a request waits up to
#: this long plus one loop pass, and a program calling it 20,000 times a second pays for a
#: thousand ``poll()`` calls instead of 20,000
DEFAULT_POLL_INTERVAL = 0.001
#: a program silent this long no longer has connections parked for it
DEFAULT_STALL = 0.5

PARKED, SERVING, RETURNED = "parked", "serving", "returned"

#: the program's side of a connection: answers what arrived and returns (the hand-back the
#: server's thread carries on from, or None to stay parked; the requests it answered)
Serve = Callable[[], tuple[Any, int]]


class Parked:
    """One parked connection: its socket, what the program runs when it is readable, and how
    the server's thread learns that it has it back (:attr:`returned`, :attr:`handback`)."""

    __slots__ = ("active_at", "fd", "handback", "returned", "serve", "state", "token", "wanted")

    def __init__(self, fd: int, serve: Serve) -> None:
        self.fd = fd
        self.serve = serve
        self.state = PARKED
        #: set (in the server's thread) once the connection is the server's again
        self.returned = trio.Event()
        self.token = trio.lowlevel.current_trio_token()
        #: what the program left for the server's thread (None: nothing, wait as usual)
        self.handback: Any = None
        #: ``time.monotonic()`` of the program's last answer on it (the keep-alive clock)
        self.active_at = time.monotonic()
        #: the server asked for it back while the program served it
        self.wanted = False


class Parking:
    """The parked connections of one program (one :class:`~trioserve.appthread.
    AppThreadAccess`), whichever engines parked them."""

    def __init__(
        self, *, poll_interval: float = DEFAULT_POLL_INTERVAL, stall: float = DEFAULT_STALL
    ) -> None:
        self.poll_interval = poll_interval
        self.stall = stall
        self._lock = threading.Lock()
        self._poller = select.poll()
        self._parked: dict[int, Parked] = {}
        #: ``time.monotonic()`` of the program's last ``process_requests()``
        self.last_visit = -float("inf")
        self._next_poll = 0.0
        #: requests the program's thread answered here, in all
        self.answered = 0
        #: set by :meth:`park`: wakes a :meth:`watch` that sleeps while nothing is parked
        self._some_parked: trio.Event | None = None

    def __len__(self) -> int:
        return len(self._parked)

    # -- the server's thread ----------------------------------------------------------------
    def open(self) -> bool:
        """Whether the program calls ``process_requests()`` (recently enough to park for)."""
        return time.monotonic() - self.last_visit < self.stall

    def park(self, fd: int, serve: Serve) -> Parked:
        parked = Parked(fd, serve)
        with self._lock:
            if fd in self._parked:  # a descriptor parks once; a second would be a bug
                raise RuntimeError(f"descriptor {fd} is parked already")
            self._parked[fd] = parked
            self._poller.register(fd, select.POLLIN)
        if self._some_parked is not None:
            self._some_parked.set()
        return parked

    def take_back(self, parked: Parked) -> bool:
        """The connection is the server's again (True), or the program is answering on it
        right now and hands it back when done (False: wait for :attr:`Parked.returned`)."""
        with self._lock:
            if parked.state == SERVING:
                parked.wanted = True
                return False
            self._release(parked)
        return True

    async def watch(self) -> None:
        """Take the connections back from a program that stopped calling
        ``process_requests()``: every ``stall`` seconds while any is parked, one look (a
        wake of the server's thread, so rare on purpose); none while nothing is."""
        while True:
            if not self._parked:  # nothing to watch: no wakes until something parks
                if self._some_parked is None or self._some_parked.is_set():
                    self._some_parked = trio.Event()
                await self._some_parked.wait()
            await trio.sleep(self.stall)
            if self._parked and not self.open():
                with self._lock:
                    idle = [p for p in self._parked.values() if p.state == PARKED]
                    for parked in idle:
                        self._release(parked)
                for parked in idle:
                    parked.returned.set()
                if idle:
                    log.debug("the program stopped processing: %d connections back", len(idle))

    # -- the program's thread ---------------------------------------------------------------
    def arrive(self) -> None:
        """The program is in ``process_requests()``: said first thing there, before its
        queued calls run, so a connection whose answer one of them completes finds the
        program present (:meth:`open`) and parks."""
        self.last_visit = time.monotonic()

    def visit(self) -> int:
        """Answer what arrived on the parked connections; returns how many requests were
        answered. Called by every ``process_requests()`` (after :meth:`arrive`); polls at
        most every ``poll_interval``."""
        now = self.last_visit
        if not self._parked or now < self._next_poll:
            return 0
        self._next_poll = now + self.poll_interval
        with self._lock:
            ready: list[Parked] = []
            for fd, _events in self._poller.poll(0):
                parked = self._parked.get(fd)
                if parked is not None and parked.state == PARKED:
                    parked.state = SERVING
                    ready.append(parked)
        answered = 0
        waiting = iter(ready)
        try:
            for parked in waiting:
                answered += self._serve(parked)
        finally:
            for parked in waiting:  # the program was interrupted before these: parked again
                self._finish(parked, None)
            self.answered += answered
        return answered

    def _serve(self, parked: Parked) -> int:
        handback: Any = None
        answered = 0
        try:
            handback, answered = parked.serve()
        except Exception:
            log.exception("answering a parked connection in the program's thread failed")
            handback = Broken("internal error in the program's thread")
        except BaseException:  # the program's own KeyboardInterrupt/SystemExit: give it back
            handback = Broken("the program was interrupted while answering")
            self._finish(parked, handback)
            raise
        self._finish(parked, handback)
        return answered

    def _finish(self, parked: Parked, handback: Any) -> None:
        with self._lock:
            if handback is None and not parked.wanted:
                parked.state = PARKED
                parked.active_at = time.monotonic()
                return
            parked.handback = handback
            self._release(parked)
        try:
            parked.token.run_sync_soon(parked.returned.set)
        except trio.RunFinishedError:
            log.debug("server stopped while a connection was parked")

    # -- both -------------------------------------------------------------------------------
    def _release(self, parked: Parked) -> None:
        """(Under the lock.) Unpark for good: no poll sees the descriptor again."""
        if parked.state != RETURNED:
            parked.state = RETURNED
            del self._parked[parked.fd]
            self._poller.unregister(parked.fd)


class Broken:
    """A hand-back that ends the connection (its reason goes to the log)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason
