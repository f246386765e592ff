"""Sans-IO pieces of the websocket transport: handshake checks, refusals, the frame guard.

Nothing here does I/O or imports Trio, so every rule is a plain function tested with tables.
The server's own data frames are built here too (:func:`message_frame`): an unmasked frame is
a header and the payload, so there is nothing for a protocol library to add.

Why we validate ourselves instead of trusting wsproto: wsproto accepts a ``Sec-WebSocket-Key``
that is not base64 of 16 bytes, duplicated version/key headers and HTTP/1.0 requests, and it
answers a missing version with a bare 400. RFC 6455 §4.2.1/§4.2.2 (and the libmicrohttpd
chapter we follow) want: GET, HTTP/1.1 or later, ``Host``, ``Upgrade`` naming ``websocket``,
``Connection`` naming ``upgrade``, a key decoding to 16 bytes and version 13 -- anything else
is 400, a version we do not speak is 426 with ``Sec-WebSocket-Version: 13``.

:class:`FrameGuard` reads frame headers ahead of wsproto so the maximum message size is
enforced from the *announced* length, before a single payload byte is buffered: a header
announcing 2^63-1 bytes fails the connection at once with 1009 instead of streaming forever.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

__all__ = [
    "GUID",
    "CloseCode",
    "FrameGuard",
    "HandshakeError",
    "HandshakeRequest",
    "accept_token",
    "asks_for_websocket",
    "check_origin",
    "close_frame",
    "http_response",
    "message_frame",
    "origin_allowed",
    "parse_subprotocols",
    "synthetic_request_head",
    "validate_handshake",
]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WEBSOCKET_VERSION = "13"
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class CloseCode(enum.IntEnum):
    """The close codes this server sends (RFC 6455 §7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    ABNORMAL = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class HandshakeError(Exception):
    """A handshake we refuse; carries the HTTP answer (status, machine code, extra headers)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = tuple(headers)


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """What a valid upgrade request asked for."""

    key: str
    host: str
    subprotocols: tuple[str, ...] = ()
    origin: str | None = None


def _tokens(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(t.strip().lower() for t in value.split(",") if t.strip())
    return out


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def parse_subprotocols(headers: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The offered subprotocols in client order (``Sec-WebSocket-Protocol`` may repeat)."""
    out: list[str] = []
    for value in _values(headers, "sec-websocket-protocol"):
        for token in value.split(","):
            token = token.strip()
            if not token:
                continue
            if not _TOKEN_RE.match(token):
                raise HandshakeError(400, "bad_subprotocol", "invalid Sec-WebSocket-Protocol")
            out.append(token)
    return tuple(out)


def validate_handshake(
    method: str, http_version: str, headers: Sequence[tuple[str, str]]
) -> HandshakeRequest:
    """Check an upgrade request (headers with lower-case names); raise :class:`HandshakeError`."""
    if method != "GET":
        raise HandshakeError(400, "bad_method", "a websocket handshake must be a GET")
    try:
        major, minor = (int(p) for p in http_version.split(".", 1))
    except ValueError:
        raise HandshakeError(400, "bad_version", "unparsable HTTP version") from None
    if (major, minor) < (1, 1):
        raise HandshakeError(400, "bad_http_version", "websockets need HTTP/1.1 or later")
    hosts = _values(headers, "host")
    if len(hosts) != 1 or not hosts[0].strip():
        raise HandshakeError(400, "bad_host", "exactly one Host header is required")
    if "websocket" not in _tokens(_values(headers, "upgrade")):
        raise HandshakeError(400, "bad_upgrade", "the Upgrade header must name websocket")
    if "upgrade" not in _tokens(_values(headers, "connection")):
        raise HandshakeError(400, "bad_connection", "the Connection header must name upgrade")
    versions = _values(headers, "sec-websocket-version")
    supported = [("Sec-WebSocket-Version", WEBSOCKET_VERSION)]
    if len(versions) != 1:
        raise HandshakeError(
            400, "bad_ws_version", "exactly one Sec-WebSocket-Version is required", supported
        )
    if versions[0].strip() != WEBSOCKET_VERSION:
        raise HandshakeError(
            426, "unsupported_ws_version", "only version 13 is supported", supported
        )
    keys = _values(headers, "sec-websocket-key")
    if len(keys) != 1:
        raise HandshakeError(400, "bad_ws_key", "exactly one Sec-WebSocket-Key is required")
    key = keys[0].strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise HandshakeError(400, "bad_ws_key", "Sec-WebSocket-Key is not base64") from None
    if len(raw) != 16:
        raise HandshakeError(400, "bad_ws_key", "Sec-WebSocket-Key must decode to 16 bytes")
    origins = _values(headers, "origin")
    if len(origins) > 1:
        raise HandshakeError(400, "bad_origin", "more than one Origin header")
    return HandshakeRequest(
        key=key,
        host=hosts[0].strip(),
        subprotocols=parse_subprotocols(headers),
        origin=origins[0].strip() if origins else None,
    )


def accept_token(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _origin_tuple(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), parts.hostname.lower(), port or default


def origin_allowed(origin: str | None, host: str, cors: str | None) -> bool:
    """May a page from ``origin`` open a websocket here?

    Browsers do not apply CORS to websockets, so without this check any web page could talk
    to a handler with the visitor's credentials (cross-site websocket hijacking). Rules:
    no ``Origin`` (not a browser) -> allowed; ``cors`` configured -> ``*`` allows all, else the
    origin must be listed; ``cors`` unset -> the origin's host and port must be this server's
    ``Host`` (same origin).
    """
    if origin is None:
        return True
    if cors:
        allowed = [o.strip() for o in cors.split(",") if o.strip()]
        if "*" in allowed:
            return True
        mine = _origin_tuple(origin)
        return mine is not None and any(_origin_tuple(a) == mine for a in allowed)
    mine = _origin_tuple(origin)
    if mine is None:
        return False
    _, hostname, port = mine
    try:
        parts = urlsplit("//" + host)
        host_name, host_port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return False
    if host_name != hostname:
        return False
    return host_port is None or port is None or host_port == port


def check_origin(headers: Sequence[tuple[str, str]], cors: str | None) -> None:
    """The one ``Origin`` rule for everything that opens or uses a handler's connection:
    websocket upgrades and every long-poll request alike (:func:`origin_allowed`).

    Raises :class:`HandshakeError`: 400 for more than one ``Origin``, 403 for a refused one.
    Long-poll needs it as much as websockets: a foreign page cannot read the replies, but
    without it could still open connections (``on_connect``, ``on_ready``) and post data
    with the visitor's credentials.
    """
    origins = _values(headers, "origin")
    if not origins:
        return
    if len(origins) > 1:
        raise HandshakeError(400, "bad_origin", "more than one Origin header")
    hosts = _values(headers, "host")
    host = hosts[0].strip() if len(hosts) == 1 else ""
    if not origin_allowed(origins[0].strip(), host, cors):
        raise HandshakeError(403, "origin_refused", "this Origin may not connect")


def asks_for_websocket(headers: Sequence[tuple[str, str]]) -> bool:
    """Does the request ask to be upgraded to a websocket (``Upgrade`` names it)?"""
    return "websocket" in _tokens(_values(headers, "upgrade"))


def synthetic_request_head(target: str, req: HandshakeRequest) -> bytes:
    """A minimal, valid request head for wsproto, rebuilt from the validated request.

    The engine already parsed the real request with h11; wsproto needs to see one to enter
    its handshake state. Rebuilding only the fields wsproto reads (after our own stricter
    validation) avoids re-serialising arbitrary client header bytes.
    """
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {req.host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {req.key}",
        f"Sec-WebSocket-Version: {WEBSOCKET_VERSION}",
    ]
    if req.subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(req.subprotocols))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_response(
    status: int,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    server: str = "trioserve",
    date: str | None = None,
) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response (used for handshake refusals)."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    if date:
        lines.append(f"Date: {date}")
    lines.append(f"Server: {server}")
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def message_frame(message: str | bytes) -> tuple[bytes, bytes]:
    """One whole message as an unmasked (server) frame: ``(header, payload)``.

    Text for ``str`` (UTF-8), binary for ``bytes``. Returned in two parts so that a large
    payload can be written after its header instead of being copied next to it.
    """
    if isinstance(message, str):
        payload, first = message.encode("utf-8"), 0x81
    else:
        payload, first = message, 0x82
    n = len(payload)
    if n < 126:
        return bytes((first, n)), payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n), payload
    return struct.pack("!BBQ", first, 127, n), payload


