"""Events a :class:`~fcgi.ServerConnection` hands to the application.

Frozen, slotted dataclasses so they compare by value in tests
(``assert events == [RequestStarted(1, Role.RESPONDER, True), Params(1, {...}), ...]``) and
cannot be mutated by a consumer. Management records (GET_VALUES, unknown types) and requests
in roles we do not serve never become events: the connection answers them itself and queues
the reply for :meth:`~fcgi.ServerConnection.data_to_send`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "Data",
    "DataEnd",
    "Event",
    "NeedData",
    "Params",
    "RequestAborted",
    "RequestStarted",
    "StdinData",
    "StdinEnd",
]


class Event:
    """Base class of every event (useful for ``isinstance`` and type hints)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class RequestStarted(Event):
    """A BEGIN_REQUEST for a role we serve (RESPONDER). ``keep_conn`` is the KEEP_CONN flag."""

    request_id: int
    role: int
    keep_conn: bool


@dataclass(frozen=True, slots=True)
class Params(Event):
    """The complete PARAMS stream of a request, decoded once the empty PARAMS record arrived."""

    request_id: int
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class StdinData(Event):
    """One non-empty STDIN record's content, delivered as it arrives (streaming)."""

    request_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StdinEnd(Event):
    """The empty STDIN record: the request body is complete (whatever CONTENT_LENGTH said)."""

    request_id: int


@dataclass(frozen=True, slots=True)
class Data(Event):
    """Content of an FCGI_DATA record (the FILTER role's second stream; rare for responders)."""

    request_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class DataEnd(Event):
    """The empty FCGI_DATA record."""

    request_id: int


@dataclass(frozen=True, slots=True)
class RequestAborted(Event):
    """ABORT_REQUEST: the front-end gave up on this request; the app must still end it."""

    request_id: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side at a record boundary (``receive_data(b"")``)."""


class NeedData(enum.Enum):
    """Marker type of :data:`NEED_DATA` (an enum so it is a typed singleton)."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: returned by ``next_event()`` when more bytes are required to produce an event
NEED_DATA = NeedData.NEED_DATA
