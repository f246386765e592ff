"""Where object access happens: in the server's Trio thread, or in the program's own thread.

ROOT runs every request against the objects in the program's "main" thread, inside
``ProcessRequests()``, so a histogram is never read while the program is half-way through
filling it. We offer the same (``sync="app"``, the default for synchronous programs) and the
cheaper direct mode (``sync="server"``, and always for Trio programs, where the program's own
tasks and the server's share one thread and so cannot interleave mid-update).

Three promises, kept here once for every request kind:

* **One pass per request.** A handler that touches objects several times (find the item, call
  the method, render the result; a ``multi.*`` batch: all its lines) does it inside
  :meth:`AppThreadAccess.one_pass`. The first call waits for the program's next
  :meth:`~AppThreadAccess.process_requests`; that call then stays with the request, running each
  of its object accesses as it comes, until the request is done with objects. So the request
  is answered in that one pass and sees one program state, as in ROOT. The program is held only
  while the request works; a gap longer than ``hold_timeout`` (a coroutine method that sleeps)
  lets it go, and the rest of the request waits for the next pass.
* **Bounded waits.** The Trio side of a queued call waits a bounded time (``app_timeout``); a
  program that never calls ``process_requests`` makes requests fail with 503, never hang. A call
  the program has already started is waited for past that, so a caller never gets 503 for a
  call that ran. But nothing waits on a thread once its request is cancelled (at shutdown when
  the engines' ``grace`` has run out, or when a front-end aborts the request): the worker or
  program thread is abandoned -- it finishes the call on its own, never stopped half-way
  through a method -- and a warning names what was abandoned.
* **Workers for what touches no object.** :meth:`run_in_worker` runs work on data the request
  owns (drawing an image from its snapshot) in a bounded thread pool in both modes, so neither
  the event loop nor the program's thread pays for it. Inside a pass the program's thread is
  held anyway, so there that work runs in it and the pass stays whole.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import trio

from trioserve.errors import RequestError
from trioserve.parking import Parking

__all__ = [
    "DEFAULT_HOLD_TIMEOUT",
    "DEFAULT_WORKERS",
    "AppThreadAccess",
    "DirectAccess",
    "ObjectAccess",
]

log = logging.getLogger("trioserve.appthread")
T = TypeVar("T")

#: threads for ``@blocking`` calls (inline mode) and for drawing images (both modes)
DEFAULT_WORKERS = 4
#: how long the program waits inside a pass for the request's next object access
DEFAULT_HOLD_TIMEOUT = 1.0


def _describe(fn: Callable[..., Any], label: str | None) -> str:
    return label or getattr(fn, "__qualname__", None) or repr(fn)


async def _in_worker(fn: Callable[[], T], limiter: trio.CapacityLimiter, label: str | None) -> T:
    """``fn`` in a worker thread of ``limiter``'s pool. If the caller is cancelled while it
    runs, the thread is abandoned: it finishes on its own (holding its pool slot until then)
    and its result is dropped, so a hung call cannot hold up a shutdown."""
    state = [False, False]  # started, finished

    def work() -> T:
        state[0] = True
        try:
            return fn()
        finally:
            state[1] = True

    try:
        return await trio.to_thread.run_sync(
            work,
            limiter=limiter,
            abandon_on_cancel=True,
            thread_name=f"trioserve worker: {_describe(fn, label)}",
        )
    except trio.Cancelled:
        if state[0] and not state[1]:
            log.warning(
                "abandoned %s: the request was cancelled (shutdown or client gone); it goes on "
                "running in its worker thread and its result is dropped",
                _describe(fn, label),
            )
        raise


class DirectAccess:
    """Run object access inline in the Trio thread; blocking work in a bounded worker pool."""

    #: object access runs where the request is (so nothing is gained by answering early)
    crosses_threads = False

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self.limiter = trio.CapacityLimiter(workers)

    async def run(
        self, fn: Callable[[], T], *, blocking: bool = False, label: str | None = None
    ) -> T:
        if blocking:
            return await _in_worker(fn, self.limiter, label)
        return fn()

    async def run_in_worker(self, fn: Callable[[], T], *, label: str | None = None) -> T:
        """Work that touches no live object, off the event loop."""
        return await _in_worker(fn, self.limiter, label)

    @asynccontextmanager
    async def one_pass(self) -> AsyncIterator[None]:
        """Nothing to do: inline access already runs between two of the program's awaits."""
        yield

    def pending(self) -> int:
        return 0


