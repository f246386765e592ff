"""The pages: ``/`` (and ``index.htm``) anywhere in the tree, ``default.htm``.

The page file is read from the package (``trioserve/ui/index.html``) or from
``server.default_page``; the token ``"$$$h.json$$$"`` (quotes included, as in ROOT) is
replaced by the compact hierarchy of the request path so the page shows something without a
second round trip. The embedded JSON escapes ``/`` and ``<``, so neither ``</script>`` nor
``<!--`` can appear in it.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from trioserve.call import Response
from trioserve.context import RequestContext
from trioserve.errors import RequestError
from trioserve.hierarchy import dump_json
from trioserve.requests.hierarchy import _hierarchy

PLACEHOLDER = '"$$$h.json$$$"'


def page_template(path: str | None) -> str:
    """The program's own page (read on every request, so editing it needs no restart) or
    the built-in one (read once)."""
    if path:
        return Path(path).read_text(encoding="utf-8")
    return _builtin_page()


@functools.cache
def _builtin_page() -> str:
    return resources.files("trioserve.ui").joinpath("index.html").read_text(encoding="utf-8")


async def index_page(ctx: RequestContext) -> Response:
    from trioserve.ws import handler_page

    ws_page = await handler_page(ctx)
    if ws_page is not None:
        return ws_page
    template = page_template(ctx.server.default_page)
    if PLACEHOLDER in template:
        hnode = await ctx.run_on_item(lambda: _hierarchy(ctx))
        if hnode is None:
            # a page of nothing helps nobody: a missing (or hidden) path is a 404, which a
            # browser shows as the error page
            raise RequestError(404, "not_found", "no such item")
        embedded = dump_json(hnode, compact=True)
        # ``<`` as \u003c: no ``</script>`` nor ``<!--`` can end or confuse a script element
        embedded = embedded.replace("<", "\\u003c")
        template = template.replace(PLACEHOLDER, embedded)
    return Response(content_type="text/html; charset=utf-8", body=template.encode())


HANDLERS = {
    "": index_page,
    "index.htm": index_page,
    "index.html": index_page,
    "default.htm": index_page,
}
