"""Static file locations: safe path resolution, conditional and partial GETs, streaming.

ROOT maps URL prefixes (``jsrootsys/``, ``currentdir/``, ``AddLocation``) to directories and
lets civetweb do the HTTP part (thttpserver.md §2.3). We keep the idea and fix the defects:

* a prefix matches at the **start** of the path only (ROOT finds it anywhere, so
  ``/x/currentdir/f`` was a file request);
* locations are opt-in: nothing is served until the owner adds a location (``currentdir/`` is
  off unless switched on);
* every path is checked twice -- lexically (``..``, ``.``, empty segments, backslashes, NUL,
  control characters, surviving ``%2e``/``%2f``/``%5c``/``%00``, absolute paths, dotfiles) and on
  disk (each component ``lstat``-ed, symlinks refused unless the location follows them, and the
  real path must stay inside the real location directory);
* only regular files and directories are ever served (a FIFO would block a reader forever).

The HTTP part is transport-independent: :func:`file_response` turns a path and a
:class:`~trioserve.call.Call` into a :class:`~trioserve.call.Response` with the validators,
precondition evaluation (RFC 9110 §13.2.2), ranges (§14) and gzip; engines only write it out.

Choices (see ``docs/files.md``):

* ETag is **strong**: ``"<size hex>-<mtime_ns hex>"``, the gzip variant ``"<...>-gz"``. Our gzip
  output is deterministic (fixed level, mtime 0), so a strong tag is honest and If-Range works.
* Range is served on the identity representation only; a Range request is never gzipped.
  Several ranges get ``multipart/byteranges`` (JSROOT reads ROOT files that way); overlapping or
  more than :data:`MAX_RANGES` ranges, bad syntax, or numbers of 19+ digits make us ignore the
  Range header and send the full 200, which RFC 9110 §14.2 allows.
* HEAD gets exactly the headers of GET (Content-Length included) and an empty async body whose
  ``content_length`` is the GET length, so ``Response.length`` stays right and nothing is read.
* A file that changes size or mtime between the headers and the first read raises
  :class:`FileChangedError` from the body iterator; the engine must then drop the connection,
  because the promised Content-Length and ETag would be a lie.
"""

from __future__ import annotations

import calendar
import email.utils
import gzip
import html
import itertools
import logging
import os
import re
import secrets
import stat
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import trio

from trioserve.call import NO_CACHE, Call, Response, error_response
from trioserve.errors import ConfigError, RegistrationError
from trioserve.mime import is_compressible, mime_type

__all__ = [
    "CURRENTDIR",
    "GZIP_MEMORY_LIMIT",
    "GZIP_MIN_SIZE",
    "JSROOTSYS",
    "MAX_RANGES",
    "NO_CACHE",
    "FileBody",
    "FileChangedError",
    "Location",
    "Locations",
    "default_locations",
    "directory_listing",
    "file_response",
    "resolve",
    "serve_location",
]

log = logging.getLogger("trioserve.files")

CURRENTDIR = "currentdir/"
JSROOTSYS = "jsrootsys/"

#: below this size gzip does not pay for its own header and the Vary it forces on caches
GZIP_MIN_SIZE = 256
#: compressible files up to this size are gzipped in memory (Content-Length known);
#: larger ones are streamed through zlib without a Content-Length
GZIP_MEMORY_LIMIT = 256 * 1024
#: more ranges than this in one request: answered with the full 200
MAX_RANGES = 256
#: directory listings stop after this many entries (a huge directory must not build a huge page)
MAX_LISTING_ENTRIES = 10_000

_GZIP_LEVEL = 6
# "%2e", "%2f", "%5c", "%00" that survived the engine's single decoding: a double-encoded
# attack. We never decode again, but a proxy or a later layer might, so refuse them outright.
_ENCODED_DANGER = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ETAG = re.compile(r'(W/)?"([^"]*)"')
_RANGE_SPEC = re.compile(r"^\s*(\d{0,18})\s*-\s*(\d{0,18})\s*$")


class FileChangedError(OSError):
    """The file changed between building the headers and reading it; abort the response."""


# --------------------------------------------------------------------------- locations


@dataclass(frozen=True, slots=True)
class Location:
    """One prefix -> directory mapping and what it allows."""

    prefix: str
    directory: Path
    follow_symlinks: bool = False
    dirlisting: bool = False
    dotfiles: bool = False


