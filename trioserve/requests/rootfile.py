"""``file.root``: the object as a real ROOT file (ROOT ≥ 6.32), with ranges and validators.

JSROOT's ``openFile(url)`` reads a ROOT file over HTTP in pieces: ``Range: bytes=0-1023`` for
the header, then the keys, the streamer infos and each object, several ranges per request
(``bytes=a-b,c-d``, answered as ``multipart/byteranges``). So the reply speaks RFC 9110 §13/§14
like a static file does (:mod:`trioserve.files`), reusing its parsing and precondition rules
from :mod:`trioserve.files.conditional`:

* one image per request: the object is copied under the server's object access (as
  ``root.json`` reads it), the file is written from the copy in a worker
  (:mod:`trioserve.render.rootfile`), and every range of the reply is cut from that one image;
* a strong ``ETag`` (a digest of the bytes; the same contents give the same bytes, see the
  renderer), so ``If-None-Match`` gives 304, ``If-Match`` 412 and ``If-Range`` works;
* a live object has no modification time, so there is no ``Last-Modified`` and the date
  conditions (``If-Modified-Since``, ``If-Unmodified-Since``, a date in ``If-Range``) are
  ignored, as RFC 9110 §13.1.3-4 says for a resource without one;
* ``file.root.gz`` is the whole file gzipped (the dispatcher's ``.gz``): ranges are not
  served on it, and its ETag differs;
* more ranges than :data:`~trioserve.files.conditional.MAX_RANGES`, overlapping ones or a bad
  header: the whole file (200), as for files; none satisfiable: 416.

Errors: an object with no ROOT form is 404 ``not_root_writable`` (as ``root.png`` of an object
that cannot be drawn), uproot missing is 501 ``root_extra_missing``.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time

from trioserve.call import Call, Response, error_response
from trioserve.context import RequestContext
from trioserve.errors import RequestError
from trioserve.files.conditional import header_all, if_range_allows, parse_range, preconditions
from trioserve.render.rootfile import (
    NotWritableError,
    RootFileImage,
    RootFileSnapshot,
    UprootMissingError,
    snapshot_root_file,
    write_root_file,
)

__all__ = ["HANDLERS", "file_root", "ranged_reply"]

CONTENT_TYPE = "application/octet-stream"
_DATE_CONDITIONS = ("if-modified-since", "if-unmodified-since")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")


def _snapshot(ctx: RequestContext) -> RootFileSnapshot:
    found = ctx.require()
    if found.node.is_folder or found.node.is_command:
        raise RequestError(404, "not_an_object", "this item is a folder or a command")
    name = found.members[-1] if found.members else found.node.name
    title = "" if found.members else found.node.title
    try:
        return snapshot_root_file(found.value, name, title)
    except NotWritableError as exc:
        raise RequestError(404, "not_root_writable", str(exc)) from None


def _without_dates(call: Call) -> Call:
    headers = [(k, v) for k, v in call.headers if k not in _DATE_CONDITIONS]
    return dataclasses.replace(call, headers=headers)


def ranged_reply(
    call: Call,
    data: bytes,
    etag: str,
    content_type: str,
    headers: list[tuple[str, str]],
    *,
    ranges_allowed: bool = True,
) -> Response:
    """``data`` (one representation with a strong ``etag`` and no modification date) as
    200, 206 (one range, or ``multipart/byteranges``), 304, 412 or 416 for ``call``."""
    size = len(data)
    headers = [*headers, ("ETag", etag)]
    if ranges_allowed:
        headers.append(("Accept-Ranges", "bytes"))
    status = preconditions(_without_dates(call), etag, 0, time.time())
    if status == 304:
        return Response(status=304, content_type=content_type, headers=headers, body=b"")
    if status == 412:
        response = error_response(412, "precondition_failed", "precondition failed")
        response.headers.append(("ETag", etag))
        return response

    ranges: list[tuple[int, int]] | None = None
    range_value = header_all(call, "range") if call.method == "GET" and ranges_allowed else None
    if range_value is not None:
        if_range = call.header("if-range")
        # a date can never match: there is no Last-Modified to compare it with
        if if_range is None or if_range_allows(if_range, etag, -1):
            ranges = parse_range(range_value, size)
    if ranges is None:
        return Response(200, content_type, headers, data)
    if not ranges:
        response = error_response(416, "range_not_satisfiable", "range not satisfiable")
        response.headers += [("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")]
        return response
    if len(ranges) == 1:
        first, last = ranges[0]
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        return Response(206, content_type, headers, data[first : last + 1])
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for n, (first, last) in enumerate(ranges):
        lead = "\r\n" if n else ""
        parts.append(
            f"{lead}--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n".encode()
        )
        parts.append(data[first : last + 1])
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    multipart = f"multipart/byteranges; boundary={boundary}"
    return Response(206, multipart, headers, b"".join(parts))


async def file_root(ctx: RequestContext) -> Response:
    """The item as a ROOT file holding it (ROOT's ``file.root``)."""
    snapshot = await ctx.run_on_item(lambda: _snapshot(ctx))
    label = f"writing {ctx.file_name} of /{ctx.item_path.strip('/')}"
    try:
        image: RootFileImage = await ctx.server.access.run_in_worker(
            lambda: write_root_file(snapshot), label=label
        )
    except UprootMissingError as exc:
        raise RequestError(501, "root_extra_missing", str(exc)) from None
    # a browser saves it as <item>.root rather than as yet another "file.root"
    filename = _UNSAFE_FILENAME.sub("_", ctx.item_path.rstrip("/").rpartition("/")[2])
    headers = [("Content-Disposition", f'attachment; filename="{filename or "object"}.root"')]
    etag = image.etag[:-1] + '-gz"' if ctx.gzip else image.etag
    return ranged_reply(
        ctx.call, image.data, etag, CONTENT_TYPE, headers, ranges_allowed=not ctx.gzip
    )


HANDLERS = {"file.root": file_root}
