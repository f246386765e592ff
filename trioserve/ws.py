"""Websocket handlers and the long-poll emulation (ROOT's THttpWSHandler, reference §8).

Public API: :class:`WebSocketHandler` (subclass it), :class:`Connection`,
:class:`ConnectRequest`, :class:`ConnectionClosed`, :class:`WithHeader`, and
:func:`configure` for the server-wide transport settings. The pieces live in private
modules: ``_ws_handler`` (the handler class), ``_ws_conn`` (connections and their bounded
queues), ``_ws_handshake`` (sans-IO handshake checks and frame guard), ``_ws_transport``
(trio-websocket over the engine's stream), ``_ws_longpoll`` (the long-poll protocol).

Per-server state (settings, long-poll sessions) is kept in a registry attached to the server
on first use as ``server._ws_registry``, so the server itself needs no websocket code.
"""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import trio

from trioserve._ws_conn import (
    OVERFLOW_POLICIES,
    Connection,
    ConnectionClosed,
    ConnectRequest,
    WithHeader,
)
from trioserve._ws_handler import WebSocketHandler
from trioserve._ws_handshake import (
    HandshakeError,
    http_response,
    origin_allowed,
    synthetic_request_head,
    validate_handshake,
)
from trioserve._ws_longpoll import Longpolls, LongpollSettings
from trioserve._ws_transport import WebSocketSettings, run_websocket
from trioserve.call import Call, Response, error_response
from trioserve.errors import RequestError

if TYPE_CHECKING:
    from trioserve.dispatch import RequestContext
    from trioserve.engines.base import WebSocketHook
    from trioserve.server import Server

__all__ = [
    "OVERFLOW_POLICIES",
    "ConnectRequest",
    "Connection",
    "ConnectionClosed",
    "WebSocketHandler",
    "WithHeader",
    "configure",
    "find_handler",
    "handler_page",
    "websocket_hook",
]

log = logging.getLogger("trioserve.ws")


@dataclass(slots=True)
class Registry:
    server: Server
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
    longpoll_settings: LongpollSettings = field(default_factory=LongpollSettings)
    #: ``websocket_disable``: upgrade requests are refused with 404 (long-poll still works)
    websocket_disabled: bool = False
    longpolls: Longpolls = field(init=False)

    def __post_init__(self) -> None:
        self.longpolls = Longpolls(self.server, self.longpoll_settings)


def registry(server: Server) -> Registry:
    reg = getattr(server, "_ws_registry", None)
    if reg is None:
        reg = Registry(server)
        timeout = getattr(server, "websocket_timeout", None)
        if timeout is not None:
            reg.websocket.websocket_timeout = float(timeout)
        server._ws_registry = reg  # type: ignore[attr-defined]
    return reg


def configure(server: Server, **settings: Any) -> None:
    """Server-wide settings, by name: ``websocket_timeout``, ``ping_interval``,
    ``close_timeout``, ``receive_buffer`` (websockets); ``poll_timeout``, ``idle_timeout``,
    ``max_connections`` (long-poll); ``websocket_disable`` (bool)."""
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


def find_handler(server: Server, item_path: str, user: str | None) -> WebSocketHandler | None:
    """The handler at ``item_path`` when this user may see it; hidden looks like missing."""
    found = server.dispatcher.resolve(item_path, user, members=False)
    if found is None or found.members or not isinstance(found.value, WebSocketHandler):
        return None
    return found.value


def _connect_request(call: Call, kind: str, subprotocols: tuple[str, ...] = ()) -> ConnectRequest:
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


async def _ask_on_connect(handler: WebSocketHandler, request: ConnectRequest) -> bool:
    try:
        return bool(await handler._invoke("on_connect", request))
    except RequestError:
        raise
    except Exception:
        log.exception("on_connect of %r failed", handler.name)
        raise RequestError(500, "handler_error", "the handler failed") from None


# -- websockets ---------------------------------------------------------------------------
def websocket_hook(server: Server) -> WebSocketHook:
    """What ``Dispatcher.websocket_hook()`` hands to engines as ``EngineContext.websocket``."""
    reg = registry(server)

    async def hook(call: Call, stream: trio.abc.Stream, trailing: bytes) -> None:
        await serve_upgrade(reg, call, stream, trailing)

    return hook


async def serve_upgrade(
    reg: Registry, call: Call, stream: trio.abc.Stream, trailing: bytes
) -> None:
    """Answer one upgrade request on ``stream``: a refusal, or a whole websocket session."""
    server = reg.server
    try:
        handler = (
            None if reg.websocket_disabled else find_handler(server, call.item_path, call.user)
        )
        if handler is None:
            raise HandshakeError(404, "not_found", "no websocket handler here")
        version = getattr(call, "http_version", None) or "1.1"
        request = validate_handshake(call.method, version, call.headers)
        if not origin_allowed(request.origin, request.host, server.cors):
            raise HandshakeError(403, "origin_refused", "this Origin may not connect")
        if not server.policy.can_connect_websocket(call.item_path, call.user):
            raise HandshakeError(403, "forbidden", "not allowed to connect")
        connect = _connect_request(call, "websocket", request.subprotocols)
        try:
            accepted = await _ask_on_connect(handler, connect)
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
    server_header = f"trioserve/{_version()}"
    await run_websocket(
        conn,
        stream,
        synthetic_request_head(target, request),
        trailing,
        reg.websocket,
        extra_headers=[(b"Server", server_header.encode())],
    )


