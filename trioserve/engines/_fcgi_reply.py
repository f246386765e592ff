""":class:`~trioserve.call.Response` → the CGI header block a FastCGI reply starts with.

Kept apart (and free of Trio) because the rules are the ones front-ends parse us by: a reply
always starts with ``Status:``; ``Content-Length`` is sent whenever known (it makes a truncated
reply detectable behind lighttpd); headers the engine owns are dropped from the app's set; and
no header text may carry CR, LF or NUL, so one header can never become two.
"""

from __future__ import annotations

import http

from trioserve.call import Response

__all__ = ["body_allowed", "response_head"]

#: response headers the engine owns or that are meaningless in a CGI header block
_OWN_HEADERS = frozenset(
    {"status", "content-type", "content-length", "connection", "transfer-encoding", "keep-alive"}
)


def _clean(text: str) -> str:
    """Header text without CR, LF or NUL: one header can never become two."""
    if "\r" in text or "\n" in text or "\0" in text:
        return text.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return text


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


#: ``Status:`` lines by status code, made once each (an enum lookup per reply adds up)
_STATUS_LINES: dict[int, str] = {}


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = f"Status: {status} {_reason(status)}"
        if len(_STATUS_LINES) < 1000:  # statuses are ints the app chose; bound it anyway
            _STATUS_LINES[status] = line
    return line


def body_allowed(method: str, status: int) -> bool:
    """Whether a reply to ``method`` with ``status`` may carry body bytes (RFC 9110 §6.4.1)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


def response_head(response: Response, method: str) -> bytes:
    """The CGI header block: ``Status:`` always, then type, length and the extra headers."""
    status = response.status
    lines = [_status_line(status)]
    if response.content_type and status not in (204, 304):
        lines.append(f"Content-Type: {_clean(response.content_type)}")
    length = response.length
    if length is not None and status not in (204, 304) and status >= 200:
        lines.append(f"Content-Length: {length}")
    for name, value in response.headers:
        if name.lower() in _OWN_HEADERS or not name.strip():
            continue
        lines.append(f"{_clean(name).replace(':', '')}: {_clean(value)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8", "replace")
