"""Record framing and the name-value pair codec: tables plus hypothesis round trips."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fcgi
from fcgi import RecordType

# ---------------------------------------------------------------- records


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((RecordType.STDOUT, 1, b"hi"), b"\x01\x06\x00\x01\x00\x02\x00\x00hi"),
        ((RecordType.STDOUT, 1, b""), b"\x01\x06\x00\x01\x00\x00\x00\x00"),
        ((RecordType.PARAMS, 0x1234, b"x", 3), b"\x01\x04\x12\x34\x00\x01\x03\x00x\0\0\0"),
        ((RecordType.GET_VALUES, 0, b""), b"\x01\x09\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_encode_record_table(args: tuple, expected: bytes) -> None:
    assert fcgi.encode_record(*args) == expected


@pytest.mark.parametrize(
    "bad",
    [
        dict(content=b"x" * 65536),
        dict(padding=256),
        dict(padding=-1),
        dict(request_id=65536),
    ],
)
def test_encode_record_rejects_impossible_records(bad: dict) -> None:
    kwargs = dict(type=RecordType.STDOUT, request_id=1, content=b"", padding=0) | bad
    with pytest.raises(ValueError):
        fcgi.encode_record(**kwargs)


def test_begin_and_end_request_bodies() -> None:
    assert fcgi.encode_begin_request(7, fcgi.Role.FILTER, keep_conn=True) == (
        b"\x01\x01\x00\x07\x00\x08\x00\x00" + b"\x00\x03\x01" + b"\0" * 5
    )
    end = fcgi.encode_end_request(7, 258, fcgi.ProtocolStatus.UNKNOWN_ROLE)
    assert end == b"\x01\x03\x00\x07\x00\x08\x00\x00" + b"\x00\x00\x01\x02\x03" + b"\0" * 3
    assert fcgi.decode_end_body(end[8:]) == (258, 3)


@pytest.mark.parametrize(
    ("size", "end", "record_sizes"),
    [
        (0, False, []),
        (0, True, [0]),
        (1, False, [1]),
        (65535, False, [65535]),
        (65536, True, [65535, 1, 0]),
        (3 * 65535 + 2, False, [65535, 65535, 65535, 2]),
    ],
)
def test_encode_stream_splits_at_65535(size: int, end: bool, record_sizes: list[int]) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    encoded = fcgi.encode_stream(RecordType.STDOUT, 3, data, end=end)
    reader = fcgi.RecordReader()
    reader.feed(encoded)
    records = []
    while (record := reader.next_record()) is not None:
        records.append(record)
    assert [len(r.content) for r in records] == record_sizes
    assert all(r.type == RecordType.STDOUT and r.request_id == 3 for r in records)
    assert b"".join(r.content for r in records) == data
    assert reader.buffered == 0


def test_reader_waits_for_truncated_records_and_accepts_padding() -> None:
    wire = fcgi.encode_record(RecordType.STDIN, 1, b"abc", padding=5)
    reader = fcgi.RecordReader()
    for i in range(len(wire) - 1):
        reader.feed(wire[i : i + 1])
        assert reader.next_record() is None
    reader.feed(wire[-1:])
    assert reader.next_record() == fcgi.Record(RecordType.STDIN, 1, b"abc")
    assert reader.buffered == 0


@pytest.mark.parametrize("version", [0, 2, 255])
def test_reader_rejects_other_versions(version: int) -> None:
    reader = fcgi.RecordReader()
    reader.feed(bytes([version]) + fcgi.encode_record(RecordType.STDIN, 1, b"")[1:])
    with pytest.raises(fcgi.ProtocolError, match="version"):
        reader.next_record()


records_strategy = st.lists(
    st.tuples(
        st.integers(1, 11),
        st.integers(0, 0xFFFF),
        st.binary(max_size=300),
        st.integers(0, 255),
    ),
    max_size=8,
)


@given(records_strategy, st.data())
def test_record_framing_round_trip_any_chunking(records: list, data: st.DataObject) -> None:
    wire = b"".join(fcgi.encode_record(t, rid, c, pad) for t, rid, c, pad in records)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    reader = fcgi.RecordReader()
    seen = []
    for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        reader.feed(wire[start:stop])
        while (record := reader.next_record()) is not None:
            seen.append(record)
    assert seen == [fcgi.Record(t, rid, c) for t, rid, c, _ in records]
    assert reader.buffered == 0


# ---------------------------------------------------------------- name-value pairs


@pytest.mark.parametrize(
    ("pairs", "wire"),
    [
        ([], b""),
        ([(b"A", b"")], b"\x01\x00A"),
        ([(b"NAME", b"value")], b"\x04\x05NAMEvalue"),
        ([(b"N", b"v" * 127)], b"\x01\x7fN" + b"v" * 127),
        ([(b"N", b"v" * 128)], b"\x01\x80\x00\x00\x80N" + b"v" * 128),
        ([(b"n" * 200, b"")], b"\x80\x00\x00\xc8\x00" + b"n" * 200),
        ([(b"A", b"1"), (b"B", b"")], b"\x01\x01A1\x01\x00B"),
    ],
)
def test_pairs_table(pairs: list, wire: bytes) -> None:
    assert fcgi.encode_params(pairs) == wire
    assert fcgi.decode_pairs(wire) == pairs


@pytest.mark.parametrize(
    "wire",
    [
        b"\x01",  # name length, then nothing
        b"\x80\x00\x00",  # truncated 4-byte length
        b"\x01\x00",  # announces a 1-byte name that is missing
        b"\x01\x05Aabc",  # value shorter than announced
        b"\xff\xff\xff\xff\x00",  # a 2 GiB name, 0 bytes present
        b"\x01\x01A1\x01",  # good pair, then a truncated one
    ],
)
def test_pairs_truncated_is_protocol_error(wire: bytes) -> None:
    with pytest.raises(fcgi.ProtocolError):
        fcgi.decode_pairs(wire)


def test_pairs_count_limit() -> None:
    wire = fcgi.encode_params([(f"N{i}", "") for i in range(5)])
    assert len(fcgi.decode_pairs(wire, max_count=5)) == 5
    with pytest.raises(fcgi.ProtocolError, match="more than 4"):
        fcgi.decode_pairs(wire, max_count=4)


def test_decode_params_dict_utf8_and_replacement() -> None:
    wire = fcgi.encode_params([("PATH_INFO", "/Objects/été"), (b"X", b"\xff"), ("X2", "a")])
    wire += fcgi.encode_pair(b"X2", b"b")
    assert fcgi.decode_params(wire) == {"PATH_INFO": "/Objects/été", "X": "\ufffd", "X2": "b"}


@given(st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=300)), max_size=10))
def test_pairs_round_trip(pairs: list) -> None:
    assert fcgi.decode_pairs(fcgi.encode_params(pairs)) == pairs


@given(st.dictionaries(st.text(max_size=40), st.text(max_size=200), max_size=10))
def test_params_dict_round_trip(params: dict) -> None:
    assert fcgi.decode_params(fcgi.encode_params(params)) == params


@given(st.binary(max_size=200))
def test_pairs_decoder_raises_only_protocol_error(data: bytes) -> None:
    try:
        pairs = fcgi.decode_pairs(data)
    except fcgi.ProtocolError:
        return
    assert fcgi.encode_params(pairs) == data or any(
        # a 4-byte length below 128 is legal input but re-encodes as 1 byte
        b >= 0x80
        for b in data
    )


def test_lengths_use_the_top_bit_only_as_a_marker() -> None:
    wire = struct.pack(">II", 0x80000001, 0x80000000) + b"N"
    assert fcgi.decode_pairs(wire) == [(b"N", b"")]
