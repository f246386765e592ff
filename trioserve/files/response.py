"""One file as a :class:`~trioserve.call.Response`: validators, preconditions, ranges, gzip.

The HTTP part is transport-independent: :func:`file_response` turns a path and a
:class:`~trioserve.call.Call` into a :class:`~trioserve.call.Response` with the validators,
precondition evaluation (RFC 9110 §13.2.2), ranges (§14) and gzip; engines only write it out.

Choices (see ``docs/files.md``):

* ETag is **strong**: ``"<size hex>-<mtime_ns hex>"``, the gzip variant ``"<...>-gz"``. Our gzip
  output is deterministic (fixed level, mtime 0), so a strong tag is honest and If-Range works.
* Range is served on the identity representation only; a Range request is never gzipped.
  Several ranges get ``multipart/byteranges`` (JSROOT reads ROOT files that way); which Range
  headers are ignored is decided in :mod:`trioserve.files.conditional`.
* HEAD gets exactly the headers of GET (Content-Length included) and an empty async body whose
  ``content_length`` is the GET length, so ``Response.length`` stays right and nothing is read.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import secrets
import stat
import time
from pathlib import Path

import trio

from trioserve.call import NO_CACHE, Call, Response, error_response
from trioserve.files.body import GZIP_LEVEL, FileBody, NoBody, read_all
from trioserve.files.conditional import header_all, if_range_allows, parse_range, preconditions
from trioserve.mime import is_compressible, mime_type

__all__ = ["GZIP_MEMORY_LIMIT", "GZIP_MIN_SIZE", "file_response", "not_found"]

#: below this size gzip does not pay for its own header and the Vary it forces on caches
GZIP_MIN_SIZE = 256
#: compressible files up to this size are gzipped in memory (Content-Length known);
#: larger ones are streamed through zlib without a Content-Length
GZIP_MEMORY_LIMIT = 256 * 1024


def not_found() -> Response:
    """The one 404 for refused, missing and unlistable alike, so none can be told apart."""
    return error_response(404, "not_found", "no such file")


async def file_response(
    call: Call,
    path: str | os.PathLike[str],
    *,
    max_age: int = 3600,
    nocache: bool = False,
    chunk_size: int = 64 * 1024,
) -> Response:
    """Answer GET/HEAD for one regular file with validators, preconditions, ranges and gzip.

    The caller has already decided the path is allowed (see :func:`resolve`). Statuses: 200,
    206, 304, 412, 416, and 404 when the file vanished or is not a regular file.
    """
    path = Path(path)
    try:
        st = await trio.Path(path).stat()
    except OSError:
        return not_found()
    if not stat.S_ISREG(st.st_mode):
        return not_found()
    size, mtime_ns = st.st_size, st.st_mtime_ns
    expect = (size, mtime_ns)
    now = time.time()
    ctype = mime_type(path.name)
    # Last-Modified never lies in the future (RFC 9110 §8.8.2.1) and has 1 s resolution
    last_modified = min(mtime_ns // 1_000_000_000, int(now))
    identity_etag = f'"{size:x}-{mtime_ns:x}"'
    gzip_applies = is_compressible(ctype) and size >= GZIP_MIN_SIZE

    headers: list[tuple[str, str]] = [
        ("Cache-Control", NO_CACHE if nocache else f"max-age={max(0, int(max_age))}"),
        ("Last-Modified", email.utils.formatdate(last_modified, usegmt=True)),
        ("Accept-Ranges", "bytes"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if gzip_applies:
        headers.append(("Vary", "Accept-Encoding"))

    ranges: list[tuple[int, int]] | None = None
    range_value = header_all(call, "range") if call.method == "GET" else None
    if range_value is not None:
        if_range = call.header("if-range")
        if if_range is None or if_range_allows(if_range, identity_etag, last_modified):
            ranges = parse_range(range_value, size)
    use_gzip = gzip_applies and ranges is None and call.accepts_gzip()
    etag = identity_etag[:-1] + '-gz"' if use_gzip else identity_etag
    headers.append(("ETag", etag))

    status = preconditions(call, etag, last_modified, now)
    if status == 304:
        return Response(status=304, content_type=ctype, headers=headers, body=b"")
    if status == 412:
        response = error_response(412, "precondition_failed", "precondition failed")
        response.headers.append(("ETag", etag))
        return response

    head = call.method == "HEAD"
    if ranges is not None and not ranges:
        response = error_response(416, "range_not_satisfiable", "range not satisfiable")
        response.headers += [("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")]
        return response

    def make(status: int, parts: list[bytes | tuple[int, int]], length: int, kind: str) -> Response:
        # HEAD: same headers and length as GET, a body that sends (and reads) nothing
        body = NoBody() if head else FileBody(path, parts, expect=expect, chunk_size=chunk_size)
        return Response(status, kind, headers, body, content_length=length)

    if ranges is not None and len(ranges) == 1:
        first, last = ranges[0]
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        response = make(206, [(first, last - first + 1)], last - first + 1, ctype)
        return await _small_in_memory(response, chunk_size)
    if ranges is not None:
        boundary = secrets.token_hex(16)
        parts: list[bytes | tuple[int, int]] = []
        for n, (first, last) in enumerate(ranges):
            lead = "\r\n" if n else ""
            parts.append(
                f"{lead}--{boundary}\r\nContent-Type: {ctype}\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n".encode()
            )
            parts.append((first, last - first + 1))
        parts.append(f"\r\n--{boundary}--\r\n".encode())
        length = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
        multipart = f"multipart/byteranges; boundary={boundary}"
        return await _small_in_memory(make(206, parts, length, multipart), chunk_size)

    if use_gzip:
        headers.append(("Content-Encoding", "gzip"))
        if size <= GZIP_MEMORY_LIMIT:
            data = await read_all(FileBody(path, [(0, size)], expect=expect))
            packed = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
            if head:
                return Response(200, ctype, headers, NoBody(), content_length=len(packed))
            return Response(200, ctype, headers, packed)
        if head:
            return Response(200, ctype, headers, NoBody(), content_length=None)
        body = FileBody(path, [(0, size)], expect=expect, chunk_size=chunk_size, gzip=True)
        return Response(200, ctype, headers, body, content_length=None)

    return await _small_in_memory(make(200, [(0, size)], size, ctype), chunk_size)


async def _small_in_memory(response: Response, chunk_size: int) -> Response:
    """Bodies of at most one chunk are read now: engines send bytes in one write."""
    body = response.body
    if (
        isinstance(body, FileBody)
        and response.content_length is not None
        and response.content_length <= chunk_size
    ):
        response.body = await read_all(body)
        response.content_length = None
    return response
