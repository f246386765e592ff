"""FastCGI params → :class:`~trioserve.call.Call`: what the front-end says, as our request.

Kept apart from the connection loop because this is where front-end quirks meet the app (which
param holds the path, which HTTP_* params describe the front-end's own hop, who the user is);
these are plain functions of the params, tested table-driven against what Apache, lighttpd
and nginx really send (and end to end behind each in ``tests/frontends/``). No Trio in here.

* The in-app path comes from :func:`app_path` (PATH_INFO, else SCRIPT_FILENAME stripped of
  Apache's ``proxy:fcgi://host:port`` prefix and percent-decoded, else nginx's DOCUMENT_URI),
  which works behind every front-end configuration measured, unlike ROOT's
  ``PATH_INFO ?: SCRIPT_FILENAME``.
* Params stay a dict; HTTP_* params become lower-case headers. They are never re-serialised
  into ``Name: value`` lines (Apache can deliver a decoded CR/LF inside SCRIPT_NAME).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from trioserve.auth import frontend_user
from trioserve.call import Call, Response

__all__ = ["app_path", "build_call", "call_at", "redirect_to_mount"]

#: HTTP_* params that describe the front-end's hop, not the request the app sees
_DROPPED_HTTP_PARAMS = frozenset(
    {
        "HTTP_TRANSFER_ENCODING",  # Apache forwards it for chunked uploads; STDIN is de-chunked
        "HTTP_CONTENT_LENGTH",  # lighttpd's copy; we state the real length instead
        "HTTP_EXPECT",  # the front-end already answered 100-continue
        "HTTP_CONNECTION",
        "HTTP_KEEP_ALIVE",
        "HTTP_PROXY",  # httpoxy
    }
)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an already decoded path; doubled slashes are left alone."""
    if "." not in path:
        return path
    if "/." not in path and not path.startswith("."):
        # no segment starts with a dot, so none is "." or "..": only the leading slash
        # the loop below would add (``root.json`` -> ``/root.json``)
        return path if path.startswith("/") else "/" + path
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    result = "/".join(out)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") else "/" + result


def app_path(params: Mapping[str, str]) -> tuple[str | None, str]:
    """``(path inside the app, mount prefix)`` from a request's params.

    1. ``PATH_INFO`` when present: lighttpd, Apache with
       ``SetEnvIf Request_URI "^" proxy-fcgi-pathinfo=unescape`` or ``ProxyFCGISetEnvIf``,
       and nginx with ``fastcgi_split_path_info``. It is already decoded; the mount prefix
       is ``SCRIPT_NAME``. An empty one from nginx (whose split did not match) counts as
       absent: see case 4.
    2. ``SCRIPT_FILENAME`` starting ``proxy:`` (Apache's default, "FPM" backend type, TCP
       ``proxy:fcgi://127.0.0.1:9000/x`` and unix ``proxy:fcgi://localhost/x``): the text
       after ``scheme://authority``, percent-decoded (Apache sends it encoded).
    3. ``SCRIPT_FILENAME`` starting ``/`` without ``REDIRECT_STATUS`` (Apache with
       ``ProxyFCGIBackendType GENERIC``): percent-decoded as is.
    4. ``DOCUMENT_URI`` (only nginx sends it) without a ``PATH_INFO``: nginx split nothing
       off (``include fastcgi_params`` alone, or a split regex that did not match, e.g. a
       URI with a decoded newline), so nothing says where a prefix ends: the whole decoded,
       normalised URI is the path and the mount is ``""``. Right for a server that mounts
       us at ``/``; under a prefix the app answers 404 for it -- never a redirect loop.
    5. Otherwise the request hit the mount point itself without a trailing slash (lighttpd,
       ``/root.app``): ``None``, and the engine redirects to ``SCRIPT_NAME + "/"`` so that
       relative links in pages resolve under the mount point.

    In cases 2 and 3 the mount prefix is ``SCRIPT_NAME`` minus the path at its end. The result
    has dot segments removed (both front-ends normalise already; this is belt and braces).
    """
    script_name = params.get("SCRIPT_NAME", "")
    path_info = params.get("PATH_INFO")
    if path_info or (path_info is not None and "DOCUMENT_URI" not in params):
        return _remove_dot_segments(path_info or "/"), script_name
    filename = params.get("SCRIPT_FILENAME", "")
    if filename.startswith("proxy:"):
        rest = filename.split("://", 1)[-1]
        slash = rest.find("/")
        path = unquote(rest[slash:]) if slash >= 0 else "/"
    elif filename.startswith("/") and "REDIRECT_STATUS" not in params:
        path = unquote(filename)
    elif "DOCUMENT_URI" in params:
        return _remove_dot_segments(params["DOCUMENT_URI"] or "/"), ""
    else:
        return None, script_name
    path = _remove_dot_segments(path or "/")
    if script_name.endswith(path):
        mount = script_name[: len(script_name) - len(path)]
    elif path == "/" and script_name.endswith("/"):
        mount = script_name[:-1]
    else:
        mount = script_name
    return path, mount.rstrip("/")


