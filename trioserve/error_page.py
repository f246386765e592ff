"""Error replies as an HTML page for browsers, as JSON for everyone else.

Every error the dispatcher answers has one JSON body (:func:`trioserve.call.error_response`),
which is what scripts and the UI read. A person who types a wrong URL into the address bar
gets that JSON as raw text, which reads like a crash. So when the request's ``Accept`` prefers
``text/html`` over JSON -- a browser's navigation does, ``fetch()``, curl, httpx and JSROOT
(``*/*``) do not -- :func:`negotiate_error` turns the reply into a small page styled like the
UI, with the status, the message and the error code. A tie keeps JSON: nothing that worked
before changes shape.

It is sans-IO (a reply in, the same reply changed out) so the HTTP and FastCGI engines give
the same page, and it is tested with plain calls. The page loads nothing: its style is inline
and a ``Content-Security-Policy`` forbids scripts, so an escaped message stays text even if an
escaping bug ever slipped through.
"""

from __future__ import annotations

import html
import json
from http import HTTPStatus

from trioserve.call import Call, Response

__all__ = ["accept_quality", "negotiate_error", "prefers_html", "render_error_page"]

#: the page may use its own inline style and nothing else: no script, no image, no form
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: #1b1f24; background: #e7e9ee; }
header { background: #27364d; color: #fff; padding: .45em .9em; font-weight: 600; }
main { max-width: 46em; margin: 2em auto; background: #fff; border: 1px solid #c9ced6;
  border-radius: 3px; padding: 1em 1.4em; }
h1 { font-size: 1.25em; margin: 0 0 .6em; color: #a11; }
.message { font-size: 1.05em; white-space: pre-wrap; word-break: break-word; }
.code { color: #5a6372; }
code { font: 13px ui-monospace, monospace; background: #f1f3f7; padding: 0 .3em; }
a { color: #1f4e9c; }
"""


def accept_quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type``: from its most specific matching range
    (``text/html`` before ``text/*`` before ``*/*``, RFC 9110 §12.5.1); 0 when none matches."""
    kind, _, _sub = media_type.partition("/")
    best_rank, best_q = -1, 0.0
    for item in accept.split(","):
        media_range, *params = (piece.strip() for piece in item.split(";"))
        media_range = media_range.lower()
        if media_range == media_type:
            rank = 2
        elif media_range == f"{kind}/*":
            rank = 1
        elif media_range == "*/*":
            rank = 0
        else:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        if rank > best_rank:
            best_rank, best_q = rank, q
    return best_q


def prefers_html(accept: str | None) -> bool:
    """True when ``Accept`` ranks ``text/html`` strictly above ``application/json``."""
    if not accept:
        return False
    return accept_quality(accept, "text/html") > accept_quality(accept, "application/json")


def render_error_page(status: int, code: str, message: str, top: str = "./") -> bytes:
    """The page for one error; ``top`` is the relative URL of the server's own page."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title = html.escape(f"{status} {phrase}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title} - trioserve</title>\n<style>{_STYLE}</style></head>\n"
        "<body><header>trioserve</header>\n<main>\n"
        f'<h1 class="status">{title}</h1>\n'
        f'<p class="message">{html.escape(message)}</p>\n'
        f'<p class="code">error code: <code>{html.escape(code)}</code></p>\n'
        f'<p><a href="{html.escape(top)}">Back to the object browser</a></p>\n'
        "</main></body></html>\n"
    ).encode()


def _top_link(path: str) -> str:
    """A relative URL from ``path`` to the page at the top, so it works under any prefix."""
    depth = max(0, path.count("/") - 1)
    return "../" * depth or "./"


def negotiate_error(call: Call, response: Response) -> None:
    """Turn a JSON error reply into the HTML page when the client prefers HTML.

    Only replies with our error body shape are touched; everything else is left as it is.
    Both forms name ``Accept`` in ``Vary``, since the body depends on it.
    """
    if response.status < 400 or not response.content_type.startswith("application/json"):
        return
    if not isinstance(response.body, bytes | bytearray):
        return
    try:
        payload = json.loads(response.body)
    except ValueError:
        return
    if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
        return
    response.headers.append(("Vary", "Accept"))
    if not prefers_html(call.header_all("accept")):
        return
    code = payload.get("error")
    response.body = render_error_page(
        response.status,
        code if isinstance(code, str) else "error",
        payload["message"],
        _top_link(call.path),
    )
    response.content_type = "text/html; charset=utf-8"
    response.content_length = None
    response.set_header("Content-Security-Policy", PAGE_CSP)
    response.set_header("X-Content-Type-Options", "nosniff")
