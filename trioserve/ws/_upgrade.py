"""A ``root.websocket`` upgrade: the checks, the refusal, or the whole session.

The engine hands over the raw stream after its own HTTP parsing; everything from the
handshake checks on happens here, so every engine that can upgrade behaves the same.

Each engine gets its own hook (:func:`websocket_hook`), which carries that engine's own
transport settings (``websocket_timeout=``, ``ping_interval=`` in its spec) on top of the
server-wide ones (:func:`~trioserve.ws.configure`): an option given to one engine changes
nothing for the others, and ``configure`` still reaches every setting an engine left alone.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

import trio

from trioserve._version import __version__
from trioserve.call import error_response
from trioserve.errors import RequestError
from trioserve.ws._conn import Connection
from trioserve.ws._handshake import (
    HandshakeError,
    check_origin,
    http_response,
    synthetic_request_head,
    validate_handshake,
)
from trioserve.ws._registry import Registry, ask_on_connect, connect_request, find_handler, registry
from trioserve.ws._transport import WebSocketSettings, run_websocket

if TYPE_CHECKING:
    from trioserve.call import Call, WebSocketHook
    from trioserve.context import Host

__all__ = ["ENGINE_SETTINGS", "effective_settings", "serve_upgrade", "websocket_hook"]

log = logging.getLogger("trioserve.ws")


#: the transport settings an engine's spec may set for its own websockets
ENGINE_SETTINGS = ("websocket_timeout", "ping_interval")


def websocket_hook(server: Host, **engine_settings: float) -> WebSocketHook:
    """What an engine gets as ``EngineContext.websocket``: one hook per engine.

    ``engine_settings`` (names from :data:`ENGINE_SETTINGS`) override the server-wide
    settings for the websockets of this engine only.
    """
    reg = registry(server)
    unknown = sorted(set(engine_settings) - set(ENGINE_SETTINGS))
    if unknown:
        raise TypeError(f"unknown per-engine websocket setting(s) {', '.join(unknown)}")
    overrides = {name: float(value) for name, value in engine_settings.items()}

    async def hook(call: Call, stream: trio.abc.Stream, trailing: bytes) -> None:
        await serve_upgrade(reg, call, stream, trailing, overrides)

    return hook


def effective_settings(reg: Registry, overrides: dict[str, float]) -> WebSocketSettings:
    """The server-wide settings as they are now, with one engine's own on top."""
    if not overrides:
        return reg.websocket
    settings = dataclasses.replace(reg.websocket)
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings


async def serve_upgrade(
    reg: Registry,
    call: Call,
    stream: trio.abc.Stream,
    trailing: bytes,
    engine_settings: dict[str, float] | None = None,
) -> None:
    """Answer one upgrade request on ``stream``: a refusal, or a whole websocket session."""
    server = reg.server
    try:
        # HTTP engines judge a token in their authenticator; one that reaches us unjudged
        # (an engine without one) is judged here, before anything is looked up
        refused = server.tokens.judge(call)
        if refused is not None:
            raise HandshakeError(
                refused.status,
                refused.code,
                refused.message,
                [("WWW-Authenticate", refused.challenge)],
            )
        handler = (
            None if reg.websocket_disabled else find_handler(server, call.item_path, call.user)
        )
        if handler is None:
            raise HandshakeError(404, "not_found", "no websocket handler here")
        version = getattr(call, "http_version", None) or "1.1"
        request = validate_handshake(call.method, version, call.headers)
        check_origin(call.headers, server.cors)
        if not server.policy.can_connect_websocket(call.item_path, call.user):
            raise HandshakeError(403, "forbidden", "not allowed to connect")
        connect = connect_request(call, "websocket", request.subprotocols)
        try:
            accepted = await ask_on_connect(handler, connect)
        except RequestError as exc:
            raise HandshakeError(exc.status, "refused", "the handler could not answer") from None
        if not accepted:
            raise HandshakeError(403, "refused", "the handler refused the connection")
        subprotocol = handler.select_subprotocol(request.subprotocols)
        if subprotocol is not None and subprotocol not in request.subprotocols:
            log.error("%r selected %r, which was not offered", handler.name, subprotocol)
            subprotocol = None
    except HandshakeError as err:
        await _refuse(stream, err, server)
        return
    target = call.target if call.target.isascii() and call.target else quote(call.path)
    conn = Connection(handler, connect, subprotocol=subprotocol)
    server_header = f"trioserve/{__version__}"
    await run_websocket(
        conn,
        stream,
        synthetic_request_head(target, request),
        trailing,
        effective_settings(reg, engine_settings or {}),
        extra_headers=[(b"Server", server_header.encode())],
    )


async def _refuse(stream: trio.abc.Stream, err: HandshakeError, server: Host) -> None:
    body = error_response(err.status, err.code, err.message).body
    assert isinstance(body, bytes)
    data = http_response(
        err.status,
        err.headers,
        body,
        server=f"trioserve/{__version__}",
        date=email.utils.formatdate(usegmt=True),
    )
    log.info("websocket handshake refused: %s %s", err.status, err.code)
    try:
        with trio.move_on_after(5):
            await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(stream)
