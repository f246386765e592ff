"""Sans-IO helpers for what the HTTP engine writes: header sets, error bytes, CORS preflights.

Kept apart from the engine so the rules (which headers the engine owns, when a
``Content-Length`` is allowed, what a preflight answers) are plain functions with table tests.
What a preflight answers is not decided here but in :mod:`trioserve.cors`, the module the
dispatcher's replies ask too, so a preflight and the reply it announces cannot disagree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

from trioserve.call import Call, Response, error_response
from trioserve.cors import ALLOW_METHODS, MAX_AGE, decide, is_preflight, preflight_response
from trioserve.errors import RequestError

if TYPE_CHECKING:
    from trioserve.engines._http_state import EngineState

__all__ = [
    "CORS_MAX_AGE",
    "CORS_METHODS",
    "DEBUG_TITLE",
    "ENGINE_OWNED_HEADERS",
    "answer_before_body",
    "cors_preflight",
    "dispatch_call",
    "engine_error",
    "http_date",
    "raw_response_bytes",
    "reason_phrase",
    "response_headers",
]

#: seconds a browser may cache a preflight answer (:data:`trioserve.cors.MAX_AGE`)
CORS_MAX_AGE = MAX_AGE
#: methods the dispatcher understands; what a preflight allows (and ``OPTIONS *`` lists)
CORS_METHODS = ALLOW_METHODS
#: headers only the engine may set: framing and per-connection headers; a response that
#: carries them has them replaced
ENGINE_OWNED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server", "upgrade"}
)
_NO_BODY_STATUS = frozenset({204, 304})

_date_cache: tuple[int, str] = (-1, "")


def http_date(now: float | None = None) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), cached for the current second."""
    global _date_cache
    now = time.time() if now is None else now
    second = int(now)
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(second, usegmt=True))
    return _date_cache[1]


#: RFC 9110 renamed a few phrases that Python 3.11's HTTPStatus still spells the old way
_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def reason_phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def response_headers(
    response: Response, *, server: str, close: bool, now: float | None = None
) -> list[tuple[str, str]]:
    """The full header list for ``response``: ours first, then the response's own.

    ``Content-Length`` is set when the length is known (never for 1xx/204, RFC 9110 §8.6);
    with an unknown length h11 chooses chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    """
    headers: list[tuple[str, str]] = [("Date", http_date(now)), ("Server", server)]
    if response.content_type and response.status not in _NO_BODY_STATUS:
        headers.append(("Content-Type", response.content_type))
    length = response.length
    if length is not None and response.status not in _NO_BODY_STATUS:
        headers.append(("Content-Length", str(length)))
    for name, value in response.headers:
        lower = name.lower()
        if lower == "upgrade" and response.status == 426:
            pass  # RFC 9110 §15.5.22: a 426 names the protocol to switch to
        elif lower in ENGINE_OWNED_HEADERS or lower == "content-type":
            continue
        headers.append((name, value))
    if close:
        headers.append(("Connection", "close"))
    return headers


def raw_response_bytes(response: Response, *, server: str, head: bool = False) -> bytes:
    """Serialise a complete, bytes-bodied response by hand, always with ``Connection: close``.

    Used for answers the engine must give when h11's state machine cannot (a 414/431 noticed
    before h11 finished the head, a 408 on a half-sent head): the connection closes right after.
    """
    body = response.body if isinstance(response.body, bytes) else b""
    status = response.status
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    for name, value in response_headers(response, server=server, close=True):
        lines.append(f"{name}: {value}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return data if head else data + body


def engine_error(status: int, code: str, message: str) -> Response:
    """An error the engine answers itself: the shared JSON body, never cached."""
    response = error_response(status, code, message)
    response.headers.append(("Cache-Control", "no-store"))
    return response


log = logging.getLogger("trioserve.http")

#: title of the ``debug`` echo page (HTTP/1.1 and HTTP/2 alike)
DEBUG_TITLE = "trioserve echo"


def answer_before_body(engine: EngineState, call: Call, path: str) -> Response | None:
    """What a request is answered before its body is read, the same over HTTP/1.1 and
    HTTP/2: ``OPTIONS *``, a CORS preflight (before authentication: browsers send no
    credentials on one; with the CORS decision every reply takes), or the authenticator's
    refusal. None: read the body and go on. ``path`` is the request target's path, where
    ``*`` is still ``*``."""
    if path == "*":
        return Response(status=204, content_type="", headers=[("Allow", CORS_METHODS)])
    if is_preflight(call):
        cors = engine.ctx.cors()
        if cors is not None:
            return cors_preflight(
                cors,
                call.header("origin") or "",
                call.header("access-control-request-headers"),
                credentials=engine.options.cred_cors or engine.ctx.cors_credentials(),
            )
    if engine.authenticator is None:
        return None
    try:
        return engine.authenticator.check(call, time.time())
    except Exception:
        log.exception("authenticator failed for %s %s", call.method, call.path)
        return engine_error(500, "internal_error", "authentication failed")


async def dispatch_call(handle: Callable[[Call], Awaitable[Response]], call: Call) -> Response:
    """The one way an HTTP/1.1 connection or an HTTP/2 stream asks the dispatcher: a refusal
    becomes its JSON error, a failure a 500 (its traceback in the log, never in the reply)."""
    try:
        response = await handle(call)
    except RequestError as error:
        return error.to_response()
    except Exception:
        log.exception("request handler failed for %s %s", call.method, call.path)
        return engine_error(500, "internal_error", "the server failed to answer this request")
    if not isinstance(response, Response):
        log.error("request handler returned %r for %s", type(response), call.path)
        return engine_error(500, "internal_error", "the server failed to answer this request")
    return response


def cors_preflight(
    origin: str, request_origin: str, request_headers: str | None, *, credentials: str | None
) -> Response:
    """The engine's answer to a CORS preflight when the server has a CORS origin configured.

    ``origin`` is the server's ``cors`` setting (``*`` or a comma list), ``credentials`` the
    engine's ``cred_cors``. The decision is :func:`trioserve.cors.decide`'s: a listed origin is
    reflected (never the whole list), an unlisted one gets no CORS header, and with
    credentials ``*`` becomes the asking origin; ``Vary: Origin`` whenever that matters.
    """
    return preflight_response(decide(origin, credentials, request_origin), request_headers)
