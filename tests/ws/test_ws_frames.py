"""Frames no real client sends, each answered with a Close frame of the right code."""

from __future__ import annotations

import struct

import pytest
import trio

from tests.ws.conftest import RawClient, Served, client_frame


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


CASES = [
    ("unmasked client frame", client_frame(1, b"hi", mask=False), 1002),
    ("reserved opcode 3", client_frame(3, b"x"), 1002),
    ("reserved control opcode 0xB", client_frame(0xB, b""), 1002),
    ("RSV1 without extension", client_frame(1, b"x", rsv=4), 1002),
    ("control frame of 126 bytes", client_frame(9, b"p" * 126), 1002),
    ("fragmented ping", client_frame(9, b"p", fin=False), 1002),
    ("continuation without start", client_frame(0, b"x"), 1002),
    ("bad UTF-8 in text", client_frame(1, b"\xff\xfe"), 1007),
    (
        "bad UTF-8 split over fragments",
        client_frame(1, b"ok", fin=False) + client_frame(0, b"\xc3"),
        1007,
    ),
    ("close code 999", client_frame(8, close_payload(999)), 1002),
    ("close code 1005 on the wire", client_frame(8, close_payload(1005)), 1002),
    ("close code 2999 reserved", client_frame(8, close_payload(2999)), 1002),
    ("close with 1-byte payload", client_frame(8, b"\x03"), 1002),
    ("close reason not UTF-8", client_frame(8, close_payload(1000, b"\xff")), 1007),
    ("length 2^63 (MSB set)", client_frame(2, b"", length=2**63), 1002),
    ("length 2^63-1", client_frame(2, b"", length=2**63 - 1), 1009),
    ("over max_message_size", client_frame(2, b"", length=(1 << 20) + 1), 1009),
    (
        "over max in fragments",
        client_frame(2, b"a" * 1000, fin=False) + client_frame(0, b"", length=1 << 20),
        1009,
    ),
]


@pytest.mark.parametrize(("name", "data", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_failed_with_a_close_frame(
    served: Served, name: str, data: bytes, code: int
) -> None:
    client, status, _ = await RawClient.open(served)
    assert status == 101
    await client.send(data)
    assert await client.read_close() == code
    assert await client.at_eof()
    await served.handler.wait_closed(1)
    assert served.handler.closed[0].close_code == code
    assert served.handler.data == []  # nothing of it reached the handler


async def test_fragments_reassembled_and_pings_answered(served: Served) -> None:
    client, status, _ = await RawClient.open(served)
    assert status == 101
    await client.send(client_frame(1, b"hel", fin=False))
    await client.send(client_frame(9, b"ping!"))  # a control frame between fragments
    await client.send(client_frame(0, b"lo ", fin=False) + client_frame(0, "wörld".encode()))
    assert await client.read_frame() == (0xA, b"ping!")
    assert await client.read_frame() == (1, "hello wörld".encode())
    await client.send(client_frame(2, b"\x00" * 70000))
    assert await client.read_frame() == (2, b"\x00" * 70000)
    # the close handshake, client first
    await client.send(client_frame(8, close_payload(1000, b"done")))
    assert await client.read_frame() == (8, close_payload(1000, b"done"))
    assert await client.at_eof()
    await served.handler.wait_closed(1)
    assert served.handler.closed[0].close_code == 1000


async def test_trailing_bytes_sent_with_the_handshake_are_kept(served: Served) -> None:
    stream = await trio.open_tcp_stream(served.host, served.port)
    client = RawClient(stream)
    head = (
        b"GET /rec/root.websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await stream.send_all(head + client_frame(1, b"early"))
    status_line = await client.read_until(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 101")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in status_line
    assert await client.read_frame() == (1, b"early")
