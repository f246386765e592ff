"""JSROOT mode: ``jsrootsys/`` serves a JSROOT distribution and ``jsroot.htm`` its online page.

ROOT ships JSROOT inside its own tree; we do not. The user points us at a JSROOT directory
(for example ``node_modules/jsroot`` after ``npm install jsroot``), which
:func:`enable_jsroot` maps to the ``jsrootsys/`` location through :mod:`trioserve.files`
(so the files get the same traversal checks, validators and ranges as any location).

The npm package holds no HTML page (see ``docs/ui.md``), so ``jsroot.htm`` answers our own small
page (``trioserve/ui/jsroot.html``) with ROOT's two substitutions (thttpserver.md §2.5):

* ``<!--jsroot_importmap-->`` becomes an import map from the bare specifiers JSROOT's pages
  use (``jsroot``, ``jsroot/gui``...) to ``<relative prefix>jsrootsys/modules/...``, so the page
  works at any item path and under any front-end prefix;
* the quoted ``"$$$h.json$$$"`` token becomes the compact hierarchy of the page's path, which
  ``internals.getCachedHierarchy`` hands to ``buildGUI(..., 'online')``: JSROOT then reads
  ``h.json``, ``root.json.gz?compact=23``, ``item.json``, ``multi.json`` and ``cmd.json`` from us.

The embedded JSON has ``<`` written as ``\\u003c``: neither ``</script>`` nor ``<!--`` can appear
inside the script element, whatever an object's name or title says.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from trioserve.call import Response
from trioserve.errors import ConfigError, RequestError
from trioserve.hierarchy import dump_json

if TYPE_CHECKING:
    from trioserve.context import Handler, Host, RequestContext

__all__ = ["HANDLERS", "JSROOT_PREFIX", "enable_jsroot", "import_map", "jsroot_page"]

JSROOT_PREFIX = "jsrootsys/"
IMPORTMAP_TOKEN = "<!--jsroot_importmap-->"
HIERARCHY_TOKEN = '"$$$h.json$$$"'

#: bare specifier -> file under the distribution (JSROOT 7.11 package.json ``exports`` + gui)
MODULES: dict[str, str] = {
    "jsroot": "modules/main.mjs",
    "jsroot/core": "modules/core.mjs",
    "jsroot/draw": "modules/draw.mjs",
    "jsroot/io": "modules/io.mjs",
    "jsroot/tree": "modules/tree.mjs",
    "jsroot/rntuple": "modules/rntuple.mjs",
    "jsroot/gui": "modules/gui.mjs",
    "jsroot/webwindow": "modules/webwindow.mjs",
    "jsroot/hierarchy": "modules/gui/HierarchyPainter.mjs",
    "jsroot/colors": "modules/base/colors.mjs",
    "jsroot/latex": "modules/base/latex.mjs",
    "jsroot/base3d": "modules/base/base3d.mjs",
    "jsroot/geom": "modules/geom/TGeoPainter.mjs",
    "jsroot/testing": "modules/testing.mjs",
}


def enable_jsroot(
    server: Host, directory: str | os.PathLike[str], *, follow_symlinks: bool = False
) -> Path:
    """Serve the JSROOT distribution in ``directory`` at ``jsrootsys/`` (JSROOT mode).

    ``directory`` is the package root (it holds ``modules/main.mjs``). A wrong directory is a
    clear error now rather than a blank page later. Returns the resolved directory.
    """
    root = Path(directory).expanduser().resolve()
    if not (root / "modules" / "main.mjs").is_file():
        raise ConfigError(
            f"{str(directory)!r} is not a JSROOT distribution (no modules/main.mjs); "
            "point at the jsroot package, e.g. node_modules/jsroot"
        )
    options = {"follow_symlinks": True} if follow_symlinks else {}
    server.add_location(JSROOT_PREFIX, root, **options)
    return root


def jsroot_enabled(server: Host) -> bool:
    return JSROOT_PREFIX in server.locations


def relative_prefix(item_path: str) -> str:
    """``jsrootsys/`` as seen from a page at ``item_path`` (one ``../`` per path level)."""
    depth = len([segment for segment in item_path.split("/") if segment])
    return ("../" * depth or "./") + JSROOT_PREFIX


def import_map(prefix: str) -> str:
    """The ``<script type="importmap">`` for a page whose ``jsrootsys/`` is at ``prefix``."""
    imports = {name: prefix + path for name, path in MODULES.items()}
    imports["jsrootsys/"] = prefix
    text = json.dumps({"imports": imports}, indent=1).replace("<", "\\u003c")
    return f'<script type="importmap">\n{text}\n</script>'


def page_template() -> str:
    return resources.files("trioserve.ui").joinpath("jsroot.html").read_text(encoding="utf-8")


def embed_json(text: str) -> str:
    """JSON safe inside a ``<script>`` element: ``<`` only ever occurs inside strings."""
    return text.replace("<", "\\u003c")


async def jsroot_page(ctx: RequestContext) -> Response:
    """``<path>/jsroot.htm``: JSROOT's online GUI for the hierarchy at ``<path>``."""
    from trioserve.requests.hierarchy import _hierarchy

    if not jsroot_enabled(ctx.server):
        raise RequestError(
            404, "jsroot_not_configured", "JSROOT mode is off: the server has no jsrootsys/"
        )
    page = page_template().replace(IMPORTMAP_TOKEN, import_map(relative_prefix(ctx.item_path)))
    if HIERARCHY_TOKEN in page:
        hnode = await ctx.run(lambda: _hierarchy(ctx))
        embedded = embed_json(dump_json(hnode, compact=True)) if hnode is not None else "null"
        page = page.replace(HIERARCHY_TOKEN, embedded)
    return Response(content_type="text/html; charset=utf-8", body=page.encode())


HANDLERS: dict[str, Handler] = {"jsroot.htm": jsroot_page, "jsroot.html": jsroot_page}
