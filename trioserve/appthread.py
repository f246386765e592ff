"""Where object access happens: in the server's Trio thread, or in the program's own thread.

ROOT runs every request against the objects in the program's "main" thread, inside
``ProcessRequests()``, so a histogram is never read while the program is half-way through
filling it. We offer the same (``sync="app"``, the default for synchronous programs) and the
cheaper direct mode (``sync="server"``, and always for Trio programs, where the program's own
tasks and the server's share one thread and so cannot interleave mid-update).

The Trio side of a queued call waits a bounded time (``app_timeout``); a program that never
calls :meth:`AppThreadAccess.process_requests` makes requests fail with 503, never hang. A
call the program has already started is always waited for, so an object is never abandoned
half-way through a method.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import trio

from trioserve.errors import RequestError

__all__ = ["AppThreadAccess", "DirectAccess", "ObjectAccess"]

log = logging.getLogger("trioserve.appthread")
T = TypeVar("T")


class DirectAccess:
    """Run object access inline in the Trio thread; blocking work in a bounded worker pool."""

    def __init__(self, workers: int = 4) -> None:
        self.limiter = trio.CapacityLimiter(workers)

    async def run(self, fn: Callable[[], T], *, blocking: bool = False) -> T:
        if blocking:
            return await trio.to_thread.run_sync(fn, limiter=self.limiter)
        return fn()

    def pending(self) -> int:
        return 0


class _Job:
    __slots__ = ("done", "error", "fn", "result", "state", "token")

    def __init__(self, fn: Callable[[], Any], token: trio.lowlevel.TrioToken) -> None:
        self.fn = fn
        self.token = token
        self.done = trio.Event()
        self.state = "queued"  # queued -> running -> finished | queued -> cancelled
        self.result: Any = None
        self.error: BaseException | None = None


class AppThreadAccess:
    """Queue object access for the program's own :meth:`process_requests` calls."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._queue: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._processing = threading.Lock()

    async def run(self, fn: Callable[[], T], *, blocking: bool = False) -> T:
        job = _Job(fn, trio.lowlevel.current_trio_token())
        self._queue.append(job)
        try:
            with trio.move_on_after(self.timeout):
                await job.done.wait()
        finally:
            with self._lock:
                if job.state == "queued":
                    job.state = "cancelled"
        if job.state == "cancelled":
            raise RequestError(
                503, "app_not_processing", "the program did not process requests in time; try again"
            )
        if not job.done.is_set():
            # the program is running it right now: never abandon a half-done call
            with trio.CancelScope(shield=True):
                await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def pending(self) -> int:
        return sum(1 for job in self._queue if job.state == "queued")

    def process_requests(self, max_calls: int | None = None) -> int:
        """Run queued calls in the calling thread; returns how many ran.

        Call it regularly from the program's loop (ROOT's ``ProcessRequests``). A second
        thread calling it while another is processing gets 0 at once.
        """
        if not self._processing.acquire(blocking=False):
            return 0
        count = 0
        try:
            while self._queue and (max_calls is None or count < max_calls):
                job = self._queue.popleft()
                with self._lock:
                    if job.state != "queued":
                        continue
                    job.state = "running"
                try:
                    job.result = job.fn()
                except BaseException as exc:  # handed back to the waiting request
                    job.error = exc
                job.state = "finished"
                count += 1
                try:
                    job.token.run_sync_soon(job.done.set)
                except trio.RunFinishedError:
                    log.debug("server stopped before a processed call could be answered")
        finally:
            self._processing.release()
        return count


ObjectAccess = DirectAccess | AppThreadAccess
