"""The protocol-neutral request and response (ROOT's THttpCallArg).

Engines build a :class:`Call` from whatever their transport delivered and hand it to the
dispatcher; they get a :class:`Response` back and turn it into bytes. Nothing in here knows
whether the call came over HTTP, a unix socket or FastCGI, which is the point: every access
rule and every renderer sees exactly the same thing whatever the transport.

The two contracts that engines and the layers below them share (:class:`Authenticator`,
:data:`WebSocketHook`) live here too, below both sides, so that dispatch, auth and ws never
need to import :mod:`trioserve.engines` to name them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    import trio

__all__ = [
    "NO_CACHE",
    "Authenticator",
    "Call",
    "Response",
    "WebSocketHook",
    "error_response",
    "first_header",
    "query_dict",
    "split_path",
]


#: ROOT's header for every dynamic reply: live objects must never be served from a cache
NO_CACHE = "private, no-cache, no-store, must-revalidate, max-age=0, proxy-revalidate, s-maxage=0"


def first_header(
    headers: Iterable[tuple[str, str]], name: str, default: str | None = None
) -> str | None:
    """First value of ``name`` among lower-case ``(name, value)`` header pairs."""
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value
    return default


def query_dict(query: str) -> dict[str, str]:
    """A raw query string as a dict of decoded values; bare flags get an empty value."""
    if not query:
        return {}  # most requests: spare parse_qsl's setup
    return dict(parse_qsl(query, keep_blank_values=True))


def split_path(url_path: str) -> tuple[str, str]:
    """Split a decoded URL path into (item path, file name) the way ROOT does.

    The file name is what follows the last ``/``; the item path is what lies between the
    leading slashes and that last slash. ``/Objects/hpx/root.json`` -> ``("Objects/hpx",
    "root.json")``; ``/`` -> ``("", "")``.
    """
    if "/" not in url_path:
        return "", url_path
    head, _, file_name = url_path.rpartition("/")
    return head.lstrip("/"), file_name


@dataclass(slots=True)
class Call:
    """One request, as the dispatcher sees it.

    ``path`` is the decoded URL path inside the application (for FastCGI: after the
    front-end's mount prefix), always starting with ``/``. ``query`` is kept raw because
    some request kinds (long-poll, ``exe.*``) care about the exact text. ``headers`` carries
    lower-case names. ``user`` is ``None`` for an anonymous request: the engine sets it only
    after authentication succeeded (digest) or the front-end vouched for it (FastCGI).
    """

    method: str
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    user: str | None = None
    engine: str = "http"
    top_name: str | None = None
    #: the URL prefix a front-end mounted us under (FastCGI SCRIPT_NAME), for logs and pages
    script_name: str = ""
    #: the peer address as a printable string, for access logs
    peer: str = "-"
    #: set by the dispatcher for sub-requests of ``multi.*``
    nested: bool = False
    #: the raw request target as sent (``/a%20b/root.json?x=1``); digest auth compares its
    #: ``uri`` parameter against it. Empty when the transport has no such thing.
    target: str = ""
    #: ``"1.1"``/``"1.0"`` for HTTP engines (websocket upgrades need 1.1); empty otherwise
    http_version: str = ""
    #: set when a valid access token came in ``?token=``: the ``Set-Cookie`` value that lets
    #: the page it opened load its modules and data without the token in every URL
    token_cookie: str | None = None

    @property
    def item_path(self) -> str:
        return split_path(self.path)[0]

    @property
    def file_name(self) -> str:
        return split_path(self.path)[1]

    def header(self, name: str, default: str | None = None) -> str | None:
        """First value of a header; ``name`` is compared case-insensitively."""
        return first_header(self.headers, name, default)

    def query_items(self) -> list[tuple[str, str]]:
        """The query as decoded ``(name, value)`` pairs; bare flags get an empty value."""
        return parse_qsl(self.query, keep_blank_values=True)

    def query_dict(self) -> dict[str, str]:
        return query_dict(self.query)

    def header_all(self, name: str) -> str:
        """Every value of a header joined with ``,`` (RFC 9110 §5.3 list semantics)."""
        name = name.lower()
        return ", ".join(value for key, value in self.headers if key == name)

    def accepts_gzip(self) -> bool:
        """Accept-Encoding with q-values: ``gzip;q=0`` means no, ``*`` covers gzip."""
        star: bool | None = None
        for item in self.header_all("accept-encoding").split(","):
            coding, *params = (piece.strip() for piece in item.split(";"))
            q = 1.0
            for param in params:
                key, _, val = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(val)
                    except ValueError:
                        q = 0.0
            coding = coding.lower()
            if coding in ("gzip", "x-gzip"):
                return q > 0
            if coding == "*":
                star = q > 0
        return bool(star)


@dataclass(slots=True)
class Response:
    """What the dispatcher answers.

    ``body`` is either bytes or an async iterable of byte chunks; a streamed body should set
    ``content_length`` when it is known so engines can send ``Content-Length`` instead of
    chunking. Engines add ``Date``, ``Server`` and ``Content-Length`` themselves.
    """

    status: int = 200
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterable[bytes] = b""
    content_length: int | None = None
    #: ask the engine to close the connection after this response
    close: bool = False
    #: the body still waits for the gzip its ``.gz`` request asked for: left by a program's
    #: thread for the server's (:data:`trioserve.gzip_reply.DEFER_ABOVE`)
    gzip_pending: bool = False

    def set_header(self, name: str, value: str) -> None:
        """Replace any earlier header of that name (compared case-insensitively)."""
        lower = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lower]
        self.headers.append((name, value))

    def get_header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    @property
    def length(self) -> int | None:
        if isinstance(self.body, bytes | bytearray):
            return len(self.body)
        return self.content_length


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    """The one error body shape every engine sends: ``{"error": code, "message": ...}``.

    ``code`` is a short machine-readable token (``not_found``, ``body_too_large``...);
    ``message`` is for people and must never carry secrets or tracebacks.
    """
    payload: dict[str, object] = {"error": code, "message": message, "status": status}
    payload.update(extra)
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(status=status, content_type="application/json", body=body)


# -- contracts between the engines and the layers below them -----------------------------------
class Authenticator(Protocol):
    """What an HTTP-style engine asks before dispatching (digest auth lives behind this).

    ``check`` returns ``None`` when the request may proceed -- having set ``call.user`` to the
    authenticated name -- or the response to send instead (a 401 challenge, or 400 for a
    malformed ``Authorization`` header). ``now`` is passed in so the verifier stays sans-IO.
    """

    def check(self, call: Call, now: float) -> Response | None: ...


#: called by the HTTP engine for a valid ``root.websocket`` upgrade request: it receives the
#: call (already authenticated), the raw stream and any bytes h11 read past the request head;
#: it owns the stream until it returns. The stream is named as a string so that this module
#: never imports trio at run time.
WebSocketHook = Callable[["Call", "trio.abc.Stream", bytes], Awaitable[None]]
