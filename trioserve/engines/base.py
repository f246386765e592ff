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
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["Authenticator", "EngineContext", "WebSocketHook"]

if TYPE_CHECKING:
    import trio

    from trioserve.call import Call, Response
    from trioserve.spec import EngineSpec


class Authenticator(Protocol):
    """What an HTTP-style engine asks before dispatching (digest auth lives behind this).

    ``check`` returns ``None`` when the request may proceed -- having set ``call.user`` to the
    authenticated name -- or the response to send instead (a 401 challenge, or 400 for a
    malformed ``Authorization`` header). ``now`` is passed in so the verifier stays sans-IO.
    """

    def check(self, call: Call, now: float) -> Response | None: ...


#: called by the HTTP engine for a valid ``root.websocket`` upgrade request: it receives the
#: call (already authenticated), the raw stream and any bytes h11 read past the request head;
#: it owns the stream until it returns.
WebSocketHook = Callable[["Call", "trio.abc.Stream", bytes], Awaitable[None]]


@dataclass(slots=True)
class EngineContext:
    handle: Callable[[Call], Awaitable[Response]]
    server_header: str = "trioserve"
    websocket: WebSocketHook | None = None
    #: the server-wide CORS origin (``None`` = off); engines use it for preflights
    cors: Callable[[], str | None] = lambda: None
    #: builds the authenticator for an engine from its spec options (auth_file, auth_domain);
    #: returns None when the spec asks for no authentication
    make_authenticator: Callable[[EngineSpec], Authenticator | None] = lambda spec: None
    #: free-form extras an engine may look up (e.g. shared statistics)
    extras: dict[str, Any] = field(default_factory=dict)