def _normalise_prefix(prefix: str) -> str:
    if prefix.startswith("/"):
        prefix = prefix[1:]
    if not prefix.endswith("/") or prefix == "/" or not prefix:
        raise ConfigError(f"location prefix must be a name ending with '/', got {prefix!r}")
    segments = prefix[:-1].split("/")
    for seg in segments:
        if seg in ("", ".", "..") or "\\" in seg or "%" in seg or _CONTROL.search(seg):
            raise ConfigError(f"location prefix {prefix!r} has an unusable segment {seg!r}")
    return prefix


class Locations:
    """The server's prefix -> directory table (ROOT's ``AddLocation``).

    Empty by default: exposing files is the owner's decision. When prefixes nest (``a/`` and
    ``a/b/``) the longest one wins, so a sub-location can have different rules.
    """

    def __init__(self) -> None:
        self._by_prefix: dict[str, Location] = {}

    def add(
        self,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        follow_symlinks: bool = False,
        dirlisting: bool = False,
        dotfiles: bool = False,
    ) -> Location:
        """Add or replace a location. ``prefix`` like ``"mydir/"`` (a leading ``/`` is dropped).

        The directory is made absolute now, so a later ``chdir`` does not silently change what
        is served; it must exist, because a typo should fail at configuration time.
        """
        norm = _normalise_prefix(prefix)
        path = Path(os.path.abspath(os.fspath(directory)))
        if not path.is_dir():
            raise ConfigError(f"location {norm!r}: {str(path)!r} is not a directory")
        location = Location(norm, path, follow_symlinks, dirlisting, dotfiles)
        self._by_prefix[norm] = location
        return location

    def remove(self, prefix: str) -> None:
        """Remove a location; removing one that does not exist is an error (a likely typo)."""
        norm = _normalise_prefix(prefix)
        try:
            del self._by_prefix[norm]
        except KeyError:
            raise RegistrationError(f"no location {norm!r}") from None

    def get(self, prefix: str) -> Location | None:
        return self._by_prefix.get(_normalise_prefix(prefix))

    def __contains__(self, prefix: object) -> bool:
        return isinstance(prefix, str) and self.get(prefix) is not None

    def __iter__(self) -> Iterator[Location]:
        return iter(list(self._by_prefix.values()))

    def __len__(self) -> int:
        return len(self._by_prefix)

    def match(self, url_path: str) -> tuple[Location, str] | None:
        """``/mydir/a/b.txt`` -> ``(location of "mydir/", "a/b.txt")``; None when no prefix
        starts the path. Only the single leading ``/`` is skipped: ``//mydir/x`` matches
        nothing, and ``/x/mydir/f`` never matches ``mydir/``.
        """
        rest = url_path[1:] if url_path.startswith("/") else url_path
        best: Location | None = None
        for prefix, location in self._by_prefix.items():
            if rest.startswith(prefix) and (best is None or len(prefix) > len(best.prefix)):
                best = location
        if best is None:
            return None
        return best, rest[len(best.prefix) :]


def default_locations(
    *,
    jsrootsys: str | os.PathLike[str] | None = None,
    currentdir: bool | str | os.PathLike[str] = False,
) -> Locations:
    """The locations ROOT has by default, made opt-in.

    ``jsrootsys`` is a JSROOT distribution directory (e.g. ``node_modules/jsroot``), or None.
    ``currentdir`` is off unless True (the working directory at this call) or a directory.
    ``rootsys/`` has no Python counterpart and is not provided.
    """
    locations = Locations()
    if jsrootsys is not None:
        locations.add(JSROOTSYS, jsrootsys)
    if currentdir is not False:
        locations.add(CURRENTDIR, os.getcwd() if currentdir is True else currentdir)
    return locations


def _lexical_refusal(location: Location, relative: str) -> tuple[str | None, list[str]]:
    """Why ``relative`` is refused without touching the disk, and its segments otherwise."""
    if "\x00" in relative:
        return "NUL byte", []
    if "\\" in relative:
        return "backslash", []
    if _CONTROL.search(relative):
        return "control character", []
    if _ENCODED_DANGER.search(relative):
        return "encoded dot, slash, backslash or NUL", []
    if relative.startswith("/"):
        return "absolute path", []
    segments = relative.split("/") if relative else []
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash: a directory request
    for seg in segments:
        if seg == "":
            return "empty segment", []
        if seg in (".", ".."):
            return "dot segment", []
        if seg.startswith(".") and not location.dotfiles:
            return "dotfile", []
    return None, segments


