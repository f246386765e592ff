"""The UI's server side without a browser: assets, the index page token, JSROOT mode pages."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from trioserve import ConfigError, Server, Text
from trioserve.requests.jsroot import enable_jsroot, import_map, relative_prefix

HOSTILE = "</script><!--<script>alert(1)//"


@pytest.fixture
def fake_jsroot(tmp_path: Path) -> Path:
    """The shape of a JSROOT distribution (the npm package's modules/ tree)."""
    root = tmp_path / "jsroot"
    (root / "modules" / "gui").mkdir(parents=True)
    (root / "modules" / "main.mjs").write_text("export const version = 'fake';\n")
    (root / "modules" / "gui.mjs").write_text("export function buildGUI() {}\n")
    return root


@pytest.fixture
async def client(nursery: trio.Nursery) -> AsyncIterator[tuple[httpx.AsyncClient, Server]]:
    server = Server(top_name="ui")
    server.register("/", Text("x"), name="status", title=HOSTILE)
    server.register("hists", [1.0, 2.0], name="numbers")
    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as c:
        yield c, server


def embedded_json(page: str, pattern: str) -> object:
    match = re.search(pattern, page, re.S)
    assert match, "the hierarchy is not embedded"
    return json.loads(match.group(1))


async def test_ui_assets_are_served_by_name_at_any_path(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    for path in ("/tsui.mjs", "/Objects/hists/tsui.mjs", "/Objects/hists/numbers/tsui.css"):
        r = await c.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].split(";")[0] in {"text/javascript", "text/css"}
        assert "max-age=300" in r.headers["cache-control"]
    r = await c.get("/tsui.mjs")
    again = await c.get("/tsui.mjs", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    for missing in ("/tsui-nothere.mjs", "/assets.py", "/__init__.py", "/index.html.mjs"):
        assert (await c.get(missing)).status_code == 404, missing


async def test_index_page_embeds_the_hierarchy_and_loads_modules_relatively(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    page = (await c.get("/")).text
    assert '"$$$h.json$$$"' not in page
    top = embedded_json(page, r'id="trioserve-hierarchy">(\{.*?\})</script>\s*</body>')
    assert top["_name"] == "ui"
    assert "from './tsui.mjs'" in page and 'href="tsui.css"' in page
    assert not re.search(r'(src|href)="/', page)  # nothing absolute: works under any prefix


async def test_jsroot_page_is_404_until_enabled(client, fake_jsroot: Path) -> None:  # type: ignore[no-untyped-def]
    c, server = client
    r = await c.get("/jsroot.htm")
    assert r.status_code == 404 and r.json()["error"] == "jsroot_not_configured"
    assert (await c.get("/jsrootsys/modules/main.mjs")).status_code == 404
    enable_jsroot(server, fake_jsroot)
    r = await c.get("/jsrootsys/modules/main.mjs")
    assert r.status_code == 200 and "fake" in r.text
    assert (await c.get("/jsrootsys/../pyproject.toml")).status_code in {400, 403, 404}


async def test_jsroot_page_import_map_and_hierarchy(client, fake_jsroot: Path) -> None:  # type: ignore[no-untyped-def]
    c, server = client
    enable_jsroot(server, fake_jsroot)
    r = await c.get("/jsroot.htm")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<!--jsroot_importmap-->" not in page and '"$$$h.json$$$"' not in page
    imports = embedded_json(page, r'<script type="importmap">\s*(\{.*?\})\s*</script>')
    assert imports["imports"]["jsroot"] == "./jsrootsys/modules/main.mjs"
    assert imports["imports"]["jsroot/gui"] == "./jsrootsys/modules/gui.mjs"
    top = embedded_json(page, r"getCachedHierarchy = function\(\) \{ return (\{.*?\}); \};")
    assert top["_name"] == "ui"
    status = next(c for c in top["_childs"] if c["_name"] == "status")
    assert status["_title"] == HOSTILE  # intact once parsed...
    script = page[page.index("getCachedHierarchy") :]
    script = script[: script.index("</script>")]
    assert "<" not in script  # ...but no "</script>" or "<!--" can occur inside the element

    deep = (await c.get("/Objects/hists/jsroot.htm")).text
    imports = embedded_json(deep, r'<script type="importmap">\s*(\{.*?\})\s*</script>')
    assert imports["imports"]["jsroot"] == "../../jsrootsys/modules/main.mjs"
    sub = embedded_json(deep, r"getCachedHierarchy = function\(\) \{ return (\{.*?\}); \};")
    assert sub["_name"] == "hists"


def test_enable_jsroot_refuses_a_directory_without_jsroot(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"modules/main\.mjs"):
        enable_jsroot(Server(), tmp_path)


@pytest.mark.parametrize(
    ("item_path", "prefix"),
    [("", "./jsrootsys/"), ("Objects", "../jsrootsys/"), ("Objects/a/b", "../../../jsrootsys/")],
)
def test_relative_prefix(item_path: str, prefix: str) -> None:
    assert relative_prefix(item_path) == prefix
    assert f'"jsroot/hierarchy": "{prefix}modules/gui/HierarchyPainter.mjs"' in import_map(prefix)
