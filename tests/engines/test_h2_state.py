"""The sans-IO HTTP/2 core (:mod:`trioserve.engines._h2_state`), against RFC 9113's MUSTs.

Plain calls: bytes in (with the time as a number), events and bytes out. Sections follow the
RFC (a conformance runner like h2spec is not installable here, so its sections are covered
here, plus the attacks the issue names). Each connection error is checked on the wire: the
GOAWAY the server wrote, and its code.
"""

from __future__ import annotations

import base64

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from trioserve.engines._h2_guard import H2Limits
from trioserve.engines._h2_state import (
    BodyTooLarge,
    ConnectionEnded,
    H2State,
    PeerGoAway,
    RequestBody,
    RequestEnded,
    RequestReceived,
    StreamGone,
    StreamReset,
    WindowOpened,
    h2c_upgrade_settings,
)

from .h2support import (
    PREFACE,
    Client,
    continuation,
    data,
    frames_of,
    goaway_of,
    raw_frame,
    request_headers,
    resets_of,
    rst,
)


def opened(**limits: object) -> tuple[H2State, Client]:
    """A server past the preface (its SETTINGS read back and discarded) and its client."""
    state = H2State(H2Limits(**limits))  # type: ignore[arg-type]
    client = Client()
    assert state.receive(client.preface(), 0.0) == []
    state.data_to_send()
    return state, client


def ended_with(state: H2State, events: list, code: ErrorCodes) -> None:
    """The connection ended with a GOAWAY of ``code``, on the wire and as the last event."""
    assert events and isinstance(events[-1], ConnectionEnded), events
    assert events[-1].code == code, events[-1]
    goaway = goaway_of(state.data_to_send())
    assert goaway is not None and goaway.error_code == code
    assert state.ended
    assert state.receive(b"anything", 1.0) == []  # nothing more is read


def requests(events: list) -> list[RequestReceived]:
    return [event for event in events if isinstance(event, RequestReceived)]


# -- §3.4 the connection preface ------------------------------------------------------------


def test_server_preface_is_our_settings() -> None:
    state = H2State(H2Limits(max_concurrent_streams=7, max_header_list_size=5000))
    first = frames_of(state.data_to_send())[0]
    assert isinstance(first, SettingsFrame) and "ACK" not in first.flags
    assert first.settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 7
    assert first.settings[SettingsFrame.MAX_HEADER_LIST_SIZE] == 5000
    assert first.settings[SettingsFrame.HEADER_TABLE_SIZE] == 4096
    assert first.settings[SettingsFrame.MAX_FRAME_SIZE] == 16384


def test_preface_may_arrive_byte_by_byte() -> None:
    state = H2State(H2Limits())
    client = Client()
    wire = client.preface() + client.request(1)
    events: list = []
    for index in range(len(wire)):
        events += state.receive(wire[index : index + 1], 0.0)
    [request] = requests(events)
    assert request.head is not None and request.head.path == "/a/h.json"


