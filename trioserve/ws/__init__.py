"""Websocket handlers and the long-poll emulation (ROOT's THttpWSHandler, reference §8).

Public API: :class:`WebSocketHandler` (subclass it), :class:`Connection`,
:class:`ConnectRequest`, :class:`ConnectionClosed`, :class:`WithHeader`, and
:func:`configure` for the server-wide transport settings (an engine's spec may override
:data:`ENGINE_SETTINGS` for its own websockets). The pieces live in private
modules:

* ``_handler``: the handler class users subclass;
* ``_conn``: connections and their bounded send queues;
* ``_handshake``: sans-IO handshake checks, the frame guard, server frames;
* ``_transport``: wsproto over the engine's stream (reader and writer tasks);
* ``_longpoll``: the long-poll protocol and its sessions;
* ``_registry``: per-server settings and sessions, the policy-aware handler lookup;
* ``_upgrade``: each engine's hook; one upgrade request, from the checks to the end of the
  session;
* ``_requests``: long-poll, ``root.websocket`` without an upgrade, the handler's page.

The package imports its parts lazily, on first use of a name, so that the sans-IO handshake
checks (``trioserve.ws._handshake``) can be imported without pulling in Trio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trioserve.ws._conn import (
        OVERFLOW_POLICIES,
        Connection,
        ConnectionClosed,
        ConnectRequest,
        WithHeader,
    )
    from trioserve.ws._handler import WebSocketHandler
    from trioserve.ws._registry import Registry, configure, find_handler, registry
    from trioserve.ws._requests import handler_page, longpoll_request, websocket_without_upgrade
    from trioserve.ws._upgrade import ENGINE_SETTINGS, serve_upgrade, websocket_hook

__all__ = [
    "ENGINE_SETTINGS",
    "OVERFLOW_POLICIES",
    "ConnectRequest",
    "Connection",
    "ConnectionClosed",
    "Registry",
    "WebSocketHandler",
    "WithHeader",
    "configure",
    "find_handler",
    "handler_page",
    "longpoll_request",
    "registry",
    "serve_upgrade",
    "websocket_hook",
    "websocket_without_upgrade",
]

_LAZY = {
    "OVERFLOW_POLICIES": "trioserve.ws._conn",
    "Connection": "trioserve.ws._conn",
    "ConnectionClosed": "trioserve.ws._conn",
    "ConnectRequest": "trioserve.ws._conn",
    "WithHeader": "trioserve.ws._conn",
    "WebSocketHandler": "trioserve.ws._handler",
    "Registry": "trioserve.ws._registry",
    "configure": "trioserve.ws._registry",
    "find_handler": "trioserve.ws._registry",
    "registry": "trioserve.ws._registry",
    "handler_page": "trioserve.ws._requests",
    "longpoll_request": "trioserve.ws._requests",
    "websocket_without_upgrade": "trioserve.ws._requests",
    "ENGINE_SETTINGS": "trioserve.ws._upgrade",
    "serve_upgrade": "trioserve.ws._upgrade",
    "websocket_hook": "trioserve.ws._upgrade",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trioserve.ws' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
