"""``h.json``, ``h.xml``, ``item.json``, ``item.xml`` (and ROOT's ``get.xml``)."""

from __future__ import annotations

from trioserve.call import Response
from trioserve.context import RequestContext
from trioserve.errors import RequestError
from trioserve.hierarchy import HNode, build_hierarchy, build_item, dump_json, dump_xml


def top_name(ctx: RequestContext) -> str:
    return ctx.call.top_name or ctx.server.top_name


def _hierarchy(ctx: RequestContext) -> HNode | None:
    found = ctx.resolve()
    if found is None:
        return None
    user = ctx.user
    policy = ctx.server.policy
    return build_hierarchy(
        found.node,
        members=found.members,
        value=found.value,
        top_name=top_name(ctx),
        top_title=ctx.server.tree.top.title,
        user=user,
        visible=(lambda path: ctx.can_see_path(path, user)) if policy.has_rules else None,
    )


def _item(ctx: RequestContext, top_label: str = "top") -> HNode:
    found = ctx.require()
    return build_item(
        found.node,
        members=found.members,
        value=found.value,
        top_name=top_name(ctx),
        user=ctx.user,
        top_label=top_label,
    )


def _compact(ctx: RequestContext) -> bool:
    # ROOT detects the flag by substring; we parse the query but accept a bare ``compact``
    return "compact" in ctx.query()


async def h_json(ctx: RequestContext) -> Response:
    hnode = await ctx.run_on_item(lambda: _hierarchy(ctx))
    if hnode is None:
        # ROOT answers an empty 200; JSROOT treats both as failure, a 404 is clearer
        raise RequestError(404, "not_found", "no such item")
    return Response(body=dump_json(hnode, compact=_compact(ctx)).encode())


async def h_xml(ctx: RequestContext) -> Response:
    hnode = await ctx.run_on_item(lambda: _hierarchy(ctx))
    if hnode is None:
        raise RequestError(404, "not_found", "no such item")
    return Response(content_type="text/xml", body=dump_xml(hnode, compact=_compact(ctx)).encode())


async def item_json(ctx: RequestContext) -> Response:
    hnode = await ctx.run_on_item(lambda: _item(ctx))
    return Response(body=dump_json(hnode, compact=_compact(ctx)).encode())


async def get_xml(ctx: RequestContext) -> Response:
    """ROOT's ``get.xml``: ``h.xml``'s document with *fields only* (ROOT scans with
    ``only_fields``): the item with all its fields, no children, the top named by the top
    name as in ``h.xml``."""
    hnode = await ctx.run_on_item(lambda: _item(ctx, top_label=top_name(ctx)))
    return Response(content_type="text/xml", body=dump_xml(hnode, compact=_compact(ctx)).encode())


async def item_xml(ctx: RequestContext) -> Response:
    hnode = await ctx.run_on_item(lambda: _item(ctx))
    return Response(
        content_type="text/xml", body=dump_xml(hnode, compact=_compact(ctx), wrap=False).encode()
    )


HANDLERS = {
    "h.json": h_json,
    "h.xml": h_xml,
    "get.xml": get_xml,
    "item.json": item_json,
    "item.xml": item_xml,
}
