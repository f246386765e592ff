"""Shared helpers for the sans-IO fcgi tests (fixtures, because test modules here are not a
package: a ``tests/fcgi/__init__.py`` would shadow the real ``fcgi`` package)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import fcgi


def drain_events(conn: fcgi.ServerConnection, *, end_requests: bool = False) -> list[fcgi.Event]:
    """Every event available now (stops at NEED_DATA or ConnectionClosed, which is included).

    With ``end_requests`` the application answers each request on StdinEnd/RequestAborted,
    which is what a real engine does and what keeps request ids free for reuse.
    """
    events: list[fcgi.Event] = []
    for _ in range(100_000):
        event = conn.next_event()
        if event is fcgi.NEED_DATA:
            return events
        assert isinstance(event, fcgi.Event)
        events.append(event)
        if isinstance(event, fcgi.ConnectionClosed):
            return events
        if end_requests and isinstance(event, fcgi.StdinEnd | fcgi.RequestAborted):
            if event.request_id in conn.requests_in_flight:
                conn.end_request(event.request_id)
    raise AssertionError("next_event() never ran out of events")


@pytest.fixture
def drain() -> Callable[..., list[fcgi.Event]]:
    return drain_events


def request_bytes(
    rid: int,
    params: dict[str, str],
    body: bytes = b"",
    *,
    keep_conn: bool = False,
    role: int = fcgi.Role.RESPONDER,
) -> bytes:
    """What a front-end sends for one request (client-side encoder)."""
    return b"".join(
        (
            fcgi.encode_begin_request(rid, role, keep_conn),
            fcgi.encode_stream(fcgi.RecordType.PARAMS, rid, fcgi.encode_params(params), end=True),
            fcgi.encode_stream(fcgi.RecordType.STDIN, rid, body, end=True),
        )
    )


@pytest.fixture
def make_request() -> Callable[..., bytes]:
    return request_bytes
