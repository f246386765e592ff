"""The contract between the server and its engines.

An engine is ``async def serve_<kind>(ctx: EngineContext, spec: EngineSpec, *,
task_status=trio.TASK_STATUS_IGNORED)``. It binds (raising to the caller before
``task_status.started()`` if it cannot), calls ``task_status.started(address)``, then serves
until cancelled. Each connection is a child task. For every request it builds a
:class:`~trioserve.call.Call`, awaits ``ctx.handle(call)`` and writes the response.

The context is deliberately a bag of callables rather than the ``Server`` itself so that
engines can be tested against a tiny dispatcher without building a whole server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# the contracts engines share with the layers below live beside Call; re-exported here for
# the engines' convenience
from trioserve.call import Authenticator, WebSocketHook

__all__ = ["Authenticator", "EngineContext", "WebSocketHook"]

if TYPE_CHECKING:
    from trioserve.call import Call, Response
    from trioserve.parking import Parking
    from trioserve.spec import EngineSpec


@dataclass(slots=True)
class EngineContext:
    handle: Callable[[Call], Awaitable[Response]]
    server_header: str = "trioserve"
    websocket: WebSocketHook | None = None
    #: the server-wide CORS origin (``None`` = off); engines use it for preflights
    cors: Callable[[], str | None] = lambda: None
    #: the server-wide ``Access-Control-Allow-Credentials`` value (``None`` = none), so a
    #: preflight the engine answers says what the dispatcher's replies say
    cors_credentials: Callable[[], str | None] = lambda: None
    #: builds the authenticator for an engine from its spec options (auth_file, auth_domain);
    #: returns None when the spec asks for no authentication
    make_authenticator: Callable[[EngineSpec], Authenticator | None] = lambda spec: None
    #: a ``sync="app"`` program's parked connections (:mod:`trioserve.parking`), or None
    parking: Parking | None = None
    #: whether the program's thread may answer ``call`` whole inside ``process_requests()``
    #: (it finishes without waiting on anything but object access)
    runs_inline: Callable[[Call], bool] = lambda call: False
    #: free-form extras an engine may look up (e.g. shared statistics)
    extras: dict[str, Any] = field(default_factory=dict)