def close_frame(code: int, reason: str = "") -> bytes:
    """An unmasked (server) Close frame; the reason is cut to fit a control frame."""
    payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
    return bytes([0x88, len(payload)]) + payload


class FrameGuard:
    """Follows client frame boundaries and stops a message before it grows too big.

    Fed the same bytes wsproto will get, :meth:`feed` returns how many of them may pass.
    When a data frame's header announces a length that takes the current message past
    ``max_message_size``, it returns the offset where that frame starts and sets
    :attr:`violation`; nothing of that frame's payload reaches the parser. Headers the
    parser will reject anyway (reserved opcodes, non-minimal or 2^63+ lengths) are let
    through so wsproto answers them with its own, more precise code (1002).
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self.violation: str | None = None
        self._head = bytearray()
        self._skip = 0
        self._message = 0

    def feed(self, data: bytes | bytearray) -> int:
        if self.violation is not None:
            return 0
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            if self._head:
                # a header begun in an earlier chunk: complete it byte by byte
                self._head.append(data[pos])
                pos += 1
                need = _header_length(self._head)
                if need is None or len(self._head) < need:
                    continue
                head = bytes(self._head)
                self._head.clear()
                if not self._frame_ok(head[0], _payload_length(head)):
                    return 0  # that header's first bytes have already passed
                continue
            # the common case: a whole header inside this chunk, read without copying
            need = _header_length(data, pos)
            if need is None or n - pos < need:
                self._head += data[pos:]
                return n
            if not self._frame_ok(data[pos], _payload_length(data, pos)):
                return pos
            pos += need
        return n

    def _frame_ok(self, first: int, length: int) -> bool:
        """Account for one frame header; False (and :attr:`violation`) past the limit."""
        self._skip = length
        opcode = first & 0x0F
        if opcode >= 8 or length >> 63:
            return True
        if opcode in (1, 2):
            self._message = 0
        elif opcode != 0:
            return True
        self._message += length
        if self._message > self.max_message_size:
            self._skip = 0
            self.violation = f"message exceeds {self.max_message_size} bytes"
            return False
        return True


def _header_length(data: bytes | bytearray, pos: int = 0) -> int | None:
    """The length of the frame header starting at ``pos``, once its second byte is there."""
    if len(data) - pos < 2:
        return None
    second = data[pos + 1]
    short = second & 0x7F
    return 2 + (2 if short == 126 else 8 if short == 127 else 0) + (4 if second & 0x80 else 0)


def _payload_length(head: bytes | bytearray, pos: int = 0) -> int:
    """The payload length announced by the complete frame header at ``pos``."""
    short = head[pos + 1] & 0x7F
    if short == 126:
        return int.from_bytes(head[pos + 2 : pos + 4], "big")
    if short == 127:
        return int.from_bytes(head[pos + 2 : pos + 10], "big")
    return short
