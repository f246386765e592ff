"""``root.json``, ``root.bin``, ``root.xml`` and the images of an object or a member."""

from __future__ import annotations

from trioserve.call import Response
from trioserve.context import RequestContext
from trioserve.errors import RequestError
from trioserve.histograms import view_of_node
from trioserve.render import render_cbor, render_xml
from trioserve.render.arrays import plain_top_compact
from trioserve.render.introspect import get_member, typename
from trioserve.render.json import render_json_bytes
from trioserve.requests.rootfile import file_root


def _value(ctx: RequestContext) -> object:
    found = ctx.require()
    if found.node.is_folder or found.node.is_command:
        raise RequestError(404, "not_an_object", "this item is a folder or a command")
    if found.is_member:
        return found.value
    # a registered histogram renders with the name and title it was registered under
    return view_of_node(found.node, get_member)


async def root_json(ctx: RequestContext) -> Response:
    compact = ctx.compact()

    def produce() -> bytes:
        value = _value(ctx)
        # a bare array is written plain: JSROOT's parse() decodes no top-level $arr
        return render_json_bytes(value, compact=plain_top_compact(value, compact))

    body = await ctx.run_on_item(produce)
    return Response(body=body)


async def root_bin(ctx: RequestContext) -> Response:
    def produce() -> tuple[bytes, str]:
        value = _value(ctx)
        return render_cbor(value), typename(value)

    body, name = await ctx.run_on_item(produce)
    return Response(content_type="application/cbor", body=body, headers=[("RootClassName", name)])


async def root_xml(ctx: RequestContext) -> Response:
    text = await ctx.run_on_item(lambda: render_xml(_value(ctx)))
    return Response(content_type="text/xml", body=text.encode())


_IMAGE_TYPES = {"png": "image/png", "gif": "image/gif", "jpeg": "image/jpeg"}


def _dimension(ctx: RequestContext, name: str) -> int | None:
    """``w``/``h`` as ROOT reads them: honoured only when > 10, else the 300x200 default
    (``w=5`` draws the default canvas, as ROOT does); above 4000 refused, so a request cannot
    ask for a gigapixel picture."""
    value = ctx.query().get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise RequestError(400, "bad_argument", f"{name} must be an integer") from None
    if number <= 10:
        return None
    if number > 4000:
        raise RequestError(400, "bad_argument", f"{name} must be at most 4000")
    return number


#: the one answer for a drawable object when matplotlib (the ``images`` extra) is missing
IMAGES_MISSING = (
    "this server cannot draw pictures: the images extra is not installed "
    "(pip install 'trioserve[images]')"
)


def _not_drawn() -> RequestError:
    from trioserve.render.image import images_available

    if not images_available():
        return RequestError(501, "images_extra_missing", IMAGES_MISSING)
    return RequestError(404, "not_drawable", "this object cannot be drawn as an image")


def _image_handler(fmt: str):  # type: ignore[no-untyped-def]
    async def root_image(ctx: RequestContext) -> Response:
        from trioserve.render.image import snapshot_image

        width, height = _dimension(ctx, "w"), _dimension(ctx, "h")
        opt = ctx.query().get("opt", "")
        # read the object where root.json reads it (one access, so one program pass) ...
        snapshot = await ctx.run_on_item(
            lambda: snapshot_image(_value(ctx), fmt, width=width, height=height, opt=opt)
        )
        if snapshot is None:
            raise RequestError(404, "not_drawable", "this object cannot be drawn as an image")
        # ... and draw that private copy in a bounded worker: a program updating the object
        # meanwhile cannot tear the picture, and neither the loop nor the program waits for it
        label = f"drawing {ctx.file_name} of /{ctx.item_path.strip('/')}"
        data = await ctx.server.access.run_in_worker(snapshot.draw, label=label)
        if data is None:  # drawable, so a library is missing (matplotlib, or its Pillow)
            raise _not_drawn()
        return Response(content_type=_IMAGE_TYPES[fmt], body=data)

    return root_image


HANDLERS = {
    "root.json": root_json,
    "root.bin": root_bin,
    "root.xml": root_xml,
    "root.png": _image_handler("png"),
    "root.gif": _image_handler("gif"),
    "root.jpeg": _image_handler("jpeg"),
    "file.root": file_root,
}
