"""The gzip of a generated reply (``X.gz`` requests), the fastest way installed.

A monitoring page asks for ``root.json.gz`` once a second per item and client, and every
microsecond of it is taken from the program being observed. python-isal (the ``speedups``
extra) compresses such JSON at level 1 in about half of zlib's level-1 time with output as
small or smaller (a 40x40 histogram: 13 µs instead of 25; 19 MB of floats: 55 ms instead of
146); without it, zlib at level 1. Both write a standard gzip member with mtime 0; the bytes
differ between the two, which is fine for replies that are never cached (no-cache, no ETag).

Files keep zlib at a fixed level (:mod:`trioserve.files.body`): their gzip bytes stand behind
a strong ETag, so they must not change when an optional package comes or goes.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from contextvars import ContextVar

from trioserve.call import Response

__all__ = ["BACKEND", "DEFER_ABOVE", "finish_gzip", "gzip_bytes", "gzip_response"]

#: set while a ``sync="app"`` program's own thread answers a request (:mod:`trioserve.parking`):
#: a body larger than this is left for the server's thread to compress (``gzip_pending``), so
#: a large reply costs the program its render only, as it did when every request crossed back
#: to the server's thread, where the compressor runs beside the program on another core.
#: None (elsewhere): compress at once.
DEFER_ABOVE: ContextVar[int | None] = ContextVar("trioserve_gzip_defer_above", default=None)


def _zlib(data: bytes) -> bytes:
    # level 1: live data (floats above all) compresses almost as well as at 6 for a fifth
    # of the CPU
    return gzip.compress(data, compresslevel=1, mtime=0)


def _pick() -> tuple[str, Callable[[bytes], bytes]]:
    try:
        from isal import isal_zlib
    except ImportError:
        return "zlib", _zlib

    def _isal(data: bytes) -> bytes:
        return isal_zlib.compress(data, 1, 31)  # wbits 31: a gzip member, mtime 0

    return "isal", _isal


#: which compressor :func:`gzip_bytes` uses: ``"isal"`` or ``"zlib"``
BACKEND, _compress = _pick()


def gzip_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` as one gzip member, at the fastest setting that keeps zlib's level-1 ratio."""
    return _compress(bytes(data) if not isinstance(data, bytes) else data)


def gzip_response(response: Response) -> Response:
    """The ``.gz`` reply of a generated ``response`` (bytes bodies; a stream is left as is).
    Above :data:`DEFER_ABOVE` its head says gzip already but the body waits
    (``gzip_pending``) for :func:`finish_gzip` in the server's thread."""
    body = response.body
    if not isinstance(body, bytes | bytearray):
        return response
    response.set_header("Content-Encoding", "gzip")
    # ROOT gzips ``.gz`` names whatever the client says; naming the header keeps caches
    # (and REDbot) from taking this for an unannounced negotiation
    response.headers.append(("Vary", "Accept-Encoding"))
    response.gzip_pending = True
    limit = DEFER_ABOVE.get()
    if limit is None or len(body) <= limit:
        finish_gzip(response)
    return response


def finish_gzip(response: Response) -> None:
    """Compress the body :func:`gzip_response` left pending (nothing if none is)."""
    if response.gzip_pending and isinstance(response.body, bytes | bytearray):
        response.body = gzip_bytes(response.body)
        response.content_length = None
        response.gzip_pending = False
