"""The ownership rules of trioserve.parking, on real sockets, with the program's side run in a
thread of its own (as process_requests() runs it) and the server's side in Trio."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import pytest
import trio

from trioserve.parking import Broken, Parking


def _program_visit(parking: Parking) -> int:
    """What one process_requests() does with the parking."""
    parking.arrive()
    return parking.visit()


def test_a_connection_being_served_goes_back_only_once_the_program_is_done() -> None:
    async def main() -> None:
        parking = Parking(poll_interval=0)
        ours, client = socket.socketpair()
        entered, release = threading.Event(), threading.Event()

        def serve() -> tuple[object, int]:
            entered.set()
            assert release.wait(5)
            return None, 1  # answered, would stay parked

        parked = parking.park(ours.fileno(), serve)
        client.send(b"GET")
        answered: list[int] = []
        program = threading.Thread(target=lambda: answered.append(_program_visit(parking)))
        program.start()
        assert await trio.to_thread.run_sync(entered.wait, 5)
        assert parking.take_back(parked) is False  # mid-request: not now
        assert not parked.returned.is_set()
        release.set()
        with trio.fail_after(5):
            await parked.returned.wait()  # handed back when done, because it was asked for
        program.join(5)
        assert answered == [1] and parking.answered == 1
        assert parked.handback is None and len(parking) == 0
        assert _program_visit(parking) == 0  # no poll sees it again
        ours.close()
        client.close()

    trio.run(main)


def test_the_watch_takes_connections_back_only_from_a_silent_program() -> None:
    async def main() -> None:
        parking = Parking(stall=0.2)
        ours, client = socket.socketpair()
        parked = parking.park(ours.fileno(), lambda: (None, 0))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(parking.watch)
            for _ in range(12):  # 0.6 s of a program calling process_requests
                _program_visit(parking)
                await trio.sleep(0.05)
            assert parking.open() and len(parking) == 1 and not parked.returned.is_set()
            with trio.fail_after(2):  # then silence
                await parked.returned.wait()
            assert not parking.open() and len(parking) == 0 and parked.handback is None
            nursery.cancel_scope.cancel()
        ours.close()
        client.close()

    trio.run(main)


@pytest.mark.parametrize(
    ("failure", "raised"),
    [(ValueError("bug"), None), (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_a_failure_in_the_programs_thread_ends_only_that_connection(
    failure: BaseException, raised: type[BaseException] | None, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        parking = Parking(poll_interval=0)
        ours, client = socket.socketpair()

        def serve() -> tuple[object, int]:
            raise failure

        parked = parking.park(ours.fileno(), serve)
        client.send(b"GET")
        visit: Callable[[], int] = lambda: _program_visit(parking)  # noqa: E731
        if raised is None:
            assert await trio.to_thread.run_sync(visit) == 0
        else:
            with pytest.raises(raised):  # the program's own interrupt goes on to the program
                await trio.to_thread.run_sync(visit)
        with trio.fail_after(5):
            await parked.returned.wait()
        assert isinstance(parked.handback, Broken) and len(parking) == 0
        ours.close()
        client.close()

    with caplog.at_level(logging.ERROR, logger="trioserve.parking"):
        trio.run(main)
    assert bool(caplog.records) == (raised is None)  # a bug is logged with its traceback


def test_polls_are_spaced_by_the_poll_interval() -> None:
    async def main() -> None:
        parking = Parking(poll_interval=60)
        ours, client = socket.socketpair()
        served: list[bytes] = []

        def serve() -> tuple[object, int]:
            served.append(ours.recv(100))
            return None, 1

        parking.park(ours.fileno(), serve)
        assert _program_visit(parking) == 0  # polled: nothing yet
        client.send(b"GET")
        assert _program_visit(parking) == 0  # within the interval: not polled
        assert served == []
        parking._next_poll = 0.0  # the interval is over
        assert _program_visit(parking) == 1 and served == [b"GET"]
        ours.close()
        client.close()

    trio.run(main)


def test_the_watch_sleeps_while_nothing_is_parked() -> None:
    async def main() -> None:
        parking = Parking(stall=0.05)
        looks = 0
        real_open = parking.open

        def counting_open() -> bool:
            nonlocal looks
            looks += 1
            return real_open()

        parking.open = counting_open  # type: ignore[method-assign]
        ours, client = socket.socketpair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(parking.watch)
            await trio.sleep(0.5)  # ten stall periods with nothing parked
            assert looks == 0
            parked = parking.park(ours.fileno(), lambda: (None, 0))
            with trio.fail_after(2):  # the program never came: taken back
                await parked.returned.wait()
            assert looks >= 1
            nursery.cancel_scope.cancel()
        ours.close()
        client.close()

    trio.run(main)


def test_an_interrupt_leaves_the_connections_not_yet_answered_parked() -> None:
    async def main() -> None:
        parking = Parking(poll_interval=0)
        pairs = [socket.socketpair() for _ in range(2)]

        def serve() -> tuple[object, int]:
            raise KeyboardInterrupt  # whichever the poll lists first

        parked = [parking.park(ours.fileno(), serve) for ours, _ in pairs]
        for _, client in pairs:
            client.send(b"GET")
        with pytest.raises(KeyboardInterrupt):
            await trio.to_thread.run_sync(lambda: _program_visit(parking))
        with trio.fail_after(5):
            while not any(p.returned.is_set() for p in parked):
                await trio.sleep(0.01)
        first, second = sorted(parked, key=lambda p: not p.returned.is_set())
        assert isinstance(first.handback, Broken)
        assert len(parking) == 1 and not second.returned.is_set()
        assert parking.take_back(second) is True  # not left "being served" forever
        for ours, client in pairs:
            ours.close()
            client.close()

    trio.run(main)