class _Pass:
    """The object accesses of one request (or one ``multi.*`` batch), in one program pass."""

    __slots__ = ("attached", "closed", "inbox", "owner")

    def __init__(self, owner: AppThreadAccess) -> None:
        self.owner = owner
        #: the request's next jobs while the program thread serves this pass; None: done
        self.inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.attached = False  # the program thread is serving this pass right now
        self.closed = False  # the request is done with objects


#: the pass the current task (and the sub-requests it dispatches) belongs to
_current_pass: ContextVar[_Pass | None] = ContextVar("trioserve_pass", default=None)


class _Job:
    __slots__ = ("done", "error", "fn", "result", "state", "token", "within")

    def __init__(
        self, fn: Callable[[], Any], token: trio.lowlevel.TrioToken, within: _Pass | None
    ) -> None:
        self.fn = fn
        self.token = token
        self.within = within  # the pass it belongs to, if any
        self.done = trio.Event()
        self.state = "queued"  # queued -> running -> finished | queued -> cancelled
        self.result: Any = None
        self.error: BaseException | None = None


class AppThreadAccess:
    """Queue object access for the program's own :meth:`process_requests` calls."""

    @property
    def crosses_threads(self) -> bool:
        """Object access waits for the program's thread (so what needs no object is answered
        without it: :meth:`~trioserve.context.RequestContext.run_on_item`); not for a parked
        connection's request, which runs in that thread already."""
        return not self._inline_here()

    def _inline_here(self) -> bool:
        """This thread answers a parked connection right now (its object access is here)."""
        return self._inline is not None and self._inline == threading.get_ident()

    def __init__(
        self,
        timeout: float = 10.0,
        *,
        workers: int = DEFAULT_WORKERS,
        hold_timeout: float = DEFAULT_HOLD_TIMEOUT,
        parking: bool = True,
    ) -> None:
        self.timeout = timeout
        self.hold_timeout = hold_timeout
        #: keep-alive connections the program's thread answers itself between requests
        #: (:mod:`trioserve.parking`); None: every request crosses to the program and back
        self.parking: Parking | None = Parking() if parking else None
        #: the thread answering parked connections right now (its object access runs inline)
        self._inline: int | None = None
        self.limiter = trio.CapacityLimiter(workers)
        self._queue: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._processing = threading.Lock()

    # -- the Trio side ----------------------------------------------------------------------
    def _pass(self) -> _Pass | None:
        current = _current_pass.get()
        return current if current is not None and current.owner is self else None

    @asynccontextmanager
    async def one_pass(self) -> AsyncIterator[None]:
        """Every :meth:`run` inside (this task's and the sub-requests' it dispatches) runs in
        one ``process_requests()`` pass: the pass that picks the first one stays until the
        block ends (or the request leaves it idle for ``hold_timeout``). Nested: one pass."""
        if self._pass() is not None:
            yield
            return
        current = _Pass(self)
        token = _current_pass.set(current)
        try:
            yield
        finally:
            _current_pass.reset(token)
            with self._lock:
                current.closed = True
                if current.attached:
                    current.attached = False
                    current.inbox.put(None)  # lets the program go on with its loop

    async def run(
        self, fn: Callable[[], T], *, blocking: bool = False, label: str | None = None
    ) -> T:
        """Run ``fn`` in the program's thread (``blocking`` changes nothing: it is the
        program's own time either way)."""
        if self._inline_here():
            return fn()  # a parked connection's request, in the program's thread already
        within = self._pass()
        job = _Job(fn, trio.lowlevel.current_trio_token(), within)
        with self._lock:
            if within is not None and within.attached:
                within.inbox.put(job)  # the program is serving this request right now
            else:
                self._queue.append(job)
        try:
            with trio.move_on_after(self.timeout):
                await job.done.wait()
            if not job.done.is_set():
                with self._lock:
                    if job.state == "queued":
                        job.state = "cancelled"
                if job.state == "cancelled":
                    raise RequestError(
                        503,
                        "app_not_processing",
                        "the program did not process requests in time; try again",
                    )
                # the program is running it right now: answer with its result, not a 503
                await job.done.wait()
        except trio.Cancelled:
            with self._lock:
                if job.state == "queued":
                    job.state = "cancelled"
            if job.state == "running":
                log.warning(
                    "abandoned %s: the request was cancelled (shutdown or client gone) while "
                    "the program runs it; the program finishes it, its result is dropped",
                    _describe(fn, label),
                )
            raise
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    async def run_in_worker(self, fn: Callable[[], T], *, label: str | None = None) -> T:
        """Work that touches no live object: a worker thread, or, inside a pass, the program's
        thread that the pass holds anyway (so the pass is not left idle meanwhile)."""
        if self._pass() is not None or self._inline_here():
            return await self.run(fn, label=label)
        return await _in_worker(fn, self.limiter, label)

    def pending(self) -> int:
        return sum(1 for job in list(self._queue) if job.state == "queued")

    # -- the program's side -----------------------------------------------------------------
    def process_requests(self, max_calls: int | None = None) -> int:
        """Run queued calls in the calling thread; returns how many ran.

        Call it regularly from the program's loop (ROOT's ``ProcessRequests``). A request
        whose first call runs here is answered before it returns (see :meth:`one_pass`), so
        ``max_calls`` counts calls but never splits a request. A second thread calling it
        while another is processing gets 0 at once.

        With :attr:`parking`, it then answers the requests waiting on parked keep-alive
        connections (:mod:`trioserve.parking`), each counted as one call, unless
        ``max_calls`` was reached already.
        """
        if not self._processing.acquire(blocking=False):
            return 0
        count = 0
        if self.parking is not None:
            self.parking.arrive()
        try:
            while self._queue and (max_calls is None or count < max_calls):
                job = self._queue.popleft()
                if not self._start(job):
                    continue
                self._execute(job)
                count += 1
                if job.within is not None:
                    count += self._serve_pass(job.within)
            if self.parking is not None and (max_calls is None or count < max_calls):
                self._inline = threading.get_ident()
                try:
                    count += self.parking.visit()
                finally:
                    self._inline = None
        finally:
            self._processing.release()
        return count

    def _start(self, job: _Job) -> bool:
        with self._lock:
            if job.state != "queued":
                return False
            job.state = "running"
            if job.within is not None and not job.within.closed:
                job.within.attached = True  # its next calls come straight to this thread
        return True

    def _execute(self, job: _Job) -> None:
        try:
            job.result = job.fn()
        except Exception as exc:  # handed back to the waiting request
            job.error = exc
        except BaseException:
            # KeyboardInterrupt, SystemExit: the program's, not the request's
            job.error = RequestError(503, "app_interrupted", "the program stopped answering")
            raise
        finally:
            job.state = "finished"
            try:
                job.token.run_sync_soon(job.done.set)
            except trio.RunFinishedError:
                log.debug("server stopped before a processed call could be answered")

    def _serve_pass(self, current: _Pass) -> int:
        """Run the request's further calls as they come, until it is done with objects or
        leaves the program waiting ``hold_timeout``."""
        count = 0
        try:
            while not current.closed:
                try:
                    job = current.inbox.get(timeout=self.hold_timeout)
                except queue.Empty:
                    with self._lock:
                        if current.inbox.empty():
                            current.attached = False
                            log.debug("a request left the program idle: pass released")
                            return count
                    continue
                if job is None:
                    return count
                if self._start(job):
                    self._execute(job)
                    count += 1
            return count
        finally:
            with self._lock:
                # leaving early (the program raised): whatever came meanwhile goes back
                current.attached = False
                left: list[_Job] = []
                while not current.inbox.empty():
                    job = current.inbox.get_nowait()
                    if job is not None:
                        left.append(job)
                self._queue.extendleft(reversed(left))


ObjectAccess = DirectAccess | AppThreadAccess
