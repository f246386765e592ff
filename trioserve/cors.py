"""CORS: the one decision that every reply and every preflight takes, whichever layer answers.

The HTTP engine answers preflights itself (before authentication: a browser sends no
credentials on a preflight), the dispatcher answers them for the engines that pass them on
(FastCGI) and finishes every other reply. When these two decided separately they disagreed:
a preflight carried the whole configured comma list, or echoed any origin, while the real
reply sent ``*`` next to ``Access-Control-Allow-Credentials``. Both now ask :func:`decide`,
and both write its answer with :func:`apply_cors`, so the preflight and the reply that
follows it always agree. Pure functions, no I/O.

The rules (``configured`` is the server's ``cors`` setting, ``credentials`` its ``cred_cors``):

* off (``None`` or empty): no CORS header at all;
* ``*`` without credentials: ``Access-Control-Allow-Origin: *`` for everybody;
* ``*`` with credentials: the Fetch standard refuses ``*`` next to credentials, so the
  asking ``Origin`` is reflected -- any site may then read replies with the visitor's
  credentials, which is what ``cors`` + ``cred_cors`` asks for (list the origins instead);
* a comma list: only a listed ``Origin`` is reflected (compared as scheme, host and port, so
  ``https://A.org:443`` lists ``https://a.org``); an unlisted one gets no CORS header. A single
  configured origin is also sent to requests without ``Origin`` (ROOT sends it always).

Whenever the answer depends on ``Origin`` the reply says ``Vary: Origin``, so a cache never
hands one origin's reply to another. Credentials are never combined with ``*``. Allowed
replies carry ``Access-Control-Expose-Headers`` for the headers cross-origin clients must read
(:data:`EXPOSE_HEADERS`: JSROOT's binary long-poll reads ``LongpollHeader``, its file reader
``Content-Range``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from trioserve.call import Call, Response

__all__ = [
    "ALLOW_METHODS",
    "EXPOSE_HEADERS",
    "MAX_AGE",
    "CorsDecision",
    "apply_cors",
    "decide",
    "is_preflight",
    "preflight_response",
]

#: seconds a browser may cache a preflight answer (Chromium caps it at 7200)
MAX_AGE = 600
#: the methods the dispatcher understands: what a preflight allows and ``OPTIONS`` lists
ALLOW_METHODS = "GET, HEAD, POST, OPTIONS"
#: response headers a cross-origin script may read beyond the CORS-safelisted ones
EXPOSE_HEADERS = "LongpollHeader, Content-Range, ETag"

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class CorsDecision:
    """What one reply says about CORS: the origin allowed (``None``: no CORS header), the
    credentials value to send with it, and whether the answer depended on ``Origin``."""

    allow_origin: str | None = None
    credentials: str | None = None
    vary: bool = False

    @property
    def allowed(self) -> bool:
        return self.allow_origin is not None


def _normal(origin: str) -> str:
    """An origin as browsers compare them: lower-case scheme and host, default port dropped."""
    text = origin.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.lower()
    if not parts.scheme or not parts.hostname:
        return text.lower()
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def decide(configured: str | None, credentials: str | None, origin: str | None) -> CorsDecision:
    """The CORS answer for a request from ``origin`` (its ``Origin`` header, or None) under
    the server's ``cors`` setting ``configured`` and its ``cred_cors`` value ``credentials``."""
    if not configured:
        return CorsDecision()
    listed = [o.strip() for o in configured.split(",") if o.strip()]
    if not listed:
        return CorsDecision()
    credentials = credentials or None
    if "*" in listed:
        if credentials is None:
            return CorsDecision("*")
        # never "*" with credentials (Fetch): reflect whoever asks
        return CorsDecision(origin, credentials, vary=True) if origin else CorsDecision(vary=True)
    if origin is None:
        if len(listed) == 1:
            return CorsDecision(listed[0], credentials, vary=True)
        return CorsDecision(vary=True)
    mine = _normal(origin)
    if any(_normal(entry) == mine for entry in listed):
        return CorsDecision(origin, credentials, vary=True)
    return CorsDecision(vary=True)


def _varies_on_origin(response: Response) -> bool:
    for name, value in response.headers:
        if name.lower() == "vary" and any(
            token.strip().lower() in ("origin", "*") for token in value.split(",")
        ):
            return True
    return False


def apply_cors(response: Response, decision: CorsDecision) -> None:
    """Write ``decision`` into ``response`` (idempotent: a header already there is replaced,
    ``Vary: Origin`` is added once)."""
    if decision.allow_origin is not None:
        response.set_header("Access-Control-Allow-Origin", decision.allow_origin)
        if decision.credentials is not None:
            response.set_header("Access-Control-Allow-Credentials", decision.credentials)
        response.set_header("Access-Control-Expose-Headers", EXPOSE_HEADERS)
    if decision.vary and not _varies_on_origin(response):
        response.headers.append(("Vary", "Origin"))


def is_preflight(call: Call) -> bool:
    """An ``OPTIONS`` request a browser sends before a cross-origin one (Fetch §4.8)."""
    return (
        call.method == "OPTIONS"
        and bool(call.header("origin"))
        and bool(call.header("access-control-request-method"))
    )


def preflight_response(decision: CorsDecision, request_headers: str | None) -> Response:
    """The answer to a preflight (or to any ``OPTIONS``): 204 with ``Allow``, and when
    ``decision`` allows the origin, the methods, the asked-for request headers and how long
    the browser may cache the answer. An origin that is not allowed gets no CORS header, so
    the browser stops there."""
    response = Response(status=204, content_type="", headers=[("Allow", ALLOW_METHODS)], body=b"")
    if decision.allowed:
        response.headers.append(("Access-Control-Allow-Methods", ALLOW_METHODS))
        if request_headers:
            response.headers.append(("Access-Control-Allow-Headers", request_headers))
        response.headers.append(("Access-Control-Max-Age", str(MAX_AGE)))
    apply_cors(response, decision)
    return response
