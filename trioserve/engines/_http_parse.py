"""Sans-IO checks on HTTP/1.1 requests that h11 leaves to the server (RFC 9112).

h11 parses and frames, but a conformant, robust server needs more, and it needs it *before*
bytes pile up:

* :class:`HeadGuard` watches the raw bytes of a request head before h11 buffers them, so an
  over-long request line is a 414 and an over-long header block a 431 as soon as the limit is
  crossed, and garbage that cannot start a request line (a TLS hello, a
  binary blob) is a 400 at once instead of waiting for a line end that never comes.
* :func:`check_head` validates a parsed head: target length (414), header bytes (431), message
  framing (both ``Content-Length`` and ``Transfer-Encoding``, or ``Transfer-Encoding`` in an
  HTTP/1.0 request, is faulty framing: RFC 9112 §6.1/§6.3 -> 400 and close), ``Host`` syntax
  (§3.2; h11 already refuses a missing or repeated ``Host``), a declared body over the limit
  (413), and turns the request target into the decoded path and the raw query.
* :class:`ChunkedGuard` follows a chunked body byte by byte *ahead* of h11 (which discards
  chunk extensions unchecked and accepts 20 hex digits of size): chunk sizes bounded by the
  body budget (413 before any data is buffered), chunk-extension syntax and length
  (§7.1.1) and trailer size bounded.

Everything raises one error type, :class:`HeadError`, carrying the status to answer. Nothing
here does I/O or knows about Trio; the tests are tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

__all__ = [
    "MAX_CHUNK_EXT_BYTES",
    "MAX_METHOD_LENGTH",
    "ChunkedGuard",
    "HeadError",
    "HeadGuard",
    "RequestHead",
    "check_head",
    "decode_path",
    "valid_host",
]

#: longest method name accepted before the first space of a request line
MAX_METHOD_LENGTH = 32
#: bytes of a request line besides the target: method, two spaces, "HTTP/1.1", CRLF
_REQUEST_LINE_OVERHEAD = MAX_METHOD_LENGTH + 2 + 8 + 2
#: longest chunk extension (everything after the size on one chunk line), RFC 9112 §7.1.1
MAX_CHUNK_EXT_BYTES = 1024
#: longest chunk-size numeral, leading zeros included (16 hex digits = 64 bits)
_MAX_CHUNK_SIZE_DIGITS = 16

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN_RE = re.compile(rb"[" + _TCHAR + rb"]+")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CHUNK_EXT_RE = re.compile(
    rb"(?:[ \t]*;[ \t]*[" + _TCHAR + rb"]+(?:[ \t]*=[ \t]*(?:[" + _TCHAR + rb']+|"(?:[^"\\\x00-\x08'
    rb'\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"))?)*[ \t]*'
)
# RFC 3986 host: IP-literal / IPv4address / reg-name, then an optional port. reg-name is
# *( unreserved / pct-encoded / sub-delims ), which also covers IPv4 addresses.
_HOST_RE = re.compile(
    rb"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
    rb"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
)
_BAD_PERCENT_RE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class HeadError(Exception):
    """A request the engine answers itself with ``status`` and then (usually) closes."""

    def __init__(self, status: int, code: str, message: str, *, close: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.close = close


@dataclass(frozen=True, slots=True)
class RequestHead:
    """What :func:`check_head` extracts from a valid head."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    #: declared Content-Length, or None (chunked, or no body)
    content_length: int | None
    chunked: bool


class HeadGuard:
    """Limits on a request head that is still arriving (h11 answered ``NEED_DATA``).

    Feed it every byte before it goes to h11 for this request head; :meth:`feed` raises as
    soon as a limit is crossed. It finds the blank line that ends the head itself, so body
    bytes that arrive in the same read are never counted as head.
    """

    def __init__(self, max_url_length: int, max_header_bytes: int) -> None:
        self.max_url_length = max_url_length
        self.max_header_bytes = max_header_bytes
        #: bytes of this head seen so far (stops growing once the head is complete)
        self.seen = 0
        self.complete = False
        self._line_end: int | None = None
        self._prefix = b""
        self._tail = b""

    @property
    def started(self) -> bool:
        """True once any byte of this request arrived (the idle wait is over)."""
        return self.seen > 0

    def feed(self, data: bytes) -> None:
        """Account for bytes on their way to h11 and check them at once."""
        if self.complete or not data:
            return
        if self._line_end is None:
            index = data.find(b"\n")
            if index >= 0:
                self._line_end = self.seen + index
            if len(self._prefix) <= MAX_METHOD_LENGTH:
                self._prefix += data[: MAX_METHOD_LENGTH + 1 - len(self._prefix)]
        window = self._tail + data
        end = _head_end(window)
        if end >= 0:
            self.complete = True
            self.seen += end - len(self._tail)
        else:
            self.seen += len(data)
            self._tail = window[-3:]
        self.check()

    def check(self) -> None:
        """Raise :class:`HeadError` if the head can no longer become acceptable."""
        method, space, _ = self._prefix.partition(b" ")
        if (method and not _TOKEN_RE.fullmatch(method)) or (
            not space and len(self._prefix) > MAX_METHOD_LENGTH
        ):
            raise HeadError(400, "bad_request", "this is not an HTTP request line")
        if self._line_end is None:
            if self.seen > self.max_url_length + _REQUEST_LINE_OVERHEAD:
                raise HeadError(
                    414, "uri_too_long", f"the request target exceeds {self.max_url_length} bytes"
                )
        elif self.seen - self._line_end - 1 > self.max_header_bytes + 2:
            raise HeadError(
                431,
                "header_fields_too_large",
                f"the request header fields exceed {self.max_header_bytes} bytes",
            )


