"""Access log lines in Common Log Format, written through stdlib logging.

Every request produces one INFO record on the ``trioserve.access`` logger, so an application
can route, filter or silence them with ordinary logging configuration. An engine given
``log=FILE`` additionally attaches a :class:`logging.FileHandler` for the lifetime of the
engine; the handler only accepts the engine's own lines (several engines may log to different
files) and is removed and closed on shutdown.

The format is Apache's ``%h %l %u %t "%r" %>s %b``::

    127.0.0.1 - alice [23/Nov/2025:12:45:01 +0000] "GET /h.json HTTP/1.1" 200 1234

Every request whose head arrived complete gets exactly one line, however it ends; the engines
write it where the outcome is known (after the last byte, at a websocket's upgrade, or where
the reply was cut). ``%b`` is always the body bytes the socket really took. A reply that did
not go out whole -- cut by ``write_timeout``, a reset, the shutdown's grace running out, a
streamed body that failed, a front-end's abort -- is *marked*: the line goes on with Apache's
``%X`` code for "connection aborted before the response completed" and the reason, quoted
like the request line::

    127.0.0.1 - - [23/Nov/2025:12:45:01 +0000] "GET /big HTTP/1.1" 200 65536 X "server shutdown"

so the first seven fields stay Common Log Format for every line, and ``grep '" X "'`` finds
the cut ones. A request that got no answer at all is logged with the status it stands for:
:data:`CLIENT_CLOSED` (nginx's 499: the client or front-end went away first), 503 (the
server shut down first) or 500 (the server failed), always with the mark.

Headers are never logged, so neither are credentials; nor are access tokens sent in the URL
(``?token=``, :mod:`trioserve.auth.tokens`): their value is logged as ``(hidden)``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from urllib.parse import unquote_plus

__all__ = [
    "ACCESS_LOGGER",
    "CLIENT_CLOSED",
    "AccessLog",
    "clf_line",
    "clf_time",
    "hide_tokens",
]

ACCESS_LOGGER = "trioserve.access"
#: the status logged for a request the client (or front-end) left before any answer: nginx's
#: "client closed request", which log tools know; it is never sent to anyone
CLIENT_CLOSED = 499
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: how many attached file handlers rely on the logger passing INFO through
_level_users = 0
_saved_level = logging.NOTSET


def clf_time(when: float) -> str:
    """``[10/Oct/2000:13:55:36 -0700]`` in local time, independent of the C locale."""
    moment = datetime.fromtimestamp(when).astimezone()
    return (
        f"[{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year:04d}:"
        f"{moment:%H:%M:%S} {moment:%z}]"
    )


def _escape(text: str) -> str:
    # like Apache: quotes, backslashes and anything non-printable as \\xHH
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\' or code < 0x20 or code >= 0x7F:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def _hide_token(part: str) -> str:
    name = part.partition("=")[0]
    return f"{name}=(hidden)" if unquote_plus(name) == "token" else part


def hide_tokens(request_line: str) -> str:
    """``GET /a?x=1&token=SECRET HTTP/1.1`` -> ``GET /a?x=1&token=(hidden) HTTP/1.1``: an
    access token in a URL must not live on in log files (the name stays, so a line still
    says that a token was used). Only the query of the request target is touched."""
    head, question, rest = request_line.partition("?")
    if not question:
        return request_line
    query, space, tail = rest.partition(" ")
    if "oken" not in query and "%" not in query:
        return request_line  # the usual case: no token, no escaped name that could be one
    hidden = "&".join(_hide_token(part) for part in query.split("&"))
    return head + question + hidden + space + tail


def clf_line(
    peer: str,
    user: str | None,
    when: float,
    request_line: str,
    status: int,
    size: int | None,
    cut: str | None = None,
) -> str:
    """One Common Log Format line (no newline); ``cut`` marks a reply that did not go out
    whole, and says why (see the module docstring)."""
    user_field = _escape(user).replace(" ", "\\x20") if user else "-"
    size_field = str(size) if size else "-"
    line = (
        f'{peer or "-"} - {user_field} {clf_time(when)} "{_escape(hide_tokens(request_line))}" '
        f"{status} {size_field}"
    )
    if cut is not None:
        line += f' X "{_escape(cut)}"'
    return line


class AccessLog:
    """One engine's access log: lines go to ``trioserve.access``; optionally into a file."""

    def __init__(self, filename: str | None = None, *, tag: str = "") -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.tag = tag or f"engine-{id(self):x}"
        self.filename = filename
        self._handler: logging.FileHandler | None = None
        if filename:
            handler = logging.FileHandler(filename, encoding="utf-8", delay=False)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.setLevel(logging.INFO)
            tag_value = self.tag
            handler.addFilter(lambda record: getattr(record, "trioserve_tag", None) == tag_value)
            self.logger.addHandler(handler)
            self._handler = handler
            _need_info(self.logger, True)

    def log(
        self,
        peer: str,
        user: str | None,
        request_line: str,
        status: int,
        size: int | None,
        when: float | None = None,
        *,
        cut: str | None = None,
    ) -> None:
        """Log one request: ``size`` body bytes sent; ``cut`` is the reason when the reply
        did not go out whole (None when it did)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        line = clf_line(
            peer, user, time.time() if when is None else when, request_line, status, size, cut
        )
        self.logger.info("%s", line, extra={"trioserve_tag": self.tag})

    def close(self) -> None:
        """Detach and close the file handler (idempotent)."""
        handler, self._handler = self._handler, None
        if handler is not None:
            self.logger.removeHandler(handler)
            handler.close()
            _need_info(self.logger, False)


def _need_info(logger: logging.Logger, attach: bool) -> None:
    """Keep the logger at INFO while any file handler is attached, then restore its level.

    Without this, a program that never configured logging (root at WARNING) would silently
    drop every line before it reached the file.
    """
    global _level_users, _saved_level
    if attach:
        if _level_users == 0:
            _saved_level = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        _level_users += 1
    else:
        _level_users -= 1
        if _level_users == 0:
            logger.setLevel(_saved_level)
