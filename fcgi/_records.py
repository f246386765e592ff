"""FastCGI 1.0 record framing (the wire constants are in :mod:`fcgi._constants`).

A record is an 8-byte header (version, type, request id, content length, padding length,
reserved) followed by the content and the padding. Content is at most 65535 bytes, so longer
streams are split; padding is accepted on input (it is the peer's business) and never produced
on output (Apache, lighttpd and nginx all accept unpadded records).

:class:`RecordReader` is the incremental decoder: it holds at most the bytes fed to it and
hands out whole records, raising :class:`~fcgi.ProtocolError` for anything that cannot be a
valid record header. Record *semantics* (which types are legal when) live in
:mod:`fcgi._connection`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from fcgi._constants import (
    FCGI_VERSION_1,
    HEADER_LEN,
    MAX_CONTENT,
    BeginFlags,
    ProtocolStatus,
    RecordType,
    Role,
)
from fcgi._errors import ProtocolError

__all__ = [
    "FCGI_VERSION_1",
    "HEADER_LEN",
    "MAX_CONTENT",
    "BeginFlags",
    "ProtocolStatus",
    "Record",
    "RecordReader",
    "RecordType",
    "Role",
    "decode_begin_body",
    "decode_end_body",
    "encode_begin_request",
    "encode_end_request",
    "encode_record",
    "encode_stream",
]

_HEADER = struct.Struct(">BBHHBx")
_BEGIN_BODY = struct.Struct(">HB5x")
_END_BODY = struct.Struct(">IB3x")


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record. ``type`` stays an ``int`` because unknown types are legal input
    (management records of unknown type must be answered, not rejected)."""

    type: int
    request_id: int
    content: bytes


def encode_record(
    type: int, request_id: int, content: bytes | bytearray | memoryview = b"", padding: int = 0
) -> bytes:
    """Encode exactly one record. ``padding`` exists so tests can produce padded input."""
    if len(content) > MAX_CONTENT:
        raise ValueError(f"record content of {len(content)} bytes exceeds {MAX_CONTENT}")
    if not 0 <= padding <= 255:
        raise ValueError("padding must be 0..255")
    if not 0 <= request_id <= 0xFFFF:
        raise ValueError("request id must be 0..65535")
    header = _HEADER.pack(FCGI_VERSION_1, type, request_id, len(content), padding)
    return b"".join((header, content, b"\0" * padding))


def encode_stream(
    type: int,
    request_id: int,
    data: bytes | bytearray | memoryview,
    *,
    end: bool = False,
) -> bytes:
    """Encode ``data`` as records of at most 65535 bytes, plus the empty end record if ``end``.

    Empty ``data`` produces no record at all (an empty record would *end* the stream), unless
    ``end`` asks for exactly that. Slicing a memoryview keeps the one unavoidable copy (into
    the output buffer) the only copy.
    """
    view = memoryview(data).cast("B")
    parts: list[bytes | memoryview] = []
    for start in range(0, len(view), MAX_CONTENT):
        chunk = view[start : start + MAX_CONTENT]
        parts.append(_HEADER.pack(FCGI_VERSION_1, type, request_id, len(chunk), 0))
        parts.append(chunk)
    if end:
        parts.append(_HEADER.pack(FCGI_VERSION_1, type, request_id, 0, 0))
    return b"".join(parts)


def encode_begin_request(
    request_id: int, role: int = Role.RESPONDER, keep_conn: bool = False
) -> bytes:
    """A BEGIN_REQUEST record, as a front-end sends it (for tests and clients)."""
    flags = BeginFlags.KEEP_CONN if keep_conn else 0
    return encode_record(RecordType.BEGIN_REQUEST, request_id, _BEGIN_BODY.pack(role, flags))


def encode_end_request(
    request_id: int,
    app_status: int = 0,
    protocol_status: int = ProtocolStatus.REQUEST_COMPLETE,
) -> bytes:
    return encode_record(
        RecordType.END_REQUEST,
        request_id,
        _END_BODY.pack(app_status & 0xFFFFFFFF, protocol_status),
    )


def decode_begin_body(content: bytes) -> tuple[int, int]:
    """(role, flags) of a BEGIN_REQUEST body; the caller has checked the length is 8."""
    role, flags = _BEGIN_BODY.unpack(content)
    return role, flags


def decode_end_body(content: bytes) -> tuple[int, int]:
    """(app status, protocol status) of an END_REQUEST body (used by test clients)."""
    app_status, protocol_status = _END_BODY.unpack(content)
    return app_status, protocol_status


class RecordReader:
    """Incremental record decoder: ``feed(bytes)``, then ``next_record()`` until ``None``.

    Consumed bytes are dropped lazily (a read offset plus an occasional compaction), so
    decoding a large STDIN stream costs O(bytes) rather than O(bytes x records).
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as records (a partial record at EOF)."""
        return len(self._buf) - self._pos

    def next_record(self) -> Record | None:
        found = self.next_raw()
        return None if found is None else Record(*found)

    def next_raw(self) -> tuple[int, int, bytes] | None:
        """:meth:`next_record` as a plain ``(type, request id, content)`` tuple: what
        :class:`~fcgi.ServerConnection` reads every record with (no object per record)."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        version, rtype, request_id, content_len, padding_len = _HEADER.unpack_from(buf, pos)
        if version != FCGI_VERSION_1:
            raise ProtocolError(f"unsupported FastCGI version {version} (only 1 exists)")
        end = pos + HEADER_LEN + content_len
        if len(buf) < end + padding_len:
            return None
        content = bytes(buf[pos + HEADER_LEN : end])
        self._pos = end + padding_len
        if self._pos == len(buf):
            buf.clear()
            self._pos = 0
        return rtype, request_id, content