def _head_end(window: bytes) -> int:
    """Index just past the blank line ending a head in ``window``, or -1."""
    ends = [i + 4 for i in (window.find(b"\r\n\r\n"),) if i >= 0]
    ends += [i + 2 for i in (window.find(b"\n\n"),) if i >= 0]
    return min(ends) if ends else -1


def valid_host(value: bytes) -> bool:
    """RFC 9112 §3.2 / RFC 3986 §3.2.2: ``uri-host [ ":" port ]`` (empty is allowed)."""
    return _HOST_RE.fullmatch(value) is not None


def decode_path(raw_path: bytes) -> str:
    """Percent-decode a request path the way ROOT's engines hand it over (§2.1 of the reference).

    The whole path is decoded -- an encoded ``%2F`` becomes ``/`` like in civetweb's
    ``local_uri`` and lighttpd's ``PATH_INFO`` -- and dot segments are then removed (RFC 3986
    §5.2.4), so neither ``..`` nor ``%2e%2e`` nor ``..%2f`` can climb above the root: what the
    dispatcher sees is exactly what the policy judges. Refused with 400: malformed escapes,
    bytes that are not UTF-8, and control characters (NUL, CR, LF, ...), which no object name
    needs and which confuse logs and file systems. Doubled slashes are kept (ROOT keeps them).
    """
    if b"%" not in raw_path and b"/." not in raw_path and raw_path.isascii():
        # nothing to decode and no dot segment: the common path, spared the general steps
        text = raw_path.decode("ascii")
        if _CONTROL_RE.search(text):
            raise HeadError(400, "bad_path", "control characters are not allowed in the path")
        if not text.startswith("/"):
            raise HeadError(400, "bad_path", "the request path must start with /")
        return text
    if _BAD_PERCENT_RE.search(raw_path):
        raise HeadError(400, "bad_path", "malformed percent-escape in the request path")
    try:
        text = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise HeadError(400, "bad_path", "the request path is not valid UTF-8") from None
    if _CONTROL_RE.search(text):
        raise HeadError(400, "bad_path", "control characters are not allowed in the path")
    if not text.startswith("/"):
        raise HeadError(400, "bad_path", "the request path must start with /")
    return _remove_dot_segments(text)


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = segments and segments[-1] in (".", "..")
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def _split_target(method: str, target: bytes) -> tuple[bytes, bytes]:
    if target.startswith(b"/"):
        raw_path, _, query = target.partition(b"?")
        return raw_path, query
    lower = target[:8].lower()
    if lower.startswith((b"http://", b"https://")):
        # absolute-form (RFC 9112 §3.2.2): the path starts after the authority
        rest = target.split(b"://", 1)[1]
        slash = rest.find(b"/")
        question = rest.find(b"?")
        if slash < 0 or (0 <= question < slash):
            rest_target = b"/" + (rest[question:] if question >= 0 else b"")
        else:
            rest_target = rest[slash:]
        raw_path, _, query = rest_target.partition(b"?")
        return raw_path, query
    if target == b"*" and method == "OPTIONS":
        return b"*", b""
    raise HeadError(400, "bad_target", "unsupported request-target form")


def check_head(
    method: bytes,
    target: bytes,
    http_version: bytes,
    raw_headers: list[tuple[bytes, bytes]],
    *,
    max_url_length: int,
    max_header_bytes: int,
    max_body: int,
) -> RequestHead:
    """Validate a head h11 parsed; return the decoded request or raise :class:`HeadError`.

    ``raw_headers`` are h11's ``(lower-case name, value)`` pairs. The order of checks is the
    order of the cheapest rejection: sizes, framing, host, body size, then the path.
    """
    if http_version not in (b"1.0", b"1.1"):
        raise HeadError(505, "version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served")
    if len(target) > max_url_length:
        raise HeadError(414, "uri_too_long", f"the request target exceeds {max_url_length} bytes")
    if sum(len(name) + len(value) + 4 for name, value in raw_headers) > max_header_bytes:
        raise HeadError(
            431,
            "header_fields_too_large",
            f"the request header fields exceed {max_header_bytes} bytes",
        )
    names = [name for name, _ in raw_headers]
    chunked = b"transfer-encoding" in names
    if chunked and b"content-length" in names:
        raise HeadError(
            400, "bad_framing", "both Content-Length and Transfer-Encoding (RFC 9112 §6.1)"
        )
    if chunked and http_version != b"1.1":
        raise HeadError(400, "bad_framing", "Transfer-Encoding in an HTTP/1.0 request")
    hosts = [value for name, value in raw_headers if name == b"host"]
    if len(hosts) > 1:
        raise HeadError(400, "bad_host", "several Host header fields (RFC 9112 §3.2)")
    if hosts and not valid_host(hosts[0]):
        raise HeadError(400, "bad_host", "invalid Host header field (RFC 9112 §3.2)")
    content_length: int | None = None
    for name, value in raw_headers:
        if name == b"content-length":
            content_length = int(value)
    if content_length is not None and content_length > max_body:
        raise HeadError(413, "body_too_large", f"the request body exceeds {max_body} bytes")
    method_text = method.decode("ascii")
    raw_path, query = _split_target(method_text, target)
    path = "*" if raw_path == b"*" else decode_path(raw_path)
    headers = [
        (name.decode("latin-1"), value.decode("utf-8", "replace")) for name, value in raw_headers
    ]
    return RequestHead(
        method=method_text,
        path=path,
        query=query.decode("latin-1"),
        headers=headers,
        content_length=content_length,
        chunked=chunked,
    )


