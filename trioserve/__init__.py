"""trioserve: reach a running Python program over the web.

A Python port, in spirit and in request names, of ROOT's THttpServer: register live objects
in a folder tree, then browse them, fetch them as JSON/binary/images, call permitted methods
and commands, and talk to websocket handlers while the program keeps running.
"""

from __future__ import annotations

from trioserve.call import Call, Response
from trioserve.errors import ConfigError, RegistrationError, RequestError, SpecError
from trioserve.items import Text
from trioserve.render import render_json
from trioserve.server import Server
from trioserve.threaded import ThreadedServer, start_in_thread

__all__ = [
    "Call",
    "ConfigError",
    "RegistrationError",
    "RequestError",
    "Response",
    "Server",
    "SpecError",
    "Text",
    "ThreadedServer",
    "render_json",
    "start_in_thread",
]

__version__ = "0.1.0"
