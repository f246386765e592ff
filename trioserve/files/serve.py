"""The dispatcher's one entry into files: which location, which file, which kind of answer.

:func:`serve_location` ties the other modules together: :class:`~trioserve.files.Locations`
picks the location, the access policy judges the path, :mod:`~trioserve.files.safepath`
decides whether the path may be served, and the answer is a file
(:mod:`~trioserve.files.response`), a listing (:mod:`~trioserve.files.listing`), a redirect,
or the one indistinguishable 404.

Why the policy is asked here: a location lives in the same path namespace as the items
(``/data/x.txt`` is the path ``data/x.txt`` from the top, as ``/Objects/h`` is), so
``restrict("/data", ...)`` and ``restrict("/", ...)`` must judge its files exactly as they
judge items, with the question items are judged by (:meth:`~trioserve.policy.Policy.can_see`).
Every file request passes this function, so asking before anything else is answered -- the
method, the redirect, the listing, preconditions and ranges -- leaves no answer that could
tell a hidden file from a missing one. Files are only ever read, so hidden (404) is the one
verdict that applies to them; the read-only and full verdicts concern acting on items.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from trioserve.call import NO_CACHE, Call, Response, error_response
from trioserve.files.listing import directory_listing
from trioserve.files.locations import Locations
from trioserve.files.response import file_response, not_found
from trioserve.files.safepath import resolve_with_reason

if TYPE_CHECKING:
    from collections.abc import Callable

    from trioserve.policy import Policy

__all__ = ["serve_location"]

# the package's logger, whichever module of it logs (docs/files.md names it)
log = logging.getLogger("trioserve.files")


def _redirect(target: str) -> Response:
    return Response(
        status=301,
        content_type="text/plain; charset=utf-8",
        headers=[("Location", target), ("Cache-Control", NO_CACHE)],
        body=b"moved\n",
    )


def _visibility(policy: Policy | None, user: str | None) -> Callable[[str], bool] | None:
    """``path -> may user see it``, or None when no rule could hide anything (the common
    case costs nothing per request)."""
    if policy is None or not policy.has_rules:
        return None
    return lambda path: bool(policy.can_see(path, user))


async def serve_location(
    call: Call,
    locations: Locations,
    *,
    max_age: int = 3600,
    nocache: bool = False,
    chunk_size: int = 64 * 1024,
    policy: Policy | None = None,
) -> Response | None:
    """The dispatcher's one entry: None when no location claims the path, else the answer.

    404 for anything hidden by ``policy`` from the call's user, refused or missing
    (indistinguishable on purpose), 405 for methods other than GET/HEAD, 301 to add the
    trailing slash of a listable directory, otherwise a file (:func:`file_response`) or a
    listing (:func:`directory_listing`, without the entries the user may not see). The query
    is ignored, so cache-busting ``?v=...`` works. Without ``policy`` nothing is hidden.
    """
    visible = _visibility(policy, call.user)
    found = locations.match(call.path)
    if found is None:
        # "/mydir" names a listable location root: send the browser to "mydir/"
        root = locations.match(call.path + "/")
        if root is not None and root[1] == "" and root[0].dirlisting:
            if visible is not None and not visible(call.path):
                log.debug("file request %r refused: hidden by the access rules", call.path)
                return not_found()
            return _redirect(quote(root[0].prefix.rstrip("/").rsplit("/", 1)[-1]) + "/")
        return None
    location, relative = found
    if visible is not None and not visible(call.path):
        log.debug("file request %r refused: hidden by the access rules", call.path)
        return not_found()
    if call.method not in ("GET", "HEAD"):
        response = error_response(405, "method_not_allowed", "files answer GET and HEAD only")
        response.headers.append(("Allow", "GET, HEAD"))
        return response
    path, reason = resolve_with_reason(location, relative)
    if path is None:
        log.debug("file request %r refused: %s", call.path, reason)
        return not_found()
    if path.is_dir():
        if not location.dirlisting:
            log.debug("file request %r refused: directory listing is off", call.path)
            return not_found()
        if relative and not relative.endswith("/"):
            return _redirect(quote(relative.rsplit("/", 1)[-1], safe="") + "/")
        url_path = call.path
        return directory_listing(
            call,
            path,
            url_path,
            show_dotfiles=location.dotfiles,
            show_symlinks=location.follow_symlinks,
            show=None if visible is None else (lambda name: visible(url_path + name)),
        )
    if relative.endswith("/") or not relative:
        return not_found()  # "file.txt/" is not a directory
    return await file_response(call, path, max_age=max_age, nocache=nocache, chunk_size=chunk_size)
