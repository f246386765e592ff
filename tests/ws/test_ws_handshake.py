"""The sans-IO websocket pieces: handshake validation, Origin rules, the frame guard."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from trioserve.ws._handshake import (
    FrameGuard,
    HandshakeError,
    accept_token,
    close_frame,
    http_response,
    origin_allowed,
    synthetic_request_head,
    validate_handshake,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
GOOD = [
    ("host", "example.org"),
    ("upgrade", "websocket"),
    ("connection", "keep-alive, Upgrade"),
    ("sec-websocket-key", KEY),
    ("sec-websocket-version", "13"),
]


def without(name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in GOOD if k != name]


def replaced(name: str, value: str) -> list[tuple[str, str]]:
    return [*without(name), (name, value)]


def test_rfc_accept_vector() -> None:
    assert accept_token(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_handshake() -> None:
    req = validate_handshake(
        "GET", "1.1", [*GOOD, ("sec-websocket-protocol", "chat, superchat"), ("origin", "x")]
    )
    assert req.key == KEY
    assert req.host == "example.org"
    assert req.subprotocols == ("chat", "superchat")
    assert req.origin == "x"


@pytest.mark.parametrize(
    ("method", "version", "headers", "status", "code"),
    [
        ("POST", "1.1", GOOD, 400, "bad_method"),
        ("GET", "1.0", GOOD, 400, "bad_http_version"),
        ("GET", "x", GOOD, 400, "bad_version"),
        ("GET", "1.1", without("host"), 400, "bad_host"),
        ("GET", "1.1", [*GOOD, ("host", "other")], 400, "bad_host"),
        ("GET", "1.1", without("upgrade"), 400, "bad_upgrade"),
        ("GET", "1.1", replaced("upgrade", "h2c"), 400, "bad_upgrade"),
        ("GET", "1.1", without("connection"), 400, "bad_connection"),
        ("GET", "1.1", replaced("connection", "keep-alive"), 400, "bad_connection"),
        ("GET", "1.1", without("sec-websocket-version"), 400, "bad_ws_version"),
        ("GET", "1.1", replaced("sec-websocket-version", "8"), 426, "unsupported_ws_version"),
        ("GET", "1.1", [*GOOD, ("sec-websocket-version", "13")], 400, "bad_ws_version"),
        ("GET", "1.1", without("sec-websocket-key"), 400, "bad_ws_key"),
        ("GET", "1.1", replaced("sec-websocket-key", "not base64!"), 400, "bad_ws_key"),
        ("GET", "1.1", replaced("sec-websocket-key", "c2hvcnQ="), 400, "bad_ws_key"),
        ("GET", "1.1", [*GOOD, ("sec-websocket-key", KEY)], 400, "bad_ws_key"),
        ("GET", "1.1", [*GOOD, ("sec-websocket-protocol", "a b")], 400, "bad_subprotocol"),
        ("GET", "1.1", [*GOOD, ("origin", "a"), ("origin", "b")], 400, "bad_origin"),
    ],
)
def test_refusals(
    method: str, version: str, headers: list[tuple[str, str]], status: int, code: str
) -> None:
    with pytest.raises(HandshakeError) as info:
        validate_handshake(method, version, headers)
    assert (info.value.status, info.value.code) == (status, code)
    if code.endswith("ws_version"):
        assert ("Sec-WebSocket-Version", "13") in info.value.headers


def test_later_http_versions_and_token_lists() -> None:
    headers = replaced("upgrade", "foo/2, WebSocket")
    assert validate_handshake("GET", "2.0", headers).key == KEY


@pytest.mark.parametrize(
    ("origin", "host", "cors", "allowed"),
    [
        (None, "h:80", None, True),  # not a browser
        ("http://127.0.0.1:8080", "127.0.0.1:8080", None, True),
        ("http://LOCALHOST:8080", "localhost:8080", None, True),
        ("http://evil.example", "127.0.0.1:8080", None, False),
        ("http://127.0.0.1:9999", "127.0.0.1:8080", None, False),
        ("null", "127.0.0.1:8080", None, False),
        ("http://evil.example", "h", "*", True),
        ("https://app.example", "h", "https://app.example", True),
        ("https://app.example:443", "h", "https://app.example", True),
        ("https://other.example", "h", "https://app.example,https://b.example", False),
        ("https://b.example", "h", "https://app.example, https://b.example", True),
    ],
)
def test_origin(origin: str | None, host: str, cors: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, host, cors) is allowed


def test_synthetic_head_is_what_wsproto_accepts() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import Request

    req = validate_handshake("GET", "1.1", [*GOOD, ("sec-websocket-protocol", "chat")])
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(synthetic_request_head("/a/root.websocket?x=1", req))
    (event,) = list(ws.events())
    assert isinstance(event, Request)
    assert event.target == "/a/root.websocket?x=1"
    assert event.subprotocols == ["chat"]


def test_http_response_bytes() -> None:
    data = http_response(426, [("Sec-WebSocket-Version", "13")], b'{"a":1}', date="D")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 426 Upgrade Required"
    assert "Content-Length: 7" in lines
    assert "Connection: close" in lines
    assert "Sec-WebSocket-Version: 13" in lines
    assert json.loads(body) == {"a": 1}


def test_close_frame() -> None:
    assert close_frame(1001, "bye") == b"\x88\x05\x03\xe9bye"
    assert len(close_frame(1000, "x" * 500)) == 2 + 125


def frame(opcode: int, length: int, *, fin: bool = True, masked: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    mask = 0x80 if masked else 0
    if length < 126:
        head = bytes([first, mask | length])
    elif length < 65536:
        head = bytes([first, mask | 126]) + struct.pack("!H", length)
    else:
        head = bytes([first, mask | 127]) + struct.pack("!Q", length)
    return head + (b"\0\0\0\0" if masked else b"")


def test_guard_passes_messages_under_the_limit() -> None:
    guard = FrameGuard(100)
    data = frame(1, 100) + b"x" * 100 + frame(9, 4) + b"ping" + frame(2, 50) + b"y" * 50
    assert guard.feed(data) == len(data)
    assert guard.violation is None


def test_guard_counts_fragments_and_cuts_at_the_frame_start() -> None:
    guard = FrameGuard(100)
    first = frame(1, 60, fin=False) + b"a" * 60
    ping = frame(9, 0)
    second = frame(0, 41)
    data = first + ping + second + b"b" * 41
    assert guard.feed(data) == len(first) + len(ping)
    assert guard.violation is not None
    assert guard.feed(b"more") == 0


def test_guard_sees_a_huge_length_byte_by_byte() -> None:
    guard = FrameGuard(1 << 20)
    data = frame(2, 2**63 - 1)
    passed = sum(guard.feed(data[i : i + 1]) for i in range(len(data)))
    # the header's first bytes went through before the length was known, nothing after
    assert passed < len(data)
    assert guard.violation is not None


def test_guard_leaves_invalid_lengths_to_the_parser() -> None:
    guard = FrameGuard(10)
    data = frame(2, 2**63)  # MSB set: a protocol error (1002), wsproto's to report
    assert guard.feed(data) == len(data)
    assert guard.violation is None


def test_handshake_module_is_sans_io() -> None:
    code = (
        "import sys, json; before = set(sys.modules); import trioserve.ws._handshake;"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    for bad in ("trio", "socket", "h11", "wsproto", "trio_websocket", "asyncio"):
        assert bad not in loaded
