"""FastCGI name-value pairs (specification section 3.4).

Each length is one byte when below 128, otherwise four bytes with the top bit set (31 bits of
length). Names and values are opaque bytes on the wire. We decode them as UTF-8 with
``errors="replace"``, like :func:`urllib.parse.unquote` does for the HTTP engine, so that a
malformed byte sequence can never turn into an exception later in a renderer or a JSON error
body; front-ends only send text there (lighttpd and Apache pass UTF-8 paths through).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from fcgi._errors import ProtocolError

__all__ = ["decode_pairs", "decode_params", "encode_pair", "encode_params"]

_LEN4 = struct.Struct(">I")
_MAX_LEN = 0x7FFFFFFF


def _encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n > _MAX_LEN:
        raise ValueError(f"name-value length {n} does not fit 31 bits")
    return _LEN4.pack(n | 0x80000000)


def encode_pair(name: bytes, value: bytes) -> bytes:
    return b"".join((_encode_length(len(name)), _encode_length(len(value)), name, value))


def encode_params(params: Iterable[tuple[str | bytes, str | bytes]] | dict[str, str]) -> bytes:
    """Encode pairs (``str`` is UTF-8 encoded). Used by test clients and GET_VALUES_RESULT."""
    items = params.items() if isinstance(params, dict) else params
    out = []
    for name, value in items:
        n = name.encode() if isinstance(name, str) else name
        v = value.encode() if isinstance(value, str) else value
        out.append(encode_pair(n, v))
    return b"".join(out)


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise ProtocolError("name-value pair truncated in its length field")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if pos + 4 > len(data):
        raise ProtocolError("name-value pair truncated in its 4-byte length field")
    return _LEN4.unpack_from(data, pos)[0] & _MAX_LEN, pos + 4


def _spans(data: bytes, max_count: int | None) -> list[tuple[int, int, int]]:
    """``(name start, value start, value end)`` of every pair, in order.

    The one loop both decoders share: lengths are compared against what is actually there
    *before* anything is sliced, so a 2 GiB length announcement costs nothing. Written for
    speed (every request's params pass through it): one-byte lengths, by far the most
    common, are read inline.
    """
    spans: list[tuple[int, int, int]] = []
    pos, size = 0, len(data)
    limit = size if max_count is None else max_count  # a pair takes 2+ bytes: never reached
    while pos < size:
        name_len = data[pos]
        if name_len < 0x80:
            pos += 1
        else:
            name_len, pos = _read_length(data, pos)
        if pos < size and data[pos] < 0x80:
            value_len = data[pos]
            pos += 1
        else:
            value_len, pos = _read_length(data, pos)
        if name_len + value_len > size - pos:
            raise ProtocolError(
                f"name-value pair announces {name_len}+{value_len} bytes, only {size - pos} remain"
            )
        if len(spans) >= limit:
            raise ProtocolError(f"more than {max_count} params")
        value = pos + name_len
        pos = value + value_len
        spans.append((value - name_len, value, pos))
    return spans


def decode_pairs(data: bytes, *, max_count: int | None = None) -> list[tuple[bytes, bytes]]:
    """Decode a complete name-value stream into raw pairs, in order.

    Raises :class:`ProtocolError` if a length runs past the end of ``data`` or there are more
    than ``max_count`` pairs. Lengths are compared against what is actually there *before*
    slicing, so a 2 GiB length announcement costs nothing.
    """
    return [(data[a:b], data[b:c]) for a, b, c in _spans(data, max_count)]


def decode_params(data: bytes, *, max_count: int | None = None) -> dict[str, str]:
    """Decode a complete PARAMS stream into a dict (a repeated name: the last one wins).

    Every request's params pass through here, so it decodes the whole stream once as
    latin-1 (one character per byte, so the byte offsets index the text) and slices that;
    only a name or value that is not plain ASCII is decoded again, properly, as UTF-8.
    """
    text = data.decode("latin-1")
    if data.isascii():  # no 4-byte length, no UTF-8 (the common case): nothing to re-check
        return {text[a:b]: text[b:c] for a, b, c in _spans(data, max_count)}
    params: dict[str, str] = {}
    for a, b, c in _spans(data, max_count):
        name, value = text[a:b], text[b:c]
        if not name.isascii():
            name = data[a:b].decode("utf-8", "replace")
        if not value.isascii():
            value = data[b:c].decode("utf-8", "replace")
        params[name] = value
    return params
