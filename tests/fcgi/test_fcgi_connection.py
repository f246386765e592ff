"""The per-connection state machine: table-driven cases, chunking properties and fuzzing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fcgi
from fcgi import (
    ConnectionClosed,
    Params,
    ProtocolStatus,
    RecordType,
    RequestAborted,
    RequestStarted,
    Role,
    StdinData,
    StdinEnd,
)

T = RecordType
rec = fcgi.encode_record
begin = fcgi.encode_begin_request
GET = {"REQUEST_METHOD": "GET", "PATH_INFO": "/h.json"}


def params(rid: int, p: dict[str, str]) -> bytes:
    return fcgi.encode_stream(T.PARAMS, rid, fcgi.encode_params(p), end=True)


def feed(conn: fcgi.ServerConnection, *chunks: bytes) -> None:
    for chunk in chunks:
        conn.receive_data(chunk)


def records_of(wire: bytes) -> list[fcgi.Record]:
    reader = fcgi.RecordReader()
    reader.feed(wire)
    out = []
    while (record := reader.next_record()) is not None:
        out.append(record)
    assert reader.buffered == 0
    return out


# ---------------------------------------------------------------- happy paths (table)

CASES: list[tuple[str, bytes, list[fcgi.Event]]] = [
    (
        "get",
        begin(1) + params(1, GET) + rec(T.STDIN, 1),
        [RequestStarted(1, Role.RESPONDER, False), Params(1, GET), StdinEnd(1)],
    ),
    (
        "post body streamed per record, padded records",
        begin(1, keep_conn=True)
        + params(1, {"CONTENT_LENGTH": "1"})  # a lie: the body is 7 bytes
        + rec(T.STDIN, 1, b"abc", 5)
        + rec(T.STDIN, 1, b"defg", 1)
        + rec(T.STDIN, 1, b"", 7),
        [
            RequestStarted(1, Role.RESPONDER, True),
            Params(1, {"CONTENT_LENGTH": "1"}),
            StdinData(1, b"abc"),
            StdinData(1, b"defg"),
            StdinEnd(1),
        ],
    ),
    (
        "params split inside a pair across records",
        begin(9)
        + rec(T.PARAMS, 9, fcgi.encode_params({"NAME": "value", "E": ""})[:3])
        + rec(T.PARAMS, 9, fcgi.encode_params({"NAME": "value", "E": ""})[3:])
        + rec(T.PARAMS, 9)
        + rec(T.STDIN, 9),
        [
            RequestStarted(9, Role.RESPONDER, False),
            Params(9, {"NAME": "value", "E": ""}),
            StdinEnd(9),
        ],
    ),
    (
        "two requests multiplexed and interleaved",
        begin(1)
        + begin(2)
        + params(2, {"B": "2"})
        + params(1, {"A": "1"})
        + rec(T.STDIN, 1, b"one")
        + rec(T.STDIN, 2, b"two")
        + rec(T.STDIN, 2)
        + rec(T.STDIN, 1),
        [
            RequestStarted(1, Role.RESPONDER, False),
            RequestStarted(2, Role.RESPONDER, False),
            Params(2, {"B": "2"}),
            Params(1, {"A": "1"}),
            StdinData(1, b"one"),
            StdinData(2, b"two"),
            StdinEnd(2),
            StdinEnd(1),
        ],
    ),
    (
        "abort, then the rest of its input is ignored",
        begin(3)
        + params(3, GET)
        + rec(T.STDIN, 3, b"x")
        + rec(T.ABORT_REQUEST, 3)
        + rec(T.STDIN, 3, b"late")
        + rec(T.STDIN, 3),
        [
            RequestStarted(3, Role.RESPONDER, False),
            Params(3, GET),
            StdinData(3, b"x"),
            RequestAborted(3),
        ],
    ),
    ("abort for an unknown id is ignored (races our END_REQUEST)", rec(T.ABORT_REQUEST, 5), []),
    # FastCGI 1.0 §3.3: records for an inactive request id are ignored (issue 10, item 10)
    ("stdin for an unknown request id is ignored", rec(T.STDIN, 4, b"x"), []),
    ("params for an unknown request id is ignored", rec(T.PARAMS, 4), []),
    (
        "every input record on an inactive id is ignored, then the id begins normally",
        rec(T.PARAMS, 4, b"\x01\x00A")
        + rec(T.STDIN, 4)
        + rec(T.DATA, 4, b"d")
        + rec(T.DATA, 4)
        + rec(T.ABORT_REQUEST, 4)
        + begin(4)
        + params(4, GET)
        + rec(T.STDIN, 4),
        [RequestStarted(4, Role.RESPONDER, False), Params(4, GET), StdinEnd(4)],
    ),
    (
        "data stream",
        begin(1) + params(1, {}) + rec(T.DATA, 1, b"d") + rec(T.DATA, 1) + rec(T.STDIN, 1),
        [
            RequestStarted(1, Role.RESPONDER, False),
            Params(1, {}),
            fcgi.Data(1, b"d"),
            fcgi.DataEnd(1),
            StdinEnd(1),
        ],
    ),
]


@pytest.mark.parametrize(("wire", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_event_sequences(wire: bytes, expected: list, drain: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(wire)
    assert drain(conn) == expected
    assert conn.data_to_send() == b""
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()


# ---------------------------------------------------------------- protocol errors (table)

ERRORS: list[tuple[str, bytes, str]] = [
    ("unknown type on an inactive request id", rec(42, 4), "42 .* unknown request id"),
    ("ABORT with content on an inactive id", rec(T.ABORT_REQUEST, 4, b"x"), "must carry 0"),
    ("END_REQUEST on an inactive id", rec(T.END_REQUEST, 4, b"\0" * 8), "not sent to an app"),
    ("stdin before params ended", begin(1) + rec(T.STDIN, 1, b"x"), "state PARAMS"),
    ("params after params ended", begin(1) + params(1, {}) + rec(T.PARAMS, 1, b"\0\0"), "STDIN"),
    ("begin for an id in flight", begin(1) + begin(1), "state PARAMS"),
    ("stdin after its end", begin(1) + params(1, {}) + rec(T.STDIN, 1) + rec(T.STDIN, 1), "INPUT"),
    ("short BEGIN_REQUEST", rec(T.BEGIN_REQUEST, 1, b"\0\1\0\0\0\0\0"), "must carry 8"),
    ("long BEGIN_REQUEST", rec(T.BEGIN_REQUEST, 1, b"\0\1" + b"\0" * 7), "must carry 8"),
    ("ABORT with content", begin(1) + rec(T.ABORT_REQUEST, 1, b"x"), "must carry 0"),
    ("END_REQUEST from the peer", rec(T.END_REQUEST, 1, b"\0" * 8), "not sent to an app"),
    ("STDOUT from the peer", rec(T.STDOUT, 1, b"x"), "not sent to an application"),
    ("GET_VALUES on a request id", rec(T.GET_VALUES, 1), "not sent to an application"),
    ("unknown type on a request id", begin(1) + rec(42, 1), "record type 42"),
    ("version 2", b"\x02" + rec(T.STDIN, 1)[1:], "version 2"),
    ("params too big", begin(1) + rec(T.PARAMS, 1, b"\x01\x00A" * 400), "exceed 1024 bytes"),
    (
        "too many params",
        begin(1) + params(1, {f"N{i}": "" for i in range(11)}),
        "more than 10 params",
    ),
    (
        "params that do not decode",
        begin(1) + rec(T.PARAMS, 1, b"\x05\x00AB") + rec(T.PARAMS, 1),
        "announces",
    ),
    ("bad GET_VALUES body", rec(T.GET_VALUES, 0, b"\x7f"), "truncated"),
]


@pytest.mark.parametrize(("wire", "match"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_protocol_errors(wire: bytes, match: str, drain: Callable) -> None:
    conn = fcgi.ServerConnection(max_params_bytes=1024, max_params_count=10)
    conn.receive_data(wire)
    with pytest.raises(fcgi.ProtocolError, match=match) as info:
        drain(conn)
    assert info.value.close is True
    # the error is sticky: a careless caller cannot resume a stream that lost its framing
    with pytest.raises(fcgi.ProtocolError) as again:
        conn.next_event()
    assert again.value is info.value


def test_params_limit_error_carries_a_reply_hint() -> None:
    conn = fcgi.ServerConnection(max_params_bytes=10)
    conn.receive_data(
        begin(7) + rec(T.PARAMS, 7, b"\x01\x00A" * 3) + rec(T.PARAMS, 7, b"\x01\x00A")
    )
    assert isinstance(conn.next_event(), RequestStarted)
    with pytest.raises(fcgi.ProtocolError) as info:
        conn.next_event()
    assert info.value.request_id == 7
    assert info.value.protocol_status is ProtocolStatus.OVERLOADED
    assert "request_id=7" in repr(info.value)


def test_truncated_record_waits_then_eof_inside_it_is_an_error(drain: Callable) -> None:
    wire = begin(1) + params(1, GET)
    conn = fcgi.ServerConnection()
    conn.receive_data(wire[:-3])
    assert drain(conn) == [RequestStarted(1, Role.RESPONDER, False)]
    conn.receive_data(b"")
    with pytest.raises(fcgi.ProtocolError, match="inside a record"):
        conn.next_event()


def test_receive_after_eof_is_a_caller_bug() -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(b"")
    conn.receive_data(b"")  # repeating EOF is harmless
    assert conn.their_eof
    with pytest.raises(RuntimeError):
        conn.receive_data(b"x")


# ---------------------------------------------------------------- management records


def test_get_values_answered(drain: Callable) -> None:
    conn = fcgi.ServerConnection(max_conns=7, max_reqs=3, mpxs=False)
    query = fcgi.encode_params(
        [("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""), ("FCGI_MPXS_CONNS", ""), ("OTHER", "")]
    )
    conn.receive_data(rec(T.GET_VALUES, 0, query))
    assert drain(conn) == []
    [reply] = records_of(conn.data_to_send())
    assert (reply.type, reply.request_id) == (T.GET_VALUES_RESULT, 0)
    assert fcgi.decode_pairs(reply.content) == [
        (b"FCGI_MAX_CONNS", b"7"),
        (b"FCGI_MAX_REQS", b"3"),
        (b"FCGI_MPXS_CONNS", b"0"),
    ]
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("rtype", [T.BEGIN_REQUEST, T.STDIN, 12, 200, 255])
def test_unknown_management_type_answered(rtype: int, drain: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(rec(rtype, 0, b"whatever"))
    assert drain(conn) == []
    [reply] = records_of(conn.data_to_send())
    assert reply == fcgi.Record(T.UNKNOWN_TYPE, 0, bytes([rtype]) + b"\0" * 7)


# ---------------------------------------------------------------- rejected requests


@pytest.mark.parametrize(
    ("setup", "role", "status"),
    [
        (dict(), Role.AUTHORIZER, ProtocolStatus.UNKNOWN_ROLE),
        (dict(), Role.FILTER, ProtocolStatus.UNKNOWN_ROLE),
        (dict(), 99, ProtocolStatus.UNKNOWN_ROLE),
        (dict(mpxs=False), Role.RESPONDER, ProtocolStatus.CANT_MPX_CONN),
        (dict(max_reqs=1), Role.RESPONDER, ProtocolStatus.OVERLOADED),
    ],
)
def test_rejected_begin_is_answered_and_its_input_dropped(
    setup: dict, role: int, status: ProtocolStatus, drain: Callable, make_request: Callable
) -> None:
    conn = fcgi.ServerConnection(**setup)
    conn.receive_data(begin(1, keep_conn=True))  # occupies the connection
    assert drain(conn) == [RequestStarted(1, Role.RESPONDER, True)]
    conn.receive_data(make_request(2, GET, b"body", role=role, keep_conn=True))
    assert drain(conn) == []
    assert records_of(conn.data_to_send()) == [
        fcgi.Record(T.END_REQUEST, 2, fcgi.encode_end_request(2, 0, status)[8:])
    ]
    assert conn.requests_in_flight == {1}
    # the id is free again once its input ended: it can be reused
    conn.receive_data(params(1, {}) + rec(T.STDIN, 1))
    drain(conn, end_requests=True)
    conn.receive_data(make_request(2, GET))
    assert drain(conn)[0] == RequestStarted(2, Role.RESPONDER, False)


def test_rejected_request_without_keep_conn_means_close() -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(begin(1, Role.AUTHORIZER))
    assert conn.next_event() is fcgi.NEED_DATA
    assert conn.must_close


# ---------------------------------------------------------------- output side


def test_response_bytes_and_end_request(drain: Callable, make_request: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(make_request(1, GET, keep_conn=True))
    drain(conn)
    assert conn.send_stdout(1, b"") == b""
    body = b"x" * 70000
    out = conn.send_stdout(1, b"Status: 200 OK\r\n\r\n") + conn.send_stdout(1, memoryview(body))
    out += conn.send_stderr(1, b"warn")
    out += conn.end_request(1, app_status=3)
    recs = records_of(out)
    assert [(r.type, len(r.content)) for r in recs] == [
        (T.STDOUT, 18),
        (T.STDOUT, 65535),
        (T.STDOUT, 4465),
        (T.STDERR, 4),
        (T.STDOUT, 0),
        (T.STDERR, 0),
        (T.END_REQUEST, 8),
    ]
    assert fcgi.decode_end_body(recs[-1].content) == (3, ProtocolStatus.REQUEST_COMPLETE)
    assert conn.requests_in_flight == frozenset()
    assert not conn.must_close  # KEEP_CONN was set
    with pytest.raises(ValueError):
        conn.send_stdout(1, b"late")
    with pytest.raises(ValueError):
        conn.end_request(1)


def test_end_stdout_is_sent_once(drain: Callable, make_request: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(make_request(1, GET))
    drain(conn)
    assert conn.end_stdout(1) == rec(T.STDOUT, 1)
    assert conn.end_stdout(1) == b""
    with pytest.raises(ValueError):
        conn.send_stdout(1, b"x")
    assert conn.keep_conn(1) is False
    assert not conn.must_close  # still in flight
    assert conn.end_request(1) == fcgi.encode_end_request(1)
    assert conn.must_close


def test_answer_before_the_body_arrived_drains_the_rest(drain: Callable) -> None:
    """An early answer (413, say) while the front-end still uploads must not kill the
    connection when the rest of the body arrives."""
    conn = fcgi.ServerConnection()
    conn.receive_data(begin(1, keep_conn=True) + params(1, GET) + rec(T.STDIN, 1, b"a"))
    assert drain(conn)[-1] == StdinData(1, b"a")
    conn.end_request(1, protocol_status=ProtocolStatus.REQUEST_COMPLETE)
    assert conn.requests_in_flight == frozenset()
    assert conn.statistics().draining == 1
    conn.receive_data(rec(T.STDIN, 1, b"b") + rec(T.ABORT_REQUEST, 1) + rec(T.STDIN, 1))
    assert drain(conn) == []
    assert conn.statistics() == fcgi.ConnectionStatistics(in_flight=0, draining=0, buffered=0)
    # now the id is inactive: a stray record for it is ignored (FastCGI 1.0 §3.3)
    conn.receive_data(rec(T.STDIN, 1, b"c"))
    assert drain(conn) == []
    assert conn.statistics() == fcgi.ConnectionStatistics(in_flight=0, draining=0, buffered=0)


@pytest.mark.parametrize(
    "stray",
    [
        rec(T.STDIN, 1, b"x"),
        rec(T.STDIN, 1),
        rec(T.DATA, 1, b"x"),
        rec(T.DATA, 1),
        rec(T.PARAMS, 1, b"\x01\x00A"),
        rec(T.PARAMS, 1),
        rec(T.ABORT_REQUEST, 1),
        rec(T.STDIN, 1, b"x", 7),  # padded
    ],
    ids=["stdin", "stdin-end", "data", "data-end", "params", "params-end", "abort", "padded"],
)
def test_stray_record_after_a_finished_keep_conn_request_is_ignored(
    stray: bytes, drain: Callable, make_request: Callable
) -> None:
    """FastCGI 1.0 §3.3: once we sent END_REQUEST the id is inactive and its records are
    ignored; the connection, and the next request on it, go on (issue 10, item 10)."""
    conn = fcgi.ServerConnection()
    conn.receive_data(make_request(1, GET, keep_conn=True))
    assert drain(conn, end_requests=True)[-1] == StdinEnd(1)
    assert conn.requests_in_flight == frozenset()
    conn.receive_data(stray + make_request(1, GET, keep_conn=True) + stray)
    assert drain(conn, end_requests=True) == [
        RequestStarted(1, Role.RESPONDER, True),
        Params(1, GET),
        StdinEnd(1),
    ]
    assert conn.data_to_send() == b""  # ignored means no reply either
    assert not conn.must_close
    assert conn.statistics() == fcgi.ConnectionStatistics(in_flight=0, draining=0, buffered=0)


def test_the_table_ignores_input_records_on_an_inactive_id() -> None:
    from fcgi._state import TRANSITIONS, Action

    for rtype in (T.PARAMS, T.STDIN, T.DATA):
        for empty in (False, True):
            assert TRANSITIONS[(None, rtype, empty)] == (Action.IGNORE, None)
    assert TRANSITIONS[(None, T.ABORT_REQUEST, True)] == (Action.IGNORE, None)
    for rtype in (T.STDOUT, T.STDERR, T.END_REQUEST, T.GET_VALUES, T.UNKNOWN_TYPE):
        assert (None, rtype, False) not in TRANSITIONS


def test_aborted_request_is_still_ended(drain: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data(begin(1) + params(1, GET) + rec(T.STDIN, 1) + rec(T.ABORT_REQUEST, 1))
    assert drain(conn)[-1] == RequestAborted(1)
    assert 1 in conn.requests_in_flight
    conn.end_request(1)
    assert conn.statistics().draining == 0  # input had ended before the abort
    assert conn.must_close


# ---------------------------------------------------------------- properties

request_strategy = st.tuples(
    st.dictionaries(st.text(max_size=20), st.text(max_size=300), max_size=6),
    st.lists(st.binary(min_size=1, max_size=500), max_size=4),
    st.booleans(),
    st.integers(0, 255),
)


def stream_of(requests: list) -> tuple[bytes, list[fcgi.Event]]:
    wire, expected = [], []
    for i, (p, chunks, keep, pad) in enumerate(requests):
        rid = i % 3 + 1
        wire.append(begin(rid, keep_conn=keep))
        encoded = fcgi.encode_params(p)
        for start in range(0, len(encoded), 200):  # several PARAMS records, split anywhere
            wire.append(rec(T.PARAMS, rid, encoded[start : start + 200], pad))
        wire.append(rec(T.PARAMS, rid))
        wire.extend(rec(T.STDIN, rid, chunk, pad) for chunk in chunks)
        wire.append(rec(T.STDIN, rid, b"", pad))
        expected.append(RequestStarted(rid, Role.RESPONDER, keep))
        expected.append(Params(rid, p))
        expected.extend(StdinData(rid, chunk) for chunk in chunks)
        expected.append(StdinEnd(rid))
    return b"".join(wire), expected


@given(requests=st.lists(request_strategy, max_size=4), data=st.data())
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_any_chunking_gives_the_same_events(
    requests: list, data: st.DataObject, drain: Callable
) -> None:
    wire, expected = stream_of(requests)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    conn = fcgi.ServerConnection()
    events: list[fcgi.Event] = []
    for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if start != stop:  # b"" would mean EOF
            conn.receive_data(wire[start:stop])
        events += drain(conn, end_requests=True)
    conn.receive_data(b"")
    events += drain(conn)
    assert events == [*expected, ConnectionClosed()]


#: records a front-end may send for a request id that is not in use (ids 4..6: the streams
#: above use 1..3)
stray_strategy = st.builds(
    lambda t, rid, body, pad: rec(t, rid, b"" if t == T.ABORT_REQUEST else body, pad),
    st.sampled_from([T.PARAMS, T.STDIN, T.DATA, T.ABORT_REQUEST]),
    st.integers(4, 6),
    st.binary(max_size=20),
    st.integers(0, 3),
)


@given(requests=st.lists(request_strategy, max_size=3), data=st.data())
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_stray_records_for_inactive_ids_change_nothing(
    requests: list, data: st.DataObject, drain: Callable
) -> None:
    wire, expected = stream_of(requests)
    records = records_of(wire)
    strays = data.draw(st.lists(st.tuples(st.integers(0, len(records)), stray_strategy)))
    parts = [fcgi.encode_record(r.type, r.request_id, r.content) for r in records]
    for position, stray in sorted(strays, key=lambda item: item[0], reverse=True):
        parts.insert(position, stray)
    conn = fcgi.ServerConnection()
    if parts:  # b"" would mean EOF
        conn.receive_data(b"".join(parts))
    events = drain(conn, end_requests=True)
    conn.receive_data(b"")
    events += drain(conn)
    assert events == [*expected, ConnectionClosed()]
    assert conn.data_to_send() == b""


def _run_fuzz(chunks: list[bytes]) -> None:
    conn = fcgi.ServerConnection(max_params_bytes=2000, max_params_count=20, max_reqs=4)
    try:
        for chunk in [*[c for c in chunks if c], b""]:  # b"" = EOF, only at the end
            conn.receive_data(chunk)
            for _ in range(10_000):
                event = conn.next_event()
                if event is fcgi.NEED_DATA or isinstance(event, ConnectionClosed):
                    break
                assert isinstance(event, fcgi.Event)
                if isinstance(event, StdinEnd | RequestAborted):
                    conn.send_stdout(event.request_id, b"Status: 200 OK\r\n\r\n")
                    conn.end_request(event.request_id)
            conn.data_to_send()
    except fcgi.ProtocolError:
        pass


@given(st.lists(st.binary(max_size=120), max_size=6))
def test_random_bytes_only_raise_protocol_error(chunks: list[bytes]) -> None:
    _run_fuzz(chunks)


# bytes biased towards valid headers so the fuzzer gets past the version check
header_ish = st.builds(
    lambda t, rid, body, pad: rec(t, rid, body, pad),
    st.integers(0, 13),
    st.sampled_from([0, 1, 2, 3]),
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"\0\1\0\0\0\0\0\0", b"\0\1\1\0\0\0\0\0", b"\0\2\0\0\0\0\0\0"]),
        st.just(fcgi.encode_params({"A": "b", "FCGI_MAX_REQS": ""})),
    ),
    st.integers(0, 3),
)


@given(st.lists(st.one_of(header_ish, st.binary(max_size=10)), max_size=25), st.data())
def test_structured_fuzz_only_raises_protocol_error(
    parts: list[bytes], data: st.DataObject
) -> None:
    wire = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=4)))
    _run_fuzz([wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)])


@given(st.lists(request_strategy, min_size=1, max_size=2), st.data())
def test_mutated_valid_streams_only_raise_protocol_error(
    requests: list, data: st.DataObject
) -> None:
    wire = bytearray(stream_of(requests)[0])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(wire) - 1))
        wire[pos] = data.draw(st.integers(0, 255))
    _run_fuzz([bytes(wire)])
