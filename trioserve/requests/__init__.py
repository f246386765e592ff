"""Request handlers, one module per family, keyed by the request's file name.

A handler is ``async def handler(ctx: RequestContext) -> Response``. It asks
``ctx.resolve()``/``ctx.require()`` for its item (which applies the access policy: hidden
looks exactly like missing), touches objects only through ``ctx.run(...)`` and raises
:class:`~trioserve.errors.RequestError` to refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trioserve.requests import cmd, exe, hierarchy, jsroot, longpoll, multi, objects, page
from trioserve.ui import assets as ui_assets

if TYPE_CHECKING:
    from trioserve.context import Handler

HANDLERS: dict[str, Handler] = {}
HANDLERS.update(page.HANDLERS)
HANDLERS.update(hierarchy.HANDLERS)
HANDLERS.update(objects.HANDLERS)
HANDLERS.update(longpoll.HANDLERS)
HANDLERS.update(jsroot.HANDLERS)
HANDLERS.update(ui_assets.HANDLERS)
HANDLERS.update(exe.HANDLERS)
HANDLERS.update(cmd.HANDLERS)
HANDLERS.update(multi.HANDLERS)

#: names a ``multi.*`` sub-request may not use (pages, listings, nested batches, websockets)
NESTED_FORBIDDEN = frozenset(
    {
        "",
        "index.htm",
        "default.htm",
        "h.json",
        "h.xml",
        "multi.json",
        "multi.bin",
        "root.websocket",
        "root.longpoll",
        "jsroot.htm",
        "jsroot.html",
    }
)

#: names whose handlers finish without waiting on anything but object access (they read one
#: item through ``ctx.run_on_item`` and render it): a ``sync="app"`` program's own thread may
#: answer them whole (:mod:`trioserve.parking`). A handler that awaits anything else (a
#: worker, a file, a pass of several accesses) must not be named here; if one is, the
#: engine notices it suspend and hands the request to the server's thread.
INLINE = frozenset(
    {"root.json", "root.bin", "root.xml", "h.json", "h.xml", "item.json", "item.xml", "get.xml"}
)
