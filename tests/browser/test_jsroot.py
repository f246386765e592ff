"""JSROOT mode: JSROOT's own online GUI (from npm) against our server, in headless Chromium."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.conftest import JSROOT_DIR, XSS_NAME, LiveServer
from trioserve.requests import HANDLERS

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def jsroot_installed() -> None:
    if not (JSROOT_DIR / "modules" / "main.mjs").is_file():
        message = f"JSROOT is not installed at {JSROOT_DIR} (scripts/test installs it with npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires it: {message}")
        pytest.skip(f"SKIPPED LOUDLY: {message}")


def open_jsroot(page: Any, url: str) -> None:
    page.goto(url)
    # the browser tree is listed once JSROOT has read our hierarchy
    page.wait_for_selector(".jsroot_browser .h_item, .h_tree .h_item, .h_item", timeout=15_000)


def drawn_svg_paths(page: Any) -> int:
    """Length of the path data JSROOT drew into its canvases (0 when nothing was drawn)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('svg.jsroot path, svg.root_canvas path')]"
        ".reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)"
    )


def test_jsroot_lists_the_hierarchy_and_draws_histograms(
    page: Any, live_server: LiveServer
) -> None:
    open_jsroot(page, live_server.url + "jsroot.htm")
    names = page.locator(".h_item").all_inner_texts()
    assert "Objects" in " ".join(names) and "status" in " ".join(names)
    # the demo's _drawitem/_layout: JSROOT draws hpx and hpxpy by itself
    page.wait_for_function(
        "() => [...document.querySelectorAll('svg text')].some(t => t.textContent === 'hpx')",
        timeout=15_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('svg text')].some(t => t.textContent === 'py vs px')",
        timeout=15_000,
    )
    assert drawn_svg_paths(page) > 2000
    texts = page.evaluate(
        "() => [...document.querySelectorAll('svg text')].map(t => t.textContent)"
    )
    assert "Entries" in texts  # the stats box of a real JSROOT histogram drawing

    # what JSROOT asked us for: the object data, compressed the JSROOT way
    own = [u for u in page.log.requests if u.startswith(live_server.url)]
    assert any("Objects/hists/hpx/root.json.gz?compact=23" in u for u in own)
    assert all(u.startswith(live_server.url) or u.startswith("data:") for u in page.log.requests)
    assert page.log.errors == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert XSS_NAME in names


def test_jsroot_expands_an_object_with_more(page: Any, live_server: LiveServer) -> None:
    open_jsroot(page, live_server.url + "jsroot.htm")
    page.wait_for_function("() => window.hpainter")
    before = len(page.log.requests)
    # JSROOT's own API (what its "+" does): an item with _more is expanded from its h.json
    children = page.evaluate(
        """async () => {
             await window.hpainter.expandItem('Objects/config/settings');
             const item = window.hpainter.findItem('Objects/config/settings');
             return item._childs.map(c => c._name); }"""
    )
    assert children == ["gain", "threshold", "label", "position", "channels"]
    assert any(
        u.startswith(live_server.url + "Objects/config/settings/h.json")
        for u in page.log.requests[before:]
    )
    # and a member drawn by JSROOT's inspector from our root.json
    page.evaluate("() => window.hpainter.display('Objects/config/settings', 'inspect')")
    page.wait_for_function("() => document.body.innerText.includes('detector-A')", timeout=10_000)
    assert page.log.errors == []


def test_jsroot_page_works_below_the_top(page: Any, live_server: LiveServer) -> None:
    # at /Objects/hists/ the import map points two levels up; JSROOT sees only that sub-tree
    open_jsroot(page, live_server.url + "Objects/hists/jsroot.htm")
    names = " ".join(page.locator(".h_item").all_inner_texts())
    assert "hpx" in names and "hpxpy" in names and "status" not in names
    assert page.log.errors == []


def test_query_option_on_the_index_page_switches_to_jsroot(
    page: Any, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "?jsroot&nobrowser")
    page.wait_for_url("**/jsroot.htm?nobrowser")
    page.wait_for_function(
        "() => [...document.querySelectorAll('svg text')].some(t => t.textContent === 'hpx')",
        timeout=15_000,
    )
    assert page.log.errors == []


def test_jsroot_reads_item_json_multi_json_and_cmd_json(page: Any, live_server: LiveServer) -> None:
    server = live_server.extra["server"]
    if "cmd.json" not in HANDLERS:
        pytest.skip("commands (cmd.json) are not implemented yet")
    received: list[str] = []

    def shout(text: str) -> str:
        received.append(text)
        return text.upper()

    live_server.call(lambda: server.register_command("/tools/shout", shout))
    open_jsroot(page, live_server.url + "jsroot.htm?nomonitoring")
    page.wait_for_function("() => window.hpainter")
    result = page.evaluate(
        """async () => {
             const { httpRequest } = await import('jsroot');
             const h = window.hpainter;
             const cmd = await h.executeCommand('tools/shout', null, 'hello');
             const multi = await httpRequest('multi.json?number=2', 'multi',
               'Objects/hists/hpx/root.json\\nObjects/live/counter/root.json\\n');
             const item = await httpRequest('status/item.json?compact=3', 'object');
             return { cmd, names: multi.map(o => o && o.fName || o && o.name), item: item.value };
           }"""
    )
    assert received == ["hello"]
    assert "HELLO" in result["cmd"]
    assert result["names"] == ["hpx", "counter"]
    assert "updates" in result["item"]
    assert page.log.errors == []
