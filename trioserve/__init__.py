"""trioserve: reach a running Python program over the web.

A Python port, in spirit and in request names, of ROOT's THttpServer: register live objects
in a folder tree, then browse them, fetch them as JSON/binary/images, call permitted methods
and commands, and talk to websocket handlers while the program keeps running.

The Trio-based parts (``Server``, ``start_in_thread``...) are imported lazily so that the
sans-IO cores (``trioserve.tree``, ``trioserve.policy``, ``trioserve.render``...) can be
imported without pulling in any I/O machinery. Submodules are attributes too, imported on
first use, so the documented ``@trioserve.commands.blocking`` works after a plain
``import trioserve`` without that import loading every submodule up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trioserve._version import __version__ as __version__
from trioserve.call import Call, Response
from trioserve.errors import (
    BindError,
    ConfigError,
    RegistrationError,
    RequestError,
    SpecError,
    StartupError,
)
from trioserve.items import Text

if TYPE_CHECKING:
    from trioserve.render import render_json
    from trioserve.server import Server
    from trioserve.threaded import ThreadedServer, start_in_thread
    from trioserve.ws import WebSocketHandler

__all__ = [
    "BindError",
    "Call",
    "ConfigError",
    "RegistrationError",
    "RequestError",
    "Response",
    "Server",
    "SpecError",
    "StartupError",
    "Text",
    "ThreadedServer",
    "WebSocketHandler",
    "render_json",
    "start_in_thread",
]


_LAZY = {
    "Server": "trioserve.server",
    "ThreadedServer": "trioserve.threaded",
    "start_in_thread": "trioserve.threaded",
    "render_json": "trioserve.render",
    "WebSocketHandler": "trioserve.ws",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif _is_submodule(name):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'trioserve' has no attribute {name!r}")
    globals()[name] = value
    return value


def _is_submodule(name: str) -> bool:
    """``trioserve.<name>`` exists as a module or package (found, not imported)."""
    if not name.isidentifier() or name.startswith("__"):
        return False
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None
