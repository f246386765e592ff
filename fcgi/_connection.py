"""The server side of one FastCGI connection, as a state machine without I/O.

Bytes in (:meth:`ServerConnection.receive_data`, ``b""`` for EOF), events out
(:meth:`ServerConnection.next_event`); output methods return bytes for the caller to send.
Replies the protocol makes on its own (GET_VALUES_RESULT, UNKNOWN_TYPE, END_REQUEST for a
role we do not serve, CANT_MPX_CONN, OVERLOADED) are queued for
:meth:`ServerConnection.data_to_send`. After a request without KEEP_CONN has been answered,
:attr:`ServerConnection.must_close` turns true once no request is in flight; the caller
closes the connection then.

Which record may arrive when is decided in one place, the table in :mod:`fcgi._state`
(whose docstring states the protocol's rules); this module carries out the actions it
names. Management records (request id 0) are answered by :mod:`fcgi._management`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fcgi._errors import ProtocolError
from fcgi._events import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    DataEnd,
    Event,
    NeedData,
    Params,
    RequestAborted,
    RequestStarted,
    StdinData,
    StdinEnd,
)
from fcgi._management import management_reply
from fcgi._nvpairs import decode_params
from fcgi._records import (
    BeginFlags,
    ProtocolStatus,
    RecordReader,
    RecordType,
    Role,
    decode_begin_body,
    encode_end_request,
    encode_record,
    encode_stream,
)
from fcgi._state import Action, RequestState, transition

__all__ = [
    "DEFAULT_MAX_CONNS",
    "DEFAULT_MAX_PARAMS_BYTES",
    "DEFAULT_MAX_PARAMS_COUNT",
    "DEFAULT_MAX_REQS",
    "ConnectionStatistics",
    "ServerConnection",
]

#: total encoded PARAMS bytes per request; front-ends cap request heads near 8 KiB, Apache
#: can send up to 16 KiB per pair, so this leaves room for a few very long query strings
DEFAULT_MAX_PARAMS_BYTES = 128 * 1024
DEFAULT_MAX_PARAMS_COUNT = 512
DEFAULT_MAX_CONNS = 100
DEFAULT_MAX_REQS = 100

_SERVED_ROLES = frozenset({Role.RESPONDER})
#: BeginFlags.KEEP_CONN as a plain int: ``IntFlag.__and__`` runs Python code per request
_KEEP_CONN = int(BeginFlags.KEEP_CONN)


@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """A snapshot of one connection's counters."""

    #: requests started and not yet ended by the application
    in_flight: int
    #: requests we answered (or rejected) while the front-end was still sending their input
    draining: int
    #: bytes received but not yet decoded (at most one partial record once drained)
    buffered: int


@dataclass(slots=True)
class _Request:
    state: RequestState
    keep_conn: bool
    #: the PARAMS received so far: the first record's bytes as they are (usually the only
    #: one), a bytearray once a second one arrives (so many records cost O(bytes) in all)
    params: bytes | bytearray = b""
    input_done: bool = False
    stdout_closed: bool = False
    stderr_used: bool = False


