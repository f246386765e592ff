"""``root.longpoll`` (the long-poll emulation of a websocket) and ``root.websocket`` fetched
without an upgrade (426; a request that asks for the upgrade but is no GET gets the
handshake's 400). The protocol lives in :mod:`trioserve.ws`; this module only plugs it into
the dispatcher, which is what makes long-poll -- and its ``Origin`` check, the websocket's
own -- work over every engine, FastCGI too.
"""

from __future__ import annotations

from trioserve.call import Response
from trioserve.context import RequestContext


async def longpoll(ctx: RequestContext) -> Response:
    from trioserve.ws import longpoll_request

    return await longpoll_request(ctx)


async def websocket(ctx: RequestContext) -> Response:
    from trioserve.ws import websocket_without_upgrade

    return await websocket_without_upgrade(ctx)


HANDLERS = {"root.longpoll": longpoll, "root.websocket": websocket}
