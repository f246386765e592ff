"""The FastCGI engine's options: parsed once from the spec, read by every part of the engine.

Their own module, below the entry (:mod:`.fastcgi`), the connection and the request code, so
each of those can name the type without importing the others (no import cycles, even for type
hints). Spec ``fastcgi:ADDRESS?name=value``; the defaults are re-exported by :mod:`.fastcgi`.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

import fcgi
from trioserve.errors import SpecError
from trioserve.spec import EngineSpec

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_WEBSOCKETS",
    "FastcgiOptions",
]

#: largest request body we buffer for one request (413 beyond it)
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
#: long-poll requests (the websocket emulation) at once: half the connections by default, so
#: parked polls never hold every connection the front-end opened to us (503 beyond)
DEFAULT_MAX_WEBSOCKETS = DEFAULT_MAX_CONNECTIONS // 2
#: seconds a connection with no request in flight may stay silent before we close it;
#: long, because Apache keeps reused (enablereuse) connections open between requests
DEFAULT_IDLE_TIMEOUT = 600.0
#: seconds requests in flight get to finish when the engine shuts down
DEFAULT_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class FastcgiOptions:
    """The engine's options, parsed from the spec (``fastcgi:ADDRESS?name=value``)."""

    debug: bool
    top_name: str | None
    max_body: int
    max_params: int
    max_connections: int
    max_websockets: int
    limiter: trio.CapacityLimiter | None
    socket_mode: int
    idle_timeout: float
    grace: float

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> FastcgiOptions:
        thrds = spec.options.get("thrds")
        limiter = None
        if thrds is not None:
            # ROOT: thrds=0 means one thread does everything, i.e. one request at a time
            limiter = trio.CapacityLimiter(max(spec.int_option("thrds", 0), 1))
        mode_text = spec.options.get("socket_mode") or "600"
        try:
            socket_mode = int(mode_text, 8)
        except ValueError:
            raise SpecError(f"socket_mode={mode_text!r} in {spec.text!r} is not octal") from None
        max_connections = spec.int_option("max_connections", DEFAULT_MAX_CONNECTIONS)
        return cls(
            debug=spec.flag("debug"),
            top_name=spec.options.get("top") or None,
            max_body=spec.int_option("max_body", DEFAULT_MAX_BODY),
            max_params=spec.int_option("max_params", fcgi.DEFAULT_MAX_PARAMS_BYTES),
            max_connections=max_connections,
            max_websockets=spec.int_option("max_websockets", max(max_connections // 2, 1)),
            limiter=limiter,
            socket_mode=socket_mode,
            idle_timeout=spec.float_option("idle_timeout", DEFAULT_IDLE_TIMEOUT),
            grace=spec.float_option("grace", DEFAULT_GRACE),
        )