class ServerConnection:
    """One FastCGI connection seen from the application (the FastCGI "server" side).

    ``max_conns``, ``max_reqs`` and ``mpxs`` are what GET_VALUES reports; ``max_reqs`` and
    ``mpxs`` are also enforced (extra BEGIN_REQUESTs are answered OVERLOADED or
    CANT_MPX_CONN without bothering the application).
    """

    def __init__(
        self,
        *,
        max_params_bytes: int = DEFAULT_MAX_PARAMS_BYTES,
        max_params_count: int = DEFAULT_MAX_PARAMS_COUNT,
        max_conns: int = DEFAULT_MAX_CONNS,
        max_reqs: int = DEFAULT_MAX_REQS,
        mpxs: bool = True,
    ) -> None:
        self.max_params_bytes = max_params_bytes
        self.max_params_count = max_params_count
        self.max_conns = max_conns
        self.max_reqs = max_reqs
        self.mpxs = mpxs
        self._reader = RecordReader()
        self._requests: dict[int, _Request] = {}
        #: how many of ``_requests`` are not DRAINING (``requests_in_flight`` without a set)
        self._in_flight = 0
        self._outgoing = bytearray()
        self._eof = False
        self._error: ProtocolError | None = None
        self._close_when_idle = False

    # ------------------------------------------------------------------ input side

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("receive_data() after EOF")
            return
        if not data:
            self._eof = True
            return
        self._reader.feed(data)

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA`; raises :class:`ProtocolError` on bad input."""
        if self._error is not None:
            raise self._error
        try:
            while True:
                record = self._reader.next_raw()
                if record is None:
                    if not self._eof:
                        return NEED_DATA
                    if self._reader.buffered:
                        raise ProtocolError(
                            f"connection closed inside a record ({self._reader.buffered} "
                            "bytes of it received)"
                        )
                    return ConnectionClosed()
                event = self._process(record)
                if event is not None:
                    return event
        except ProtocolError as exc:
            self._error = exc
            raise

    def _process(self, record: tuple[int, int, bytes]) -> Event | None:
        rtype, rid, content = record
        if rid == 0:
            self._outgoing += management_reply(
                rtype, content, max_conns=self.max_conns, max_reqs=self.max_reqs, mpxs=self.mpxs
            )
            return None
        request = self._requests.get(rid)
        state = request.state if request is not None else None
        action, next_state = transition(state, rtype, rid, content)
        if action is Action.BEGIN:
            return self._begin(rid, content)
        if action is Action.IGNORE:
            return None
        if action is Action.FORGET:
            del self._requests[rid]  # a DRAINING request: not counted in flight
            return None
        assert request is not None and next_state is not None
        request.state = next_state
        if action is Action.ACCUMULATE:
            if len(request.params) + len(content) > self.max_params_bytes:
                raise ProtocolError(
                    f"params of request {rid} exceed {self.max_params_bytes} bytes",
                    request_id=rid,
                    protocol_status=ProtocolStatus.OVERLOADED,
                )
            if not request.params:
                request.params = content
            elif isinstance(request.params, bytearray):
                request.params += content
            else:
                request.params = bytearray(request.params) + content
            return None
        if action is Action.PARAMS_DONE:
            raw = bytes(request.params)
            request.params = b""
            try:
                params = decode_params(raw, max_count=self.max_params_count)
            except ProtocolError as exc:
                raise ProtocolError(
                    f"request {rid}: {exc.message}",
                    request_id=rid,
                    protocol_status=ProtocolStatus.OVERLOADED,
                ) from None
            return Params(rid, params)
        if action is Action.STDIN:
            return StdinData(rid, content)
        if action is Action.STDIN_END:
            request.input_done = True
            return StdinEnd(rid)
        if action is Action.DATA:
            return Data(rid, content)
        if action is Action.DATA_END:
            return DataEnd(rid)
        assert action is Action.ABORT
        return RequestAborted(rid)

    def _begin(self, rid: int, content: bytes) -> Event | None:
        role, flags = decode_begin_body(content)
        keep_conn = bool(flags & _KEEP_CONN)
        if not keep_conn:
            self._close_when_idle = True
        status: ProtocolStatus | None = None
        if role not in _SERVED_ROLES:
            status = ProtocolStatus.UNKNOWN_ROLE
        elif not self.mpxs and self._in_flight:
            status = ProtocolStatus.CANT_MPX_CONN
        elif self._in_flight >= self.max_reqs:
            status = ProtocolStatus.OVERLOADED
        # the table only lets BEGIN_REQUEST reuse an id that is unknown or DRAINING, so
        # whatever this replaces was not counted in flight
        if status is not None:
            self._requests[rid] = _Request(RequestState.DRAINING, keep_conn)
            self._outgoing += encode_end_request(rid, 0, status)
            return None
        self._requests[rid] = _Request(RequestState.PARAMS, keep_conn)
        self._in_flight += 1
        return RequestStarted(rid, role, keep_conn)

    # ------------------------------------------------------------------ output side

    def data_to_send(self) -> bytes:
        """Bytes the protocol queued by itself (management replies, rejections); clears them."""
        out = bytes(self._outgoing)
        self._outgoing.clear()
        return out

    def _live(self, rid: int) -> _Request:
        request = self._requests.get(rid)
        if request is None or request.state is RequestState.DRAINING:
            raise ValueError(f"request {rid} is not in flight on this connection")
        return request

    def send_stdout(self, request_id: int, data: bytes | bytearray | memoryview) -> bytes:
        """STDOUT records for ``data`` (split at 65535); ``b""`` for empty data."""
        request = self._live(request_id)
        if request.stdout_closed:
            raise ValueError(f"STDOUT of request {request_id} was already ended")
        return encode_stream(RecordType.STDOUT, request_id, data)

    def end_stdout(self, request_id: int) -> bytes:
        """The empty STDOUT record (only once; later calls return ``b""``)."""
        request = self._live(request_id)
        if request.stdout_closed:
            return b""
        request.stdout_closed = True
        return encode_record(RecordType.STDOUT, request_id)

    def send_stderr(self, request_id: int, data: bytes | bytearray | memoryview) -> bytes:
        """STDERR records (front-ends log them); the stream is ended by ``end_request``."""
        request = self._live(request_id)
        if data:
            request.stderr_used = True
        return encode_stream(RecordType.STDERR, request_id, data)

    def end_request(
        self,
        request_id: int,
        app_status: int = 0,
        protocol_status: ProtocolStatus = ProtocolStatus.REQUEST_COMPLETE,
    ) -> bytes:
        """Finish a request: the STDOUT (and used STDERR) terminators, then END_REQUEST."""
        request = self._live(request_id)
        parts = []
        if not request.stdout_closed:
            parts.append(encode_record(RecordType.STDOUT, request_id))
        if request.stderr_used:
            parts.append(encode_record(RecordType.STDERR, request_id))
        parts.append(encode_end_request(request_id, app_status, protocol_status))
        if request.input_done:
            del self._requests[request_id]
        else:
            self._requests[request_id] = _Request(RequestState.DRAINING, request.keep_conn)
        self._in_flight -= 1
        return b"".join(parts)

    # ------------------------------------------------------------------ inspection

    @property
    def requests_in_flight(self) -> frozenset[int]:
        """Ids of requests started and not yet ended by the application."""
        return frozenset(
            rid for rid, req in self._requests.items() if req.state is not RequestState.DRAINING
        )

    def keep_conn(self, request_id: int) -> bool:
        return self._live(request_id).keep_conn

    @property
    def must_close(self) -> bool:
        """True once a request without KEEP_CONN was answered and nothing is in flight."""
        return self._close_when_idle and not self._in_flight

    @property
    def their_eof(self) -> bool:
        return self._eof

    def statistics(self) -> ConnectionStatistics:
        in_flight = len(self.requests_in_flight)
        return ConnectionStatistics(
            in_flight=in_flight,
            draining=len(self._requests) - in_flight,
            buffered=self._reader.buffered,
        )
