"""The UI's static files (``tsui*.mjs``, ``tsui.css``) answered by file name at any path.

Why by file name: the page can be served at any item path (``/``, ``/Objects/hists/``) and
under any front-end prefix, and it loads its modules with plain relative URLs. Keying the
handler on the last path segment makes ``tsui.mjs`` resolve next to whichever page asked for
it, with no location to configure and nothing absolute in the HTML. Only the files listed in
:data:`ASSETS` (found in this package at import time) are served; the name is a dict key, so
no request can reach any other file. They get ETag/Last-Modified validators and a short
``max-age`` from :func:`trioserve.files.file_response`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trioserve.call import Response

if TYPE_CHECKING:
    from trioserve.context import Handler, RequestContext

__all__ = ["ASSETS", "HANDLERS", "UI_DIR"]

UI_DIR = Path(__file__).resolve().parent

#: short enough that an upgraded package is picked up soon; validators make revalidation cheap
ASSET_MAX_AGE = 300

#: request file name -> file in this package; only these names are ever served
ASSETS: dict[str, Path] = {
    p.name: p
    for p in sorted(UI_DIR.iterdir())
    if p.is_file() and p.name.startswith("tsui") and p.suffix in {".mjs", ".css", ".svg"}
}


async def ui_asset(ctx: RequestContext) -> Response:
    from trioserve.files import file_response

    return await file_response(ctx.call, ASSETS[ctx.file_name], max_age=ASSET_MAX_AGE)


HANDLERS: dict[str, Handler] = dict.fromkeys(ASSETS, ui_asset)
