"""The long-poll protocol of reference §8.5, byte for byte (pure functions)."""

from __future__ import annotations

import base64

import pytest

from trioserve.ws import WithHeader
from trioserve.ws._longpoll import (
    BINARY_TYPE,
    LongpollQuery,
    decode_data,
    encode_connect,
    encode_message,
    encode_nope,
    parse_query,
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("txt_connect", LongpollQuery(connect="txt")),
        ("raw_connect&key=abc&ntry=1", LongpollQuery(connect="raw")),
        ("connection=12", LongpollQuery(connection=12)),
        ("connection=12&key=k&dummy", LongpollQuery(connection=12, dummy=True)),
        ("connection=12&close", LongpollQuery(connection=12, close=True)),
        ("connection=7&post=aGk%2Bbw==", LongpollQuery(connection=7, post=b"hi>o")),
        ("connection=7&post=aGk+bw==", LongpollQuery(connection=7, post=b"hi>o")),
        ("xtxt_connect", LongpollQuery(bad="missing connection=")),
        ("connection=abc", LongpollQuery(bad="connection must be a decimal id")),
        ("connection=-1", LongpollQuery(bad="connection must be a decimal id")),
        ("connection=1&post=%%%", LongpollQuery(bad="post= is not base64")),
    ],
)
def test_parse_query(query: str, expected: LongpollQuery) -> None:
    assert parse_query(query) == expected


def test_dummy_is_a_substring_match_like_root() -> None:
    assert parse_query("dummy&connection=3").dummy is False  # ROOT looks for "&dummy"
    assert parse_query("connection=3&dummyx").dummy is True


def test_connect_replies() -> None:
    assert encode_connect(42, raw=False).body == b"42"
    assert encode_connect(42, raw=True).body == b"txt:42"
    assert encode_connect(42, raw=False).content_type.startswith("text/plain")


def test_nope() -> None:
    txt, raw = encode_nope(False), encode_nope(True)
    assert (txt.body, txt.content_type.split(";")[0]) == (b"<<nope>>", "text/plain")
    assert (raw.body, raw.content_type) == (b"txt:<<nope>>", BINARY_TYPE)


def test_txt_flavour() -> None:
    text = encode_message("héllo", raw=False)
    assert text.body == "héllo".encode()
    assert text.content_type.startswith("text/plain")
    binary = encode_message(b"\x00\x01", raw=False)
    assert (binary.body, binary.content_type, binary.headers) == (b"\x00\x01", BINARY_TYPE, ())
    headed = encode_message(WithHeader("hdr", b"\xff"), raw=False)
    assert headed.body == b"\xff"
    assert headed.content_type == BINARY_TYPE  # JSROOT compares the exact string
    assert headed.headers == (("LongpollHeader", "hdr"),)


def test_raw_flavour_examples_of_the_reference() -> None:
    assert encode_message("abc", raw=True).body == b"txt:abc"
    assert encode_message(b"PAYLOAD", raw=True).body == b"bin:0  :PAYLOAD"
    headed = encode_message(WithHeader("abc", b"PAYLOAD"), raw=True).body
    assert headed == b"bin:3" + b" " * 7 + b":abcPAYLOAD"
    assert headed.index(b"PAYLOAD") == 16


@pytest.mark.parametrize("header_len", range(0, 40))
def test_raw_binary_payload_is_8_byte_aligned(header_len: int) -> None:
    body = encode_message(WithHeader("h" * header_len, b"DATA"), raw=True).body
    # decode as JSROOT does: 'bin:' then the length up to ':', then header, then payload
    colon = body.index(b":", 4)
    length = int(body[4:colon].strip())
    assert length == header_len
    offset = colon + 1 + length
    assert offset % 8 == 0
    assert body[offset:] == b"DATA"


def test_client_data_types() -> None:
    assert decode_data(b"text", "text/plain;charset=UTF-8") == "text"
    assert decode_data(b"text", None) == "text"
    assert decode_data(b"\xff\xfe", None) == b"\xff\xfe"
    assert decode_data(b"abc", "application/octet-stream") == b"abc"
    assert decode_data(base64.b64decode("AAE="), BINARY_TYPE) == b"\x00\x01"
