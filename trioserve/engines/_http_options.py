"""The HTTP engine's options: their defaults, and parsing and validating them from a spec.

Apart from the engine (:mod:`.http`) so that the per-connection modules can name the type
without importing the engine that creates them; the option table is in :mod:`.http`'s
docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

from trioserve.errors import SpecError
from trioserve.spec import EngineSpec

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_GRACE",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_PEER_CONNECTIONS",
    "DEFAULT_MAX_URL_LENGTH",
    "DEFAULT_MAX_WEBSOCKETS",
    "DEFAULT_SOCKET_MODE",
    "DEFAULT_WRITE_TIMEOUT",
    "HttpOptions",
    "default_max_peer_connections",
    "default_max_websockets",
]

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_URL_LENGTH = 8 * 1024
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_KEEPALIVE_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_GRACE = 2.0
DEFAULT_SOCKET_MODE = 0o600
#: slots one client address may hold: all but a tenth, at most 100 less (of 1000: 900)
PEER_RESERVE_FRACTION = 10
PEER_RESERVE_MAX = 100


def default_max_peer_connections(max_connections: int) -> int:
    """What one peer may hold by default: ``max_connections`` minus a reserve for the others
    (a tenth, at most 100). Generous on purpose: a load test or a big page from one host
    still uses nearly every slot, while even slow requests of one client cannot take them
    all; idle ones are closed for a newcomer anyway (see :class:`._listen.Slots`)."""
    reserve = min(max_connections // PEER_RESERVE_FRACTION, PEER_RESERVE_MAX)
    return max(max_connections - reserve, 1)


def default_max_websockets(max_connections: int) -> int:
    """Websockets and long-poll requests together: half the slots (at least one)."""
    return max(max_connections // 2, 1)


DEFAULT_MAX_PEER_CONNECTIONS = default_max_peer_connections(DEFAULT_MAX_CONNECTIONS)
DEFAULT_MAX_WEBSOCKETS = default_max_websockets(DEFAULT_MAX_CONNECTIONS)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The engine's options, parsed and validated from the spec (see the module table)."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_url_length: int = DEFAULT_MAX_URL_LENGTH
    max_body: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: slots one client address may hold; 0: no per-peer admission (behind a front-end,
    #: and always on unix sockets, where every client is the same peer)
    max_peer_connections: int = DEFAULT_MAX_PEER_CONNECTIONS
    #: websocket sessions and long-poll requests at once (503 beyond)
    max_websockets: int = DEFAULT_MAX_WEBSOCKETS
    grace: float = DEFAULT_GRACE
    socket_mode: int = DEFAULT_SOCKET_MODE
    debug: bool = False
    top: str | None = None
    log: str | None = None
    cred_cors: str | None = None
    #: HTTP/2 (prior knowledge, h2c upgrade, ALPN ``h2``) besides HTTP/1.1 on this engine
    http2: bool = True

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> HttpOptions:
        def positive_int(name: str, default: int) -> int:
            value = spec.int_option(name, default)
            if value <= 0:
                raise SpecError(f"engine option {name} must be positive in {spec.text!r}")
            return value

        def positive_float(name: str, default: float) -> float:
            value = spec.float_option(name, default)
            if not value > 0:
                raise SpecError(f"engine option {name} must be positive in {spec.text!r}")
            return value

        mode_text = spec.options.get("socket_mode") or ""
        try:
            socket_mode = int(mode_text, 8) if mode_text else DEFAULT_SOCKET_MODE
        except ValueError:
            raise SpecError(
                f"socket_mode={mode_text!r} in {spec.text!r} is not an octal mode"
            ) from None
        if not 0 <= socket_mode <= 0o777:
            raise SpecError(f"socket_mode={mode_text!r} in {spec.text!r} is out of range")
        max_connections = positive_int("max_connections", DEFAULT_MAX_CONNECTIONS)
        max_peer_connections = spec.int_option(
            "max_peer_connections", default_max_peer_connections(max_connections)
        )
        if max_peer_connections < 0:
            raise SpecError(
                f"engine option max_peer_connections must be 0 or more in {spec.text!r}"
            )
        return cls(
            max_header_bytes=positive_int("max_header_bytes", DEFAULT_MAX_HEADER_BYTES),
            max_url_length=positive_int("max_url_length", DEFAULT_MAX_URL_LENGTH),
            max_body=positive_int("max_body", DEFAULT_MAX_BODY),
            header_timeout=positive_float("header_timeout", DEFAULT_HEADER_TIMEOUT),
            keepalive_timeout=positive_float("keepalive_timeout", DEFAULT_KEEPALIVE_TIMEOUT),
            body_timeout=positive_float("body_timeout", DEFAULT_BODY_TIMEOUT),
            write_timeout=positive_float("write_timeout", DEFAULT_WRITE_TIMEOUT),
            max_connections=max_connections,
            max_peer_connections=max_peer_connections,
            max_websockets=positive_int("max_websockets", default_max_websockets(max_connections)),
            grace=spec.float_option("grace", DEFAULT_GRACE),
            socket_mode=socket_mode,
            debug=spec.flag("debug"),
            top=spec.options.get("top") or None,
            log=spec.options.get("log") or None,
            cred_cors=(spec.options["cred_cors"] or "true")
            if "cred_cors" in spec.options
            else None,
            http2="http2" not in spec.options or spec.flag("http2"),
        )
