"""The server side of one FastCGI connection, as a state machine without I/O.

Rules (FastCGI 1.0 specification, plus what FINDINGS.md measured on real front-ends):

* Bytes in (:meth:`ServerConnection.receive_data`, ``b""`` for EOF), events out
  (:meth:`ServerConnection.next_event`); output methods return bytes for the caller to send.
  Replies the protocol makes on its own (GET_VALUES_RESULT, UNKNOWN_TYPE, END_REQUEST for a
  role we do not serve, CANT_MPX_CONN, OVERLOADED) are queued for
  :meth:`ServerConnection.data_to_send`.
* Records with request id 0 are management records: GET_VALUES is answered, any other type
  is answered with UNKNOWN_TYPE. Everything else is keyed by request id, and each request id
  follows the table below. A (state, record) pair missing from the table is a
  :class:`~fcgi.ProtocolError`, after which the connection is dead (every later
  ``next_event()`` re-raises it).
* PARAMS records are concatenated and decoded once, on the empty PARAMS record; the byte
  limit is checked as each record arrives, the count limit while decoding. STDIN records are
  handed out as they arrive and the body ends with the empty STDIN record only; CONTENT_LENGTH
  is not looked at here at all.
* The application may end a request at any time (``end_request``); if the front-end was
  still sending input for it, the request becomes DRAINING and its remaining input is
  dropped silently until the empty STDIN record (or a new BEGIN_REQUEST reusing the id).
  Requests we reject at BEGIN_REQUEST start DRAINING right away.
* ABORT_REQUEST for an id we do not know is ignored: it races with our own END_REQUEST.
* After a request without KEEP_CONN has been answered, :attr:`ServerConnection.must_close`
  turns true once no request is in flight; the caller closes the connection then.

Per-request transitions (``-`` = no request with that id; "empty" = zero content length)::

    state       record                 -> action        next state
    ---------   --------------------   -------------   ----------------------------------
    -           BEGIN_REQUEST          -> BEGIN         PARAMS (or DRAINING if rejected)
    DRAINING    BEGIN_REQUEST          -> BEGIN         PARAMS (or DRAINING if rejected)
    -           ABORT_REQUEST          -> IGNORE        -
    -           DATA (empty)           -> IGNORE        -     (flup's client ends an unused
                                                               DATA stream after STDIN, which
                                                               may arrive after our answer)
    PARAMS      PARAMS                 -> ACCUMULATE    PARAMS
    PARAMS      PARAMS (empty)         -> PARAMS_DONE   STDIN          emits Params
    STDIN       STDIN                  -> STDIN         STDIN          emits StdinData
    STDIN       STDIN (empty)          -> STDIN_END     INPUT_DONE     emits StdinEnd
    STDIN       DATA                   -> DATA          STDIN          emits Data
    STDIN       DATA (empty)           -> DATA_END      STDIN          emits DataEnd
    INPUT_DONE  DATA                   -> DATA          INPUT_DONE     emits Data
    INPUT_DONE  DATA (empty)           -> DATA_END      INPUT_DONE     emits DataEnd
    PARAMS      ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    STDIN       ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    INPUT_DONE  ABORT_REQUEST          -> ABORT         ABORTED        emits RequestAborted
    ABORTED     PARAMS/STDIN/DATA/ABORT (any) -> IGNORE ABORTED
    DRAINING    PARAMS/DATA/ABORT (any) -> IGNORE       DRAINING
    DRAINING    STDIN                  -> IGNORE        DRAINING
    DRAINING    STDIN (empty)          -> FORGET        -

    application calls ``end_request(id)``: INPUT_DONE -> -, ABORTED after the empty STDIN
    -> -, any other live state -> DRAINING.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

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
from fcgi._nvpairs import decode_pairs, decode_params, encode_params
from fcgi._records import (
    BeginFlags,
    ProtocolStatus,
    Record,
    RecordReader,
    RecordType,
    Role,
    decode_begin_body,
    encode_end_request,
    encode_record,
    encode_stream,
)

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
#: GET_VALUES queries are tiny; a bigger one is not worth decoding
_MAX_GET_VALUES_NAMES = 64

_SERVED_ROLES = frozenset({Role.RESPONDER})
#: record types only an application sends; receiving one means the peer is confused
_APP_TO_SERVER_TYPES = frozenset(
    {
        RecordType.END_REQUEST,
        RecordType.STDOUT,
        RecordType.STDERR,
        RecordType.GET_VALUES_RESULT,
        RecordType.UNKNOWN_TYPE,
    }
)
_FIXED_LENGTHS: dict[int, int] = {RecordType.BEGIN_REQUEST: 8, RecordType.ABORT_REQUEST: 0}


class _State(enum.Enum):
    PARAMS = "PARAMS"
    STDIN = "STDIN"
    INPUT_DONE = "INPUT_DONE"
    ABORTED = "ABORTED"
    DRAINING = "DRAINING"


class _Action(enum.Enum):
    BEGIN = "BEGIN"
    IGNORE = "IGNORE"
    ACCUMULATE = "ACCUMULATE"
    PARAMS_DONE = "PARAMS_DONE"
    STDIN = "STDIN"
    STDIN_END = "STDIN_END"
    DATA = "DATA"
    DATA_END = "DATA_END"
    ABORT = "ABORT"
    FORGET = "FORGET"


_T = RecordType
_S = _State
_A = _Action
_ANY = (False, True)
#: (state or None, record type, empty content) -> (action, next state or None)
_TRANSITIONS: dict[tuple[_State | None, int, bool], tuple[_Action, _State | None]] = {
    (None, _T.BEGIN_REQUEST, False): (_A.BEGIN, _S.PARAMS),
    (_S.DRAINING, _T.BEGIN_REQUEST, False): (_A.BEGIN, _S.PARAMS),
    (None, _T.ABORT_REQUEST, True): (_A.IGNORE, None),
    (None, _T.DATA, True): (_A.IGNORE, None),
    (_S.PARAMS, _T.PARAMS, False): (_A.ACCUMULATE, _S.PARAMS),
    (_S.PARAMS, _T.PARAMS, True): (_A.PARAMS_DONE, _S.STDIN),
    (_S.STDIN, _T.STDIN, False): (_A.STDIN, _S.STDIN),
    (_S.STDIN, _T.STDIN, True): (_A.STDIN_END, _S.INPUT_DONE),
    (_S.STDIN, _T.DATA, False): (_A.DATA, _S.STDIN),
    (_S.STDIN, _T.DATA, True): (_A.DATA_END, _S.STDIN),
    (_S.INPUT_DONE, _T.DATA, False): (_A.DATA, _S.INPUT_DONE),
    (_S.INPUT_DONE, _T.DATA, True): (_A.DATA_END, _S.INPUT_DONE),
    (_S.PARAMS, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    (_S.STDIN, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    (_S.INPUT_DONE, _T.ABORT_REQUEST, True): (_A.ABORT, _S.ABORTED),
    **{
        (_S.ABORTED, t, e): (_A.IGNORE, _S.ABORTED)
        for t in (_T.PARAMS, _T.STDIN, _T.DATA, _T.ABORT_REQUEST)
        for e in _ANY
    },
    **{
        (_S.DRAINING, t, e): (_A.IGNORE, _S.DRAINING)
        for t in (_T.PARAMS, _T.DATA, _T.ABORT_REQUEST)
        for e in _ANY
    },
    (_S.DRAINING, _T.STDIN, False): (_A.IGNORE, _S.DRAINING),
    (_S.DRAINING, _T.STDIN, True): (_A.FORGET, None),
}


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
    state: _State
    keep_conn: bool
    params: bytearray = field(default_factory=bytearray)
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
                record = self._reader.next_record()
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

    def _process(self, record: Record) -> Event | None:
        rtype, rid, content = record.type, record.request_id, record.content
        if rid == 0:
            self._management(rtype, content)
            return None
        if rtype in _APP_TO_SERVER_TYPES or rtype == RecordType.GET_VALUES:
            raise ProtocolError(f"record type {rtype} is not sent to an application")
        expected = _FIXED_LENGTHS.get(rtype)
        if expected is not None and len(content) != expected:
            raise ProtocolError(
                f"record type {rtype} must carry {expected} bytes, got {len(content)}",
                request_id=rid,
            )
        request = self._requests.get(rid)
        key = (request.state if request is not None else None, rtype, not content)
        transition = _TRANSITIONS.get(key)
        if transition is None:
            where = "an unknown request id" if request is None else f"state {request.state.name}"
            raise ProtocolError(
                f"record type {_type_name(rtype)} (content {len(content)} bytes) "
                f"for request {rid} in {where}",
                request_id=rid,
            )
        action, next_state = transition
        if action is _Action.BEGIN:
            return self._begin(rid, content)
        if action is _Action.IGNORE:
            return None
        if action is _Action.FORGET:
            del self._requests[rid]
            return None
        assert request is not None and next_state is not None
        request.state = next_state
        if action is _Action.ACCUMULATE:
            if len(request.params) + len(content) > self.max_params_bytes:
                raise ProtocolError(
                    f"params of request {rid} exceed {self.max_params_bytes} bytes",
                    request_id=rid,
                    protocol_status=ProtocolStatus.OVERLOADED,
                )
            request.params += content
            return None
        if action is _Action.PARAMS_DONE:
            raw = bytes(request.params)
            request.params = bytearray()
            try:
                params = decode_params(raw, max_count=self.max_params_count)
            except ProtocolError as exc:
                raise ProtocolError(
                    f"request {rid}: {exc.message}",
                    request_id=rid,
                    protocol_status=ProtocolStatus.OVERLOADED,
                ) from None
            return Params(rid, params)
        if action is _Action.STDIN:
            return StdinData(rid, content)
        if action is _Action.STDIN_END:
            request.input_done = True
            return StdinEnd(rid)
        if action is _Action.DATA:
            return Data(rid, content)
        if action is _Action.DATA_END:
            return DataEnd(rid)
        assert action is _Action.ABORT
        return RequestAborted(rid)

    def _begin(self, rid: int, content: bytes) -> Event | None:
        role, flags = decode_begin_body(content)
        keep_conn = bool(flags & BeginFlags.KEEP_CONN)
        if not keep_conn:
            self._close_when_idle = True
        status: ProtocolStatus | None = None
        if role not in _SERVED_ROLES:
            status = ProtocolStatus.UNKNOWN_ROLE
        elif not self.mpxs and self.requests_in_flight:
            status = ProtocolStatus.CANT_MPX_CONN
        elif len(self.requests_in_flight) >= self.max_reqs:
            status = ProtocolStatus.OVERLOADED
        if status is not None:
            self._requests[rid] = _Request(_State.DRAINING, keep_conn)
            self._outgoing += encode_end_request(rid, 0, status)
            return None
        self._requests[rid] = _Request(_State.PARAMS, keep_conn)
        return RequestStarted(rid, role, keep_conn)

    def _management(self, rtype: int, content: bytes) -> None:
        if rtype != RecordType.GET_VALUES:
            # the body of UNKNOWN_TYPE is the type byte plus 7 reserved bytes
            self._outgoing += encode_record(RecordType.UNKNOWN_TYPE, 0, bytes((rtype,)) + b"\0" * 7)
            return
        known = {
            "FCGI_MAX_CONNS": str(self.max_conns),
            "FCGI_MAX_REQS": str(self.max_reqs),
            "FCGI_MPXS_CONNS": "1" if self.mpxs else "0",
        }
        names = decode_pairs(content, max_count=_MAX_GET_VALUES_NAMES)
        reply = [
            (name, known[text].encode())
            for name, _ in names
            if (text := name.decode("latin-1")) in known
        ]
        self._outgoing += encode_record(RecordType.GET_VALUES_RESULT, 0, encode_params(reply))

    # ------------------------------------------------------------------ output side

    def data_to_send(self) -> bytes:
        """Bytes the protocol queued by itself (management replies, rejections); clears them."""
        out = bytes(self._outgoing)
        self._outgoing.clear()
        return out

    def _live(self, rid: int) -> _Request:
        request = self._requests.get(rid)
        if request is None or request.state is _State.DRAINING:
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
            self._requests[request_id] = _Request(_State.DRAINING, request.keep_conn)
        return b"".join(parts)

    # ------------------------------------------------------------------ inspection

    @property
    def requests_in_flight(self) -> frozenset[int]:
        """Ids of requests started and not yet ended by the application."""
        return frozenset(
            rid for rid, req in self._requests.items() if req.state is not _State.DRAINING
        )

    def keep_conn(self, request_id: int) -> bool:
        return self._live(request_id).keep_conn

    @property
    def must_close(self) -> bool:
        """True once a request without KEEP_CONN was answered and nothing is in flight."""
        return self._close_when_idle and not self.requests_in_flight

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


def _type_name(rtype: int) -> str:
    try:
        return RecordType(rtype).name
    except ValueError:
        return str(rtype)