async def _refuse(stream: trio.abc.Stream, err: HandshakeError, server: Server) -> None:
    body = error_response(err.status, err.code, err.message).body
    assert isinstance(body, bytes)
    data = http_response(
        err.status,
        err.headers,
        body,
        server=f"trioserve/{_version()}",
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


def _version() -> str:
    from trioserve import __version__

    return __version__


# -- long-poll (called from trioserve.requests.longpoll) ---------------------------------
async def longpoll_request(ctx: RequestContext) -> Response:
    from trioserve._ws_longpoll import (
        TEXT_TYPE,
        decode_data,
        encode_connect,
        encode_nope,
        parse_query,
    )

    call = ctx.call
    server = ctx.server
    reg = registry(server)
    handler = find_handler(server, ctx.item_path, call.user)
    if handler is None:
        raise RequestError(404, "not_found", "no websocket handler here")
    query = parse_query(call.query)
    polls = reg.longpolls
    if query.connect is not None:
        if not server.policy.can_connect_websocket(ctx.item_path, call.user):
            raise RequestError(403, "forbidden", "not allowed to connect")
        if polls.full():
            raise RequestError(503, "too_many_longpolls", "too many long-poll connections")
        connect = _connect_request(call, "longpoll")
        if not await _ask_on_connect(handler, connect):
            raise RequestError(404, "refused", "the handler refused the connection")
        conn = Connection(handler, connect)
        session = polls.add(conn, raw=query.connect == "raw")
        try:
            if await handler._invoke("on_ready", conn) is False:
                await polls.finish(session, 1000, "refused by handler")
                raise RequestError(404, "refused", "the handler refused the connection")
        except RequestError:
            raise
        except Exception:
            log.exception("on_ready of %r failed", handler.name)
            await polls.finish(session, 1011, "handler error")
            raise RequestError(500, "handler_error", "the handler failed") from None
        return _reply(encode_connect(conn.id, session.raw))
    if query.bad is not None:
        raise RequestError(400, "bad_longpoll", query.bad)
    assert query.connection is not None
    session_or_none = polls.lookup(query.connection, call.user, handler)
    if session_or_none is None:
        raise RequestError(404, "no_connection", "no such long-poll connection")
    session = session_or_none
    session.last_seen = trio.current_time()
    conn = session.conn
    if query.close:
        conn.close_nowait(1000, "closed by client")
        session.generation += 1  # a parked poll answers <<nope>>, then nobody is parked
        conn._wake()
        await polls.finish(session, 1000, "closed by client")
        return Response(content_type=TEXT_TYPE, body=b"OK")
    data: Any = None
    if query.post is not None:
        data = decode_data(query.post, None)
    elif call.body:
        data = decode_data(call.body, call.header("content-type"))
    if data is not None and not conn.closed:
        if len(query.post or call.body) > handler.max_message_size:
            conn.close_nowait(1009, "message too big")
            raise RequestError(413, "message_too_big", "message exceeds max_message_size")
        try:
            await handler._invoke("on_data", conn, data)
        except Exception:
            log.exception("long-poll handler %r failed; closing %s", handler.name, conn.id)
            await polls.finish(session, 1011, "handler error")
            raise RequestError(500, "handler_error", "the handler failed") from None
    if query.dummy:
        return _reply(await polls.poll(session))
    return _reply(encode_nope(session.raw))


def _reply(reply: Any) -> Response:
    return Response(
        status=reply.status,
        content_type=reply.content_type,
        headers=list(reply.headers),
        body=reply.body,
    )


async def websocket_without_upgrade(ctx: RequestContext) -> Response:
    """``root.websocket`` fetched as a plain request: 426 where a handler is, else 404."""
    if find_handler(ctx.server, ctx.item_path, ctx.call.user) is None:
        raise RequestError(404, "not_found", "no websocket handler here")
    response = error_response(426, "upgrade_required", "this URL needs a websocket upgrade")
    response.headers += [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
    return response


# -- the handler's page -------------------------------------------------------------------
PAGE_NAMES = frozenset({"", "index.htm", "index.html"})


async def handler_page(ctx: RequestContext) -> Response | None:
    """The handler's own page at ``<path>/``; ``None`` when the server's page applies."""
    if ctx.file_name not in PAGE_NAMES:
        return None
    handler = find_handler(ctx.server, ctx.item_path, ctx.call.user)
    if handler is None or not handler.page:
        return None
    page = handler.page
    if page.startswith("file:"):
        try:
            content = await trio.Path(page[5:]).read_bytes()
        except OSError:
            log.error("page file of %r cannot be read: %s", handler.name, page[5:])
            raise RequestError(404, "not_found", "the handler's page is missing") from None
    else:
        content = page.encode("utf-8")
    return Response(content_type="text/html; charset=utf-8", body=content)
