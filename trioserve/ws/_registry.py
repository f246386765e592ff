"""Per-server websocket state, the handler lookup and the handler's connect decision.

Per-server state (settings, long-poll sessions) is kept in a :class:`Registry` attached to
the server on first use as ``server._ws_registry``, so the server itself needs no websocket
code. The lookup and the ``on_connect`` question are shared by real websockets and the
long-poll emulation, so both refuse and admit exactly alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from trioserve.context import resolve_visible
from trioserve.errors import RequestError
from trioserve.ws._conn import ConnectRequest
from trioserve.ws._handler import WebSocketHandler
from trioserve.ws._longpoll import Longpolls, LongpollSettings
from trioserve.ws._transport import WebSocketSettings

if TYPE_CHECKING:
    from trioserve.call import Call
    from trioserve.context import Host

__all__ = ["Registry", "ask_on_connect", "configure", "connect_request", "find_handler", "registry"]

log = logging.getLogger("trioserve.ws")


@dataclass(slots=True)
class Registry:
    server: Host
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
    longpoll_settings: LongpollSettings = field(default_factory=LongpollSettings)
    #: ``websocket_disable``: upgrade requests are refused with 404 (long-poll still works)
    websocket_disabled: bool = False
    longpolls: Longpolls = field(init=False)

    def __post_init__(self) -> None:
        self.longpolls = Longpolls(self.server, self.longpoll_settings)


def registry(server: Host) -> Registry:
    reg = getattr(server, "_ws_registry", None)
    if reg is None:
        reg = Registry(server)
        timeout = getattr(server, "websocket_timeout", None)
        if timeout is not None:
            reg.websocket.websocket_timeout = float(timeout)
        server._ws_registry = reg  # type: ignore[attr-defined]
    return reg


def configure(server: Host, **settings: Any) -> None:
    """Server-wide settings, by name: ``websocket_timeout``, ``ping_interval``,
    ``close_timeout``, ``receive_buffer`` (websockets); ``poll_timeout``, ``idle_timeout``,
    ``max_connections`` (long-poll); ``websocket_disable`` (bool).

    An engine whose spec sets ``websocket_timeout=`` or ``ping_interval=`` keeps its own
    value for that setting; every other setting follows these."""
    reg = registry(server)
    for name, value in settings.items():
        if name == "websocket_disable":
            reg.websocket_disabled = bool(value)
            continue
        for target in (reg.websocket, reg.longpoll_settings):
            if name in {f.name for f in fields(target)}:
                setattr(target, name, type(getattr(target, name))(value))
                break
        else:
            raise TypeError(f"unknown websocket setting {name!r}")


def find_handler(server: Host, item_path: str, user: str | None) -> WebSocketHandler | None:
    """The handler at ``item_path`` when this user may see it; hidden looks like missing."""
    found = resolve_visible(server, item_path, user, members=False)
    if found is None or found.members or not isinstance(found.value, WebSocketHandler):
        return None
    return found.value


def connect_request(call: Call, kind: str, subprotocols: tuple[str, ...] = ()) -> ConnectRequest:
    return ConnectRequest(
        path=call.path,
        query=call.query,
        user=call.user,
        kind=kind,
        headers=tuple((k, v) for k, v in call.headers if k != "authorization"),
        subprotocols=subprotocols,
        peer=call.peer,
        engine=call.engine,
    )


async def ask_on_connect(handler: WebSocketHandler, request: ConnectRequest) -> bool:
    try:
        return bool(await handler._invoke("on_connect", request))
    except RequestError:
        raise
    except Exception:
        log.exception("on_connect of %r failed", handler.name)
        raise RequestError(500, "handler_error", "the handler failed") from None
