"""Engine spec strings, as ROOT writes them: ``"http:8080?loopback&thrds=2;ro;cors"``.

Pure parsing, no I/O. The whole string is ``;``-separated; tokens that are server options
(``ro``, ``rw``, ``cors``, ...) go to the server, every other token is an engine spec
``kind:address?opt&opt=value``. Unlike ROOT, an unknown kind or option is a
:class:`~trioserve.errors.SpecError` at start instead of being silently ignored, and an
engine binds loopback unless an address is given.

ROOT's own spec strings still start a server here, with one log line (logger
``trioserve.spec``) for each part that means nothing in this port: ``basic_sniffer`` (ROOT's
plain sniffer and private top folder; our tree is always the one you register into),
``thrd=N`` (a typo ROOT's own test suite carries: civetweb ignores it, ``thrds`` is the
option), and ``rw``/``ro`` written as *engine* options as in the historical
``http:8080/none?rw`` (ROOT ignores them there too: read-write is the server token ``;rw``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from trioserve.errors import SpecError

__all__ = [
    "ENGINE_OPTIONS",
    "EngineSpec",
    "ServerOptions",
    "parse_engine_spec",
    "parse_server_string",
]

_COMMON = {"top", "debug", "thrds", "log", "max_connections", "max_websockets"}
_HTTP_LIKE = _COMMON | {
    "loopback",
    "bind",
    "cors",
    "cred_cors",
    "max_age",
    "nocache",
    "auth_file",
    "auth_domain",
    "auth_secret_file",
    "max_peer_connections",
    "websocket_timeout",
    "websocket_disable",
    "ping_interval",
    "max_header_bytes",
    "max_url_length",
    "max_body",
    "header_timeout",
    "keepalive_timeout",
    "body_timeout",
    "write_timeout",
    "grace",
    # HTTP/2 on the http, socket and https engines (on by default; http2=0 turns it off)
    "http2",
}

#: options each engine kind accepts; anything else is an error naming the kind
ENGINE_OPTIONS: dict[str, frozenset[str]] = {
    "http": frozenset(_HTTP_LIKE),
    "socket": frozenset(_HTTP_LIKE | {"socket_mode"}),
    # TLS: ssl_cert=PEM (certificate and key, as ROOT's) [+ ssl_key=PEM], ssl_ca=PEM
    # (client certificates required), hsts[=SECONDS] (Strict-Transport-Security)
    "https": frozenset(_HTTP_LIKE | {"ssl_cert", "ssl_key", "ssl_ca", "hsts"}),
    "fastcgi": frozenset(
        _COMMON
        | {"loopback", "bind", "socket_mode", "max_body", "max_params", "idle_timeout", "grace"}
    ),
}
_KIND_ALIASES = {
    "": "http",
    "civetweb": "http",
    "http": "http",
    "https": "https",
    "socket": "socket",
    "fastcgi": "fastcgi",
}
_DEFAULT_PORT = {"http": 8080, "https": 8480, "fastcgi": 9000}  # 8480: ROOT's https

log = logging.getLogger("trioserve.spec")

#: engine options ROOT's own strings carry that mean nothing here: accepted, logged, dropped
_IGNORED_OPTIONS = {
    "thrd": "is not an option (ROOT ignores it too; thrds=N sets worker threads)",
    "rw": "as an engine option means nothing (nor in ROOT); make the server read-write "
    "with the server token ';rw'",
    "ro": "as an engine option means nothing (nor in ROOT); the server is read-only by "
    "default, or with the server token ';ro'",
}


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """One parsed engine spec. ``path`` is set for unix sockets, ``host``/``port`` otherwise."""

    kind: str
    host: str = "127.0.0.1"
    port: int = 0
    path: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def flag(self, name: str) -> bool:
        """A bare option (``debug``) or one set to a true-ish value (``debug=1``)."""
        if name not in self.options:
            return False
        return self.options[name].lower() not in ("0", "no", "false", "off")

    def int_option(self, name: str, default: int) -> int:
        value = self.options.get(name)
        if value is None or value == "":
            return default
        try:
            # a leading 0 means octal, as in file modes (socket_mode=0660) and in ROOT
            return int(value, 8) if value.startswith("0") and len(value) > 1 else int(value)
        except ValueError:
            raise SpecError(
                f"engine option {name}={value!r} in {self.text!r} is not an integer"
            ) from None

    def float_option(self, name: str, default: float) -> float:
        value = self.options.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except ValueError:
            raise SpecError(
                f"engine option {name}={value!r} in {self.text!r} is not a number"
            ) from None

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        if self.path is not None:
            return f"{self.kind}:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{host}:{self.port}"


@dataclass(slots=True)
class ServerOptions:
    """The server-wide tokens of a spec string."""

    readonly: bool | None = None
    cors: str | None = None
    engines: list[EngineSpec] = field(default_factory=list)


def _parse_options(text: str, spec_text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if not name:
            raise SpecError(f"empty option name in {spec_text!r}")
        options[name] = value
    return options


def parse_engine_spec(text: str) -> EngineSpec:
    """Parse ``kind:address?options``; raise :class:`SpecError` for anything unknown."""
    if ":" not in text:
        raise SpecError(
            f"{text!r} is neither a server option (ro, rw, cors, cors=ORIGIN) nor an engine "
            "spec kind:address (http:8080, socket:/tmp/app.socket, fastcgi:9000)"
        )
    raw_kind, _, rest = text.partition(":")
    kind = _KIND_ALIASES.get(raw_kind)
    if kind is None:
        raise SpecError(
            f"unknown engine kind {raw_kind!r} in {text!r}; expected http, https, socket or fastcgi"
        )
    address, _, option_text = rest.partition("?")
    options = _parse_options(option_text, text)
    for name in sorted(set(options) & set(_IGNORED_OPTIONS)):
        del options[name]
        log.info("engine spec %r: %s %s; ignored", text, name, _IGNORED_OPTIONS[name])
    unknown = sorted(set(options) - ENGINE_OPTIONS[kind])
    if kind == "fastcgi" and address.startswith("/"):
        pass
    elif "socket_mode" in options and kind != "socket":
        unknown.append("socket_mode")
    if unknown:
        allowed = ", ".join(sorted(ENGINE_OPTIONS[kind]))
        raise SpecError(
            f"unknown option(s) {', '.join(unknown)} for {kind} engine in "
            f"{text!r}; allowed: {allowed}"
        )

    if kind == "socket" or (kind == "fastcgi" and address.startswith("/")):
        if not address:
            raise SpecError(f"{text!r}: a unix socket engine needs a path")
        return EngineSpec(kind=kind, path=address, options=options, text=text)

    host = "127.0.0.1"
    port_text = address
    if "/" in port_text:  # ROOT's historical "http:8080/none?rw": text after / is ignored
        port_text = port_text.split("/", 1)[0]
    if port_text.startswith("["):
        end = port_text.find("]")
        if end < 0:
            raise SpecError(f"{text!r}: unterminated IPv6 address")
        host = port_text[1:end]
        port_text = port_text[end + 1 :].lstrip(":")
    elif ":" in port_text:
        host, _, port_text = port_text.rpartition(":")
    if options.get("bind"):
        host = options["bind"]
    if port_text == "":
        port = _DEFAULT_PORT[kind]
    else:
        try:
            port = int(port_text)
        except ValueError:
            raise SpecError(f"{text!r}: port {port_text!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise SpecError(
                f"{text!r}: port {port} is out of range: use 0-65535 (0 picks a free port)"
            )
    if "loopback" in options:
        host = "127.0.0.1" if ":" not in host else "::1"
    return EngineSpec(kind=kind, host=host, port=port, options=options, text=text)


_SERVER_TOKENS = {"ro", "readonly", "rw", "readwrite", "cors", "global", "noglobal"}


def parse_server_string(text: str) -> ServerOptions:
    """Split a full ROOT-style constructor string into server options and engine specs."""
    result = ServerOptions()
    for token in text.split(";"):
        token = token.strip()
        if not token:
            continue
        if token in ("ro", "readonly"):
            result.readonly = True
        elif token in ("rw", "readwrite"):
            result.readonly = False
        elif token == "cors":
            result.cors = "*"
        elif token.startswith("cors="):
            result.cors = token[5:] or "*"
        elif token in ("global", "noglobal"):
            # ROOT scans gROOT for canvases and files; Python has no such global list, so
            # both are accepted for compatibility and change nothing.
            continue
        elif token == "basic_sniffer":
            log.info(
                "server option basic_sniffer means nothing here (ROOT's plain sniffer): "
                "the tree serves what you register; ignored"
            )
        else:
            result.engines.append(parse_engine_spec(token))
    return result