def _has_dot_part(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _resolve(location: Location, relative: str) -> tuple[Path | None, str]:
    reason, segments = _lexical_refusal(location, relative)
    if reason is not None:
        return None, reason
    base = Path(os.path.realpath(location.directory))
    current = base
    try:
        for seg in segments:
            current = current / seg
            st = os.lstat(current)
            if stat.S_ISLNK(st.st_mode):
                if not location.follow_symlinks:
                    return None, "symlink (location does not follow symlinks)"
                real = Path(os.path.realpath(current))
                if not real.is_relative_to(base):
                    return None, "symlink points outside the location"
                if not location.dotfiles and _has_dot_part(real, base):
                    return None, "symlink points to a dotfile"
                current = real
        real = Path(os.path.realpath(current))
        # defence in depth: whatever happened above, the answer must lie inside the base
        if not real.is_relative_to(base):
            return None, "outside the location"
        st = os.stat(real)
    except (OSError, ValueError):
        return None, "missing"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None, "not a regular file or directory"
    return real, "ok"


def resolve(location: Location, relative: str) -> Path | None:
    """The real path of ``relative`` (already percent-decoded) inside the location, or None.

    None means "answer 404": refused by a rule or simply missing -- the two must look the same
    so nobody can probe which files exist behind a refusal. Returns directories too; the caller
    decides whether a listing is allowed.
    """
    return _resolve(location, relative)[0]


# --------------------------------------------------------------------------- bodies


class _NoBody:
    """An async body with no chunks: HEAD replies carry ``content_length`` but send nothing."""

    def __aiter__(self) -> _NoBody:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        return None


class FileBody:
    """Async iterator over a file's bytes (or a list of slices and literal parts).

    Why a class and not an async generator: an engine whose ``async for`` is cancelled does not
    close a generator, so its file would stay open until garbage collection. Here the file is
    opened lazily on the first ``__anext__`` (an unconsumed HEAD/error body never opens it),
    closed at the end, on any exception inside ``__anext__`` (cancellation included), by
    :meth:`aclose`, and as a last resort in ``__del__``. Engines should still ``aclose()``
    bodies that have it in their ``finally``.

    One chunk is read per ``__anext__``, so the consumer's pace is the read pace
    (backpressure); at most ``chunk_size`` bytes of the file are in memory at once.
    """

    def __init__(
        self,
        path: Path,
        parts: list[bytes | tuple[int, int]],
        *,
        expect: tuple[int, int],
        chunk_size: int = 64 * 1024,
        gzip: bool = False,
    ) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._path = path
        self._parts = list(parts)
        self._expect = expect  # (size, mtime_ns) the headers were built from
        self._chunk_size = chunk_size
        self._file: Any = None  # trio's AsyncIOWrapper around a binary file
        self._index = 0
        self._remaining: int | None = None
        self._compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
        self._done = False

    @property
    def closed(self) -> bool:
        return self._done and self._file is None

    def __aiter__(self) -> FileBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        try:
            chunk = await self._next_chunk()
        except BaseException:
            self._close_now()
            raise
        if chunk is None:
            self._close_now()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Close the file; safe to call many times, never blocks, never raises."""
        self._close_now()

    def _close_now(self) -> None:
        # Closing a read-only regular file does not block, so do it synchronously: this works
        # inside a cancelled scope and from __del__, where awaiting is impossible.
        self._done = True
        if self._file is not None:
            file, self._file = self._file, None
            file.wrapped.close()

    def __del__(self) -> None:
        if self._file is not None:
            self._close_now()

    async def _open(self) -> None:
        file = await trio.open_file(self._path, "rb")
        self._file = file
        st = os.fstat(file.wrapped.fileno())
        if (st.st_size, st.st_mtime_ns) != self._expect:
            raise FileChangedError(f"{self._path} changed while being served")

    async def _next_chunk(self) -> bytes | None:
        while self._index < len(self._parts):
            part = self._parts[self._index]
            if isinstance(part, bytes):
                self._index += 1
                if part:
                    return part
                continue
            start, length = part
            if self._remaining is None:
                if self._file is None:
                    await self._open()
                assert self._file is not None
                await self._file.seek(start)
                self._remaining = length
            if self._remaining == 0:
                self._remaining = None
                self._index += 1
                continue
            assert self._file is not None
            data = await self._file.read(min(self._chunk_size, self._remaining))
            if not data:
                raise FileChangedError(f"{self._path} shrank while being served")
            self._remaining -= len(data)
            if self._compressor is None:
                return bytes(data)
            out = self._compressor.compress(data)
            if out:
                return out
        if self._compressor is not None:
            out = self._compressor.flush()
            self._compressor = None
            if out:
                return out
        return None


async def _read_all(body: FileBody) -> bytes:
    try:
        return b"".join([chunk async for chunk in body])
    finally:
        await body.aclose()


# --------------------------------------------------------------------------- HTTP helpers


def _header_all(call: Call, name: str) -> str | None:
    """:meth:`Call.header_all`, with ``None`` for an absent header."""
    return call.header_all(name) or None


def _parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """``If-Match``/``If-None-Match`` value -> [(weak, opaque)], or None for ``*``."""
    if value.strip() == "*":
        return None
    return [(bool(m.group(1)), m.group(2)) for m in _ETAG.finditer(value)]


def _http_date(value: str | None) -> int | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime) as a UTC timestamp; None if invalid."""
    if not value:
        return None
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        return calendar.timegm((*parsed[:6], 0, 0, 0)) - (parsed[9] or 0)
    except (OverflowError, ValueError):
        return None


def _parse_range(value: str, size: int) -> list[tuple[int, int]] | None:
    """``Range`` -> inclusive (first, last) pairs; ``[]`` = unsatisfiable; None = ignore it."""
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    pieces = [piece for piece in specs.split(",") if piece.strip()]
    if not pieces or len(pieces) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for piece in pieces:
        m = _RANGE_SPEC.match(piece)
        if m is None:
            return None
        first, last = m.groups()
        if not first and not last:
            return None
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n > 0 and size > 0:
                ranges.append((max(0, size - n), size - 1))
            continue
        start = int(first)
        if last and int(last) < start:
            return None  # invalid byte-range-spec (RFC 9110 §14.1.1)
        if start >= size:
            continue  # unsatisfiable, others may still be fine
        ranges.append((start, min(int(last), size - 1) if last else size - 1))
    ordered = sorted(ranges)
    if any(b[0] <= a[1] for a, b in itertools.pairwise(ordered)):
        return None  # overlapping ranges: a known amplification trick, send the whole file
    return ranges


def _if_range_allows(value: str, etag: str, last_modified: int) -> bool:
    value = value.strip()
    if value.startswith("W/"):
        return False  # If-Range needs a strong validator
    if value.startswith('"'):
        return value == etag
    return _http_date(value) == last_modified


def _preconditions(call: Call, etag: str, last_modified: int, now: float) -> int | None:
    """RFC 9110 §13.2.2 steps 1-4 for GET/HEAD: 412, 304 or None (go on)."""
    opaque = etag.strip('"')
    if_match = _header_all(call, "if-match")
    if if_match is not None:
        tags = _parse_etags(if_match)
        if tags is not None and not any(not weak and tag == opaque for weak, tag in tags):
            return 412
    else:
        since = _http_date(call.header("if-unmodified-since"))
        if since is not None and last_modified > since:
            return 412
    if_none_match = _header_all(call, "if-none-match")
    if if_none_match is not None:
        tags = _parse_etags(if_none_match)
        if tags is None or any(tag == opaque for _weak, tag in tags):
            return 304
    else:
        since = _http_date(call.header("if-modified-since"))
        if since is not None and since <= now and last_modified <= since:
            return 304
    return None


# --------------------------------------------------------------------------- responses


def _not_found() -> Response:
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
        return _not_found()
    if not stat.S_ISREG(st.st_mode):
        return _not_found()
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
    range_value = _header_all(call, "range") if call.method == "GET" else None
    if range_value is not None:
        if_range = call.header("if-range")
        if if_range is None or _if_range_allows(if_range, identity_etag, last_modified):
            ranges = _parse_range(range_value, size)
    use_gzip = gzip_applies and ranges is None and call.accepts_gzip()
    etag = identity_etag[:-1] + '-gz"' if use_gzip else identity_etag
    headers.append(("ETag", etag))

    status = _preconditions(call, etag, last_modified, now)
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
        body = _NoBody() if head else FileBody(path, parts, expect=expect, chunk_size=chunk_size)
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
            data = await _read_all(FileBody(path, [(0, size)], expect=expect))
            packed = gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
            if head:
                return Response(200, ctype, headers, _NoBody(), content_length=len(packed))
            return Response(200, ctype, headers, packed)
        if head:
            return Response(200, ctype, headers, _NoBody(), content_length=None)
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
        response.body = await _read_all(body)
        response.content_length = None
    return response


def _display(name: str) -> str:
    """A file name as text, even when it holds bytes that are not UTF-8 (surrogate escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def directory_listing(
    call: Call,
    directory: str | os.PathLike[str],
    url_path: str,
    *,
    show_dotfiles: bool = False,
    show_symlinks: bool = True,
) -> Response:
    """An HTML index of ``directory`` as seen at ``url_path`` (which should end with ``/``).

    Every name is HTML-escaped for the text and percent-encoded (``safe=""``) for the href, so
    a file called ``<img src=x onerror=alert(1)>.txt`` or ``javascript:x`` is inert. Links are
    relative, so the page works under any front-end prefix. Dotfiles are hidden unless asked;
    symlinks are hidden when the location would refuse them anyway.
    """
    entries: list[tuple[str, bool, int]] = []
    truncated = False
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith(".") and not show_dotfiles:
                    continue
                if entry.is_symlink() and not show_symlinks:
                    continue
                if len(entries) >= MAX_LISTING_ENTRIES:
                    truncated = True
                    break
                try:
                    is_dir = entry.is_dir()
                    size = 0 if is_dir else entry.stat().st_size
                except OSError:
                    continue
                entries.append((entry.name, is_dir, size))
    except OSError:
        return _not_found()
    entries.sort(key=lambda e: (not e[1], e[0]))
    title = html.escape(_display(url_path))
    rows = ['<li><a href="../">../</a></li>'] if url_path.rstrip("/") else []
    for name, is_dir, size in entries:
        href = quote(name, safe="", errors="surrogateescape") + ("/" if is_dir else "")
        text = html.escape(_display(name)) + ("/" if is_dir else "")
        extra = "" if is_dir else f" <small>{size} bytes</small>"
        rows.append(f'<li><a href="{html.escape(href)}">{text}</a>{extra}</li>')
    if truncated:
        rows.append(f"<li>… (only the first {MAX_LISTING_ENTRIES} entries shown)</li>")
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
        + "\n".join(rows)
        + "\n</ul></body></html>\n"
    )
    return Response(
        status=200,
        content_type="text/html; charset=utf-8",
        headers=[("Cache-Control", NO_CACHE), ("X-Content-Type-Options", "nosniff")],
        body=page.encode("utf-8"),
    )


def _redirect(target: str) -> Response:
    return Response(
        status=301,
        content_type="text/plain; charset=utf-8",
        headers=[("Location", target), ("Cache-Control", NO_CACHE)],
        body=b"moved\n",
    )


async def serve_location(
    call: Call,
    locations: Locations,
    *,
    max_age: int = 3600,
    nocache: bool = False,
    chunk_size: int = 64 * 1024,
) -> Response | None:
    """The dispatcher's one entry: None when no location claims the path, else the answer.

    404 for anything refused or missing (indistinguishable on purpose), 405 for methods other
    than GET/HEAD, 301 to add the trailing slash of a listable directory, otherwise a file
    (:func:`file_response`) or a listing (:func:`directory_listing`). The query is ignored,
    so cache-busting ``?v=...`` works.
    """
    found = locations.match(call.path)
    if found is None:
        # "/mydir" names a listable location root: send the browser to "mydir/"
        root = locations.match(call.path + "/")
        if root is not None and root[1] == "" and root[0].dirlisting:
            return _redirect(quote(root[0].prefix.rstrip("/").rsplit("/", 1)[-1]) + "/")
        return None
    location, relative = found
    if call.method not in ("GET", "HEAD"):
        response = error_response(405, "method_not_allowed", "files answer GET and HEAD only")
        response.headers.append(("Allow", "GET, HEAD"))
        return response
    path, reason = _resolve(location, relative)
    if path is None:
        log.debug("file request %r refused: %s", call.path, reason)
        return _not_found()
    if path.is_dir():
        if not location.dirlisting:
            log.debug("file request %r refused: directory listing is off", call.path)
            return _not_found()
        if relative and not relative.endswith("/"):
            return _redirect(quote(relative.rsplit("/", 1)[-1], safe="") + "/")
        return directory_listing(
            call,
            path,
            call.path,
            show_dotfiles=location.dotfiles,
            show_symlinks=location.follow_symlinks,
        )
    if relative.endswith("/") or not relative:
        return _not_found()  # "file.txt/" is not a directory
    return await file_response(call, path, max_age=max_age, nocache=nocache, chunk_size=chunk_size)
