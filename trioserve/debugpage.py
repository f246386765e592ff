"""The ``debug`` engine option's echo page (ROOT's "Civetweb echo" / "FastCGI echo").

ROOT reflects the request raw -- query, path and every header including ``Authorization`` and
``Cookie`` -- which is both a reflected-XSS hole and a credential leak (reference §7.3, §9.4).
This page escapes every value and hides credential-bearing fields, by HTTP header name and by
their FastCGI/CGI spelling (``HTTP_AUTHORIZATION``, ``HTTP_COOKIE``...). Query strings carry
secrets too (``?password=...&api_token=...``), wherever they show: the Query row, the
front-end's ``QUERY_STRING`` and ``REQUEST_URI``, a ``Referer``. Every value goes through one
function, :func:`redact`, which hides a parameter by the rule a header is hidden by
(:func:`is_secret_field` on its decoded name) and leaves the rest readable. It is a pure
function so the HTTP and the FastCGI engines render exactly the same page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import unquote_plus

from trioserve.call import NO_CACHE, Call, Response

__all__ = [
    "HIDDEN",
    "NO_CACHE",
    "is_secret_field",
    "redact",
    "redact_query",
    "render_debug_page",
]

#: what a redacted value is shown as
HIDDEN = "(hidden)"
_SECRET_NAMES = frozenset({"authorization", "proxy-authorization", "cookie"})
#: front-ends forward environment variables as FastCGI params (Apache's SetEnv/PassEnv), so a
#: secret can arrive under any name: these words in a name hide its value too
_SECRET_WORDS = ("password", "passwd", "secret", "token")


def is_secret_field(name: str) -> bool:
    """True for ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` in any spelling
    (``HTTP_COOKIE``...), and for any name containing PASSWORD, SECRET or TOKEN."""
    key = name.strip().lower().replace("_", "-")
    if key.startswith("http-"):
        key = key[5:]
    return key in _SECRET_NAMES or any(word in key for word in _SECRET_WORDS)


#: fields whose whole value is a query string (the request's row, CGI's and Apache's params)
_QUERY_FIELDS = frozenset({"query", "query-string", "redirect-query-string"})


def redact_query(query: str) -> str:
    """``password=x&plain=y`` -> ``password=(hidden)&plain=y``: each parameter whose decoded
    name is a secret's (:func:`is_secret_field`) has its value replaced; order, the other
    parameters and a fragment stay as they were."""
    query, hash_, fragment = query.partition("#")
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        if eq and is_secret_field(unquote_plus(name)):
            part = f"{name}={HIDDEN}"
        parts.append(part)
    return "&".join(parts) + hash_ + fragment


def redact(name: str, value: str) -> str:
    """What the page shows for the field ``name``: :data:`HIDDEN` for a secret field, the
    value with :func:`redact_query` applied to its query (the whole value for a query field,
    the part after the first ``?`` for anything URL-like), else the value as is."""
    if is_secret_field(name):
        return HIDDEN
    key = name.strip().lower().replace("_", "-")
    if key in _QUERY_FIELDS:
        return redact_query(value)
    head, question, query = value.partition("?")
    if question:
        return head + question + redact_query(query)
    return value


def _row(name: str, value: str) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{html.escape(redact(name, value))}</td></tr>"


def render_debug_page(title: str, call: Call, extra: Iterable[tuple[str, str]] = ()) -> Response:
    """An HTML page describing ``call``; ``extra`` lists further fields (e.g. FastCGI params)."""
    request_rows = [
        ("Method", call.method),
        ("Path", call.path),
        ("PathName", call.item_path),
        ("FileName", call.file_name),
        ("Query", call.query),
        ("PostData", f"{len(call.body)} bytes"),
        ("User", call.user or "(anonymous)"),
        ("Engine", call.engine),
        ("Top", call.top_name or ""),
        ("Peer", call.peer),
    ]
    if call.script_name:
        request_rows.append(("ScriptName", call.script_name))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>th{text-align:left;padding-right:1em;vertical-align:top}"
        "td{font-family:monospace;white-space:pre-wrap;word-break:break-all}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
        "<h2>Request</h2><table>",
        *(_row(name, value) for name, value in request_rows),
        "</table><h2>Headers</h2><table>",
        *(_row(name, value) for name, value in call.headers),
        "</table>",
    ]
    extra_rows = [_row(name, value) for name, value in extra]
    if extra_rows:
        parts += ["<h2>Parameters</h2><table>", *extra_rows, "</table>"]
    parts.append("</body></html>\n")
    return Response(
        status=200,
        content_type="text/html; charset=utf-8",
        headers=[("Cache-Control", NO_CACHE), ("X-Content-Type-Options", "nosniff")],
        body="\n".join(parts).encode("utf-8"),
    )