#: HTTP_* param name -> header name, filled as names are seen (bounded: names come from
#: the front-end, which forwards whatever headers its clients send)
_HEADER_NAMES: dict[str, str] = {}
_MAX_HEADER_NAMES = 512


def _header_name(param: str) -> str:
    name = _HEADER_NAMES.get(param)
    if name is None:
        name = param[5:].lower().replace("_", "-")
        if len(_HEADER_NAMES) < _MAX_HEADER_NAMES:
            _HEADER_NAMES[param] = name
    return name


def _headers(params: Mapping[str, str], body_length: int) -> list[tuple[str, str]]:
    headers = [
        (_header_name(name), value)
        for name, value in params.items()
        if name.startswith("HTTP_") and name not in _DROPPED_HTTP_PARAMS
    ]
    if params.get("CONTENT_TYPE"):
        headers.append(("content-type", params["CONTENT_TYPE"]))
    if body_length or "CONTENT_LENGTH" in params:
        headers.append(("content-length", str(body_length)))
    return headers


def build_call(
    params: Mapping[str, str],
    body: bytes,
    *,
    top_name: str | None = None,
    peer: str = "-",
) -> Call:
    """The protocol-neutral :class:`Call` for one FastCGI request.

    The user is ``REMOTE_USER`` only when ``AUTH_TYPE`` is non-empty, i.e. when the front-end
    says it authenticated the request (ROOT's rule, minus its prefix-match quirk).
    """
    path, mount = app_path(params)
    return call_at(params, body, path, mount, top_name=top_name, peer=peer)


def call_at(
    params: Mapping[str, str],
    body: bytes,
    path: str | None,
    mount: str,
    *,
    top_name: str | None = None,
    peer: str = "-",
) -> Call:
    """:func:`build_call` for a request whose :func:`app_path` the engine already has."""
    user = frontend_user(params.get("REMOTE_USER"), params.get("AUTH_TYPE"))
    return Call(
        method=(params.get("REQUEST_METHOD") or "GET").upper(),
        path=path if path is not None else "/",
        query=params.get("QUERY_STRING", ""),
        headers=_headers(params, len(body)),
        body=body,
        user=user,
        engine="fastcgi",
        top_name=top_name,
        script_name=mount,
        peer=params.get("REMOTE_ADDR") or peer,
    )


def redirect_to_mount(params: Mapping[str, str]) -> Response:
    """lighttpd hands us ``/root.app`` (no slash, no PATH_INFO; case 4 of :func:`app_path`):
    send the browser to ``/root.app/`` so that relative links in our pages resolve under the
    mount point."""
    location = params.get("SCRIPT_NAME", "") + "/"
    if params.get("QUERY_STRING"):
        location += "?" + params["QUERY_STRING"]
    response = Response(status=301, content_type="text/plain; charset=utf-8", body=b"")
    response.set_header("Location", location)
    return response