@pytest.mark.parametrize(
    "wire", [b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
)
def test_invalid_preface_is_a_protocol_error(wire: bytes) -> None:
    state = H2State(H2Limits())
    state.data_to_send()
    ended_with(state, state.receive(wire, 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_first_frame_must_be_settings() -> None:
    state = H2State(H2Limits())
    state.data_to_send()
    events = state.receive(PREFACE + PingFrame(0, opaque_data=b"12345678").serialize(), 0.0)
    ended_with(state, events, ErrorCodes.PROTOCOL_ERROR)


# -- §4.1/§4.2 frame format and size --------------------------------------------------------


def test_frame_over_max_frame_size_ends_before_its_payload_arrives() -> None:
    state, _ = opened()
    header_only = (16385).to_bytes(3, "big") + bytes((0, 0)) + (1).to_bytes(4, "big")
    assert len(header_only) == 9
    ended_with(state, state.receive(header_only, 0.0), ErrorCodes.FRAME_SIZE_ERROR)


def test_settings_with_a_partial_entry_is_a_frame_size_error() -> None:
    state, _ = opened()
    events = state.receive(raw_frame(4, 0, 0, b"\x00\x03\x00\x00\x00"), 0.0)
    ended_with(state, events, ErrorCodes.FRAME_SIZE_ERROR)


def test_ping_of_wrong_length_is_a_frame_size_error() -> None:
    state, _ = opened()
    ended_with(
        state, state.receive(raw_frame(6, 0, 0, b"1234567"), 0.0), ErrorCodes.FRAME_SIZE_ERROR
    )


def test_unknown_frame_types_are_ignored() -> None:
    state, client = opened()
    events = state.receive(raw_frame(0x42, 0, 0, b"whatever") + client.request(1), 0.0)
    assert len(requests(events)) == 1 and not state.ended


# -- §4.3 header compression ----------------------------------------------------------------


def test_bad_hpack_index_is_a_compression_error() -> None:
    state, _ = opened()
    block = b"\xff\x7f"  # indexed field far past the tables
    events = state.receive(HeadersFrame(1, data=block, flags={"END_HEADERS"}).serialize(), 0.0)
    ended_with(state, events, ErrorCodes.COMPRESSION_ERROR)


def test_table_size_update_over_our_setting_is_a_compression_error() -> None:
    state, client = opened(header_table_size=4096)
    client.encoder.header_table_size = 65536  # the encoder announces a bigger table
    frame = HeadersFrame(1, data=client.block(request_headers()), flags={"END_HEADERS"})
    ended_with(state, state.receive(frame.serialize(), 0.0), ErrorCodes.COMPRESSION_ERROR)


def test_frames_between_headers_and_continuation_are_a_protocol_error() -> None:
    state, client = opened()
    block = client.block(request_headers())
    wire = HeadersFrame(1, data=block[:5]).serialize() + data(1, b"x")
    ended_with(state, state.receive(wire, 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_header_block_split_over_continuations_is_one_request() -> None:
    state, client = opened()
    block = client.block(request_headers("/split/h.json"))
    wire = HeadersFrame(1, data=block[:4], flags={"END_STREAM"}).serialize()
    wire += continuation(1, block[4:9]) + continuation(1, block[9:], end=True)
    [request] = requests(state.receive(wire, 0.0))
    assert request.head is not None and request.head.path == "/split/h.json"


# -- §5.1 stream states and identifiers -----------------------------------------------------


def test_data_on_an_idle_stream_is_a_protocol_error() -> None:
    state, _ = opened()
    ended_with(state, state.receive(data(1, b"x"), 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_even_stream_from_a_client_is_a_protocol_error() -> None:
    state, client = opened()
    ended_with(state, state.receive(client.request(2), 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_decreasing_stream_id_is_a_protocol_error() -> None:
    state, client = opened()
    state.receive(client.request(5), 0.0)
    ended_with(state, state.receive(client.request(3), 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_data_after_end_stream_is_stream_closed() -> None:
    state, client = opened()
    state.receive(client.request(1), 0.0)
    events = state.receive(data(1, b"late"), 0.0)
    if events and isinstance(events[-1], ConnectionEnded):
        assert events[-1].code == ErrorCodes.STREAM_CLOSED
    else:  # a stream error is the other answer the RFC allows
        assert resets_of(state.data_to_send()) == {1: ErrorCodes.STREAM_CLOSED}


# -- §5.1.2 concurrency ---------------------------------------------------------------------


def test_streams_over_the_limit_are_refused_alone() -> None:
    state, client = opened(max_concurrent_streams=2)
    wire = b"".join(client.request(stream_id) for stream_id in (1, 3, 5))
    events = state.receive(wire, 0.0)
    assert [request.stream_id for request in requests(events)] == [1, 3]
    assert resets_of(state.data_to_send()) == {5: ErrorCodes.REFUSED_STREAM}
    assert not state.ended
    # a stream still counts after it was answered and reset, until its task is done
    state.send_head(1, 200, [], end_stream=True)
    assert requests(state.receive(client.request(7), 0.0)) == []
    state.stream_done(1)
    assert [request.stream_id for request in requests(state.receive(client.request(9), 0.0))] == [9]


# -- §6.5 SETTINGS, §6.7 PING ---------------------------------------------------------------


def test_settings_are_acknowledged_and_pings_answered() -> None:
    state, _ = opened()
    wire = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 100}).serialize()
    wire += PingFrame(0, opaque_data=b"abcdefgh").serialize()
    events = state.receive(wire, 0.0)
    assert WindowOpened(0) in events
    frames = frames_of(state.data_to_send())
    assert any(isinstance(f, SettingsFrame) and "ACK" in f.flags for f in frames)
    [pong] = [f for f in frames if isinstance(f, PingFrame)]
    assert "ACK" in pong.flags and pong.opaque_data == b"abcdefgh"


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        (SettingsFrame.INITIAL_WINDOW_SIZE, 2**31, ErrorCodes.FLOW_CONTROL_ERROR),
        (SettingsFrame.MAX_FRAME_SIZE, 100, ErrorCodes.PROTOCOL_ERROR),
        (SettingsFrame.ENABLE_PUSH, 2, ErrorCodes.PROTOCOL_ERROR),
    ],
)
def test_invalid_settings_values(setting: int, value: int, code: ErrorCodes) -> None:
    state, _ = opened()
    events = state.receive(SettingsFrame(0, settings={setting: value}).serialize(), 0.0)
    ended_with(state, events, code)


def test_settings_ack_with_payload_is_a_frame_size_error() -> None:
    state, _ = opened()
    events = state.receive(raw_frame(4, 1, 0, b"\x00\x03\x00\x00\x00\x01"), 0.0)
    ended_with(state, events, ErrorCodes.FRAME_SIZE_ERROR)


# -- §6.9 flow control ----------------------------------------------------------------------


def test_response_data_waits_for_the_window() -> None:
    state = H2State(H2Limits())
    client = Client()
    wire = PREFACE + SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 10}).serialize()
    state.receive(wire + client.request(1), 0.0)
    state.send_head(1, 200, [("Content-Type", "text/plain")], end_stream=False)
    assert state.send_data_nowait(1, b"x" * 25, end=True) == 10
    assert state.send_data_nowait(1, b"x" * 15, end=True) == 0
    events = state.receive(WindowUpdateFrame(1, window_increment=100).serialize(), 0.0)
    assert WindowOpened(1) in events
    assert state.send_data_nowait(1, b"x" * 15, end=True) == 15
    sent = [f for f in frames_of(state.data_to_send()) if isinstance(f, DataFrame)]
    assert [len(f.data) for f in sent] == [10, 15] and "END_STREAM" in sent[-1].flags


def test_data_frames_are_at_most_the_peer_frame_size() -> None:
    state, client = opened()
    state.receive(WindowUpdateFrame(0, window_increment=10**6).serialize(), 0.0)
    state.receive(client.request(1), 0.0)
    state.send_head(1, 200, [], end_stream=False)
    assert state.send_data_nowait(1, b"x" * 40000, end=False) == 16384


def test_zero_window_increment_is_a_protocol_error() -> None:
    state, _ = opened()
    events = state.receive(raw_frame(8, 0, 0, b"\x00\x00\x00\x00"), 0.0)
    ended_with(state, events, ErrorCodes.PROTOCOL_ERROR)


def test_window_overflow_is_a_flow_control_error() -> None:
    state, _ = opened()
    events = state.receive(WindowUpdateFrame(0, window_increment=2**31 - 1).serialize(), 0.0)
    ended_with(state, events, ErrorCodes.FLOW_CONTROL_ERROR)


def test_request_body_gives_its_window_back() -> None:
    state, client = opened(initial_window_size=65535)
    state.receive(client.headers(1, request_headers("/up", "POST"), end=False), 0.0)
    wire = data(1, b"a" * 16000) * 3 + data(1, b"b" * 6000)
    events = state.receive(wire, 0.0)
    assert [len(e.data) for e in events if isinstance(e, RequestBody)] == [16000] * 3 + [6000]
    updates = [f for f in frames_of(state.data_to_send()) if isinstance(f, WindowUpdateFrame)]
    assert {f.stream_id for f in updates} == {0, 1}  # both windows reopened
    # so the client may send more than one window's worth in all
    events = state.receive(data(1, b"c" * 16000) * 2 + data(1, b"", end=True), 0.0)
    assert RequestEnded(1) in events and not state.ended


# -- §8.1 messages: bodies, trailers ---------------------------------------------------------


def test_body_over_max_body_is_reported_once_and_dropped() -> None:
    state, client = opened(max_body=10)
    state.receive(client.headers(1, request_headers("/up", "POST"), end=False), 0.0)
    events = state.receive(data(1, b"x" * 8) + data(1, b"x" * 8) + data(1, b"x", end=True), 0.0)
    assert events == [RequestBody(1, b"x" * 8), BodyTooLarge(1)]


def test_declared_length_over_max_body_is_refused_at_the_head() -> None:
    state, client = opened(max_body=10)
    head = request_headers("/up", "POST", content_length="11")
    [request] = requests(state.receive(client.headers(1, head, end=False), 0.0))
    assert request.head is None and request.error is not None and request.error.status == 413


def test_content_length_mismatch_is_a_protocol_error() -> None:
    state, client = opened()
    head = request_headers("/up", "POST", content_length="3")
    state.receive(client.headers(1, head, end=False), 0.0)
    ended_with(state, state.receive(data(1, b"toolong", end=True), 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_trailers_are_ignored_and_end_the_request() -> None:
    state, client = opened()
    state.receive(client.headers(1, request_headers("/up", "POST"), end=False), 0.0)
    wire = data(1, b"body") + client.headers(1, [("x-checksum", "abc")], end=True)
    events = state.receive(wire, 0.0)
    assert events == [RequestBody(1, b"body"), RequestEnded(1)]


# -- §8.2/§8.3 fields and pseudo-headers -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [(":method", "GET"), (":scheme", "http"), (":authority", "t")],  # no :path
        [(":method", "GET"), (":path", "/"), (":authority", "t")],  # no :scheme
        [(":scheme", "http"), (":path", "/"), (":authority", "t")],  # no :method
        [*request_headers(), ("X-Upper", "1")],  # upper-case name
        [*request_headers(), ("connection", "keep-alive")],
        [*request_headers(), ("transfer-encoding", "chunked")],
        [*request_headers(), ("te", "gzip")],
        [*request_headers(), (":unknown", "1")],
        [*request_headers(), (":method", "POST")],  # repeated pseudo-header
        [("accept", "*/*"), *request_headers()],  # pseudo-header after a field
        [*request_headers(), (":status", "200")],  # a response pseudo-header
        [*request_headers(), ("x-bad", "a\r\nb")],
    ],
)
def test_malformed_requests_are_protocol_errors(headers: list) -> None:
    state, client = opened()
    frame = HeadersFrame(1, data=client.block(headers), flags={"END_HEADERS", "END_STREAM"})
    ended_with(state, state.receive(frame.serialize(), 0.0), ErrorCodes.PROTOCOL_ERROR)


def test_request_head_becomes_the_calls_fields() -> None:
    state, client = opened()
    head = request_headers("/a%20b/../c/root.json.gz?compact=3", accept_encoding="gzip")
    [request] = requests(state.receive(client.headers(1, head), 0.0))
    assert request.ended and request.head is not None
    assert request.head.path == "/c/root.json.gz" and request.head.query == "compact=3"
    assert request.head.target == "/a%20b/../c/root.json.gz?compact=3"
    assert ("host", "test") in request.head.headers
    assert ("accept-encoding", "gzip") in request.head.headers
    assert (request.method, request.target) == ("GET", "/a%20b/../c/root.json.gz?compact=3")


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("relative/h.json", "GET", 400),
        ("/%2e%2", "GET", 400),
        ("/a%00b", "GET", 400),
        ("/x" * 5000, "GET", 414),
        ("*", "GET", 400),
    ],
)
def test_bad_targets_are_answered_on_their_stream(path: str, method: str, status: int) -> None:
    state, client = opened()
    [request] = requests(state.receive(client.headers(1, request_headers(path, method)), 0.0))
    assert request.head is None and request.error is not None
    assert request.error.status == status
    assert not state.ended


def test_connect_is_refused_with_405() -> None:
    state, client = opened()
    head = [(":method", "CONNECT"), (":authority", "example.com:443")]
    [request] = requests(state.receive(client.headers(1, head, end=False), 0.0))
    assert request.error is not None and request.error.status == 405


def test_options_star() -> None:
    state, client = opened()
    [request] = requests(state.receive(client.headers(1, request_headers("*", "OPTIONS")), 0.0))
    assert request.head is not None and request.head.path == "*"


def test_response_head_drops_connection_fields_and_lowercases() -> None:
    state, client = opened()
    state.receive(client.request(1), 0.0)
    fields = [("Content-Type", "text/plain"), ("Connection", "close"), ("Upgrade", "x")]
    state.send_head(1, 200, fields, end_stream=True)
    [head] = [f for f in frames_of(state.data_to_send()) if isinstance(f, HeadersFrame)]
    from hpack import Decoder

    decoded = Decoder().decode(head.data)
    assert decoded == [(":status", "200"), ("content-type", "text/plain")]


def test_invalid_response_field_values_are_refused() -> None:
    state, client = opened()
    state.receive(client.request(1), 0.0)
    with pytest.raises(ValueError):
        state.send_head(1, 200, [("x-bad", "a\r\nb")], end_stream=True)


# -- §6.4 RST_STREAM and the rapid reset (CVE-2023-44487) -----------------------------------


def test_reset_of_a_live_stream_is_reported_and_it_stays_live() -> None:
    state, client = opened(max_concurrent_streams=1)
    state.receive(client.request(1), 0.0)
    assert state.receive(rst(1), 0.0) == [StreamReset(1, ErrorCodes.CANCEL)]
    assert state.live_streams == 1
    with pytest.raises(StreamGone):
        state.send_head(1, 200, [], end_stream=True)


def test_streams_opened_and_reset_in_one_read_are_never_reported() -> None:
    state, client = opened()
    wire = b"".join(client.request(2 * n + 1) + rst(2 * n + 1) for n in range(50))
    assert state.receive(wire, 0.0) == []
    assert state.live_streams == 0 and not state.ended


def test_rapid_reset_flood_ends_with_enhance_your_calm() -> None:
    state, client = opened(max_resets=200)
    reported = 0
    events: list = []
    for n in range(300):
        events = state.receive(client.request(2 * n + 1) + rst(2 * n + 1), 0.0)
        reported += len(requests(events))
        if state.ended:
            break
    ended_with(state, events, ErrorCodes.ENHANCE_YOUR_CALM)
    assert n == 200 and reported == 0


def test_refused_streams_count_toward_the_reset_budget() -> None:
    state, client = opened(max_concurrent_streams=1, max_resets=5)
    state.receive(client.request(1), 0.0)
    events: list = []
    for n in range(1, 10):
        events = state.receive(client.request(2 * n + 1), 0.0)
        if state.ended:
            break
    ended_with(state, events, ErrorCodes.ENHANCE_YOUR_CALM)


def test_the_budget_is_per_window() -> None:
    state, client = opened(max_resets=10, flood_window=10.0)
    for n in range(40):  # one every 2.5 s: 4 per window of 10 s, never over 10
        state.receive(client.request(2 * n + 1) + rst(2 * n + 1), n * 2.5)
    assert not state.ended


# -- floods (CVE-2019-9512/9515/9518) and CONTINUATION (CVE-2024-27316) -------------------------


@pytest.mark.parametrize(
    ("frame", "limit"),
    [
        (SettingsFrame(0).serialize(), "max_settings"),
        (PingFrame(0, opaque_data=b"12345678").serialize(), "max_pings"),
        (PriorityFrame(1, depends_on=0, stream_weight=16).serialize(), "max_other"),
        (raw_frame(0x42, 0, 0, b""), "max_other"),
        (WindowUpdateFrame(0, window_increment=1).serialize(), "max_window_updates"),
    ],
)
def test_control_frame_floods(frame: bytes, limit: str) -> None:
    state, _ = opened(**{limit: 20})
    events = state.receive(frame * 10, 0.0)  # (the preface's SETTINGS counts too)
    assert not state.ended, events
    ended_with(state, state.receive(frame * 11, 0.0), ErrorCodes.ENHANCE_YOUR_CALM)


def test_empty_data_frames_flood() -> None:
    state, client = opened(max_empty=20)
    state.receive(client.headers(1, request_headers("/up", "POST"), end=False), 0.0)
    events = state.receive(data(1, b"") * 21, 0.0)
    ended_with(state, events, ErrorCodes.ENHANCE_YOUR_CALM)


def test_padded_data_of_padding_only_counts_as_empty() -> None:
    state, client = opened(max_empty=3)
    state.receive(client.headers(1, request_headers("/up", "POST"), end=False), 0.0)
    padded = raw_frame(0, 0x8, 1, b"\x04" + b"\x00" * 4)
    ended_with(state, state.receive(padded * 4, 0.0), ErrorCodes.ENHANCE_YOUR_CALM)


def test_window_updates_answering_our_data_are_free() -> None:
    state, client = opened(max_window_updates=5)
    state.receive(client.request(1), 0.0)
    state.send_head(1, 200, [], end_stream=False)
    for _ in range(50):
        assert state.send_data_nowait(1, b"x" * 100, end=False) == 100
        state.receive(
            WindowUpdateFrame(1, window_increment=100).serialize()
            + WindowUpdateFrame(0, window_increment=100).serialize(),
            0.0,
        )
    assert not state.ended


def test_continuation_flood_is_cut_at_the_frame_count() -> None:
    state, client = opened(max_continuations=16)
    wire = HeadersFrame(1, data=client.block(request_headers())[:3]).serialize()
    wire += continuation(1, b"\x00") * 16
    assert state.receive(wire, 0.0) == []
    ended_with(state, state.receive(continuation(1, b"\x00"), 0.0), ErrorCodes.ENHANCE_YOUR_CALM)


def test_empty_continuations_never_reach_the_frame_budget() -> None:
    state, client = opened(max_empty=5, max_continuations=100)
    wire = HeadersFrame(1, data=client.block(request_headers())[:3]).serialize()
    events = state.receive(wire + continuation(1, b"") * 6, 0.0)
    ended_with(state, events, ErrorCodes.ENHANCE_YOUR_CALM)


def test_header_block_over_the_list_size_ends_before_it_completes() -> None:
    state, _client = opened(max_header_list_size=4000)
    wire = HeadersFrame(1, data=b"\x00" * 3000).serialize() + continuation(1, b"\x00" * 1001)
    ended_with(state, state.receive(wire, 0.0), ErrorCodes.ENHANCE_YOUR_CALM)
    assert state.header_block_open is True  # it never completed


def test_header_list_over_the_limit_after_decoding_is_refused() -> None:
    # small on the wire, large once decoded: a field indexed many times (an HPACK bomb)
    state, client = opened(max_header_list_size=8000)
    first = client.headers(1, [*request_headers(), ("x-big", "v" * 3000)])
    state.receive(first, 0.0)
    bomb = client.block(request_headers() + [("x-big", "v" * 3000)] * 3)
    assert len(bomb) < 100
    frame = HeadersFrame(3, data=bomb, flags={"END_HEADERS", "END_STREAM"}).serialize()
    ended_with(state, state.receive(frame, 0.0), ErrorCodes.ENHANCE_YOUR_CALM)


def test_header_block_open_while_a_block_is_incomplete() -> None:
    state, client = opened()
    block = client.block(request_headers())
    state.receive(HeadersFrame(1, data=block[:3], flags={"END_STREAM"}).serialize(), 0.0)
    assert state.header_block_open
    state.receive(continuation(1, block[3:], end=True), 0.0)
    assert not state.header_block_open


# -- §6.8 GOAWAY ----------------------------------------------------------------------------


def test_graceful_goaway_lets_live_streams_finish_and_refuses_new_ones() -> None:
    state, client = opened()
    state.receive(client.request(1) + client.request(3), 0.0)
    state.goaway()
    goaway = goaway_of(state.data_to_send())
    assert goaway is not None
    assert (goaway.error_code, goaway.last_stream_id) == (ErrorCodes.NO_ERROR, 3)
    assert requests(state.receive(client.request(5), 0.0)) == []
    assert resets_of(state.data_to_send()) == {5: ErrorCodes.REFUSED_STREAM}
    state.send_head(3, 200, [], end_stream=False)
    assert state.send_data_nowait(3, b"still going", end=True) == 11
    assert not state.ended


def test_client_goaway_is_reported() -> None:
    state, client = opened()
    state.receive(client.request(1), 0.0)
    frame = GoAwayFrame(0, last_stream_id=0, error_code=0).serialize()
    assert state.receive(frame, 0.0) == [PeerGoAway(0, 0)]
    assert not state.accepting


# -- the h2c upgrade (RFC 7540 §3.2) ---------------------------------------------------------

_SETTINGS = base64.urlsafe_b64encode(b"\x00\x03\x00\x00\x00\x64").rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("headers", "body", "upgrades"),
    [
        ([("upgrade", "h2c"), ("connection", "Upgrade, HTTP2-Settings")], False, True),
        ([("upgrade", "websocket, h2c"), ("connection", "upgrade,http2-settings")], False, True),
        ([("upgrade", "h2c"), ("connection", "Upgrade, HTTP2-Settings")], True, False),
        ([("upgrade", "h2"), ("connection", "Upgrade, HTTP2-Settings")], False, False),
        ([("upgrade", "h2c"), ("connection", "Upgrade")], False, False),
    ],
)
def test_h2c_upgrade_requests(headers: list, body: bool, upgrades: bool) -> None:
    headers = [*headers, ("http2-settings", _SETTINGS)]
    assert (h2c_upgrade_settings(headers, body) is not None) is upgrades


@pytest.mark.parametrize("value", ["!!!", "AAM"])  # not base64url; not whole entries
def test_h2c_upgrade_needs_valid_settings(value: str) -> None:
    headers = [("upgrade", "h2c"), ("connection", "upgrade, http2-settings")]
    assert h2c_upgrade_settings([*headers, ("http2-settings", value)], False) is None
    assert h2c_upgrade_settings(headers, False) is None  # none at all
    two = [*headers, ("http2-settings", _SETTINGS), ("http2-settings", _SETTINGS)]
    assert h2c_upgrade_settings(two, False) is None


def test_upgraded_connection_answers_stream_one() -> None:
    state = H2State(H2Limits(), upgrade_settings=_SETTINGS.encode())
    assert state.live_streams == 1
    client = Client()
    assert state.receive(client.preface(), 0.0) == []
    state.send_head(1, 200, [("content-type", "text/plain")], end_stream=False)
    assert state.send_data_nowait(1, b"hi", end=True) == 2
    kinds = [type(f).__name__ for f in frames_of(state.data_to_send())]
    assert kinds[0] == "SettingsFrame" and kinds[-2:] == ["HeadersFrame", "DataFrame"]
