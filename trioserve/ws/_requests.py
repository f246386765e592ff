"""The websocket layer's plain requests: long-poll, ``root.websocket`` without an upgrade,
and a handler's own page. :mod:`trioserve.requests` plugs these into the dispatcher.

Every long-poll request passes the same ``Origin`` check as a websocket upgrade
(:func:`~trioserve.ws._handshake.check_origin`), and a request for ``root.websocket`` that
asks for an upgrade but reaches the dispatcher (any method but GET, or an engine that cannot
upgrade) gets the handshake's own answer -- 400 for a POST, as the handshake rules say.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from trioserve.call import Response, error_response
from trioserve.errors import RequestError
from trioserve.ws._conn import Connection
from trioserve.ws._handshake import (
    HandshakeError,
    asks_for_websocket,
    check_origin,
    validate_handshake,
)
from trioserve.ws._longpoll import TEXT_TYPE, decode_data, encode_connect, encode_nope, parse_query
from trioserve.ws._registry import ask_on_connect, connect_request, find_handler, registry

if TYPE_CHECKING:
    from trioserve.context import RequestContext

__all__ = ["PAGE_NAMES", "handler_page", "longpoll_request", "websocket_without_upgrade"]

log = logging.getLogger("trioserve.ws")


async def longpoll_request(ctx: RequestContext) -> Response:
    call = ctx.call
    server = ctx.server
    reg = registry(server)
    handler = find_handler(server, ctx.item_path, call.user)
    if handler is None:
        raise RequestError(404, "not_found", "no websocket handler here")
    try:
        check_origin(call.headers, server.cors)
    except HandshakeError as err:
        raise RequestError(err.status, err.code, err.message) from None
    query = parse_query(call.query)
    polls = reg.longpolls
    if query.connect is not None:
        if not server.policy.can_connect_websocket(ctx.item_path, call.user):
            raise RequestError(403, "forbidden", "not allowed to connect")
        if polls.full():
            raise RequestError(503, "too_many_longpolls", "too many long-poll connections")
        connect = connect_request(call, "longpoll")
        if not await ask_on_connect(handler, connect):
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
    """``root.websocket`` fetched as a plain request: 426 where a handler is, else 404.

    A request that does ask for the upgrade but came here (a POST with the upgrade headers;
    FastCGI, which cannot upgrade) is judged by the handshake rules first: what they refuse
    gets their answer (400 for a method other than GET), as an upgrade would.
    """
    call = ctx.call
    if find_handler(ctx.server, ctx.item_path, call.user) is None:
        raise RequestError(404, "not_found", "no websocket handler here")
    if asks_for_websocket(call.headers):
        try:
            validate_handshake(call.method, call.http_version or "1.1", call.headers)
        except HandshakeError as err:
            refusal = error_response(err.status, err.code, err.message)
            refusal.headers += err.headers
            return refusal
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