class ChunkedGuard:
    """Follows the raw bytes of one chunked body and refuses what h11 would let through.

    Feed it the bytes that follow the head, in order, before h11 sees them; it stops looking
    once the body ends (later bytes belong to the next pipelined request). ``max_body`` is the
    budget for chunk data; ``max_trailer_bytes`` bounds the trailer section.
    """

    _SIZE, _EXT, _DATA, _DATA_CR, _DATA_LF, _TRAILER, _DONE = range(7)

    def __init__(self, max_body: int, max_trailer_bytes: int) -> None:
        self.max_body = max_body
        self.max_trailer_bytes = max_trailer_bytes
        self.received = 0
        self._state = self._SIZE
        self._line = bytearray()
        self._digits = 0
        self._remaining = 0
        self._trailer_bytes = 0
        #: the first two bytes of the current trailer line (enough to spot the empty one)
        self._trailer_line = b""

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        i = 0
        n = len(view)
        while i < n and self._state != self._DONE:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, n - i)
                self._remaining -= take
                i += take
                if self._remaining == 0:
                    self._state = self._DATA_CR
                continue
            byte = view[i]
            i += 1
            if state in (self._SIZE, self._EXT):
                self._line_byte(byte)
            elif state == self._DATA_CR:
                if byte != 0x0D:
                    raise HeadError(400, "bad_chunk", "chunk data not followed by CRLF")
                self._state = self._DATA_LF
            elif state == self._DATA_LF:
                if byte != 0x0A:
                    raise HeadError(400, "bad_chunk", "chunk data not followed by CRLF")
                self._state = self._SIZE
            else:  # trailer section: lines until an empty one
                self._trailer_bytes += 1
                if self._trailer_bytes > self.max_trailer_bytes:
                    raise HeadError(431, "trailers_too_large", "the chunked trailer is too large")
                if byte == 0x0A:
                    if self._trailer_line in (b"", b"\r"):  # an empty line ends the message
                        self._state = self._DONE
                    self._trailer_line = b""
                elif len(self._trailer_line) < 2:
                    self._trailer_line += bytes((byte,))

    def _line_byte(self, byte: int) -> None:
        if byte == 0x0A:
            self._end_size_line()
            return
        self._line.append(byte)
        if self._state == self._SIZE:
            if byte in _HEX:
                self._digits += 1
                if self._digits > _MAX_CHUNK_SIZE_DIGITS:
                    raise HeadError(400, "bad_chunk", "chunk size has too many digits")
                return
            if not self._digits:
                raise HeadError(400, "bad_chunk", "invalid chunk size")
            self._state = self._EXT
        # the extension plus the CR that ends the line
        if len(self._line) - self._digits > MAX_CHUNK_EXT_BYTES + 1:
            raise HeadError(400, "bad_chunk", "chunk extension too long (RFC 9112 §7.1.1)")

    def _end_size_line(self) -> None:
        line = bytes(self._line)
        self._line.clear()
        self._digits = 0
        if not line.endswith(b"\r"):
            raise HeadError(400, "bad_chunk", "chunk size line must end with CRLF")
        line = line[:-1]
        digits_end = 0
        while digits_end < len(line) and line[digits_end] in _HEX:
            digits_end += 1
        if digits_end == 0:
            raise HeadError(400, "bad_chunk", "invalid chunk size")
        if not _CHUNK_EXT_RE.fullmatch(line[digits_end:]):
            raise HeadError(400, "bad_chunk", "malformed chunk extension")
        size = int(line[:digits_end], 16)
        if size > self.max_body - self.received:
            raise HeadError(
                413, "body_too_large", f"the request body exceeds {self.max_body} bytes"
            )
        self.received += size
        if size == 0:
            self._state = self._TRAILER
            self._trailer_line = b""
        else:
            self._remaining = size
            self._state = self._DATA
