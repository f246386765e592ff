"""Conditional and range requests: parsing the request headers and deciding, no I/O.

Validators come in (the ETag and Last-Modified a response would carry); a decision comes out:
412, 304, or go on (RFC 9110 §13.2.2), and which byte ranges to send (§14). The response is
built by :mod:`trioserve.files.response`.

Range choices (see ``docs/files.md``): overlapping or more than :data:`MAX_RANGES` ranges, bad
syntax, or numbers of 19+ digits make us ignore the Range header and send the full 200, which
RFC 9110 §14.2 allows.
"""

from __future__ import annotations

import calendar
import email.utils
import itertools
import re

from trioserve.call import Call

__all__ = [
    "MAX_RANGES",
    "header_all",
    "http_date",
    "if_range_allows",
    "parse_etags",
    "parse_range",
    "preconditions",
]

#: more ranges than this in one request: answered with the full 200
MAX_RANGES = 256

_ETAG = re.compile(r'(W/)?"([^"]*)"')
_RANGE_SPEC = re.compile(r"^\s*(\d{0,18})\s*-\s*(\d{0,18})\s*$")


def header_all(call: Call, name: str) -> str | None:
    """:meth:`Call.header_all`, with ``None`` for an absent header."""
    return call.header_all(name) or None


def parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """``If-Match``/``If-None-Match`` value -> [(weak, opaque)], or None for ``*``."""
    if value.strip() == "*":
        return None
    return [(bool(m.group(1)), m.group(2)) for m in _ETAG.finditer(value)]


def http_date(value: str | None) -> int | None:
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


def parse_range(value: str, size: int) -> list[tuple[int, int]] | None:
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


def if_range_allows(value: str, etag: str, last_modified: int) -> bool:
    """Whether an ``If-Range`` value still matches, so the Range header may be honoured."""
    value = value.strip()
    if value.startswith("W/"):
        return False  # If-Range needs a strong validator
    if value.startswith('"'):
        return value == etag
    return http_date(value) == last_modified


def preconditions(call: Call, etag: str, last_modified: int, now: float) -> int | None:
    """RFC 9110 §13.2.2 steps 1-4 for GET/HEAD: 412, 304 or None (go on)."""
    opaque = etag.strip('"')
    if_match = header_all(call, "if-match")
    if if_match is not None:
        tags = parse_etags(if_match)
        if tags is not None and not any(not weak and tag == opaque for weak, tag in tags):
            return 412
    else:
        since = http_date(call.header("if-unmodified-since"))
        if since is not None and last_modified > since:
            return 412
    if_none_match = header_all(call, "if-none-match")
    if if_none_match is not None:
        tags = parse_etags(if_none_match)
        if tags is None or any(tag == opaque for _weak, tag in tags):
            return 304
    else:
        since = http_date(call.header("if-modified-since"))
        if since is not None and since <= now and last_modified <= since:
            return 304
    return None
