"""The one dispatcher every engine calls.

``Dispatcher.handle(call)`` answers a :class:`~trioserve.call.Call` whatever engine built it:
files from locations first, then the ``.gz`` suffix is stripped once, then the request name
(``h.json``, ``root.json``, ``exe.json``...) picks a handler from :mod:`trioserve.requests`,
then ROOT's MissedRequest hook, then 404. Handlers raise :class:`RequestError` for refusals;
anything else they raise becomes a 500 with a generic body (the traceback goes to the log
only). The dispatcher finishes every reply the same way: no-cache and CORS headers, gzip.

Files are judged by the access policy like items (the file step passes the policy to
:func:`~trioserve.files.serve_location`; the UI's own modules, answered at any path, are judged
at the top). CORS -- the preflights that reach us (FastCGI passes them on) and every reply --
is decided by :mod:`trioserve.cors`, the module the HTTP engine's own preflights ask too.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import TYPE_CHECKING, Any

from trioserve.call import NO_CACHE, Call, Response, error_response
from trioserve.context import Handler, RequestContext, resolve_visible
from trioserve.cors import CorsDecision, apply_cors, decide, is_preflight
from trioserve.cors import preflight_response as cors_preflight_response
from trioserve.error_page import negotiate_error
from trioserve.errors import RequestError
from trioserve.files import serve_location
from trioserve.gzip_reply import gzip_response
from trioserve.requests import HANDLERS, INLINE, NESTED_FORBIDDEN
from trioserve.ui.assets import ASSETS as UI_ASSETS

if TYPE_CHECKING:
    from trioserve.call import WebSocketHook
    from trioserve.context import Host
    from trioserve.tree import Resolved

__all__ = ["NO_CACHE", "Dispatcher", "Handler", "RequestContext"]

log = logging.getLogger("trioserve.dispatch")

ALLOWED_METHODS = ("GET", "HEAD", "POST")


class Dispatcher:
    def __init__(self, server: Host) -> None:
        self.server = server

    # -- policy-aware lookup ------------------------------------------------------------
    def resolve(self, item_path: str, user: str | None, *, members: bool = True) -> Resolved | None:
        return resolve_visible(self.server, item_path, user, members=members)

    def can_see_path(self, path: str, user: str | None) -> bool:
        return bool(self.server.policy.can_see(path, user))

    def websocket_hook(self) -> WebSocketHook | None:
        try:
            from trioserve.ws import websocket_hook
        except ImportError:
            return None
        return websocket_hook(self.server)

    def runs_inline(self, call: Call) -> bool:
        """Whether :meth:`handle` answers ``call`` without waiting on anything but object
        access (a read of one item, no file), so a ``sync="app"`` program's thread may run
        it whole (:mod:`trioserve.parking`)."""
        if call.method not in ("GET", "HEAD"):
            return False
        name, _ = _unzipped(call.file_name)
        if name not in INLINE:
            return False
        locations = self.server.locations
        # a location claims its paths before any handler (and its root without the slash)
        return not len(locations) or (
            locations.match(call.path) is None and locations.match(call.path + "/") is None
        )

    # -- entry points -------------------------------------------------------------------
    async def handle(self, call: Call) -> Response:
        """Answer one call; never raises (except cancellation)."""
        try:
            # a token the engine did not judge (FastCGI, an engine without an authenticator)
            refusal = self.server.tokens.authenticate(call)
            response = refusal if refusal is not None else await self.dispatch(call)
        except RequestError as exc:
            response = exc.to_response()
        except Exception:
            log.exception("request %s %s failed", call.method, call.path)
            response = error_response(500, "internal_error", "the server failed to answer")
        self._finish(call, response)
        return response

    async def dispatch(self, call: Call) -> Response:
        """Produce the response for ``call``; raises :class:`RequestError` on refusal.
        ``multi.*`` calls this for every sub-request so each is judged as if it came alone."""
        if call.method not in ALLOWED_METHODS:
            if call.method == "OPTIONS":
                # a preflight gets the same CORS decision as the reply it announces
                preflight = is_preflight(call)
                return cors_preflight_response(
                    self._cors(call) if preflight else CorsDecision(),
                    call.header("access-control-request-headers") if preflight else None,
                )
            response = error_response(
                405, "method_not_allowed", f"{call.method} is not supported here"
            )
            response.headers.append(("Allow", ", ".join(ALLOWED_METHODS)))
            return response

        if not call.nested and len(self.server.locations):
            # the file step: a location lives in the item namespace, under the same policy
            file_response = await serve_location(
                call,
                self.server.locations,
                max_age=self.server.max_age,
                nocache=self.server.nocache,
                policy=self.server.policy,
            )
            if file_response is not None:
                return file_response

        item_path = call.item_path
        file_name, zipped = _unzipped(call.file_name)
        ctx = RequestContext(
            call=call,
            server=self.server,
            dispatch=self.dispatch,
            file_name=file_name,
            item_path=item_path,
            gzip=zipped,
        )
        handler = HANDLERS.get(file_name)
        if handler is not None and call.nested and file_name in NESTED_FORBIDDEN:
            raise RequestError(400, "not_in_multi", f"{file_name} cannot be part of multi.*")
        if file_name in UI_ASSETS and not self.can_see_path("/", call.user):
            # the UI's modules are answered at any path (pages load them relatively), so they
            # are judged at the top: "/" hidden hides them, a rule deeper down cannot make
            # them answer differently at a hidden path than at a missing one
            raise RequestError(404, "not_found", "no such request or item")
        response = await handler(ctx) if handler is not None else await self._missed(ctx)
        if zipped and response.status == 200:
            response = gzip_response(response)
        return response

    async def _missed(self, ctx: RequestContext) -> Response:
        hook = self.server.missed_request
        if hook is not None:
            # the hook sees the request as if it came without ``.gz`` (ROOT strips it before
            # MissedRequest too); the dispatcher gzips whatever it answers
            call = ctx.call
            if ctx.gzip:
                call = dataclasses.replace(call, path=call.path[: -len(".gz")])
            result: Any
            if inspect.iscoroutinefunction(hook):
                result = await hook(call)
            else:
                result = await ctx.run(lambda: hook(call))
                if inspect.isawaitable(result):
                    result = await result
            if result is not None:
                return result  # type: ignore[no-any-return]
        raise RequestError(404, "not_found", "no such request or item")

    # -- common reply finishing -----------------------------------------------------------
    def _cors(self, call: Call) -> CorsDecision:
        return decide(self.server.cors, self.server.cors_credentials, call.header("origin"))

    def _finish(self, call: Call, response: Response) -> None:
        # a browser's navigation gets an error as a page; scripts keep the JSON body
        negotiate_error(call, response)
        if call.token_cookie is not None and response.content_type.startswith("text/html"):
            # a page opened with ?token=: its modules and requests carry the cookie instead
            response.headers.append(("Set-Cookie", call.token_cookie))
        if response.get_header("Cache-Control") is None:
            response.headers.append(("Cache-Control", NO_CACHE))
        if self.server.cors:
            apply_cors(response, self._cors(call))


def _unzipped(file_name: str) -> tuple[str, bool]:
    """The request name without its ``.gz``, and whether it had one (``.gz`` alone is a
    name of its own)."""
    if file_name.endswith(".gz") and len(file_name) > 3:
        return file_name[:-3], True
    return file_name, False
