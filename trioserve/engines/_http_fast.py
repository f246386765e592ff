"""The common request, parsed and answered without h11's per-event machinery.

Nearly every request a monitoring page or a script sends is the same shape: ``GET`` (or
``HEAD``) over HTTP/1.1, keep-alive, one ``Host``, no body, no ``Expect``, no upgrade. For that
shape, h11's event loop (``next_event``, ``send`` of three events, header normalisation done
twice) costs more than our whole dispatch. This module recognises exactly that shape with
h11's own grammar (RFC 9112 ABNF as h11 writes it, copied below) and produces exactly what h11
would; anything else -- an unusual header, a folded line, a bare LF, HTTP/1.0, a body, a
``Connection`` option, a response to be streamed or closed -- is left to h11, which stays the
authority for every case this module does not claim.

Two promises, both tested against h11 itself (``tests/engines/test_http_fast.py``):

* :func:`parse_simple_head` returns a head only when h11, fed the same bytes, would produce
  the same request (method, target, version, normalised headers), keep-alive, with no body;
* :func:`simple_response_head` writes the same bytes h11 would write for that response on a
  keep-alive HTTP/1.1 connection, or returns ``None`` where h11 would change anything.

No I/O here; the engine's Trio half is :mod:`._http_read` / :mod:`._http_write`.
"""

from __future__ import annotations

import re

__all__ = ["SimpleHead", "parse_simple_head", "simple_response_head"]

# -- h11's grammar (h11/_abnf.py, RFC 7230 with its errata fix-ups) --------------------------
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_FIELD_VCHAR = rb"[^\x00\s]"
_FIELD_CONTENT = _FIELD_VCHAR + rb"+(?:[ \t]+" + _FIELD_VCHAR + rb"+)*"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/1\.1")
_HEADER_FIELD = re.compile(rb"(" + _TOKEN + rb"):[ \t]*((?:" + _FIELD_CONTENT + rb")?)[ \t]*")
#: response fields as we write them: ``name: value`` (one space, h11's value grammar) lines
_FIELD_BLOCK = re.compile(rb"(?:" + _TOKEN + rb": (?:" + _FIELD_CONTENT + rb")?\r\n)*")
#: response fields h11 would add to, rewrite or move (line starts, lower case)
_REWRITTEN = (b"\nconnection:", b"\ntransfer-encoding:", b"\nhost:")

#: methods the fast path claims: they carry no body without Content-Length/Transfer-Encoding
_METHODS = frozenset({b"GET", b"HEAD"})
#: request headers that change framing or the connection: their presence sends the request
#: to h11 (``connection: keep-alive`` alone is fine, see below)
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})

#: (method, target, http_version, [(lower-case name, value)]) as h11's Request carries them
SimpleHead = tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]


def parse_simple_head(head: bytes) -> SimpleHead | None:
    """Parse a complete request head (ending in CRLF CRLF) of the common shape, else None.

    ``head`` must be exactly one head: from the first byte of the request line through the
    blank line. ``None`` says nothing about validity: h11 decides those cases.
    """
    lines = head.split(b"\r\n")
    # a head "...\r\n\r\n" splits into [request-line, *fields, "", ""]
    if len(lines) < 3 or lines[-1] or lines[-2]:
        return None
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        return None
    method, target = match.group(1), match.group(2)
    if method not in _METHODS:
        return None
    headers: list[tuple[bytes, bytes]] = []
    hosts = 0
    for line in lines[1:-2]:
        field = _HEADER_FIELD.fullmatch(line)
        if field is None:  # also a folded line (leading SP/HTAB), a stray CR or LF, a NUL
            return None
        name = field.group(1).lower()
        value = field.group(2)
        if name in _FRAMING:
            return None
        if name == b"connection" and value.lower() != b"keep-alive":
            return None
        if name == b"host":
            hosts += 1
        headers.append((name, value))
    if hosts != 1:  # h11 answers a missing or repeated Host itself
        return None
    return method, target, b"1.1", headers


#: recent answers of :func:`simple_response_head`: a monitored object gets the same head
#: (same Date, length and type) many times a second; bounded, emptied when full
_HEADS: dict[tuple[object, ...], bytes | None] = {}
_HEADS_MAX = 512


def simple_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes | None:
    """The head h11 would write for this response on a keep-alive HTTP/1.1 connection.

    ``None`` when h11 would rewrite it (no framing header, so h11 would pick chunked; a
    ``Connection``, ``Transfer-Encoding`` or ``Host`` header it would normalise or move) or
    refuse it (a name or value h11 finds invalid): the caller then lets h11 write it, errors
    included. Raises ``UnicodeEncodeError`` where h11's path would (non-latin-1 text).

    The fields are checked as one block with h11's grammar. Each field becomes one
    ``name: value`` line; counting the line ends proves no name or value carried a CR LF of
    its own, so the block's lines are exactly the fields.
    """
    key = (status, reason, *headers)
    try:
        return _HEADS[key]
    except KeyError:
        pass
    head = _simple_response_head(status, reason, headers)
    if len(_HEADS) >= _HEADS_MAX:
        _HEADS.clear()
    _HEADS[key] = head
    return head


def _simple_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes | None:
    if status < 200:
        return None
    block = "".join([f"{name}: {value}\r\n" for name, value in headers]).encode("latin-1")
    if _FIELD_BLOCK.fullmatch(block) is None or block.count(b"\r\n") != len(headers):
        return None
    lower = b"\n" + block.lower()
    if any(marker in lower for marker in _REWRITTEN):
        return None
    length_at = lower.find(b"\ncontent-length: ")
    if length_at < 0:
        if status not in (204, 304):
            return None
    else:
        start = length_at + len(b"\ncontent-length: ")
        if not lower[start : lower.index(b"\r", start)].isdigit():
            return None  # h11 refuses a Content-Length that is not a number
        if lower.find(b"\ncontent-length:", start) >= 0:
            return None  # several: h11 merges or refuses them
    return b"HTTP/1.1 %d %s\r\n%s\r\n" % (status, reason.encode("ascii"), block)
