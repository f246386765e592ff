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


def decode_pairs(data: bytes, *, max_count: int | None = None) -> list[tuple[bytes, bytes]]:
    """Decode a complete name-value stream into raw pairs, in order.

    Raises :class:`ProtocolError` if a length runs past the end of ``data`` or there are more
    than ``max_count`` pairs. Lengths are compared against what is actually there *before*
    slicing, so a 2 GiB length announcement costs nothing.
    """
    pairs: list[tuple[bytes, bytes]] = []
    pos, size = 0, len(data)
    while pos < size:
        name_len, pos = _read_length(data, pos)
        value_len, pos = _read_length(data, pos)
        if name_len + value_len > size - pos:
            raise ProtocolError(
                f"name-value pair announces {name_len}+{value_len} bytes, only {size - pos} remain"
            )
        if max_count is not None and len(pairs) >= max_count:
            raise ProtocolError(f"more than {max_count} params")
        name = data[pos : pos + name_len]
        pos += name_len
        pairs.append((name, data[pos : pos + value_len]))
        pos += value_len
    return pairs


def decode_params(data: bytes, *, max_count: int | None = None) -> dict[str, str]:
    """Decode a complete PARAMS stream into a dict (a repeated name: the last one wins)."""
    return {
        name.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for name, value in decode_pairs(data, max_count=max_count)
    }
