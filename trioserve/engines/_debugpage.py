"""The FastCGI ``debug`` option's echo page (ROOT's "FastCGI echo"), made safe.

ROOT reflects the request raw, including ``HTTP_AUTHORIZATION`` and ``HTTP_COOKIE``: a
reflected-XSS hole and a credential leak (reference §7.3). Here every value goes through
:func:`html.escape` and every param that can carry a credential is shown as ``(hidden)``:
the authorization and cookie headers in any spelling, and any name containing PASSWORD,
SECRET or TOKEN (front-ends forward environment variables as params, e.g. Apache's
``SetEnv``/``PassEnv``, so a secret can arrive under any name).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from trioserve.call import Call, Response

__all__ = ["HIDDEN", "is_credential", "render_fastcgi_debug_page"]

HIDDEN = "(hidden)"
_CREDENTIAL_NAMES = frozenset(
    {"HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE", "AUTHORIZATION"}
)
_CREDENTIAL_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN")
_NO_CACHE = "private, no-cache, no-store, must-revalidate, max-age=0, proxy-revalidate, s-maxage=0"


def is_credential(name: str) -> bool:
    upper = name.upper().replace("-", "_")
    return upper in _CREDENTIAL_NAMES or any(word in upper for word in _CREDENTIAL_WORDS)


def _row(name: str, value: str) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"


def render_fastcgi_debug_page(call: Call, params: Mapping[str, str]) -> Response:
    """An HTML page describing the call and every FastCGI param (credentials hidden)."""
    request_rows = [
        ("Method", call.method),
        ("Path", call.path),
        ("PathName", call.item_path),
        ("FileName", call.file_name),
        ("Query", call.query),
        ("PostData", f"{len(call.body)} bytes"),
        ("User", call.user or "(anonymous)"),
        ("ScriptName", call.script_name),
        ("Top", call.top_name or ""),
        ("Peer", call.peer),
    ]
    param_rows = [
        _row(name, HIDDEN if is_credential(name) else value) for name, value in params.items()
    ]
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>FastCGI echo</title></head>',
            "<body><h1>FastCGI echo</h1>",
            "<h2>Request</h2><table>",
            *(_row(name, value) for name, value in request_rows),
            "</table><h2>Params</h2><table>",
            *param_rows,
            "</table></body></html>",
            "",
        ]
    )
    return Response(
        status=200,
        content_type="text/html; charset=utf-8",
        headers=[("Cache-Control", _NO_CACHE)],
        body=page.encode(),
    )
